"""Members' XP, levels and engagement counters: batched writes, leaderboard pages, ranks, CSV.

The leaderboard order is (xp DESC, user_id ASC); `ix_user_levels_leaderboard` holds exactly that
order, so the first page, a keyset page after any cursor and a member's rank are range scans of
the index. Levels are stored with the guild's curve, which the caller passes as `level_of`; the
storage layer never decides what a level is. Nothing here commits: run it in the caller's
transaction, so a batch or an import is written whole or not at all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal, Protocol, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Table,
    bindparam,
    case,
    func,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.direct_select import DirectSelect
from storage.models import UserLevel
from storage.servers import ensure_server_exists
from storage.types import as_utc
from storage.upsert import insert

LevelOf = Callable[[int], int]
ImportMode = Literal["replace", "max"]

COUNTERS = frozenset({"reactions_received", "events_attended", "tickets_helped", "invites"})
"""Counters `bump_counter` may change; XP, messages and voice minutes go through the XP paths."""
MAX_XP = 10**12
"""Far above any real total (MEE6 level 1000 is ~1.7e9 XP), far below BIGINT: a typo guard."""
MAX_REPORTED_ERRORS = 200
"""An import reports this many bad lines by number; the rest are counted in one last line."""

_TABLE = cast("Table", UserLevel.__table__)
_T = _TABLE.c
_KEY = (_T.guild_id, _T.user_id)


class XPDeltaLike(Protocol):
    """What one member's batched write adds (e.g. `domain.xp_tracker.XPDelta`).

    An optional `reset` attribute that is true zeroes the stored XP before adding.
    """

    @property
    def guild_id(self) -> int:
        """The guild."""

    @property
    def user_id(self) -> int:
        """The member."""

    @property
    def xp(self) -> int:
        """XP to add; negative takes some away (the stored total never goes below 0)."""

    @property
    def messages(self) -> int:
        """Messages to add to `total_messages`."""

    @property
    def voice_minutes(self) -> int:
        """Minutes in voice to add."""

    @property
    def last_active(self) -> datetime | None:
        """When the member was last active; None keeps the stored time."""


@dataclass(frozen=True, slots=True)
class MemberLevel:
    """A member's stored standing in one guild, detached from the session."""

    guild_id: int
    user_id: int
    xp: int
    level: int
    total_messages: int
    voice_minutes: int
    last_active: datetime | None
    last_xp_at: datetime | None
    streak_days: int
    streak_last_day: date | None
    reactions_received: int
    events_attended: int
    tickets_helped: int
    invites: int


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: rows written, rows refused, and why (by line number)."""

    imported: int
    skipped: int
    errors: list[str] = field(default_factory=list)


# --- writes ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    """One member's deltas of a batch folded together."""

    xp: int = 0
    messages: int = 0
    voice_minutes: int = 0
    last_active: datetime | None = None
    reset: bool = False


async def apply_xp_batch(
    session: AsyncSession, deltas: Iterable[XPDeltaLike], *, level_of: LevelOf
) -> dict[tuple[int, int], int]:
    """Add a write-behind batch to the stored totals; the new XP total per (guild, user).

    Increments in SQL (never read-modify-write), so two batches for one member add up and an
    admin's change made meanwhile is kept. XP is clamped at 0; `last_active` only moves forward.
    Missing members (and guilds) are created. Rows are written in key order, a few statements
    per thousand members, which keeps concurrent flushes on PostgreSQL free of deadlocks.
    """
    pending = _fold(deltas)
    if not pending:
        return {}
    for guild_id in sorted({guild_id for guild_id, _ in pending}):
        await ensure_server_exists(session, guild_id)
    totals: dict[tuple[int, int], int] = {}
    for reset in (False, True):
        group = sorted(key for key, p in pending.items() if p.reset is reset)
        if group:
            rows = await _upsert_deltas(session, [(key, pending[key]) for key in group], reset)
            totals |= await _settle(session, rows, level_of)
    return totals


