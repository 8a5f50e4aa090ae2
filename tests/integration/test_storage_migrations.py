"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.command import downgrade
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from storage.engine import (
    alembic_config,
    create_engine,
    upgrade_database,
    upgrade_database_async,
)
from storage.models import Base

REPO = Path(__file__).resolve().parents[2]


async def _inspect(url: str, fn):
    """Run a sync inspection function on a connection to the database."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _diff(conn: Connection) -> list:
    return compare_metadata(
        MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
    )


def _current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def test_migration_matches_models(migrated_db):
    """The migrated schema and the models agree: autogenerate would find nothing to do."""
    assert await _inspect(migrated_db, _diff) == []


async def test_upgrade_is_idempotent(migrated_db):
    """Migrations run on every start: a second upgrade changes nothing."""
    tables = await _inspect(migrated_db, _tables)
    await upgrade_database_async(migrated_db)
    assert await _inspect(migrated_db, _tables) == tables
    assert await _inspect(migrated_db, _current_revision) == _head()
    assert set(Base.metadata.tables) <= tables


async def _upgrade_in_subprocess(url: str) -> int:
    """Run `upgrade_database` in a separate interpreter, as a second process starting would."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from storage.engine import upgrade_database; upgrade_database(sys.argv[1])",
        url,
        cwd=REPO,
    )
    return await proc.wait()


async def test_concurrent_upgrades_on_a_fresh_database(database_url):
    """Several processes (and threads) starting at once all come up on the same schema."""
    results = await asyncio.gather(
        *(_upgrade_in_subprocess(database_url) for _ in range(3)),
        *(upgrade_database_async(database_url) for _ in range(2)),
    )
    assert results[:3] == [0, 0, 0]
    assert await _inspect(database_url, _current_revision) == _head()
    assert await _inspect(database_url, _diff) == []


async def test_downgrade_to_base_and_back(migrated_db):
    """The initial migration's downgrade removes everything it created."""
    await asyncio.to_thread(downgrade, alembic_config(migrated_db), "base")
    assert await _inspect(migrated_db, _tables) == {"alembic_version"}
    await asyncio.to_thread(upgrade_database, migrated_db)
    assert await _inspect(migrated_db, _diff) == []


async def test_sqlite_engine_settings(tmp_path):
    """A file database gets the async driver, its directory, WAL, foreign keys, a busy timeout."""
    engine = create_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'dcs.db'}")
    assert engine.url.drivername == "sqlite+aiosqlite"
    try:
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        await engine.dispose()
    assert (tmp_path / "nested" / "dir").is_dir()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "synchronous": 1,
    }


async def test_postgres_session_timezone_is_utc(migrated_db, session_factory):
    """Date bucketing in SQL (date_trunc and friends) happens in UTC on PostgreSQL."""
    if not migrated_db.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    async with session_factory() as session:
        assert (await session.execute(text("SHOW timezone"))).scalar() == "UTC"
