"""Violation round trip through the outbox's JSON copy."""

from datetime import UTC, datetime

from domain.cases import Violation, violation_from_json, violation_to_json


def test_a_report_survives_its_json_copy():
    v = Violation(
        guild_id=1,
        user_id=2,
        source_key="automod:3",
        source="automod",
        action="delete",
        reason="Blocked term (x)",
        occurred_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        rule="blocked_terms",
        points=2,
        channel_id=4,
        message_id=3,
        excerpt="x",
        mod_log_channel_id=5,
    )
    data = violation_to_json(v)
    assert data["occurred_at"] == "2026-11-25T12:00:00+00:00"
    assert violation_from_json(data) == v
