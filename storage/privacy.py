"""GDPR export and erasure of one member's data in one server, over every table.

Which rows name a member is decided from the models, not from a hand-kept list of queries:

* `USER_COLUMNS` classifies every integer column that holds a member's Discord id: `DELETE` where
  the row is about the member (their XP, their cases, their tickets...), `TOMBSTONE` where the row
  is someone else's record and only names them (the moderator of another member's case, the
  creator of an event): the id becomes `TOMBSTONE_ID`.
* Every string and JSON column of the swept tables is searched for the id as text (actors such as
  `discord:123`, workflow ids `moderation:{guild}:{user}`, audit targets, ids inside JSON); each
  occurrence becomes `TOMBSTONE_TEXT` (or `TOMBSTONE_ID` for a JSON number).
* `NOT_USER_COLUMNS` lists the other Discord-id columns (channels, messages, roles...), so a test
  can insist that every integer id column in `Base.metadata` is classified one way or the other.

Scope: rows of the given server, plus `member_timezones` (one row per member, for every server)
and `outbox` entries of that server. Server configuration (`servers`, `server_config_history`) is
the admins' document and is not rewritten; API tokens and the scam-domain feed name no members.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    String,
    Table,
    Text,
    cast,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage import crypto
from storage.models import AuditLogEntry, Base
from storage.types import utcnow

Policy = Literal["delete", "tombstone"]
TOMBSTONE_ID = 0
"""No Discord snowflake is 0: a stand-in id that still says 'someone, erased'."""
TOMBSTONE_TEXT = "erased"

USER_COLUMNS: dict[tuple[str, str], Policy] = {
    ("user_levels", "user_id"): "delete",
    ("achievements", "user_id"): "delete",
    ("engagement_awards", "user_id"): "delete",
    ("moderation_cases", "user_id"): "delete",
    ("moderation_cases", "moderator_id"): "tombstone",
    ("pending_approvals", "target_user_id"): "delete",
    ("appeals", "user_id"): "delete",
    ("support_tickets", "user_id"): "delete",
    ("support_tickets", "assigned_to"): "tombstone",
    ("support_tickets", "claimed_by"): "tombstone",
    ("support_tickets", "closed_by"): "tombstone",
    ("events", "created_by"): "tombstone",
    ("event_rsvps", "user_id"): "delete",
    ("member_timezones", "user_id"): "delete",
    ("faq_feedback", "user_id"): "delete",
    ("raid_incident_members", "user_id"): "delete",
    ("raid_incidents", "raid_invite_creator_id"): "tombstone",
    # The incident is the server's record of the damage and its repair; the actor is anonymised.
    ("anti_nuke_incidents", "actor_id"): "tombstone",
    # The guild's owner as its billing account (tiers); the gateway writes it again from Discord
    # while they own the guild, and 0 counts as no account.
    ("server_accounts", "owner_id"): "tombstone",
}

NOT_USER_COLUMNS: frozenset[tuple[str, str]] = frozenset(
    {
        ("servers", "id"),
        ("pending_approvals", "telegram_message_id"),  # a Telegram message, not a member
        ("pending_approvals", "discord_channel_id"),
        ("pending_approvals", "discord_message_id"),
        ("support_tickets", "channel_id"),
        ("support_tickets", "thread_id"),
        ("events", "channel_id"),
        ("events", "message_id"),
        ("events", "ping_role_id"),
        ("events", "discord_event_id"),
        ("event_rsvps", "event_id"),
        ("faq_feedback", "message_id"),
        ("faq_feedback", "entry_id"),
        ("raid_incident_members", "incident_id"),
        ("announcements", "channel_id"),
        ("announcements", "role_id"),
        ("announcements", "last_message_id"),
        ("user_levels", "xp"),
        ("user_levels", "total_messages"),
        ("user_levels", "voice_minutes"),
        ("analytics", "value"),
        ("ai_usage", "input_tokens"),  # counts, not ids
        ("ai_usage", "output_tokens"),
        ("ai_usage", "cost_micro_usd"),
    }
)
"""Integer columns that hold no member id (the guild ids and serial keys are recognised apart)."""

UNSWEPT_TABLES = frozenset({"servers", "server_config_history", "api_tokens", "scam_domain_lists"})
"""Configuration and credentials: not about members, never rewritten by an erasure."""


def is_id_candidate(table: Table, column_name: str) -> bool:
    """An integer column that could hold a Discord id and needs a classification."""
    column = table.c[column_name]
    if not isinstance(column.type, BigInteger) or column_name == "guild_id":
        return False
    return not (column.primary_key and column.autoincrement is True)


def _text_columns(table: Table) -> list[Any]:
    searchable = (String, Text, JSON, *crypto.ENCRYPTED_TYPES)
    return [c for c in table.c if isinstance(c.type, searchable)]


def _mentions(value: Any, pattern: re.Pattern[str], user_id: int) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int):
        return value == user_id
    if isinstance(value, str):
        return pattern.search(value) is not None
    if isinstance(value, dict | list):
        return pattern.search(json.dumps(value)) is not None
    return False


def _scrub(value: Any, pattern: re.Pattern[str], user_id: int) -> Any:
    """The value with every occurrence of the id replaced by the tombstone."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return TOMBSTONE_ID if value == user_id else value
    if isinstance(value, str):
        return pattern.sub(TOMBSTONE_TEXT, value)
    if isinstance(value, list):
        return [_scrub(v, pattern, user_id) for v in value]
    if isinstance(value, dict):
        return {_scrub(k, pattern, user_id): _scrub(v, pattern, user_id) for k, v in value.items()}
    return value


