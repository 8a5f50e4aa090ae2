"""`dcs tier set|show` and `dcs usage report` on a real database."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from dcs.cli import main
from storage.ai_usage import set_ai_calls
from storage.engine import create_engine, make_sessionmaker
from storage.models import AuditLogEntry
from storage.servers import ensure_server
from storage.tiers import record_guild

GUILD = 909090909090909091
SECOND = 909090909090909092
OWNER = 707070707070707070
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


@pytest.fixture
async def seeded(session_factory, migrated_db, monkeypatch):
    async with session_factory() as session, session.begin():
        await ensure_server(session, GUILD, "Alpha, the first")
        await record_guild(session, GUILD, owner_id=OWNER, member_count=120, now=NOW)
    async with session_factory() as session, session.begin():
        await ensure_server(session, SECOND, "Beta")
        await record_guild(session, SECOND, owner_id=OWNER, member_count=30, now=NOW)
        await set_ai_calls(session, GUILD, "2026-12", 42, now=NOW)
        await set_ai_calls(session, SECOND, "2026-12", 10_000, now=NOW)
    monkeypatch.setenv("DATABASE_URL", migrated_db)


def run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_usage_report_csv_and_json(seeded, capsys):
    out = run(capsys, "usage", "report", "--month", "2026-12")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["server_id"] for r in rows] == [str(GUILD), str(SECOND)]
    alpha, beta = rows
    assert alpha["name"] == "Alpha, the first"  # quoted by the CSV writer
    assert (alpha["tier"], alpha["members"], alpha["members_limit"]) == ("starter", "120", "5000")
    assert (alpha["ai_calls"], alpha["ai_calls_left"], alpha["over_limit"]) == ("42", "9958", "")
    # one starter account, two servers: the second registered is over the servers limit
    assert (beta["over_limit"], beta["ai_budget_spent"], beta["account_servers"]) == (
        "servers",
        "yes",
        "2",
    )
    data = json.loads(run(capsys, "usage", "report", "--month", "2026-12", "--format", "json"))
    assert [(d["server_id"], d["ai_calls"], d["over_limit"]) for d in data] == [
        (str(GUILD), 42, []),
        (str(SECOND), 10_000, ["servers"]),
    ]
    november = json.loads(run(capsys, "usage", "report", "--month", "2026-11", "--format", "json"))
    assert [d["ai_calls"] for d in november] == [0, 0]


def test_bad_month_is_refused(seeded, capsys):
    with pytest.raises(SystemExit):
        main(["usage", "report", "--month", "December"])
    assert "YYYY-MM" in capsys.readouterr().err


def test_tier_set_lifts_the_account_and_is_audited(seeded, capsys, migrated_db):
    out = json.loads(run(capsys, "tier", "set", "--server", str(GUILD), "--tier", "growth"))
    assert (out["before"], out["after"], out["changed"]) == ("starter", "growth", True)
    assert out["limit_changes"] == [{"server_id": str(SECOND), "before": "servers", "after": ""}]
    again = json.loads(run(capsys, "tier", "set", "--server", str(GUILD), "--tier", "growth"))
    assert again["changed"] is False
    shown = json.loads(run(capsys, "tier", "show", "--server", str(SECOND)))
    assert (shown["tier"], shown["account_tier"], shown["over_limit"]) == ("starter", "growth", [])
    assert asyncio.run(audited(migrated_db)) == [("cli", {"tier": "growth"})]


async def audited(database_url: str) -> list[tuple[str, dict[str, Any] | None]]:
    engine = create_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            entries = await session.scalars(
                select(AuditLogEntry).where(AuditLogEntry.action == "tier.set")
            )
            return [(e.actor, e.after) for e in entries]
    finally:
        await engine.dispose()
