"""Alembic environment: async engines for SQLite and PostgreSQL, one transaction per upgrade."""

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import JSON, text
from sqlalchemy.engine import Connection

from storage.engine import create_migration_engine
from storage.models import Base
from storage.types import UTCDateTime

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Serialises concurrent upgrades on PostgreSQL (several processes migrating on start).
MIGRATION_LOCK_KEY = 0x646373_6D6967  # "dcs" "mig"


def database_url() -> str:
    """Programmatic URL first (storage.engine.alembic_config), then DATABASE_URL, then the ini."""
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    return url or config.get_main_option("sqlalchemy.url") or ""


def render_item(type_, obj, autogen_context):
    """Write our column types as plain SQLAlchemy types, so migrations never import storage."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, JSON):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


def configure(**kwargs) -> None:
    """Options shared by online and offline runs."""
    context.configure(
        target_metadata=target_metadata,
        render_item=render_item,
        compare_type=True,
        transactional_ddl=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (`alembic upgrade head --sql`)."""
    url = database_url()
    configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run every pending migration in one transaction, holding the migration lock."""
    configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


async def run_migrations_online() -> None:
    """Migrate through an async engine (aiosqlite or asyncpg)."""
    engine = create_migration_engine(database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
