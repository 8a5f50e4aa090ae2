"""The self-check's pure evaluation (domain.self_check) and the needs a config implies
(dcs.self_check.needs_of)."""

from dcs.self_check import ServerRecords, needs_of
from dcs.server_config import parse_server_config
from domain.self_check import (
    PERMISSIONS,
    TEXT,
    ChannelInfo,
    ChannelNeed,
    Finding,
    GuildView,
    Needs,
    Overwrite,
    PermissionNeed,
    RoleInfo,
    RoleNeed,
    channel_permissions,
    check_channels,
    check_permissions,
    check_roles,
    evaluate,
    guild_permissions,
    overall,
)

GUILD, BOT, OWNER = 10, 20, 30
EVERYONE = RoleInfo(
    GUILD, "@everyone", 0, PERMISSIONS["view_channel"] | PERMISSIONS["send_messages"]
)
REWARD = RoleInfo(40, "Level 5", 1, 0)
BOT_ROLE = RoleInfo(41, "Suite", 2, PERMISSIONS["ban_members"] | PERMISSIONS["manage_roles"], True)
STAFF = RoleInfo(42, "Staff", 3, 0)
GENERAL = ChannelInfo(100, "general", TEXT)
MOD_LOG = ChannelInfo(
    101, "mod-log", TEXT,
    overwrites=(Overwrite(GUILD, 0, 0, PERMISSIONS["view_channel"]),
                Overwrite(BOT_ROLE.id, 0, PERMISSIONS["view_channel"], 0)),
)  # fmt: skip
CATEGORY = ChannelInfo(102, "Community", 4)


def view(*extra_bot_roles: RoleInfo, channels=(GENERAL, MOD_LOG, CATEGORY)) -> GuildView:
    roles = {r.id: r for r in (EVERYONE, REWARD, BOT_ROLE, STAFF, *extra_bot_roles)}
    return GuildView(
        guild_id=GUILD,
        owner_id=OWNER,
        bot_id=BOT,
        bot_role_ids=frozenset({GUILD, BOT_ROLE.id, *(r.id for r in extra_bot_roles)}),
        roles=roles,
        channels={c.id: c for c in channels},
    )


def by_name(findings: list[Finding]) -> dict[str, Finding]:
    return {f.name: f for f in findings}


def test_guild_permissions_combine_everyone_and_the_bots_roles():
    perms = guild_permissions(view())
    assert perms & PERMISSIONS["ban_members"] and perms & PERMISSIONS["send_messages"]
    assert not perms & PERMISSIONS["kick_members"]
    admin = RoleInfo(43, "Admin", 1, PERMISSIONS["administrator"])
    assert guild_permissions(view(admin)) & PERMISSIONS["manage_events"]


def test_channel_overwrites_in_discords_order():
    assert channel_permissions(view(), MOD_LOG) & PERMISSIONS["view_channel"]
    denied = ChannelInfo(
        103, "secret", TEXT,
        overwrites=(Overwrite(BOT_ROLE.id, 0, 0, PERMISSIONS["send_messages"]),),
    )  # fmt: skip
    perms = channel_permissions(view(), denied)
    assert perms & PERMISSIONS["view_channel"] and not perms & PERMISSIONS["send_messages"]
    # the member overwrite wins over the role's
    member = ChannelInfo(
        104, "x", TEXT,
        overwrites=(Overwrite(BOT_ROLE.id, 0, 0, PERMISSIONS["send_messages"]),
                    Overwrite(BOT, 1, PERMISSIONS["send_messages"], 0)),
    )  # fmt: skip
    assert channel_permissions(view(), member) & PERMISSIONS["send_messages"]
    hidden = ChannelInfo(
        105, "h", TEXT, overwrites=(Overwrite(GUILD, 0, 0, PERMISSIONS["view_channel"]),)
    )
    assert channel_permissions(view(), hidden) == 0


def test_a_missing_required_permission_fails_and_names_it():
    found = by_name(
        check_permissions(
            view(),
            [
                PermissionNeed("ban_members", "bans"),
                PermissionNeed("kick_members", "kicks"),
                PermissionNeed("kick_members", "rogue bots"),
                PermissionNeed("manage_events", "scheduled events", required=False),
            ],
        )
    )
    assert found["permission:ban_members"].status == "ok"
    kick = found["permission:kick_members"]
    assert kick.status == "fail" and "Kick Members" in kick.detail
    assert "kicks; rogue bots" in kick.detail and "Suite" in kick.fix
    assert found["permission:manage_events"].status == "warn"


def test_channels_exist_have_the_right_kind_and_permissions():
    needs = [
        ChannelNeed("mod-log", MOD_LOG.id, ("view_channel", "send_messages")),
        ChannelNeed("events", 999, ("send_messages",)),
        ChannelNeed("FAQ allowed", 998, required=False),
        ChannelNeed("ticket parent", CATEGORY.id, ("view_channel",), frozenset({TEXT})),
        ChannelNeed("ticket log", GENERAL.id, ("send_messages", "attach_files")),
    ]
    found = by_name(check_channels(view(), needs))
    assert found["channel:mod-log"].status == "ok"
    assert (
        found["channel:events"].status == "fail"
        and "999 does not exist" in found["channel:events"].detail
    )
    assert found["channel:FAQ allowed"].status == "warn"
    assert "is a category, not a text channel" in found["channel:ticket parent"].detail
    log = found["channel:ticket log"]
    assert log.status == "fail" and "Attach Files" in log.detail and "Send" not in log.detail


def test_roles_the_bot_grants_must_be_below_its_top_role():
    managed = RoleInfo(44, "Booster", 0, 0, managed=True)
    needs = [
        RoleNeed("level 5 reward", REWARD.id, grant=True),
        RoleNeed("verification verified", STAFF.id, grant=True),
        RoleNeed("approver", STAFF.id),
        RoleNeed("quarantine", 555, grant=True),
        RoleNeed("ticket support", 556, required=False),
        RoleNeed("booster", managed.id, grant=True),
    ]
    v = view()
    v.roles[managed.id] = managed
    found = by_name(check_roles(v, needs))
    assert found["role:level 5 reward"].status == "ok"
    above = found["role:verification verified"]
    assert (
        above.status == "fail"
        and "position 3" in above.detail
        and "drag @Suite above @Staff" in above.fix
    )
    assert found["role:approver"].status == "ok"
    assert found["role:quarantine"].status == "fail"
    assert found["role:ticket support"].status == "warn"
    assert "managed by an integration" in found["role:booster"].detail


def test_overall_is_the_worst():
    assert overall([]) == "ok"
    assert overall([Finding("a", "ok", ""), Finding("b", "warn", "")]) == "warn"
    assert overall([Finding("a", "fail", ""), Finding("b", "warn", "")]) == "fail"


def test_needs_follow_the_config():
    config = parse_server_config(
        {
            "mod_log_channel_id": MOD_LOG.id,
            "xp": {"role_rewards": [{"level": 5, "role_id": REWARD.id}]},
            "verification": {"enabled": True, "verified_role_id": STAFF.id, "channel_id": 777},
            "tickets": {"mode": "channel", "parent_channel_id": CATEGORY.id},
            "events": {"discord_sync": True},
            "approvals": {"approver_role_ids": [STAFF.id]},
        }
    )
    records = ServerRecords([(1, GENERAL.id, True)], [], [], False)
    needs = needs_of(config, records)
    required = {p.name for p in needs.permissions if p.required}
    assert {
        "ban_members",
        "kick_members",
        "manage_roles",
        "manage_channels",
        "manage_events",
    } <= required
    assert "create_private_threads" not in required  # channel mode, not threads
    channels = {n.purpose: n for n in needs.channels}
    assert channels["mod-log"].channel_id == MOD_LOG.id
    assert channels["ticket category"].kinds == frozenset({4})
    assert channels["announcement 1"].channel_id == GENERAL.id
    assert channels["verification"].channel_id == 777
    roles = {n.purpose: n for n in needs.roles}
    assert roles["level 5 reward"].grant and roles["verification verified"].grant
    assert not roles["approver"].grant
    found = by_name(evaluate(view(), needs))
    assert found["channel:verification"].status == "fail"
    assert found["role:verification verified"].status == "fail"
    assert found["permission:manage_events"].status == "fail"
    assert found["channel:ticket category"].status == "fail"  # no Manage Channels there


def test_a_default_config_needs_no_channels_and_no_role_grants():
    needs = needs_of(parse_server_config({}))
    assert list(needs.channels) == [] and list(needs.roles) == []
    names = {p.name for p in needs.permissions if p.required}
    assert {"ban_members", "moderate_members", "manage_messages", "create_private_threads"} <= names
    assert "manage_events" not in names
    assert isinstance(needs, Needs)