def id_pattern(user_id: int) -> re.Pattern[str]:
    """The id as a whole number inside text (not a slice of a longer snowflake)."""
    return re.compile(rf"(?<!\d){user_id}(?!\d)")


def _swept_tables() -> list[Table]:
    return [t for name, t in Base.metadata.tables.items() if name not in UNSWEPT_TABLES]


def _scope(table: Table, guild_id: int) -> list[ColumnElement[bool]]:
    """Rows of the server; a table without a guild column is member-wide (or the outbox)."""
    if "guild_id" in table.c:
        return [table.c.guild_id == guild_id]
    if table.name == "outbox":
        return [cast(table.c.payload, Text).contains(str(guild_id))]
    return []


def _naming(table: Table, user_id: int) -> ColumnElement[bool] | None:
    """SQL prefilter of rows that may name the member (confirmed in Python by `_mentions`)."""
    terms: list[ColumnElement[bool]] = [
        table.c[col] == user_id for (name, col) in USER_COLUMNS if name == table.name
    ]
    terms += [cast(c, Text).contains(str(user_id)) for c in _text_columns(table)]
    if crypto.enabled():  # ciphertext hides the id from SQL: read those rows and look in Python
        terms += [c.is_not(None) for c in table.c if isinstance(c.type, crypto.ENCRYPTED_TYPES)]
    return or_(*terms) if terms else None


def _jsonable(value: Any) -> Any:
    """Dates as ISO text; Discord ids as strings, as elsewhere in the API (JS loses digits)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


async def export_member(session: AsyncSession, guild_id: int, user_id: int) -> dict[str, Any]:
    """Every row of every swept table that names the member, by table, as plain JSON values."""
    pattern = id_pattern(user_id)
    sections: dict[str, list[dict[str, Any]]] = {}
    for table in _swept_tables():
        naming = _naming(table, user_id)
        if naming is None:
            continue
        rows = await session.execute(
            select(table).where(naming, *_scope(table, guild_id)).order_by(*table.primary_key)
        )
        sections[table.name] = [
            {k: _jsonable(v) for k, v in row._mapping.items()}
            for row in rows
            if any(_mentions(v, pattern, user_id) for v in row)
        ]
    return sections


@dataclass
class ErasureCounts:
    """Rows deleted and rows anonymised, per table (tables with nothing to do are left out)."""

    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)

    def _add(self, into: dict[str, int], table: str, count: int) -> None:
        if count:
            into[table] = into.get(table, 0) + count

    @property
    def total(self) -> int:
        """Rows changed in all."""
        return sum(self.deleted.values()) + sum(self.anonymised.values())


async def erase_member(session: AsyncSession, guild_id: int, user_id: int) -> ErasureCounts:
    """Delete the rows about the member and anonymise the rows that name them.

    Runs inside the caller's transaction; a second run finds nothing and changes nothing.
    """
    counts = ErasureCounts()
    tables = Base.metadata.tables
    for (name, col), policy in USER_COLUMNS.items():
        if policy != "delete":
            continue
        table = tables[name]
        result = await session.execute(
            delete(table).where(table.c[col] == user_id, *_scope(table, guild_id))
        )
        counts._add(counts.deleted, name, result.rowcount)  # type: ignore[attr-defined]
    # A member's moderation workflow may have opened approvals that name no target.
    approvals = tables["pending_approvals"]
    result = await session.execute(
        delete(approvals).where(
            approvals.c.guild_id == guild_id,
            approvals.c.workflow_id == f"moderation:{guild_id}:{user_id}",
        )
    )
    counts._add(counts.deleted, "pending_approvals", result.rowcount)  # type: ignore[attr-defined]
    for table in _swept_tables():
        await _anonymise(session, table, guild_id, user_id, counts)
    return counts


async def erase_member_audited(
    session: AsyncSession, guild_id: int, user_id: int, *, actor: str, workflows: dict[str, str]
) -> ErasureCounts:
    """`erase_member`, plus an audit entry saying who asked and how many rows changed.

    The entry does not name the member: an erasure that left their id in the audit log would
    not be one.
    """
    counts = await erase_member(session, guild_id, user_id)
    session.add(
        AuditLogEntry(
            guild_id=guild_id,
            actor=actor,
            action="privacy.erase",
            target=None,
            before=None,
            after={
                "deleted": counts.deleted,
                "anonymised": counts.anonymised,
                "workflows": workflows,
            },
            created_at=utcnow(),
        )
    )
    return counts


async def _anonymise(
    session: AsyncSession, table: Table, guild_id: int, user_id: int, counts: ErasureCounts
) -> None:
    """Rewrite each remaining row that names the member, column by column."""
    naming = _naming(table, user_id)
    if naming is None:
        return
    pattern = id_pattern(user_id)
    rows = list(await session.execute(select(table).where(naming, *_scope(table, guild_id))))
    changed = 0
    for row in rows:
        values = dict(row._mapping)
        new = {k: _scrub(v, pattern, user_id) for k, v in values.items() if k not in _keys(table)}
        new = {k: v for k, v in new.items() if v != values[k]}
        if not new:
            continue
        key = [table.c[k] == values[k] for k in _keys(table)]
        await session.execute(update(table).where(*key).values(**new))
        changed += 1
    counts._add(counts.anonymised, table.name, changed)


def _keys(table: Table) -> Iterable[str]:
    return [c.name for c in table.primary_key]
