"""The lockdown's pure parts: which channels, how they are locked, what the lift restores."""

from datetime import UTC, datetime, timedelta

from domain.lockdown import (
    ADD_REACTIONS,
    LOCK_BITS,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    ChannelInfo,
    ChannelSnapshot,
    GuildSnapshot,
    LockdownSettings,
    Overwrite,
    RaidSuspect,
    SuspectBook,
    batches,
    choose_channels,
    dominant_invite,
    invites_restore_value,
    lift_due,
    lockable,
    locked,
    plan_lockdown,
    removal_summary,
)

EVERYONE = VIEW_CHANNEL | SEND_MESSAGES | ADD_REACTIONS
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def channel(cid, type_=0, everyone=None, slow=0):
    return ChannelInfo(cid, f"c{cid}", type_, everyone, slow)


def test_only_channels_everyone_can_post_in_are_locked_by_default():
    hidden = channel(2, everyone=Overwrite(0, VIEW_CHANNEL))
    read_only = channel(3, everyone=Overwrite(0, SEND_MESSAGES))
    voice = channel(4, type_=2)
    forum = channel(5, type_=15)
    chosen = choose_channels(
        [channel(1), hidden, read_only, voice, forum], EVERYONE, LockdownSettings()
    )
    assert [c.channel_id for c in chosen] == [1, 5]
    assert lockable(channel(6, everyone=Overwrite(SEND_MESSAGES, 0)), VIEW_CHANNEL)


def test_configured_channels_win_but_the_mod_log_and_exclusions_never_lock():
    settings = LockdownSettings(
        channel_ids=(1, 2, 3), exclude_channel_ids=(2,), mod_log_channel_id=3
    )
    chosen = choose_channels([channel(1), channel(2), channel(3), channel(4)], EVERYONE, settings)
    assert [c.channel_id for c in chosen] == [1]


def test_locking_keeps_every_other_bit_of_the_overwrite():
    before = Overwrite(allow=(1 << 15) | SEND_MESSAGES, deny=1 << 14)
    after = locked(before)
    assert after.allow == 1 << 15
    assert after.deny == (1 << 14) | LOCK_BITS
    assert locked(None) == Overwrite(0, LOCK_BITS)


def test_the_plan_only_raises_and_the_snapshot_holds_what_to_restore():
    snap = GuildSnapshot(
        1,
        verification_level=4,
        invites_disabled_until=None,
        channels=(ChannelSnapshot(10, "a", None, 30), ChannelSnapshot(11, "b", None, 0)),
    )
    plan = plan_lockdown(snap, LockdownSettings(verification_level=3, slowmode_seconds=10))
    assert plan.verification_level is None  # already stricter: left alone
    assert [c.slowmode_seconds for c in plan.channels] == [None, 10]
    assert plan.pause_invites


def test_a_pause_that_was_already_there_survives_the_lift_only_if_it_still_runs():
    running = GuildSnapshot(1, 0, NOW + timedelta(hours=2), ())
    over = GuildSnapshot(1, 0, NOW - timedelta(minutes=1), ())
    assert invites_restore_value(running, NOW) == NOW + timedelta(hours=2)
    assert invites_restore_value(over, NOW) is None


def test_bans_go_200_a_call():
    assert [len(b) for b in batches(list(range(450)))] == [200, 200, 50]
    assert list(batches([])) == []


def test_the_dominant_invite_needs_half_the_suspects_and_three():
    def s(i, code):
        return RaidSuspect(i, 1, (), invite_code=code)

    assert dominant_invite([s(1, "a"), s(2, "a"), s(3, "a"), s(4, None)]) == "a"
    assert dominant_invite([s(1, "a"), s(2, "a"), s(3, None)]) is None  # only two
    assert (
        dominant_invite([s(i, "a") for i in range(3)] + [s(9 + i, None) for i in range(4)]) is None
    )


def test_the_suspect_book_proposes_each_present_member_once():
    book = SuspectBook()
    assert book.add(RaidSuspect(1, 3, ("young",)))
    assert book.add(RaidSuspect(2, 3, ("young",)))
    assert not book.add(RaidSuspect(1, 3, ("young",), invite_code="x"))
    assert book.suspects[1].invite_code == "x"  # a repeat fills in the invite
    book.mark_left(2)
    assert book.take_proposal() == (1,)
    assert book.take_proposal() == ()
    book.add(RaidSuspect(3, 2, ()))
    assert book.take_proposal() == (3,)


def test_quiet_lift_and_summary():
    assert lift_due(NOW, LockdownSettings(quiet_minutes=30)) == NOW + timedelta(minutes=30)
    assert removal_summary("ban", 1) == "ban 1 account that joined during the raid"
    assert removal_summary("kick", 2) == "kick 2 accounts that joined during the raid"
