"""The `events` section of a server's config: defaults, and bad values named by path."""

import pytest

from dcs.server_config import ConfigError, default_server_config, parse_server_config


def test_events_defaults():
    """No zone is guessed; reminders a day, an hour and at the start; 50 XP; no Discord mirror."""
    events = default_server_config().events
    assert events.timezone is None and events.channel_id is None
    assert events.reminders_minutes == [1440, 60, 0]
    assert (events.xp_reward, events.discord_sync, events.manager_role_ids) == (50, False, [])


def test_events_section_round_trips():
    """A full section survives a JSON round trip."""
    raw = {
        "events": {
            "timezone": "Europe/Berlin",
            "channel_id": 123,
            "ping_role_id": 456,
            "reminders_minutes": [30],
            "xp_reward": 0,
            "discord_sync": True,
            "manager_role_ids": [789],
        }
    }
    cfg = parse_server_config(raw)
    assert cfg.events.timezone == "Europe/Berlin" and cfg.events.manager_role_ids == [789]
    assert parse_server_config(cfg.model_dump(mode="json")) == cfg


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ({"timezone": "Mars/Olympus"}, "events.timezone: Value error, unknown time zone"),
        ({"xp_reward": 10_001}, "events.xp_reward: Input should be less than or equal to 10000"),
        ({"xp_reward": -1}, "events.xp_reward: Input should be greater than or equal to 0"),
        ({"reminders_minutes": [-5]}, "events.reminders_minutes[0]: Input should be greater"),
        ({"channel_id": 0}, "events.channel_id: Input should be greater than 0"),
        ({"manager_role_ids": ["x"]}, "events.manager_role_ids[0]: Input should be a valid"),
        ({"remiders_minutes": []}, "events.remiders_minutes: Extra inputs"),
    ],
)
def test_bad_events_values_name_the_path(events, expected):
    """Each bad value is refused with its path in the message."""
    with pytest.raises(ConfigError) as caught:
        parse_server_config({"events": events})
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems
