"""Engines, sessions and schema upgrades for SQLite (the default) and PostgreSQL (production).

SQLite runs in WAL mode, and SQLAlchemy (not the sqlite3 driver) emits BEGIN: every transaction is
`BEGIN IMMEDIATE`, so writers queue on `busy_timeout` instead of failing with "database is locked"
when a read turns into a write, and savepoints work. The price: one transaction at a time, reads
included, so keep sessions short on SQLite (never hold one across a network call).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from alembic.command import upgrade
from alembic.config import Config
from sqlalchemy import event, pool
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_ALEMBIC_LOCK = threading.Lock()

_POSTGRES_POOL: dict[str, Any] = {
    "pool_size": 10,
    "max_overflow": 20,
    "pool_timeout": 30,
    "pool_recycle": 1800,
    "pool_pre_ping": True,
}


def create_engine(url: str) -> AsyncEngine:
    """An engine tuned for many concurrent writers on either backend."""
    return _engine(url, foreign_keys=True, migrating=False)


def create_migration_engine(url: str) -> AsyncEngine:
    """An engine for Alembic: no pool; SQLite foreign keys off so table rebuilds never cascade."""
    return _engine(url, foreign_keys=False, migrating=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose rows stay readable after commit (activities return them as values)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """Alembic configuration for this repository's migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade_database(url: str) -> None:
    """Migrate the schema to the newest revision; a no-op when already there, safe to run on start.

    Runs its own event loop: from async code call `upgrade_database_async`. Concurrent upgrades
    from other processes wait (PostgreSQL advisory lock, SQLite write lock); within this process
    they take turns, because Alembic's command API keeps global state.
    """
    with _ALEMBIC_LOCK:
        upgrade(alembic_config(url), "head")


async def upgrade_database_async(url: str) -> None:
    """`upgrade_database` in a worker thread, so it can run from inside an event loop."""
    await asyncio.to_thread(upgrade_database, url)


def _engine(url: str, *, foreign_keys: bool, migrating: bool) -> AsyncEngine:
    """Build the engine with the options of its backend."""
    parsed = _with_async_driver(make_url(url))
    options: dict[str, Any] = {"poolclass": pool.NullPool} if migrating else {}
    if parsed.get_backend_name() == "sqlite":
        _make_parent_dir(parsed)
        engine = _create_async_engine(parsed, **options)
        _install_sqlite_hooks(engine, foreign_keys=foreign_keys)
        return engine
    if parsed.get_backend_name() == "postgresql":
        options = options or dict(_POSTGRES_POOL)
        options["connect_args"] = {
            "server_settings": {"application_name": "dcs", "timezone": "UTC"}
        }
    return _create_async_engine(parsed, **options)


def _with_async_driver(url: URL) -> URL:
    """Accept plain `sqlite://` and `postgresql://` URLs by picking the async driver we ship."""
    drivers = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
    return url.set(drivername=drivers.get(url.drivername, url.drivername))


def _make_parent_dir(url: URL) -> None:
    """Create the directory of a SQLite file, so `data/dcs.db` works on a fresh checkout."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_hooks(engine: AsyncEngine, *, foreign_keys: bool) -> None:
    """Set the pragmas on every new connection and take over BEGIN from the sqlite3 driver."""
    pragmas = (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}",
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
