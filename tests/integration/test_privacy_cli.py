"""`dcs user export|erase` on a real database (Temporal unreachable: reported, not fatal)."""

from __future__ import annotations

import json

import pytest
from test_privacy import ALICE, GUILD, seed

from dcs.cli import main


@pytest.fixture
async def seeded(session_factory, migrated_db, monkeypatch):
    await seed(session_factory)
    monkeypatch.setenv("DATABASE_URL", migrated_db)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")  # nothing listens: unreachable


def _run(capsys, *argv: str) -> dict:
    assert main(["user", *argv, "--server", str(GUILD), "--user", str(ALICE)]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_exports_erases_and_exports_nothing(seeded, capsys):
    exported = _run(capsys, "export")
    assert exported["tables"]["user_levels"][0]["xp"] == 500
    erased = _run(capsys, "erase")
    assert erased["deleted"]["user_levels"] == 1
    assert erased["workflows"] == {"moderation": "unreachable", "anti_nuke": "unreachable"}
    after = _run(capsys, "export")["tables"]
    assert all(rows == [] for rows in after.values())
