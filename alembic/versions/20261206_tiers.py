"""Tiers and usage: server billing accounts with member counts and over-limit state, tier notices

Also carries a tier set in a server's config (before tiers became operator-only) into
`servers.tier`, the one place the tier is read from now.

Revision ID: b3d5f7a9c1e2
Revises: e5a7c9e1f3b5
Create Date: 2026-12-06 20:00:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3d5f7a9c1e2"
down_revision: str | Sequence[str] | None = "e5a7c9e1f3b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIERS = ("starter", "growth", "scale", "enterprise")


def _guild_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["guild_id"], ["servers.id"], name=op.f(f"fk_{table}_guild_id_servers"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "server_accounts",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("member_count", sa.Integer(), nullable=True),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("over_limit", sa.String(length=40), server_default="", nullable=False),
        sa.Column("over_limit_since", sa.DateTime(timezone=True), nullable=True),
        _guild_fk("server_accounts"),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_server_accounts")),
    )
    op.create_index("ix_server_accounts_owner", "server_accounts", ["owner_id"])
    op.create_table(
        "tier_notices",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivery", sa.String(length=64), server_default="", nullable=False),
        _guild_fk("tier_notices"),
        sa.PrimaryKeyConstraint("guild_id", "key", name=op.f("pk_tier_notices")),
    )
    op.create_index("ix_tier_notices_undelivered", "tier_notices", ["delivered_at", "created_at"])
    _carry_config_tiers()


def _carry_config_tiers() -> None:
    """A paid tier written in a server's config becomes its `servers.tier` (never lowered)."""
    bind = op.get_bind()
    servers = sa.table(
        "servers", sa.column("id", sa.BigInteger()), sa.column("config"), sa.column("tier")
    )
    rows = bind.execute(sa.select(servers.c.id, servers.c.config, servers.c.tier)).all()
    for guild_id, config, tier in rows:
        if isinstance(config, str):
            try:
                config = json.loads(config)
            except ValueError:
                continue
        wanted = config.get("tier") if isinstance(config, dict) else None
        if wanted in _TIERS and tier in _TIERS and _TIERS.index(wanted) > _TIERS.index(tier):
            bind.execute(servers.update().where(servers.c.id == guild_id).values(tier=wanted))


def downgrade() -> None:
    op.drop_index("ix_tier_notices_undelivered", table_name="tier_notices")
    op.drop_table("tier_notices")
    op.drop_index("ix_server_accounts_owner", table_name="server_accounts")
    op.drop_table("server_accounts")