def _fold(deltas: Iterable[XPDeltaLike]) -> dict[tuple[int, int], _Pending]:
    """Fold the batch per member, in order: a reset wipes the XP folded before it."""
    pending: dict[tuple[int, int], _Pending] = {}
    for delta in deltas:
        for name in ("messages", "voice_minutes"):
            if getattr(delta, name) < 0:
                raise ValueError(f"{name} must not be negative in an XP delta: {delta!r}")
        item = pending.setdefault((delta.guild_id, delta.user_id), _Pending())
        if getattr(delta, "reset", False):
            item.reset, item.xp = True, 0
        item.xp += delta.xp
        item.messages += delta.messages
        item.voice_minutes += delta.voice_minutes
        if delta.last_active is not None and (
            item.last_active is None or delta.last_active > item.last_active
        ):
            item.last_active = delta.last_active
    return pending


async def _upsert_deltas(
    session: AsyncSession, items: Sequence[tuple[tuple[int, int], _Pending]], reset: bool
) -> Sequence[Row[Any]]:
    """One executemany upsert (multi-row VALUES pages) returning each member's new xp and level.

    A new member with a negative delta is inserted below zero and clamped by `_settle`.
    """
    stmt = insert(session, _TABLE)
    new = stmt.excluded
    xp = new.xp if reset else _T.xp + new.xp
    upsert = stmt.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={
            "xp": case((xp < 0, 0), else_=xp),
            "total_messages": _T.total_messages + new.total_messages,
            "voice_minutes": _T.voice_minutes + new.voice_minutes,
            "last_active": _later(_T.last_active, new.last_active),
        },
    ).returning(_T.guild_id, _T.user_id, _T.xp, _T.level)
    params = [
        {
            "guild_id": guild_id,
            "user_id": user_id,
            "xp": p.xp,
            "level": 0,
            "total_messages": p.messages,
            "voice_minutes": p.voice_minutes,
            "last_active": p.last_active,
        }
        for (guild_id, user_id), p in items
    ]
    return (await session.execute(upsert, params)).all()


def _later(stored: ColumnElement[Any], incoming: ColumnElement[Any]) -> ColumnElement[Any]:
    """The later of two nullable timestamps (SQLite's max() would return NULL for a NULL)."""
    return case(
        (incoming.is_(None), stored),
        (stored.is_(None), incoming),
        (incoming > stored, incoming),
        else_=stored,
    )


async def _settle(
    session: AsyncSession, rows: Iterable[Sequence[Any]], level_of: LevelOf
) -> dict[tuple[int, int], int]:
    """Clamp XP at 0 and store `level_of(xp)` where it changed; the final totals by member.

    The rows are locked by the upsert that returned them (PostgreSQL row locks, SQLite's write
    lock), so the XP read here is still the stored one.
    """
    totals: dict[tuple[int, int], int] = {}
    changes = []
    for guild_id, user_id, xp, level in rows:
        total = max(0, xp)
        totals[guild_id, user_id] = total
        new_level = level_of(total)
        if total != xp or new_level != level:
            changes.append({"g": guild_id, "u": user_id, "new_xp": total, "new_level": new_level})
    if changes:
        stmt = (
            update(_TABLE)
            .where(_T.guild_id == bindparam("g"), _T.user_id == bindparam("u"))
            .values(xp=bindparam("new_xp"), level=bindparam("new_level"))
        )
        await session.execute(stmt, changes)
    return totals


async def set_xp(
    session: AsyncSession, guild_id: int, user_id: int, xp: int, *, level_of: LevelOf
) -> MemberLevel:
    """Overwrite a member's XP (an admin's decision) and store the matching level."""
    _check_xp(xp)
    await ensure_server_exists(session, guild_id)
    level = level_of(xp)
    stmt = insert(session, _TABLE).values(guild_id=guild_id, user_id=user_id, xp=xp, level=level)
    stmt = stmt.on_conflict_do_update(index_elements=list(_KEY), set_={"xp": xp, "level": level})
    row = (await session.execute(stmt.returning(*_T))).one()
    return _record(row)


