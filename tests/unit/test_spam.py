"""Fast-path spam detection: rates, (near) duplicates, bursts, new accounts, raids, escalation."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from domain.automod_types import MessageSnapshot
from domain.spam import PRESETS, SpamMessage, SpamRules, SpamTracker, SpamVerdict, text_key

T0 = 1_750_000_000.0
OLD = T0 - 400 * 86_400
"""An account created long ago."""
GUILD = 1
_ids = itertools.count(10**17)


def msg(author, text, *, channel=1, mentions=0, created=OLD, first=False, guild=GUILD):
    return SpamMessage(guild, channel, author, next(_ids), text, mentions, created, first)


def feed(tracker, items):
    """Observe (seconds after T0, message) pairs; the verdicts, None for clean messages."""
    return [tracker.observe(m, T0 + at) for at, m in items]


def flagged(verdicts):
    return [v for v in verdicts if v is not None]


CHAT = [
    "hey everyone, how's it going?",
    "pretty good, just finished work",
    "anyone up for a round of ranked tonight?",
    "sure, after dinner maybe",
    "lol",
    "did you see the patch notes? they nerfed the shotgun again",
    "yeah it's ridiculous, third time this season",
    "i still think it's fine tbh",
    "gg last night btw",
    "thanks! that last fight was close 😅",
    "what time are we starting",
    "8pm my time, so in about two hours",
    "ok i'll be there",
    "can someone send the link to the tournament rules?",
    "https://example.com/tournament/rules",
    "thanks",
    "np",
    "brb grabbing food",
    "my cat just knocked the controller off the desk 😂",
    "classic",
    "who's bringing the snacks to the meetup",
    "i can bring chips and salsa",
    "@sam are you coming?",
    "yes! wouldn't miss it",
    "lol",
    "ok see you all at 8",
]


def conversation(members=6, rounds=4, seconds_apart=4.0, seed=7):
    """A lively but normal chat: several members replying in turn, two channels."""
    rng = random.Random(seed)
    at = 0.0
    items = []
    for _ in range(rounds):
        for line in CHAT:
            author = rng.randrange(members)
            mentions = 1 if line.startswith("@") else 0
            items.append((at, msg(author, line, channel=1 + rng.randrange(2), mentions=mentions)))
            at += seconds_apart * rng.uniform(0.5, 1.5)
    return items


# --- normal chat ---------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["relaxed", "standard", "strict"])
def test_normal_conversation_is_never_flagged(preset):
    tracker = SpamTracker(SpamRules.preset(preset))
    assert flagged(feed(tracker, conversation())) == []


def test_a_chatty_member_answering_quickly_is_not_flagged():
    tracker = SpamTracker()
    lines = ["wait", "what", "no way", "that's insane", "how did you do that", "teach me"]
    assert flagged(feed(tracker, [(i * 1.2, msg(1, line)) for i, line in enumerate(lines)])) == []


# --- floods --------------------------------------------------------------------------------


def test_a_message_flood_is_flagged_from_the_first_message_over_the_limit():
    tracker = SpamTracker()  # standard: 6 messages per 5 s
    verdicts = feed(
        tracker, [(i * 0.5, msg(1, f"message number {w}")) for i, w in enumerate("abcdefghij")]
    )
    assert verdicts[:6] == [None] * 6
    first = verdicts[6]
    assert first is not None and first.kinds == ("flood",)
    assert first.delete_ids == ((1, first.message_id),)
    assert (first.strike_weight, first.timeout_minutes, first.offence_level) == (1, 0, 1)
    assert all(v is not None and "flood" in v.kinds for v in verdicts[6:])


def test_one_burst_earns_one_strike_not_one_per_message():
    tracker = SpamTracker()
    verdicts = flagged(
        feed(tracker, [(i * 0.3, msg(1, f"spam {c}")) for i, c in enumerate("abcdefghij")])
    )
    assert [v.strike_weight for v in verdicts] == [1, 0, 0, 0]
    assert all(v.deletes for v in verdicts)


def test_windows_slide_so_old_messages_stop_counting():
    tracker = SpamTracker()
    # six quick messages, a pause longer than the rate window, six more: never 7 in 5 s
    items = [(i * 0.5, msg(1, f"first burst {c}")) for i, c in enumerate("abcdef")]
    items += [(8 + i * 0.5, msg(1, f"second burst {c}")) for i, c in enumerate("abcdef")]
    assert flagged(feed(tracker, items)) == []
    # the same text twice, then a third copy after the 30 s window: not a duplicate burst
    text = "is anyone selling the blue skin"
    assert (
        flagged(feed(tracker, [(40, msg(1, text)), (50, msg(1, text)), (75, msg(1, text))])) == []
    )
    verdict = tracker.observe(msg(1, text), T0 + 76)
    assert verdict is not None and verdict.kinds == ("duplicates",)


# --- duplicates ----------------------------------------------------------------------------


def test_duplicates_across_channels_are_flagged_and_every_copy_is_deleted():
    tracker = SpamTracker()
    posts = [msg(1, "FREE NITRO click here", channel=c) for c in (10, 11, 12)]
    verdicts = feed(tracker, [(i * 3.0, m) for i, m in enumerate(posts)])
    assert verdicts[:2] == [None, None]
    verdict = verdicts[2]
    assert verdict is not None and verdict.kinds == ("duplicates",)
    assert set(verdict.delete_ids) == {(m.channel_id, m.message_id) for m in posts}
    # a fourth copy only hands out itself: the earlier ones were already handed out
    fourth = msg(1, "FREE NITRO click here", channel=13)
    again = tracker.observe(fourth, T0 + 9)
    assert again is not None and again.delete_ids == ((13, fourth.message_id),)


@pytest.mark.parametrize(
    "variants",
    [
        ["Buy cheap followers now", "buy cheap followers now!!!", "BUY CHEAP FOLLOWERS NOW 2"],
        ["join my stream at 5", "join my stream at 6", "join... my stream! at 7"],
        [
            "best crypto signals in town, dm me for the private group today",
            "best crypto signals in town, dm me for the private group today!! 100% legit",
            "hey guys best crypto signals in town, dm me for the private group today",
        ],
    ],
)
def test_near_duplicates_with_small_changes_are_flagged(variants):
    tracker = SpamTracker()
    verdicts = feed(
        tracker, [(i * 4.0, msg(1, text, channel=i)) for i, text in enumerate(variants)]
    )
    assert verdicts[:2] == [None, None]
    assert verdicts[2] is not None and verdicts[2].kinds == ("duplicates",)
    assert len(verdicts[2].delete_ids) == 3


def test_text_key_drops_case_punctuation_digits_and_emoji():
    assert text_key("Buy NOW!!! 123 😀") == text_key("buy now") == b"buynow"
    assert text_key("Привет, всем!") == text_key("привет всем") != b""
    assert text_key("🔥 🔥 🔥") == "🔥🔥🔥".encode()
    assert text_key("   ") == b""


def test_short_replies_are_left_to_the_rate_limit():
    tracker = SpamTracker()
    assert flagged(feed(tracker, [(i * 2.0, msg(1, "lol")) for i in range(5)])) == []


# --- mention, link, invite and emoji bursts -------------------------------------------------


def test_mention_bursts_over_the_window_are_flagged():
    tracker = SpamTracker()  # standard: 12 mentions per 30 s
    verdicts = feed(
        tracker, [(i * 5.0, msg(1, f"hey you {c}", mentions=5)) for i, c in enumerate("abc")]
    )
    assert verdicts[:2] == [None, None]
    assert verdicts[2] is not None and verdicts[2].kinds == ("mentions",)
    assert verdicts[2].strike_weight == 2  # mass mentions weigh more than a flood


def test_link_bursts_are_flagged():
    tracker = SpamTracker()  # standard: 5 links per 30 s
    texts = [f"look https://site{i}.example/a https://site{i}.example/b" for i in range(3)]
    verdicts = feed(tracker, [(i * 5.0, msg(1, t)) for i, t in enumerate(texts)])
    assert verdicts[:2] == [None, None]
    assert verdicts[2] is not None and "links" in verdicts[2].kinds


def test_invite_bursts_are_flagged():
    tracker = SpamTracker()  # standard: 1 invite per 30 s
    verdicts = feed(
        tracker,
        [
            (0, msg(1, "come hang out https://discord.gg/abcdef")),
            (5, msg(1, "or here https://discord.gg/zzz111")),
        ],
    )
    assert verdicts[0] is None
    assert verdicts[1] is not None and verdicts[1].kinds == ("invites",)


def test_emoji_bursts_are_flagged():
    tracker = SpamTracker()  # standard: 40 emojis per 30 s
    texts = ["fire " + "🔥" * 15, "party " + "🎉" * 15, "yay " + "😀" * 15]
    verdicts = feed(tracker, [(i * 3.0, msg(1, text)) for i, text in enumerate(texts)])
    assert verdicts[:2] == [None, None]
    assert verdicts[2] is not None and verdicts[2].kinds == ("emojis",)


# --- new accounts and first messages -------------------------------------------------------


def test_new_accounts_get_stricter_limits():
    text = "check my profile for a surprise"
    for created, expect in ((OLD, None), (T0 - 3_600, ("duplicates",))):
        tracker = SpamTracker()
        verdicts = feed(
            tracker, [(0, msg(1, text, created=created)), (5, msg(1, text, created=created))]
        )
        assert verdicts[0] is None
        assert (verdicts[1].kinds if verdicts[1] else None) == expect
    # and a rate an old account may keep is a flood for a day-old one
    rate = [(i * 0.7, f"line {c}") for i, c in enumerate("abcd")]
    assert flagged(feed(SpamTracker(), [(t, msg(1, s)) for t, s in rate])) == []
    young = flagged(feed(SpamTracker(), [(t, msg(1, s, created=T0 - 60)) for t, s in rate]))
    assert [v.kinds for v in young] == [("flood",)]


def test_a_first_message_with_an_invite_is_flagged_but_a_plain_one_is_not():
    tracker = SpamTracker()
    assert tracker.observe(msg(1, "hi all, glad to be here", first=True), T0) is None
    verdict = tracker.observe(msg(2, "join https://discord.gg/freestuff", first=True), T0)
    assert verdict is not None and verdict.kinds == ("first_message",)
    assert verdict.strike_weight == 2
    # the same invite later in a member's life is within the normal limits
    assert tracker.observe(msg(3, "join https://discord.gg/freestuff"), T0) is None


# --- presets -------------------------------------------------------------------------------


def test_presets_order_their_limits():
    relaxed, standard, strict = PRESETS["relaxed"], PRESETS["standard"], PRESETS["strict"]
    for name in ("max_messages", "max_duplicates", "max_mentions", "max_links", "raid_accounts"):
        assert getattr(relaxed, name) > getattr(standard, name) > getattr(strict, name), name
    assert SpamRules.preset("strict", max_links=9).max_links == 9
    assert SpamRules.preset("standard") == SpamRules()


def test_presets_differ_on_the_same_stream():
    items = [(i * 0.8, f"quick message {c}") for i, c in enumerate("abcdefgh")]
    counts = {}
    for preset in ("relaxed", "standard", "strict"):
        tracker = SpamTracker(SpamRules.preset(preset))
        counts[preset] = len(flagged(feed(tracker, [(t, msg(1, s)) for t, s in items])))
    assert counts == {"relaxed": 0, "standard": 2, "strict": 4}


def test_rules_are_validated():
    with pytest.raises(ValueError, match="max_history"):
        SpamRules(max_messages=40)
    with pytest.raises(ValueError, match="caps"):
        SpamRules(max_texts=0)
    with pytest.raises(ValueError, match="timeout"):
        SpamRules(timeout_minutes=())
    with pytest.raises(ValueError, match="raid_accounts"):
        SpamRules(raid_accounts=1)


# --- message raids and channel floods ------------------------------------------------------


def test_many_accounts_posting_the_same_text_is_a_raid_alerted_once():
    tracker = SpamTracker()  # standard: 4 members within 60 s
    text = "FREE NITRO for everyone who joins https://scam.example/nitro"
    posts = [msg(100 + i, text, channel=1 + i % 2) for i in range(6)]
    verdicts = feed(tracker, [(i * 2.0, m) for i, m in enumerate(posts)])
    assert verdicts[:3] == [None] * 3
    raid = verdicts[3]
    assert raid is not None and raid.kinds == ("raid",) and raid.alert
    assert raid.raid_member_ids == (100, 101, 102, 103)
    assert set(raid.delete_ids) == {(m.channel_id, m.message_id) for m in posts[:4]}
    later = verdicts[4]
    assert later is not None and later.kinds == ("raid",) and not later.alert
    assert (5, posts[4].message_id) not in later.delete_ids
    assert (posts[4].channel_id, posts[4].message_id) in later.delete_ids
    assert later.raid_member_ids == (100, 101, 102, 103, 104)


def test_many_members_saying_the_same_short_thing_is_not_a_raid():
    tracker = SpamTracker()
    assert flagged(feed(tracker, [(i, msg(200 + i, "gg everyone!")) for i in range(20)])) == []


def test_a_channel_flood_alerts_the_mods_without_punishing_anyone():
    tracker = SpamTracker()  # standard: 80 messages per 10 s per channel
    items = [
        (i * 0.05, msg(1000 + i, f"hype {chr(97 + i // 26)}{chr(97 + i % 26)}")) for i in range(150)
    ]
    verdicts = feed(tracker, items)
    alerts = flagged(verdicts)
    assert len(alerts) == 1  # then the cooldown holds
    alert = alerts[0]
    assert alert.kinds == ("channel_flood",) and alert.alert
    assert (alert.delete_ids, alert.strike_weight, alert.timeout_minutes) == ((), 0, 0)
    assert verdicts.index(alert) == 80
    # another channel at a normal pace stays quiet
    assert tracker.observe(msg(1, "meanwhile, in general", channel=2), T0 + 8) is None


# --- escalation ----------------------------------------------------------------------------


def flood(tracker, author, start, *, n=8):
    """A burst of n quick messages; the verdicts that came of it."""
    words = ["".join(pair) for pair in itertools.product("abcdefgh", repeat=2)][:n]
    items = [(start + i * 0.2, msg(author, f"burst {w}")) for i, w in enumerate(words)]
    return flagged(feed(tracker, items))


def test_responses_escalate_with_repeat_offences_and_alert():
    tracker = SpamTracker()  # timeouts (0, 10, 60, 1440), alert from level 3
    firsts = [flood(tracker, 1, start)[0] for start in (0, 100, 200, 300, 400)]
    assert [v.offence_level for v in firsts] == [1, 2, 3, 4, 5]
    assert [v.timeout_minutes for v in firsts] == [0, 10, 60, 1440, 1440]
    assert [v.alert for v in firsts] == [False, False, True, False, False]  # alert cooldown
    assert tracker.offence_level(GUILD, 1, T0 + 400) == 5


def test_offences_are_forgotten_after_the_memory():
    tracker = SpamTracker(SpamRules(offence_memory_seconds=600))
    assert flood(tracker, 1, 0)[0].offence_level == 1
    assert flood(tracker, 1, 100)[0].offence_level == 2
    assert tracker.offence_level(GUILD, 1, T0 + 800) == 0
    assert flood(tracker, 1, 800)[0].offence_level == 1


def test_a_burst_that_keeps_going_escalates():
    tracker = SpamTracker()  # every 6 flagged messages of one burst, a new offence
    verdicts = flood(tracker, 1, 0, n=20)
    assert len(verdicts) == 14
    new = [i for i, v in enumerate(verdicts) if v.strike_weight]
    assert new == [0, 6, 12]
    assert [verdicts[i].timeout_minutes for i in new] == [0, 10, 60]


# --- plumbing ------------------------------------------------------------------------------


def test_servers_are_independent():
    tracker = SpamTracker()
    text = "visit my shop for cheap skins"
    items = [(i, msg(1, text, guild=g)) for i, g in enumerate((1, 2, 1, 2))]
    assert flagged(feed(tracker, items)) == []
    tracker.forget_guild(1)
    assert tracker.tracked_counts(1)["members"] == 0
    assert tracker.tracked_counts(2)["members"] == 1


def test_from_snapshot_carries_the_fields_over():
    created = datetime(2025, 1, 1, tzinfo=UTC)
    snapshot = MessageSnapshot(
        guild_id=1,
        channel_id=2,
        author_id=3,
        author_role_ids=frozenset(),
        author_is_bot=False,
        content="hello",
        mention_count=4,
        account_created_at=created,
        now=created + timedelta(days=3),
    )
    message = SpamMessage.from_snapshot(snapshot, 99, first_message=True)
    assert message == SpamMessage(1, 2, 3, 99, "hello", 4, created.timestamp(), True)


def test_verdict_reason_reads_like_a_case():
    verdict = SpamVerdict(1, 2, 3, 4, (), (), 0, 0, 0, alert=False)
    assert not verdict.deletes and verdict.kinds == ()
    tracker = SpamTracker()
    hit = flagged(feed(tracker, [(i * 0.1, msg(1, f"x {c}")) for i, c in enumerate("abcdefg")]))[0]
    assert hit.reason == "Spam: flood (7+ messages in 5s)"


# --- the learned text score ----------------------------------------------------------------

YOUNG = T0 - 3_600
"""An account created an hour before T0."""
LURE_LINK = "claim your free nitro before it runs out https://dlscord-gift.com/claim"
LURE = "free nitro giveaway, dm me to claim"


@pytest.fixture(scope="module")
def text_model():
    from dcs.spam_model import shipped_model

    return shipped_model()


def test_a_newcomers_lure_is_deleted_and_struck(text_model):
    """A young account's first message that reads as spam: deleted, one strike, no timeout."""
    tracker = SpamTracker(text_model=text_model)
    [verdict] = feed(tracker, [(0, msg(1, LURE, created=YOUNG, first=True))])
    assert verdict.kinds == ("spam_text",)
    assert verdict.deletes and verdict.strike_weight == 1 and verdict.timeout_minutes == 0
    assert verdict.reason.startswith("Spam: spam_text (a newcomer's text scores 0.99")
    [again] = feed(tracker, [(1, msg(2, LURE_LINK, created=YOUNG))])  # young, not first
    assert again.kinds == ("spam_text",) and again.deletes


