"""Engines, sessions and schema upgrades for SQLite (the default) and PostgreSQL (production).

SQLite runs in WAL mode, and SQLAlchemy (not the sqlite3 driver) emits BEGIN: every transaction is
`BEGIN IMMEDIATE`, so writers queue on `busy_timeout` instead of failing with "database is locked"
when a read turns into a write, and savepoints work. The price: one transaction at a time, reads
included, so keep sessions short on SQLite (never hold one across a network call).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from alembic.command import upgrade
from alembic.config import Config
from sqlalchemy import event, exc, pool
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
    # no pool_pre_ping: a round trip on every checkout (~0.5 ms of an API request's CPU);
    # _install_postgres_checks does the cheap part of it on every checkout instead
}
IDLE_PING_SECONDS = 30.0
"""A pooled PostgreSQL connection idle this long is pinged on checkout; a busy one never is."""


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
        engine = _create_async_engine(parsed, **options)
        if not migrating:
            _install_postgres_checks(engine)
        return engine
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


def _install_postgres_checks(engine: AsyncEngine) -> None:
    """Never hand out a dead pooled connection, without a round trip on every checkout.

    When PostgreSQL restarts or terminates a backend it closes the socket; asyncpg sees that on
    the event loop and marks the connection closed, so a local `is_closed()` check on checkout
    catches it for free. A connection idle for IDLE_PING_SECONDS (where a silently dropped TCP
    connection would hide) is pinged first. Either failure makes the pool discard the connection
    and check out another (raising DisconnectionError from "checkout" is SQLAlchemy's documented
    retry). A connection that dies mid-query still fails that query; SQLAlchemy then invalidates
    the whole pool, as with pre-ping, so the next checkouts open fresh connections.
    """
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["dcs_idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and driver.is_closed():
            raise exc.DisconnectionError("the pooled connection was closed by the server")
        idle_since = record.info.get("dcs_idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"the idle pooled connection is gone: {error}") from error


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
