"""A member's running sanctions and pending approvals, as values a workflow carries and times.

Every change to a ban gets a new `generation`, and the workflow keeps only the newest ban: an
old temporary ban's expiry therefore has nothing to lift once a longer or permanent ban replaced
it (`end_ban` also refuses a generation that is no longer current). Bans and timeouts never get
shorter by a new sanction (the longer wins); only a lift (a moderator, a granted appeal, the
ban's own expiry) ends them early. Discord caps a timeout at 28 days: longer ones are applied in
28-day chunks, the workflow re-applying the next chunk when one runs out.

All functions take `now` and return new values; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

MAX_TIMEOUT = timedelta(days=28)
"""Discord refuses a communication_disabled_until further away than this."""
CLAIMED_GRACE = timedelta(minutes=2)
"""After an approval's deadline, how long to wait for the signal of a decision already claimed."""


@dataclass(frozen=True)
class RunningBan:
    """A ban in force; `until` None means permanent."""

    generation: int
    since: datetime
    until: datetime | None = None

    @property
    def permanent(self) -> bool:
        """True for a ban without an end."""
        return self.until is None


@dataclass(frozen=True)
class RunningTimeout:
    """A timeout in force until `until`; Discord has been told up to `applied_until`."""

    generation: int
    until: datetime
    applied_until: datetime