@pytest.mark.parametrize("preset", ["relaxed", "standard", "strict"])
def test_a_newcomers_normal_chat_is_not_flagged(text_model, preset):
    """Questions and chat from brand-new members pass the text score, links included."""
    tracker = SpamTracker(SpamRules.preset(preset), text_model=text_model)
    lines = [
        "hi! just joined, how do i get the verified role?",
        "hey guys, where do I post my clips?",
        "can someone send the link to the tournament rules? https://example.com/tournament/rules",
        *CHAT,
    ]
    items = [(i * 20.0, msg(100 + i, t, created=YOUNG, first=True)) for i, t in enumerate(lines)]
    verdicts = flagged(feed(tracker, items))
    assert not [v for v in verdicts if {"spam_text", "spam_text_link"} & set(v.kinds)]
    if preset != "strict":  # strict allows no link at all in a first message
        assert verdicts == []


def test_an_established_members_lure_alone_is_at_most_alerted(text_model):
    """A regular's account posting a lure may be hijacked: alert the mods, delete nothing."""
    tracker = SpamTracker(text_model=text_model)
    assert feed(tracker, [(0, msg(1, LURE))]) == [None]  # no link: not even scored
    [verdict] = feed(tracker, [(30, msg(2, LURE_LINK))])
    assert verdict.kinds == ("spam_text_link",)
    assert verdict.alert and not verdict.deletes
    assert verdict.strike_weight == 0 and verdict.timeout_minutes == 0
    assert tracker.offence_level(GUILD, 2, T0 + 30) == 0


def test_the_text_score_adds_to_other_signals(text_model):
    """A newcomer's lure that also breaks a first-message rule lists both reasons."""
    tracker = SpamTracker(text_model=text_model)
    text = f"{LURE_LINK} https://dlscord-gift.com/more"
    [verdict] = feed(tracker, [(0, msg(1, text, created=YOUNG, first=True))])
    assert verdict.kinds == ("first_message", "spam_text")
    assert verdict.strike_weight == 2 and verdict.deletes


def test_without_a_model_or_at_threshold_one_the_text_is_not_judged(text_model):
    """The model is optional, and a threshold of 1.0 turns it off."""
    lure = msg(1, LURE, created=YOUNG, first=True)
    assert feed(SpamTracker(), [(0, lure)]) == [None]
    off = SpamRules(text_score=1.0, text_alert_score=1.0)
    assert feed(SpamTracker(off, text_model=text_model), [(0, lure)]) == [None]
    with pytest.raises(ValueError, match="text scores"):
        SpamRules(text_score=0.2)
