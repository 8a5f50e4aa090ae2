"""FAQ entries, their answer counters and the members' 'Did this help?' votes.

Counters change without touching `updated_at`: the gateway rebuilds a server's index (and its
embeddings) when `kb_signature` moves, and a click must not cost a re-embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.faq import Entry, EntryDraft
from storage.events import Page, _decode, _encode
from storage.models import FAQEntry, FAQFeedback
from storage.servers import ensure_server_exists
from storage.types import utcnow
from storage.upsert import insert


def entry_of(row: FAQEntry) -> Entry:
    """The matcher's view of a row."""
    return Entry(
        id=row.id,
        question=row.question,
        answer=row.answer,
        language=row.language,
        variants=tuple(row.variants or ()),
        tags=tuple(row.tags or ()),
    )


def _columns(draft: EntryDraft) -> dict[str, object]:
    return {
        "question": draft.question.strip(),
        "answer": draft.answer.strip(),
        "language": draft.language,
        "variants": list(draft.variants),
        "tags": list(draft.tags),
    }


async def list_entries(
    session: AsyncSession,
    guild_id: int,
    *,
    language: str | None = None,
    tag: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[FAQEntry]:
    """Entries by id; ValueError for a cursor this module did not give out."""
    query = select(FAQEntry).where(FAQEntry.guild_id == guild_id)
    if language:
        query = query.where(FAQEntry.language == language)
    if cursor:
        (last,) = _decode(cursor, 1)
        if not isinstance(last, int):
            raise ValueError("the cursor is not one this API gave out")
        query = query.where(FAQEntry.id > last)
    rows = list((await session.scalars(query.order_by(FAQEntry.id).limit(limit + 1))).all())
    if tag:  # tags are JSON: filtered here, pages may come out short
        rows = [r for r in rows if tag in (r.tags or ())]
    page = rows[:limit]
    nxt = _encode([page[-1].id]) if len(rows) > limit and page else None
    return Page(page, nxt)


async def all_entries(session: AsyncSession, guild_id: int) -> list[FAQEntry]:
    """The whole knowledge base of a server, for building its index."""
    query = select(FAQEntry).where(FAQEntry.guild_id == guild_id).order_by(FAQEntry.id)
    return list((await session.scalars(query)).all())


async def kb_signature(session: AsyncSession, guild_id: int) -> tuple[int, int, str]:
    """Changes whenever an entry is added, edited or removed (not when it is only counted)."""
    query = select(
        func.count(FAQEntry.id), func.coalesce(func.max(FAQEntry.id), 0),
        func.max(FAQEntry.updated_at),
    ).where(FAQEntry.guild_id == guild_id)  # fmt: skip
    count, top, changed = (await session.execute(query)).one()
    return int(count), int(top), str(changed)


async def get_entry(session: AsyncSession, guild_id: int, entry_id: int) -> FAQEntry | None:
    """One entry of this server (None for another server's)."""
    row = await session.get(FAQEntry, entry_id)
    return row if row is not None and row.guild_id == guild_id else None


async def create_entries(
    session: AsyncSession, guild_id: int, drafts: Sequence[EntryDraft], *, replace: bool = False
) -> list[FAQEntry]:
    """Add entries (after removing every existing one when `replace`); one transaction's worth."""
    await ensure_server_exists(session, guild_id)
    if replace:
        await session.execute(delete(FAQEntry).where(FAQEntry.guild_id == guild_id))
    now = utcnow()
    rows = [
        FAQEntry(guild_id=guild_id, created_at=now, updated_at=now, **_columns(d)) for d in drafts
    ]
    session.add_all(rows)
    await session.flush()
    return rows


async def update_entry(
    session: AsyncSession, guild_id: int, entry_id: int, draft: EntryDraft
) -> FAQEntry | None:
    """Replace an entry's content (its counters stay)."""
    row = await get_entry(session, guild_id, entry_id)
    if row is None:
        return None
    for key, value in _columns(draft).items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    await session.flush()
    return row


async def delete_entry(session: AsyncSession, guild_id: int, entry_id: int) -> bool:
    """Remove an entry (its votes go with it); False when there was none."""
    result = await session.execute(
        delete(FAQEntry).where(FAQEntry.guild_id == guild_id, FAQEntry.id == entry_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def record_hit(session: AsyncSession, entry_id: int) -> None:
    """The bot answered with this entry once more."""
    await session.execute(
        update(FAQEntry)
        .where(FAQEntry.id == entry_id)
        .values(hits=FAQEntry.hits + 1, updated_at=FAQEntry.updated_at)
    )


async def record_feedback(
    session: AsyncSession,
    guild_id: int,
    message_id: int,
    user_id: int,
    entry_id: int,
    helpful: bool,
    now: datetime | None = None,
) -> bool:
    """Store a vote; a member's second click on the same answer moves their vote, never adds.

    Returns False when the entry is gone (nothing is stored).
    """
    if await get_entry(session, guild_id, entry_id) is None:
        return False
    key = {"message_id": message_id, "user_id": user_id}
    # Two clicks can race (discord.py runs interactions concurrently): the first insert wins,
    # the other becomes a conditional update, so a vote is counted once and moved at most once.
    added = await session.execute(
        insert(session, FAQFeedback)
        .values(guild_id=guild_id, entry_id=entry_id, helpful=helpful,
                created_at=now or utcnow(), **key)
        .on_conflict_do_nothing()
        .returning(FAQFeedback.message_id)
    )  # fmt: skip
    if added.first() is not None:
        moved = False
    else:
        changed = await session.execute(
            update(FAQFeedback)
            .where(
                FAQFeedback.message_id == message_id,
                FAQFeedback.user_id == user_id,
                FAQFeedback.helpful != helpful,
            )
            .values(helpful=helpful)
            .returning(FAQFeedback.message_id)
        )
        if changed.first() is None:
            return True  # the same vote again
        moved = True  # a changed vote takes one from the other side
    delta_yes = (1 if helpful else 0) - (1 if moved and not helpful else 0)
    delta_no = (0 if helpful else 1) - (1 if moved and helpful else 0)
    await session.execute(
        update(FAQEntry)
        .where(FAQEntry.id == entry_id)
        .values(
            helpful=FAQEntry.helpful + delta_yes,
            not_helpful=FAQEntry.not_helpful + delta_no,
            updated_at=FAQEntry.updated_at,
        )
    )
    await session.flush()
    return True
