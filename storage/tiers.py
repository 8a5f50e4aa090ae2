"""Tiers and usage in the database: the tier, the billing account, limit state, notices, reports.

* `servers.tier` is the one place a server's tier is read from. It changes only through
  :func:`set_tier` (`dcs tier set`, `PUT /api/servers/{id}/tier` with an operator token), which
  writes an audit entry and re-evaluates the account's limits.
* `server_accounts` holds what the gateway learns from Discord (owner, member count) and the
  over-limit state; :func:`evaluate_account` recomputes it for every server of one owner, and the
  caller that flips a server's state writes the admins' notice (once, by its key).
* :func:`reserve_ai_call` is the AI budget gate of both AI activities: a server over its limits
  gets no AI; otherwise one call is counted atomically, or refused when the month is spent, and
  the 80 % and 100 % notices are written by the one call that crosses them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import tiers
from domain.ai_cost import usd
from domain.ai_prompt import usage_month
from storage.ai_usage import consume_ai_call
from storage.models import AIUsage, AuditLogEntry, Server, ServerAccount, TierNotice
from storage.servers import ensure_server_exists
from storage.types import utcnow
from storage.upsert import insert

log = logging.getLogger(__name__)

NO_ACCOUNT = 0
"""An erased (GDPR) or unknown owner: the server is an account of its own."""


class UnknownTier(ValueError):
    """A tier name that is not one of domain.tiers.TIERS."""


# ----------------------------------------------------------------------------------- the tier


async def get_tier(session: AsyncSession, guild_id: int) -> str:
    """The server's tier; starter for a server never registered."""
    tier = await session.scalar(select(Server.tier).where(Server.id == guild_id))
    return tier if tier is not None and tiers.is_tier(tier) else tiers.DEFAULT_TIER


@dataclass(frozen=True, slots=True)
class TierChange:
    """A tier change and what it did to the account's limit state."""

    guild_id: int
    before: str
    after: str
    changes: list[StateChange]