@dataclass(frozen=True)
class Sanctions:
    """What is running against a member right now."""

    ban: RunningBan | None = None
    timeout: RunningTimeout | None = None
    generation: int = 0


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later end of two bans; None (permanent) is later than anything."""
    if a is None or b is None:
        return None
    return max(a, b)


def with_ban(s: Sanctions, now: datetime, duration: timedelta | None) -> Sanctions:
    """Start a ban (`duration` None: permanent); a running longer ban keeps its end.

    A new generation even when the end does not move means the expiry the workflow knew of
    before is never acted on twice.
    """
    until = None if duration is None else now + duration
    if s.ban is not None:
        until = _later(s.ban.until, until)
    gen = s.generation + 1
    since = s.ban.since if s.ban is not None else now
    return replace(s, ban=RunningBan(gen, since, until), generation=gen)


def ban_due(s: Sanctions, now: datetime) -> RunningBan | None:
    """The temporary ban whose time is up, if any."""
    if s.ban is not None and s.ban.until is not None and s.ban.until <= now:
        return s.ban
    return None


def end_ban(s: Sanctions, generation: int | None = None) -> Sanctions:
    """Forget the ban; with `generation`, only if that ban is still the current one."""
    if s.ban is None or (generation is not None and s.ban.generation != generation):
        return s
    return replace(s, ban=None)


def with_timeout(s: Sanctions, now: datetime, duration: timedelta) -> Sanctions:
    """Start a timeout; a running one that ends later keeps its end."""
    until = now + duration
    if s.timeout is not None and s.timeout.until > now:
        until = max(until, s.timeout.until)
    gen = s.generation + 1
    return replace(
        s,
        timeout=RunningTimeout(gen, until, min(until, now + MAX_TIMEOUT)),
        generation=gen,
    )


def end_timeout(s: Sanctions) -> Sanctions:
    """Forget the timeout (lifted, or over)."""
    return replace(s, timeout=None)


def timeout_left(s: Sanctions, now: datetime) -> timedelta | None:
    """How long the running timeout still lasts (None when none is running)."""
    if s.timeout is None or s.timeout.until <= now:
        return None
    return s.timeout.until - now


def timeout_chunk_due(s: Sanctions, now: datetime) -> timedelta | None:
    """The next chunk to apply when the part Discord knows of ran out but the timeout has not."""
    t = s.timeout
    if t is None or t.until <= now or t.applied_until > now:
        return None
    return min(t.until - now, MAX_TIMEOUT)


def timeout_applied(s: Sanctions, now: datetime, chunk: timedelta) -> Sanctions:
    """Note that Discord now holds the timeout until `now + chunk`."""
    if s.timeout is None:
        return s
    return replace(s, timeout=replace(s.timeout, applied_until=now + chunk))


def expire(s: Sanctions, now: datetime) -> Sanctions:
    """Drop a timeout that is over (Discord ends it on its own; nothing to call)."""
    if s.timeout is not None and s.timeout.until <= now:
        return end_timeout(s)
    return s


def next_sanction_deadline(s: Sanctions) -> datetime | None:
    """When the workflow must next wake for a sanction: a ban's end, a timeout's end or chunk."""
    times: list[datetime] = []
    if s.ban is not None and s.ban.until is not None:
        times.append(s.ban.until)
    if s.timeout is not None:
        times.append(min(s.timeout.until, s.timeout.applied_until))
    return min(times) if times else None


def holds_open(s: Sanctions, now: datetime) -> bool:
    """True while a timed sanction runs, so the workflow must not close (its timer lives there).

    A permanent ban has no timer: it does not keep the workflow open (see docs/moderation.md).
    """
    temporary_ban = s.ban is not None and s.ban.until is not None
    return temporary_ban or timeout_left(s, now) is not None


@dataclass(frozen=True)
class RejoinPlan:
    """What to do when a member with a running sanction joins again."""

    reban: bool = False
    timeout_for: timedelta | None = None


def rejoin_plan(s: Sanctions, now: datetime) -> RejoinPlan:
    """What a rejoin calls for: a re-ban, or what is left of a running timeout.

    A member can only rejoin while a ban runs if someone unbanned them by hand outside the
    suite; the suite's ban stands (lift it through the suite to end it). A timeout gets its
    remaining time, at most one 28-day chunk.
    """
    if s.ban is not None:
        return RejoinPlan(reban=True)
    left = timeout_left(s, now)
    return RejoinPlan(timeout_for=None if left is None else min(left, MAX_TIMEOUT))


# ------------------------------------------------------------------------------ approvals


@dataclass(frozen=True)
class AwaitedApproval:
    """An approval the workflow waits for: what was asked, and its timeline."""

    approval_id: str
    kind: str
    """'sanction' (a sensitive action) or 'appeal' (lift a ban or timeout)."""
    action: str
    reason: str
    requested_at: datetime
    expires_at: datetime
    alert_at: datetime | None
    duration_minutes: int | None = None
    case_number: int | None = None
    source_key: str = ""
    origin: str = "ladder"
    appeal_id: str | None = None
    sanction: str | None = None
    """For an appeal: 'ban' or 'timeout'."""
    timeout_policy: str = "reject"
    fallback_action: str = "timeout"
    fallback_duration_minutes: int | None = None
    mod_log_channel_id: int | None = None
    telegram_message_id: int | None = None
    discord_channel_id: int | None = None
    discord_message_id: int | None = None
    alerted: bool = False
    claimed_wait_until: datetime | None = None
    """Set when the deadline found the approval already decided: wait this long for the signal."""


def approval_deadline(a: AwaitedApproval) -> datetime:
    """When the workflow must next wake for this approval."""
    if a.claimed_wait_until is not None:
        return a.claimed_wait_until
    if not a.alerted and a.alert_at is not None and a.alert_at < a.expires_at:
        return a.alert_at
    return a.expires_at


def approval_due(a: AwaitedApproval, now: datetime) -> str | None:
    """What is due for this approval now: 'alert', 'expire', 'claimed_over' or None."""
    if a.claimed_wait_until is not None:
        return "claimed_over" if now >= a.claimed_wait_until else None
    if now >= a.expires_at:
        return "expire"
    if not a.alerted and a.alert_at is not None and now >= a.alert_at:
        return "alert"
    return None


def next_deadline(
    s: Sanctions, approvals: list[AwaitedApproval], idle_since: datetime, idle_after: timedelta
) -> tuple[datetime, bool]:
    """The workflow's next wake-up, and whether it is the idle close (nothing else pending)."""
    times = [approval_deadline(a) for a in approvals]
    sanction = next_sanction_deadline(s)
    if sanction is not None:
        times.append(sanction)
    if times:
        return min(times), False
    return idle_since + idle_after, True