async def adjust_xp(
    session: AsyncSession, guild_id: int, user_id: int, delta: int, *, level_of: LevelOf
) -> MemberLevel:
    """Add (or with a negative delta take) XP in one statement; the total never goes below 0."""
    await ensure_server_exists(session, guild_id)
    stmt = insert(session, _TABLE).values(guild_id=guild_id, user_id=user_id, xp=delta, level=0)
    total = _T.xp + delta
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_KEY), set_={"xp": case((total < 0, 0), else_=total)}
    )
    row = (await session.execute(stmt.returning(*_T))).one()
    totals = await _settle(session, [(guild_id, user_id, row.xp, row.level)], level_of)
    xp = totals[guild_id, user_id]
    return replace(_record(row), xp=xp, level=level_of(xp))


async def reset_member(session: AsyncSession, guild_id: int, user_id: int) -> bool:
    """Start a member over at 0 XP and level 0; False if they had no row.

    Message and voice counts, the streak and the other counters are history and stay, as the
    achievements already granted do.
    """
    stmt = (
        update(_TABLE)
        .where(_T.guild_id == guild_id, _T.user_id == user_id)
        .values(xp=0, level=0)
        .returning(_T.user_id)
    )
    return (await session.execute(stmt)).first() is not None


async def bump_counter(
    session: AsyncSession, guild_id: int, user_id: int, counter: str, by: int = 1
) -> int:
    """Add `by` (negative to take back, e.g. a removed reaction) to a counter; its new value."""
    if counter not in COUNTERS:
        raise ValueError(f"unknown counter {counter!r}; expected one of {sorted(COUNTERS)}")
    await ensure_server_exists(session, guild_id)
    column = _T[counter]
    stmt = insert(session, _TABLE).values(
        {"guild_id": guild_id, "user_id": user_id, counter: max(by, 0)}
    )
    total = column + by
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_KEY), set_={counter: case((total < 0, 0), else_=total)}
    )
    value: int = (await session.execute(stmt.returning(column))).scalar_one()
    return value


async def update_streak(
    session: AsyncSession, guild_id: int, user_id: int, streak_days: int, streak_last_day: date
) -> None:
    """Store the member's streak as the caller computed it (the day is in the guild's zone)."""
    if streak_days < 0:
        raise ValueError(f"streak_days must not be negative, got {streak_days}")
    await ensure_server_exists(session, guild_id)
    values = {"streak_days": streak_days, "streak_last_day": streak_last_day}
    stmt = insert(session, _TABLE).values(guild_id=guild_id, user_id=user_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=list(_KEY), set_=values))


def _check_xp(xp: int) -> None:
    """Refuse totals no curve can mean: negative, or absurdly large."""
    if not 0 <= xp <= MAX_XP:
        raise ValueError(f"xp must be between 0 and {MAX_XP}, got {xp}")


# --- reads -------------------------------------------------------------------------------------


async def get_member_level(
    session: AsyncSession, guild_id: int, user_id: int
) -> MemberLevel | None:
    """A member's stored standing, or None if they never earned anything here."""
    row = (
        await session.execute(select(*_T).where(_T.guild_id == guild_id, _T.user_id == user_id))
    ).one_or_none()
    return None if row is None else _record(row)


async def member_rank(session: AsyncSession, guild_id: int, user_id: int) -> int | None:
    """1-based position on the leaderboard (ties broken by user id), or None for no row.

    Counts the members ahead, two index range scans: more XP, or the same XP and a smaller id.
    The cost grows with the rank (about 40 ns a member ahead on SQLite, see bench_leaderboard).
    """
    me = _TABLE.alias("me")
    ahead_by_xp = (
        select(func.count()).where(_T.guild_id == me.c.guild_id, _T.xp > me.c.xp).scalar_subquery()
    )
    ahead_by_id = (
        select(func.count())
        .where(_T.guild_id == me.c.guild_id, _T.xp == me.c.xp, _T.user_id < me.c.user_id)
        .scalar_subquery()
    )
    stmt = select(ahead_by_xp + ahead_by_id + 1).where(
        me.c.guild_id == guild_id, me.c.user_id == user_id
    )
    rank: int | None = (await session.execute(stmt)).scalar_one_or_none()
    return rank


