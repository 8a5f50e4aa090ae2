"""The anti-nuke watch: thresholds per kind within a window, trust, follow-ups, bounds, restores."""

from datetime import UTC, datetime, timedelta

from domain.anti_nuke import (
    ADMINISTRATOR,
    BAN_MEMBERS,
    Actor,
    ChannelRecord,
    Evidence,
    NukeAction,
    NukeWatch,
    OverwriteRecord,
    RoleRecord,
    dangerous_added,
    policy_from_preset,
    remap_channel,
    restore_order,
)

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
G, ROGUE = 1, 42
STANDARD = policy_from_preset("standard")


def act(kind="channel_delete", seconds=0.0, target=None, actor=ROGUE, guild=G):
    return NukeAction(guild, actor, kind, target, T0 + timedelta(seconds=seconds))


def feed(watch, actions, actor=None, policy=STANDARD):
    who = actor or Actor(ROGUE)
    return [watch.observe(a, who, policy) for a in actions]


def test_third_channel_delete_within_the_window_is_a_verdict_with_all_the_evidence():
    watch = NukeWatch()
    verdicts = feed(watch, [act(seconds=i, target=100 + i) for i in range(3)])
    assert verdicts[:2] == [None, None]
    v = verdicts[2]
    assert v is not None and v.first
    assert (v.actor_id, v.kind, v.count, v.threshold) == (ROGUE, "channel_delete", 3, 3)
    assert [a.target_id for a in v.evidence] == [100, 101, 102]
    assert "3 channel_delete in 2 s" in v.summary()


def test_actions_spread_beyond_the_window_are_not_a_nuke():
    watch = NukeWatch()
    verdicts = feed(watch, [act(seconds=i * 40, target=i) for i in range(5)])
    assert verdicts == [None] * 5


def test_each_kind_has_its_own_threshold_and_mixed_kinds_travel_as_evidence():
    watch = NukeWatch()
    actions = [act("ban", 0, 7), act("channel_delete", 1, 8), act("ban", 2, 9)]
    actions += [act("ban", 3, 10), act("ban", 4, 11)]
    assert feed(watch, actions)[:4] == [None] * 4
    # the standard ban threshold is 5: four bans are not enough; a fifth is
    v = watch.observe(act("ban", 5, 12), Actor(ROGUE), STANDARD)
    assert v is not None and v.kind == "ban" and v.count == 5
    assert any(a.kind == "channel_delete" for a in v.evidence)


def test_after_a_verdict_every_further_action_is_a_follow_up_until_a_quiet_window():
    watch = NukeWatch()
    feed(watch, [act(seconds=i, target=i) for i in range(3)])
    follow = watch.observe(act("role_delete", 5, 77), Actor(ROGUE), STANDARD)
    assert follow is not None and not follow.first
    assert [a.target_id for a in follow.evidence] == [77]
    assert watch.tripped(G, ROGUE)
    later = watch.observe(act("channel_delete", 300, 88), Actor(ROGUE), STANDARD)
    assert later is None and not watch.tripped(G, ROGUE)


def test_owner_self_and_allow_listed_users_and_roles_are_never_counted():
    trusting = policy_from_preset(
        "strict", trusted_user_ids=frozenset({5}), trusted_role_ids=frozenset({900})
    )
    for actor in (
        Actor(ROGUE, is_owner=True),
        Actor(ROGUE, is_self=True),
        Actor(5),
        Actor(ROGUE, role_ids=frozenset({900, 3})),
    ):
        watch = NukeWatch()
        actions = [act(seconds=i, target=i, actor=actor.user_id) for i in range(10)]
        assert feed(watch, actions, actor, trusting) == [None] * 10
        assert watch.sizes() == (0, 0, 0)


def test_presets_windows_and_overrides():
    strict = policy_from_preset("strict", overrides={"kick": 7}, window_seconds=15)
    assert strict.thresholds.channel_delete == 2 and strict.thresholds.kick == 7
    assert strict.window == timedelta(seconds=15)
    relaxed = policy_from_preset("relaxed")
    assert relaxed.thresholds.ban == 10 and relaxed.window == timedelta(seconds=30)
    watch = NukeWatch()
    assert feed(watch, [act(seconds=i, target=i) for i in range(2)], policy=strict)[1]
    off = policy_from_preset("strict", enabled=False)
    assert feed(NukeWatch(), [act(seconds=i) for i in range(5)], policy=off) == [None] * 5