async def set_tier(
    session: AsyncSession,
    guild_id: int,
    tier: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> TierChange:
    """Put the server on `tier` (audited as `tier.set`), then re-evaluate its account's limits.

    Setting the tier it already has changes nothing and writes no audit entry.
    """
    if not tiers.is_tier(tier):
        raise UnknownTier(f"unknown tier {tier!r}; one of {', '.join(tiers.TIERS)}")
    now = now or utcnow()
    await ensure_server_exists(session, guild_id)
    before = await session.scalar(
        select(Server.tier).where(Server.id == guild_id).with_for_update()
    )
    before = before or tiers.DEFAULT_TIER
    if before == tier:
        return TierChange(guild_id, before, tier, [])
    await session.execute(
        update(Server)
        .where(Server.id == guild_id)
        .values(tier=tier, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.add(
        AuditLogEntry(
            guild_id=guild_id,
            actor=actor,
            action="tier.set",
            target=f"server:{guild_id}",
            before={"tier": before},
            after={"tier": tier},
            created_at=now,
        )
    )
    owner = await session.scalar(
        select(ServerAccount.owner_id).where(ServerAccount.guild_id == guild_id)
    )
    changes = await evaluate_account(session, guild_id, owner, now=now)
    log.info("guild %s: tier %s -> %s by %s", guild_id, before, tier, actor)
    return TierChange(guild_id, before, tier, changes)


async def guilds_of_owner(session: AsyncSession, owner_id: int) -> list[int]:
    """The servers of one billing account, in registration order."""
    rows = await session.scalars(
        select(Server.id)
        .join(ServerAccount, ServerAccount.guild_id == Server.id)
        .where(ServerAccount.owner_id == owner_id)
        .order_by(Server.created_at, Server.id)
    )
    return list(rows)


# --------------------------------------------------------------------- counts and limit state


@dataclass(frozen=True, slots=True)
class StateChange:
    """A server whose over-limit state changed; `notice` is the admins' text (written once)."""

    guild_id: int
    before: str
    after: str
    notice: str


async def record_guild(
    session: AsyncSession,
    guild_id: int,
    *,
    owner_id: int | None,
    member_count: int | None,
    now: datetime | None = None,
) -> list[StateChange]:
    """Store what Discord says of a guild (owner, member count) and re-evaluate its account.

    A None leaves the stored value alone (a guild that is not chunked has no count).
    """
    now = now or utcnow()
    await ensure_server_exists(session, guild_id)
    previous_owner = await session.scalar(
        select(ServerAccount.owner_id).where(ServerAccount.guild_id == guild_id)
    )
    values: dict[str, object] = {}
    if owner_id is not None:
        values["owner_id"] = owner_id
    if member_count is not None:
        values["member_count"] = member_count
        values["counted_at"] = now
    stmt = insert(session, ServerAccount).values(guild_id=guild_id, over_limit="", **values)
    if values:
        stmt = stmt.on_conflict_do_update(index_elements=[ServerAccount.guild_id], set_=values)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[ServerAccount.guild_id])
    await session.execute(stmt)
    owner = owner_id if owner_id is not None else previous_owner
    changes = await evaluate_account(session, guild_id, owner, now=now)
    if previous_owner is not None and previous_owner not in (NO_ACCOUNT, owner):
        # ownership moved: the old account may be back within its allowance
        old_account = await guilds_of_owner(session, previous_owner)
        if old_account:
            changes += await evaluate_account(session, old_account[0], previous_owner, now=now)
    return changes


async def evaluate_account(
    session: AsyncSession, guild_id: int, owner_id: int | None, *, now: datetime | None = None
) -> list[StateChange]:
    """Recompute the over-limit state of every server of the owner's account (or of the guild).

    Members are judged by each server's own tier; servers by the account's tier (its best one),
    the latest registered being the ones over. A server whose state flips gets a notice row.
    """
    now = now or utcnow()
    if owner_id in (None, NO_ACCOUNT):
        guild_ids = [guild_id]
    else:
        assert owner_id is not None
        guild_ids = await guilds_of_owner(session, owner_id) or [guild_id]
    rows = (
        await session.execute(
            select(Server.id, Server.tier, ServerAccount.member_count, ServerAccount.over_limit)
            .outerjoin(ServerAccount, ServerAccount.guild_id == Server.id)
            .where(Server.id.in_(guild_ids))
            .order_by(Server.created_at, Server.id)
        )
    ).all()
    account = tiers.account_tier(r.tier for r in rows)
    extra = set(tiers.servers_over_limit(account, [r.id for r in rows]))
    changes = []
    for row in rows:
        checks = []
        if row.member_count is not None:
            checks.append(tiers.check_members(row.tier, row.member_count))
        if row.id in extra:
            position = [r.id for r in rows].index(row.id) + 1
            checks.append(tiers.check_server_position(account, position))
        state = tiers.over_limits(
            members=any(c.kind == "members" and not c.allowed for c in checks),
            servers=row.id in extra,
        )
        before = row.over_limit or ""
        if state == before:
            continue
        flipped = await session.execute(
            update(ServerAccount)
            .where(ServerAccount.guild_id == row.id, ServerAccount.over_limit == before)
            .values(over_limit=state, over_limit_since=now if state else None)
            .execution_options(synchronize_session=False)
        )
        if flipped.rowcount != 1:  # type: ignore[attr-defined]
            if row.over_limit is None:  # no account row yet: create it in that state
                await session.execute(
                    insert(session, ServerAccount)
                    .values(guild_id=row.id, over_limit=state, over_limit_since=now)
                    .on_conflict_do_nothing(index_elements=[ServerAccount.guild_id])
                )
            else:
                continue  # another writer changed it first and wrote the notice
        if state:
            text = tiers.over_limit_text(row.tier, state.split(","), checks)
            key = f"over:{state}:{now.isoformat(timespec='seconds')}"
        else:
            text = tiers.back_within_text(row.tier)
            key = f"within:{now.isoformat(timespec='seconds')}"
        await add_notice(session, row.id, key, text, now=now)
        log.warning("guild %s: tier limits %r -> %r: %s", row.id, before, state, text)
        changes.append(StateChange(row.id, before, state, text))
    return changes


async def over_limit_guilds(session: AsyncSession, guild_ids: Sequence[int]) -> dict[int, str]:
    """The guilds among `guild_ids` over a members or servers limit, with their flags."""
    if not guild_ids:
        return {}
    rows = await session.execute(
        select(ServerAccount.guild_id, ServerAccount.over_limit).where(
            ServerAccount.guild_id.in_(list(guild_ids)), ServerAccount.over_limit != ""
        )
    )
    return {guild_id: flags for guild_id, flags in rows}


# ------------------------------------------------------------------------------- the AI gate


@dataclass(frozen=True, slots=True)
class AIReservation:
    """The AI gate's answer: `allowed`, or why not ('budget' spent, 'over_limit' paused)."""

    allowed: bool
    reason: Literal["ok", "budget", "over_limit"]
    tier: str
    used: int
    limit: int | None
    notices: list[int] = field(default_factory=list)
    """Budget percentages (80, 100) this call crossed; their notices are written."""

    def explain(self) -> str:
        """A sentence for a case note or a log line on why the AI was not asked."""
        if self.reason == "over_limit":
            return (
                f"AI paused: the server is over its {self.tier} tier's limits; "
                "the local rules answered"
            )
        if self.reason == "budget":
            return (
                f"AI budget spent ({self.used:,} of {self.limit or 0:,} calls this month, "
                f"{self.tier} tier); the local rules answered"
            )
        return "AI allowed"


async def reserve_ai_call(
    session: AsyncSession, guild_id: int, *, now: datetime | None = None
) -> AIReservation:
    """Count one AI call against the server's tier, or refuse it; never more than the budget.

    Call it in its own transaction before asking a provider: the conditional UPDATE in
    `consume_ai_call` makes concurrent callers for the last call of the month get one each.
    """
    now = now or utcnow()
    await ensure_server_exists(session, guild_id)
    row = (
        await session.execute(
            select(Server.tier, ServerAccount.over_limit)
            .outerjoin(ServerAccount, ServerAccount.guild_id == Server.id)
            .where(Server.id == guild_id)
        )
    ).one()
    tier = row.tier if tiers.is_tier(row.tier) else tiers.DEFAULT_TIER
    limit = tiers.limits_for(tier).ai_calls
    month = usage_month(now)
    if row.over_limit:
        used = await _calls(session, guild_id, month)
        return AIReservation(False, "over_limit", tier, used, limit)
    calls = await consume_ai_call(session, guild_id, month, limit, now=now)
    if calls is None:
        return AIReservation(False, "budget", tier, limit or 0, limit)
    crossed = tiers.ai_notice_percents_crossed(limit, calls - 1, calls)
    for percent in crossed:
        text = tiers.ai_notice_text(tier, percent, calls)
        await add_notice(session, guild_id, f"ai:{month}:{percent}", text, now=now)
        log.warning("guild %s: %s %% of the monthly AI budget used", guild_id, percent)
    return AIReservation(True, "ok", tier, calls, limit, crossed)


async def _calls(session: AsyncSession, guild_id: int, month: str) -> int:
    calls = await session.scalar(
        select(AIUsage.calls).where(AIUsage.guild_id == guild_id, AIUsage.month == month)
    )
    return calls or 0


# ----------------------------------------------------------------------------------- notices


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice to a server's admins."""

    guild_id: int
    key: str
    text: str
    created_at: datetime
    delivered_at: datetime | None
    delivery: str


async def add_notice(
    session: AsyncSession, guild_id: int, key: str, text: str, *, now: datetime | None = None
) -> bool:
    """Write a notice unless one with the key exists; True when this call wrote it."""
    stmt = (
        insert(session, TierNotice)
        .values(guild_id=guild_id, key=key, text=text, created_at=now or utcnow())
        .on_conflict_do_nothing(index_elements=[TierNotice.guild_id, TierNotice.key])
        .returning(TierNotice.key)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def undelivered_notices(
    session: AsyncSession, guild_ids: Sequence[int] | None = None, *, limit: int = 50
) -> list[Notice]:
    """Notices not yet posted, oldest first (only those of `guild_ids` when given)."""
    stmt = select(TierNotice).where(TierNotice.delivered_at.is_(None))
    if guild_ids is not None:
        stmt = stmt.where(TierNotice.guild_id.in_(list(guild_ids)))
    rows = await session.scalars(stmt.order_by(TierNotice.created_at).limit(limit))
    return [_notice(r) for r in rows]


async def notices_of(session: AsyncSession, guild_id: int, *, limit: int = 20) -> list[Notice]:
    """The server's latest notices, newest first."""
    rows = await session.scalars(
        select(TierNotice)
        .where(TierNotice.guild_id == guild_id)
        .order_by(TierNotice.created_at.desc(), TierNotice.key.desc())
        .limit(limit)
    )
    return [_notice(r) for r in rows]


async def mark_delivered(
    session: AsyncSession, guild_id: int, key: str, delivery: str, *, now: datetime | None = None
) -> None:
    """Stamp a notice as posted (`delivery` says where, or 'none')."""
    await session.execute(
        update(TierNotice)
        .where(TierNotice.guild_id == guild_id, TierNotice.key == key)
        .values(delivered_at=now or utcnow(), delivery=delivery[:64])
    )


def _notice(row: TierNotice) -> Notice:
    return Notice(row.guild_id, row.key, row.text, row.created_at, row.delivered_at, row.delivery)


# ----------------------------------------------------------------------------------- reports


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One server's usage in one month, for billing."""

    guild_id: int
    name: str
    tier: str
    owner_id: int | None
    account_tier: str
    account_servers: int
    members: int | None
    counted_at: datetime | None
    ai_calls: int
    limits: tiers.TierLimits
    over_limit: list[str]
    ai_budget_spent: bool
    ai_input_tokens: int = 0
    ai_output_tokens: int = 0
    ai_cost_micro_usd: int = 0
    """What the providers billed for the month's AI calls, in USD millionths (domain.ai_cost)."""

    @property
    def ai_calls_left(self) -> int | None:
        """AI calls left this month; None when unlimited."""
        limit = self.limits.ai_calls
        return None if limit is None else max(0, limit - self.ai_calls)

    def to_json(self, month: str) -> dict[str, Any]:
        """The report's row as JSON types (ids as strings; None is unlimited or unknown)."""
        return {
            "month": month,
            "server_id": str(self.guild_id),
            "name": self.name,
            "tier": self.tier,
            "owner_id": None if self.owner_id is None else str(self.owner_id),
            "account_tier": self.account_tier,
            "account_servers": self.account_servers,
            "members": self.members,
            "members_counted_at": None if self.counted_at is None else self.counted_at.isoformat(),
            "ai_calls": self.ai_calls,
            "ai_calls_left": self.ai_calls_left,
            "limits": {
                "servers": self.limits.servers,
                "members": self.limits.members,
                "ai_calls": self.limits.ai_calls,
            },
            "over_limit": list(self.over_limit),
            "ai_budget_spent": self.ai_budget_spent,
            "ai_input_tokens": self.ai_input_tokens,
            "ai_output_tokens": self.ai_output_tokens,
            "ai_cost_micro_usd": self.ai_cost_micro_usd,
            "ai_cost_usd": usd(self.ai_cost_micro_usd),
        }


REPORT_COLUMNS = (
    "month", "server_id", "name", "tier", "owner_id", "account_tier", "account_servers",
    "members", "members_limit", "members_counted_at", "ai_calls", "ai_calls_limit",
    "ai_calls_left", "servers_limit", "over_limit", "ai_budget_spent", "ai_input_tokens",
    "ai_output_tokens", "ai_cost_usd",
)  # fmt: skip
"""The CSV report's columns, in order."""


def report_csv_row(row: UsageRow, month: str) -> list[str]:
    """One CSV line of the billing report: 'unlimited' for no limit, '' for unknown."""

    def limit(n: int | None) -> str:
        return "unlimited" if n is None else str(n)

    data = row.to_json(month)
    return [
        month, data["server_id"], row.name, row.tier, data["owner_id"] or "", row.account_tier,
        str(row.account_servers), "" if row.members is None else str(row.members),
        limit(row.limits.members), data["members_counted_at"] or "", str(row.ai_calls),
        limit(row.limits.ai_calls), limit(row.ai_calls_left), limit(row.limits.servers),
        ";".join(row.over_limit), "yes" if row.ai_budget_spent else "no",
        str(row.ai_input_tokens), str(row.ai_output_tokens), usd(row.ai_cost_micro_usd),
    ]  # fmt: skip


async def usage_report(
    session: AsyncSession, month: str, guild_ids: Sequence[int] | None = None
) -> list[UsageRow]:
    """Usage of every server (or of `guild_ids`) in `month` ('YYYY-MM'), by server id.

    AI calls, tokens and cost are the month's; members, owner and over-limit flags are the latest
    known (the suite keeps no history of them).
    """
    calls = (
        select(
            AIUsage.guild_id,
            AIUsage.calls,
            AIUsage.input_tokens,
            AIUsage.output_tokens,
            AIUsage.cost_micro_usd,
        )
        .where(AIUsage.month == month)
        .subquery()
    )
    stmt = (
        select(
            Server.id,
            Server.name,
            Server.tier,
            ServerAccount.owner_id,
            ServerAccount.member_count,
            ServerAccount.counted_at,
            ServerAccount.over_limit,
            func.coalesce(calls.c.calls, 0).label("calls"),
            func.coalesce(calls.c.input_tokens, 0).label("input_tokens"),
            func.coalesce(calls.c.output_tokens, 0).label("output_tokens"),
            func.coalesce(calls.c.cost_micro_usd, 0).label("cost_micro_usd"),
        )
        .outerjoin(ServerAccount, ServerAccount.guild_id == Server.id)
        .outerjoin(calls, calls.c.guild_id == Server.id)
        .order_by(Server.id)
    )
    if guild_ids is not None:
        stmt = stmt.where(Server.id.in_(list(guild_ids)))
    rows = (await session.execute(stmt)).all()
    owners = {r.owner_id for r in rows if r.owner_id not in (None, NO_ACCOUNT)}
    accounts: dict[int, list[str]] = {}
    if owners:
        tier_rows = await session.execute(
            select(ServerAccount.owner_id, Server.tier)
            .join(Server, Server.id == ServerAccount.guild_id)
            .where(ServerAccount.owner_id.in_(owners))
        )
        for owner, tier in tier_rows:
            if owner is not None:
                accounts.setdefault(owner, []).append(tier)
    report = []
    for r in rows:
        tier = r.tier if tiers.is_tier(r.tier) else tiers.DEFAULT_TIER
        limits = tiers.limits_for(tier)
        account = accounts.get(r.owner_id, [tier]) if r.owner_id else [tier]
        report.append(
            UsageRow(
                guild_id=r.id,
                name=r.name,
                tier=tier,
                owner_id=r.owner_id or None,
                account_tier=tiers.account_tier(account),
                account_servers=len(account),
                members=r.member_count,
                counted_at=r.counted_at,
                ai_calls=r.calls,
                limits=limits,
                over_limit=[f for f in (r.over_limit or "").split(",") if f],
                ai_budget_spent=limits.ai_calls is not None and r.calls >= limits.ai_calls,
                ai_input_tokens=int(r.input_tokens),
                ai_output_tokens=int(r.output_tokens),
                ai_cost_micro_usd=int(r.cost_micro_usd),
            )
        )
    return report