async def leaderboard(
    session: AsyncSession,
    guild_id: int,
    *,
    limit: int = 25,
    after: tuple[int, int] | None = None,
) -> list[MemberLevel]:
    """A page in leaderboard order; `after` is the (xp, user_id) of the previous page's last row.

    After a cursor, the rest of its tie group and the members below it are two index ranges
    (a row comparison cannot mix DESC and ASC), merged in one statement.
    """
    rows = await _board_rows(session, _LEVEL_COLUMNS, _FIRST_PAGE, guild_id, limit, after)
    return [MemberLevel(*row) for row in rows]


BOARD_FIELDS = ("user_id", "xp", "total_messages")
"""The columns the API's leaderboard shows (the level comes from the XP)."""


async def leaderboard_rows(
    session: AsyncSession,
    guild_id: int,
    *,
    limit: int = 25,
    after: tuple[int, int] | None = None,
) -> list[Sequence[Any]]:
    """`leaderboard` for the API: rows of `BOARD_FIELDS` only, as tuples (no records)."""
    return await _board_rows(session, _BOARD_COLUMNS, _FIRST_BOARD_PAGE, guild_id, limit, after)


async def _board_rows(
    session: AsyncSession,
    columns: tuple[Any, ...],
    first_page: DirectSelect,
    guild_id: int,
    limit: int,
    after: tuple[int, int] | None,
) -> list[Sequence[Any]]:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if after is None:  # the first page: a statement built once, run directly on asyncpg
        return await first_page.rows(session, {"guild_id": guild_id, "limit": limit})
    xp, user_id = after
    ties = (
        select(*columns)
        .where(_T.guild_id == guild_id, _T.xp == xp, _T.user_id > user_id)
        .order_by(_T.user_id)
        .limit(limit)
        .subquery()
    )
    below = _ordered(select(*columns).where(_T.guild_id == guild_id, _T.xp < xp))
    both = union_all(select(ties), select(below.limit(limit).subquery())).subquery()
    stmt = select(both).order_by(both.c.xp.desc(), both.c.user_id).limit(limit)
    return list(await session.execute(stmt))


async def leaderboard_offset(
    session: AsyncSession, guild_id: int, *, offset: int, limit: int = 25
) -> list[MemberLevel]:
    """A page by position, for page numbers; its cost grows with `offset` (prefer `after`)."""
    if limit < 1 or offset < 0:
        raise ValueError(f"need limit >= 1 and offset >= 0, got {limit} and {offset}")
    stmt = _ordered(select(*_LEVEL_COLUMNS).where(_T.guild_id == guild_id))
    return [MemberLevel(*row) for row in await session.execute(stmt.offset(offset).limit(limit))]


def _ordered(stmt: Any) -> Any:
    """Leaderboard order: most XP first, ties by the smaller user id."""
    return stmt.order_by(_T.xp.desc(), _T.user_id)


def _record(row: Row[Any]) -> MemberLevel:
    """Copy a `user_levels` row into its immutable record."""
    return MemberLevel(
        guild_id=row.guild_id,
        user_id=row.user_id,
        xp=row.xp,
        level=row.level,
        total_messages=row.total_messages,
        voice_minutes=row.voice_minutes,
        last_active=as_utc(row.last_active),
        last_xp_at=as_utc(row.last_xp_at),
        streak_days=row.streak_days,
        streak_last_day=row.streak_last_day,
        reactions_received=row.reactions_received,
        events_attended=row.events_attended,
        tickets_helped=row.tickets_helped,
        invites=row.invites,
    )


_LEVEL_COLUMNS = tuple(_T[name] for name in MemberLevel.__dataclass_fields__)
"""The table's columns in `MemberLevel`'s field order: a row of them unpacks into a record as is,
cheaper than `_record`'s lookups by name (the leaderboard reads a page on every API request).
Their datetimes are aware UTC already (`UTCDateTime` converts on read)."""
_BOARD_COLUMNS = tuple(_T[name] for name in BOARD_FIELDS)


def _first_page(columns: tuple[Any, ...]) -> DirectSelect:
    where = _T.guild_id == bindparam("guild_id")
    return DirectSelect(
        _ordered(select(*columns).where(where)).limit(bindparam("limit", type_=Integer))
    )


_FIRST_PAGE = _first_page(_LEVEL_COLUMNS)
_FIRST_BOARD_PAGE = _first_page(_BOARD_COLUMNS)


# --- CSV ---------------------------------------------------------------------------------------

EXPORT_COLUMNS = ("rank", "user_id", "xp", "level", "messages", "voice_minutes")
_ALIASES = {
    "user_id": ("user_id", "userid", "user", "id", "discord_id", "member_id", "member", "uid"),
    "xp": ("xp", "exp", "experience", "total_xp", "xp_total", "points"),
    "level": ("level", "lvl"),
    "messages": (
        "messages",
        "message_count",
        "messages_count",
        "total_messages",
        "msg_count",
        "msgs",
    ),
}
_FIELD_OF = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_MAX_USER_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class _ImportRow:
    """One valid line of an import file."""

    line: int
    user_id: int
    xp: int
    messages: int | None


class _Problems:
    """Bad lines of an import: all counted, the first MAX_REPORTED_ERRORS spelled out."""

    def __init__(self) -> None:
        self.count = 0
        self.lines: list[str] = []

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.lines) < MAX_REPORTED_ERRORS:
            self.lines.append(f"line {line}: {message}")

    def report(self) -> list[str]:
        hidden = self.count - len(self.lines)
        return self.lines + ([f"... and {hidden} more bad lines"] if hidden else [])


async def import_levels_csv(
    session: AsyncSession,
    guild_id: int,
    text: str,
    *,
    level_of: LevelOf,
    mode: ImportMode = "replace",
) -> ImportReport:
    """Import XP from a CSV with a header naming at least a user id and XP column.

    Liberal in column names (`user_id`/`id`/`member_id`, `xp`/`exp`/`experience`, `level`,
    `messages`/`message_count`; others are ignored), strict in values (plain non-negative
    integers). Bad lines are reported by number and skipped; the caller's transaction decides
    whether the good ones are kept. `replace` overwrites XP (and messages when given), `max`
    keeps the larger of stored and imported. Levels are recomputed with `level_of`.
    """
    if mode not in ("replace", "max"):
        raise ValueError(f"mode must be 'replace' or 'max', not {mode!r}")
    problems = _Problems()
    rows = _parse_levels_csv(text, problems)
    if rows:
        await ensure_server_exists(session, guild_id)
        for with_messages in (True, False):
            group = [r for r in rows if (r.messages is not None) is with_messages]
            if group:
                written = await _upsert_imported(session, guild_id, group, mode, level_of)
                await _settle(session, written, level_of)
    return ImportReport(imported=len(rows), skipped=problems.count, errors=problems.report())


async def _upsert_imported(
    session: AsyncSession,
    guild_id: int,
    rows: Sequence[_ImportRow],
    mode: ImportMode,
    level_of: LevelOf,
) -> Sequence[Row[Any]]:
    """Write one group of imported rows (all with, or all without, a message count)."""
    stmt = insert(session, _TABLE)
    new = stmt.excluded
    set_: dict[str, Any]
    if mode == "replace":
        set_ = {"xp": new.xp, "level": new.level, "total_messages": new.total_messages}
    else:
        higher = new.xp > _T.xp
        set_ = {
            "xp": case((higher, new.xp), else_=_T.xp),
            "level": case((higher, new.level), else_=_T.level),
            "total_messages": case(
                (new.total_messages > _T.total_messages, new.total_messages),
                else_=_T.total_messages,
            ),
        }
    if rows[0].messages is None:
        del set_["total_messages"]
    stmt = stmt.on_conflict_do_update(index_elements=list(_KEY), set_=set_)
    params = [
        {
            "guild_id": guild_id,
            "user_id": r.user_id,
            "xp": r.xp,
            "level": level_of(r.xp),
            "total_messages": r.messages or 0,
        }
        for r in sorted(rows, key=lambda r: r.user_id)
    ]
    returning = stmt.returning(_T.guild_id, _T.user_id, _T.xp, _T.level)
    return (await session.execute(returning, params)).all()