def test_actors_are_counted_apart_and_servers_apart():
    watch = NukeWatch()
    for i in range(2):
        for actor in (1, 2):
            assert watch.observe(act(seconds=i, actor=actor), Actor(actor), STANDARD) is None
        assert watch.observe(act(seconds=i, guild=2), Actor(ROGUE), STANDARD) is None
    assert watch.observe(act(seconds=3, actor=1), Actor(1), STANDARD) is not None


def test_memory_is_bounded_and_a_tripped_actor_outlives_a_crowd():
    watch = NukeWatch(max_guilds=3, max_actors=10, max_actions=5)
    feed(watch, [act(seconds=i, target=i) for i in range(3)])  # ROGUE trips in guild G
    for n in range(1000):
        watch.observe(act(seconds=4 + n / 100, actor=10_000 + n), Actor(10_000 + n), STANDARD)
    for n in range(20):
        watch.observe(act(seconds=5, guild=100 + n), Actor(ROGUE), STANDARD)
    guilds, actors, actions = watch.sizes()
    assert guilds <= 3 and actors <= 3 * 10 and actions <= 3 * 10 * 5
    big = NukeWatch(max_actions=5)
    feed(big, [act("ban", i / 10, i) for i in range(100)], policy=policy_from_preset("relaxed"))
    assert big.sizes()[2] == 5


def test_dangerous_grants_are_only_new_dangerous_bits():
    assert dangerous_added(0, ADMINISTRATOR | 1 << 10) == ADMINISTRATOR
    assert dangerous_added(BAN_MEMBERS, BAN_MEMBERS | 1 << 11) == 0
    assert dangerous_added(ADMINISTRATOR, 0) == 0


def test_restore_order_puts_roles_first_and_categories_before_their_channels():
    role_a = RoleRecord(10, "Helpers", 0, position=2)
    role_b = RoleRecord(11, "Staff", BAN_MEMBERS, position=1)
    category = ChannelRecord(20, "Staff", 4, position=1)
    text = ChannelRecord(
        21,
        "staff-chat",
        0,
        position=0,
        parent_id=20,
        overwrites=(OverwriteRecord(11, 0, 1024, 0), OverwriteRecord(99, 1, 0, 1024)),
    )
    evidence = [
        Evidence("channel_delete", 21, T0, channel=text),
        Evidence("role_delete", 10, T0, role=role_a),
        Evidence("channel_delete", 20, T0, channel=category),
        Evidence("role_delete", 11, T0, role=role_b),
        Evidence("ban", 5, T0),
    ]
    roles, channels = restore_order(evidence)
    assert [r.name for r in roles] == ["Staff", "Helpers"]
    assert [c.name for c in channels] == ["Staff", "staff-chat"]
    moved = remap_channel(text, {11: 111, 20: 220})
    assert moved.parent_id == 220
    assert [o.target_id for o in moved.overwrites] == [111, 99]
    assert moved.overwrites[0].allow == 1024


def test_the_config_section_builds_the_policy_and_names_bad_fields_by_path():
    import pytest

    from dcs.server_config import ConfigError, default_server_config, parse_server_config

    assert default_server_config().anti_nuke.to_domain() == policy_from_preset("standard")
    config = parse_server_config(
        {
            "anti_nuke": {
                "preset": "strict",
                "window_seconds": 20,
                "thresholds": {"ban": 9},
                "trusted_user_ids": [123],
                "trusted_role_ids": [456],
            }
        }
    )
    policy = config.anti_nuke.to_domain()
    assert policy.thresholds.ban == 9 and policy.thresholds.channel_delete == 2
    assert policy.window == timedelta(seconds=20)
    assert policy.trusted_user_ids == {123} and policy.trusted_role_ids == {456}
    with pytest.raises(ConfigError) as bad:
        parse_server_config(
            {"anti_nuke": {"thresholds": {"nuke": 1, "kick": 0}, "bot_action": "ignore"}}
        )
    paths = sorted(p.split(":")[0] for p in bad.value.problems)
    assert paths == [
        "anti_nuke.bot_action",
        "anti_nuke.thresholds.kick",
        "anti_nuke.thresholds.nuke.[key]",
    ]
