"""Server config PATCH, self-check and OAuth2: no schema change

The config's versions already live in server_config_history, the audit entries in audit_log, the
OAuth2-issued tokens in api_tokens, and the login's state is signed rather than stored, so this
revision only keeps its place in the chain.

Revision ID: d5f7b9c1e3a4
Revises: c4e6a8b0d2f3
Create Date: 2026-12-06 20:00:00.000000
"""

from collections.abc import Sequence

revision: str = "d5f7b9c1e3a4"
down_revision: str | Sequence[str] | None = "c4e6a8b0d2f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change."""


def downgrade() -> None:
    """Nothing to undo."""
