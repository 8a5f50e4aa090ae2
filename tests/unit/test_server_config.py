"""Per-server config: defaults, precise errors, nothing accepted that is wrong."""

import pytest

from dcs.server_config import ConfigError, default_server_config, parse_server_config


def test_defaults_are_mee6_like_and_ladder_ascends():
    cfg = default_server_config()
    assert (cfg.xp.min_gain, cfg.xp.max_gain, cfg.xp.cooldown_seconds) == (15, 25, 60)
    assert [s.action for s in cfg.escalation.steps] == ["warn", "timeout", "timeout", "kick", "ban"]
    assert "ban" in cfg.approvals.sensitive_actions
    assert cfg.version == 1


def test_round_trip_through_json():
    cfg = parse_server_config({"automod": {"blocked_terms": ["scam*", "free nitro"]}})
    again = parse_server_config(cfg.model_dump(mode="json"))
    assert again == cfg


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"automod": {"blokced_terms": []}}, "automod.blokced_terms: Extra inputs"),
        (
            {"automod": {"blocked_terms": ["ok", " !! "]}},
            "automod: Value error, term 1: blocked term ' !! ' has no letters or digits",
        ),
        ({"automod": {"blocked_terms": [""]}}, "automod.blocked_terms[0]: String should have"),
        ({"xp": {"min_gain": 30}}, "xp: Value error, min_gain (30) exceeds max_gain (25)"),
        (
            {
                "escalation": {
                    "steps": [{"points": 3, "action": "warn"}, {"points": 2, "action": "ban"}]
                }
            },
            "escalation.steps: Value error, ladder steps must have strictly increasing points",
        ),
        (
            {"escalation": {"steps": [{"points": 1, "action": "explode"}]}},
            "escalation.steps[0].action: Input should be",
        ),
        ({"mod_log_channel_id": -5}, "mod_log_channel_id: Input should be greater than 0"),
        ({"language": "english"}, "language: String should match pattern"),
        ({"version": 2}, "version: Input should be 1"),
        ({"tier": "platinum"}, "tier: Input should be"),
    ],
)
def test_invalid_config_names_the_field(raw, expected):
    with pytest.raises(ConfigError) as info:
        parse_server_config(raw)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_every_problem_is_listed_at_once():
    with pytest.raises(ConfigError) as info:
        parse_server_config({"tier": "x", "xp": {"cooldown_seconds": -1}, "raid": {"preset": "y"}})
    paths = sorted(p.split(":")[0] for p in info.value.problems)
    assert paths == ["raid.preset", "tier", "xp.cooldown_seconds"]


@pytest.mark.parametrize("raw", [None, [], "automod", 3])
def test_non_object_is_refused(raw):
    with pytest.raises(ConfigError, match="expected a JSON object"):
        parse_server_config(raw)


def test_xp_section_round_trips_multipliers_rewards_and_achievements():
    raw = {
        "xp": {
            "channel_multipliers": {"123456789012345678": 2.0},
            "role_multipliers": {"223456789012345678": 1.5},
            "role_rewards": [
                {"level": 10, "role_id": 323456789012345678},
                {"level": 5, "role_id": 423456789012345678},
            ],
            "announce_template": "{mention} is now level {level} (rank #{rank})",
            "streak_timezone": "Europe/Berlin",
        },
        "achievements": [
            {"key": "chatty", "name": "Chatty", "counter": "messages", "threshold": 500}
        ],
    }
    cfg = parse_server_config(raw)
    assert cfg.xp.channel_multipliers == {123456789012345678: 2.0}
    assert [r.level for r in cfg.xp.role_rewards] == [5, 10]  # sorted by level
    assert parse_server_config(cfg.model_dump(mode="json")) == cfg
    assert default_server_config().achievements is None  # the built-in set


@pytest.mark.parametrize(
    ("xp", "expected"),
    [
        (
            {"announce_template": "hi {user}"},
            "xp.announce_template: Value error, unknown placeholder",
        ),
        ({"streak_timezone": "Mars/Olympus"}, "xp.streak_timezone: Value error, unknown time zone"),
        (
            {"role_rewards": [{"level": 5, "role_id": 1}, {"level": 5, "role_id": 2}]},
            "xp.role_rewards: Value error, two role rewards for the same level",
        ),
        ({"channel_multipliers": {"1": 11}}, "xp.channel_multipliers.1: Input should be less"),
        ({"voice": {"min_gain": 20, "max_gain": 10}}, "xp.voice: Value error, min_gain (20)"),
    ],
)
def test_invalid_xp_settings_name_the_field(xp, expected):
    with pytest.raises(ConfigError) as info:
        parse_server_config({"xp": xp})
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_duplicate_achievement_keys_are_refused():
    item = {"key": "a", "name": "A", "counter": "messages", "threshold": 1}
    with pytest.raises(ConfigError, match="duplicate achievement keys: a"):
        parse_server_config({"achievements": [item, item]})
