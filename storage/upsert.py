"""INSERT ... ON CONFLICT for whichever backend the session is bound to."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

Insert = postgresql.Insert | sqlite.Insert


def insert(session: AsyncSession, model: Any) -> Insert:
    """An INSERT with `on_conflict_do_nothing/do_update`; both dialects spell them alike."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
