"""Running sanctions: generations, the longer ban wins, 28-day timeout chunks, rejoin, deadlines."""

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.sanctions import (
    MAX_TIMEOUT,
    AwaitedApproval,
    RejoinPlan,
    RunningBan,
    RunningTimeout,
    Sanctions,
    approval_deadline,
    approval_due,
    ban_due,
    end_ban,
    expire,
    holds_open,
    next_deadline,
    next_sanction_deadline,
    rejoin_plan,
    timeout_applied,
    timeout_chunk_due,
    timeout_left,
    with_ban,
    with_timeout,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)


def ban_of(s: Sanctions) -> RunningBan:
    assert s.ban is not None
    return s.ban


def timeout_of(s: Sanctions) -> RunningTimeout:
    assert s.timeout is not None
    return s.timeout


def test_a_temporary_ban_falls_due_at_its_end():
    s = with_ban(Sanctions(), T0, 2 * H)
    assert s.ban is not None and ban_of(s).until == T0 + 2 * H
    assert ban_due(s, T0 + H) is None
    due = ban_due(s, T0 + 2 * H)
    assert due is not None
    assert end_ban(s, due.generation).ban is None


def test_a_permanent_ban_meanwhile_is_never_undone_by_the_old_expiry():
    temp = with_ban(Sanctions(), T0, 2 * H)
    old_generation = ban_of(temp).generation
    perm = with_ban(temp, T0 + H, None)
    assert ban_of(perm).permanent and ban_of(perm).generation != old_generation
    assert ban_due(perm, T0 + 100 * H) is None
    assert end_ban(perm, old_generation) == perm  # the old expiry has nothing to lift
    assert next_sanction_deadline(perm) is None


def test_a_shorter_ban_never_shortens_a_running_longer_one():
    long = with_ban(Sanctions(), T0, 10 * H)
    short = with_ban(long, T0 + H, H)
    assert ban_of(short).until == T0 + 10 * H
    assert ban_of(short).since == T0
    perm = with_ban(Sanctions(), T0, None)
    assert ban_of(with_ban(perm, T0, H)).permanent


def test_timeouts_over_28_days_go_in_chunks():
    s = with_timeout(Sanctions(), T0, timedelta(days=40))
    assert timeout_of(s).until == T0 + timedelta(days=40)
    assert timeout_of(s).applied_until == T0 + MAX_TIMEOUT
    assert timeout_chunk_due(s, T0 + timedelta(days=27)) is None
    chunk = timeout_chunk_due(s, T0 + MAX_TIMEOUT)
    assert chunk == timedelta(days=12)
    s = timeout_applied(s, T0 + MAX_TIMEOUT, chunk)
    assert timeout_chunk_due(s, T0 + timedelta(days=39)) is None
    assert next_sanction_deadline(s) == T0 + timedelta(days=40)
    assert expire(s, T0 + timedelta(days=40)).timeout is None


def test_a_new_timeout_keeps_the_later_end():
    s = with_timeout(Sanctions(), T0, 5 * H)
    s = with_timeout(s, T0 + H, H)
    assert timeout_of(s).until == T0 + 5 * H
    assert timeout_left(s, T0 + 4 * H) == H
    assert timeout_left(s, T0 + 5 * H) is None


def test_rejoin_reapplies_what_is_running():
    assert rejoin_plan(Sanctions(), T0) == RejoinPlan()
    timed = with_timeout(Sanctions(), T0, 3 * H)
    assert rejoin_plan(timed, T0 + H) == RejoinPlan(timeout_for=2 * H)
    assert rejoin_plan(timed, T0 + 4 * H) == RejoinPlan()
    banned = with_ban(timed, T0, None)
    assert rejoin_plan(banned, T0 + H) == RejoinPlan(reban=True)


def test_holds_open_only_for_timed_sanctions():
    assert not holds_open(Sanctions(), T0)
    assert not holds_open(with_ban(Sanctions(), T0, None), T0)
    assert holds_open(with_ban(Sanctions(), T0, H), T0)
    assert holds_open(with_timeout(Sanctions(), T0, H), T0)


def _approval(**kw: Any) -> AwaitedApproval:
    base: dict[str, Any] = dict(
        approval_id="a1",
        kind="sanction",
        action="ban",
        reason="r",
        requested_at=T0,
        expires_at=T0 + 24 * H,
        alert_at=T0 + H,
    )
    return AwaitedApproval(**(base | kw))


def test_an_approval_alerts_once_then_expires():
    a = _approval()
    assert approval_deadline(a) == T0 + H
    assert approval_due(a, T0 + timedelta(minutes=59)) is None
    assert approval_due(a, T0 + H) == "alert"
    alerted = _approval(alerted=True)
    assert approval_deadline(alerted) == T0 + 24 * H
    assert approval_due(alerted, T0 + 2 * H) is None
    assert approval_due(alerted, T0 + 24 * H) == "expire"
    # an approval shorter than the alert delay just expires
    short = _approval(expires_at=T0 + timedelta(minutes=30))
    assert approval_deadline(short) == T0 + timedelta(minutes=30)
    assert approval_due(short, T0 + timedelta(minutes=30)) == "expire"


def test_a_claimed_approval_waits_for_its_signal():
    a = _approval(alerted=True, claimed_wait_until=T0 + 25 * H)
    assert approval_deadline(a) == T0 + 25 * H
    assert approval_due(a, T0 + 24 * H) is None
    assert approval_due(a, T0 + 25 * H) == "claimed_over"


def test_next_deadline_is_the_idle_close_only_when_nothing_is_pending():
    idle = timedelta(days=30)
    assert next_deadline(Sanctions(), [], T0, idle) == (T0 + idle, True)
    banned = with_ban(Sanctions(), T0, 2 * H)
    assert next_deadline(banned, [], T0, idle) == (T0 + 2 * H, False)
    assert next_deadline(banned, [_approval()], T0, idle) == (T0 + H, False)
    assert next_deadline(with_ban(Sanctions(), T0, None), [], T0, idle) == (T0 + idle, True)
