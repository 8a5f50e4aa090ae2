"""The events feature's hook into engagement: attendance pays XP and achievements exactly once."""

from datetime import UTC, datetime

from temporalio.testing import ActivityEnvironment

from activities.engagement import EngagementActivities, EventParticipationInput
from domain.achievements import DEFAULT_ACHIEVEMENTS
from storage.achievements import earned_keys
from storage.levels import get_member_level

GUILD, USER = 333333333333333333, 444444444444444444


async def test_attendance_pays_once_and_grants_the_first_event_badge(session_factory):
    acts = EngagementActivities(session_factory)
    env = ActivityEnvironment()
    at = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    first = await env.run(
        acts.award_event_participation, EventParticipationInput(GUILD, USER, 7, 50, at)
    )
    retried = await env.run(
        acts.award_event_participation, EventParticipationInput(GUILD, USER, 7, 50, at)
    )
    other = await env.run(
        acts.award_event_participation, EventParticipationInput(GUILD, USER, 8, 50, at)
    )
    async with session_factory() as session:
        row = await get_member_level(session, GUILD, USER)
        keys = await earned_keys(session, GUILD, USER)
    assert (first.already, first.xp_awarded) == (False, 50)
    assert (retried.already, retried.xp_awarded, retried.achievements) == (True, 0, [])
    assert not other.already
    assert row is not None and row.events_attended == 2
    [event_badge] = [a for a in DEFAULT_ACHIEVEMENTS if a.counter == "events_attended"]
    assert event_badge.threshold == 1
    assert first.achievements == [event_badge.key] and other.achievements == []
    assert event_badge.key in keys
    assert row.xp == 100 + event_badge.xp_bonus  # two events, the badge's bonus once