def _parse_levels_csv(text: str, problems: _Problems) -> list[_ImportRow]:
    """The valid rows of an import file; everything else goes to `problems`."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        problems.add(1, "the file is empty; expected a header row such as 'user_id,xp'")
        return []
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text), strict=True)
    try:
        header = next(reader)
        while not any(cell.strip() for cell in header):
            header = next(reader)
    except csv.Error as exc:
        problems.add(reader.line_num, f"malformed CSV: {exc}")
        return []
    columns = _columns(header, reader.line_num, problems)
    if columns is None:
        return []
    return _rows(reader, columns, len(header), problems)


def _delimiter(text: str) -> str:
    """Comma unless the header line is plainly separated by semicolons, tabs or pipes."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(header: list[str], line: int, problems: _Problems) -> dict[str, int] | None:
    """Position of each known field in the header; None (with a problem) if unusable."""
    columns: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = _FIELD_OF.get("_".join(raw.strip().lower().replace("-", " ").split()))
        if name is None:
            continue
        if name in columns:
            problems.add(line, f"columns {index + 1} and {columns[name] + 1} both hold {name}")
            return None
        columns[name] = index
    missing = [name for name in ("user_id", "xp") if name not in columns]
    if missing:
        problems.add(line, f"the header names no {' or '.join(missing)} column: {header!r}")
        return None
    return columns


def _rows(
    reader: Any, columns: dict[str, int], width: int, problems: _Problems
) -> list[_ImportRow]:
    """Validate the data lines; a duplicate user keeps its first line."""
    rows: list[_ImportRow] = []
    first_line: dict[int, int] = {}
    while True:
        try:
            record = next(reader, None)
        except csv.Error as exc:
            problems.add(reader.line_num, f"malformed CSV, the rest was not read: {exc}")
            break
        if record is None:
            break
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        try:
            row = _row(record, columns, width, line)
        except ValueError as exc:
            problems.add(line, str(exc))
            continue
        if row.user_id in first_line:
            problems.add(
                line, f"user {row.user_id} again (first on line {first_line[row.user_id]})"
            )
            continue
        first_line[row.user_id] = line
        rows.append(row)
    return rows


def _row(record: list[str], columns: dict[str, int], width: int, line: int) -> _ImportRow:
    """One data line, or ValueError saying what is wrong with it."""
    if len(record) != width:
        raise ValueError(f"{len(record)} fields, but the header has {width}")
    user_id = _whole(record[columns["user_id"]], "user_id", low=1, high=_MAX_USER_ID)
    xp = _whole(record[columns["xp"]], "xp", low=0, high=MAX_XP)
    if "level" in columns and record[columns["level"]].strip():
        _whole(record[columns["level"]], "level", low=0, high=1_000_000)
    messages = None
    if "messages" in columns and record[columns["messages"]].strip():
        messages = _whole(record[columns["messages"]], "messages", low=0, high=MAX_XP)
    return _ImportRow(line, user_id, xp, messages)


def _whole(cell: str, what: str, *, low: int, high: int) -> int:
    """A plain decimal integer in [low, high]: no sign, decimals, exponents or separators."""
    text = cell.strip()
    if not text:
        raise ValueError(f"{what} is empty")
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{what} {text[:40]!r} is not a whole number")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{what} {value} is outside {low}..{high}")
    return value


async def export_leaderboard_csv(
    session: AsyncSession, guild_id: int, *, level_of: LevelOf | None = None
) -> str:
    """The whole leaderboard as CSV (`rank,user_id,xp,level,messages,voice_minutes`).

    Levels are the stored ones, or with `level_of` recomputed (after a curve change, stored
    levels lag until each member's next write). `import_levels_csv` reads the file back.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    stmt = _ordered(
        select(_T.user_id, _T.xp, _T.level, _T.total_messages, _T.voice_minutes).where(
            _T.guild_id == guild_id
        )
    )
    result = await session.stream(stmt.execution_options(yield_per=5_000))
    rank = 0
    async for partition in result.partitions():
        for user_id, xp, level, messages, voice in partition:
            rank += 1
            level = level if level_of is None else level_of(xp)
            writer.writerow((rank, user_id, xp, level, messages, voice))
    return out.getvalue()
