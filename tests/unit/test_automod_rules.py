"""Automod rule kinds: regex (RE2), invites, scam links, mentions, caps, zalgo, emojis, files;
per-rule conditions and actions; judgements that list every rule hit."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.automod import (
    AttachmentInfo,
    AutomodRules,
    CompiledAutomod,
    MessageSnapshot,
    RuleAction,
    RuleConditions,
    RuleSpec,
    compile_automod,
)
from domain.automod_rules import (
    AttachmentParams,
    CapsParams,
    EmojiFloodParams,
    InviteParams,
    MassMentionParams,
    RegexFinder,
    RegexParams,
    ScamLinkParams,
    ZalgoParams,
    caps_counts,
    emoji_count,
    regex_problem,
)
from domain.automod_types import Judgement, merge_actions, strongest_action

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
GUILD, CHANNEL, THREAD, CATEGORY, AUTHOR = 1, 10, 12, 90, 100
MEMBER, TRUSTED, NEWBIE = 501, 502, 503
DELETE = (RuleAction("delete"),)


def msg(content: str = "", **changes: object) -> MessageSnapshot:
    base = MessageSnapshot(
        GUILD,
        CHANNEL,
        AUTHOR,
        frozenset({MEMBER}),
        False,
        content,
        category_id=CATEGORY,
        account_created_at=NOW - timedelta(days=400),
        joined_at=NOW - timedelta(days=100),
        now=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def only(rule: RuleSpec, **kwargs: object) -> CompiledAutomod:
    return compile_automod(AutomodRules(rules=(rule,)), **kwargs)  # type: ignore[arg-type]


def hit(automod: CompiledAutomod, message: MessageSnapshot) -> tuple[str, ...] | None:
    judgement = automod.judge(message)
    return None if judgement is None else tuple(v.detail for v in judgement.verdicts)


# --- regex -----------------------------------------------------------------------------------


def test_regex_rule_reports_the_first_pattern_that_matches_and_what_it_matched() -> None:
    automod = only(RuleSpec("links", RegexParams((r"bit\.ly/\w+", r"\d{3}-\d{4}"))))
    judgement = automod.judge(msg("call 555-1234 or see BIT.LY/xyz"))
    assert judgement is not None
    [verdict] = judgement.verdicts
    assert (verdict.rule, verdict.kind, verdict.detail) == ("links", "regex", r"bit\.ly/\w+")
    assert verdict.excerpt == "BIT.LY/xyz"  # case-insensitive by default
    assert automod.judge(msg("nothing to see")) is None


def test_regex_case_sensitive_option() -> None:
    automod = only(RuleSpec("r", RegexParams(("SHOUT",), case_sensitive=True)))
    assert automod.judge(msg("shout")) is None
    assert automod.judge(msg("SHOUT")) is not None


def test_many_regexes_in_chunks_still_match_the_last_one() -> None:
    patterns = [f"word{i}x+y" for i in range(1_200)]  # more than one RE2 set
    finder = RegexFinder(patterns)
    assert finder(msg("hello word1199xxy there")) == ("word1199x+y", "word1199xxy")
    assert finder(msg("word5xy")) == ("word5x+y", "word5xy")
    assert finder(msg("word5y")) is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"(a)\1", "back-references are not supported"),
        (r"(?=admin)adm", "look-arounds"),
        (r"(unclosed", "not valid RE2"),
        (r"x*", "matches an empty message"),
        ("", "empty pattern"),
    ],
)
def test_patterns_re2_cannot_run_are_explained(pattern: str, problem: str) -> None:
    reason = regex_problem(pattern)
    assert reason is not None and problem in reason


def test_regex_that_backtracks_catastrophically_in_re_is_linear_in_re2() -> None:
    automod = only(RuleSpec("evil", RegexParams((r"(a+)+$", r"(x+x+)+y"))))
    text = "a" * 5_000 + "!" + "x" * 5_000
    started = time.perf_counter()
    assert automod.judge(msg(text)) is None
    assert time.perf_counter() - started < 0.05


# --- invites ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("join discord.gg/abc123 now", "abc123"),
        ("https://discord.com/invite/Cool-Server", "Cool-Server"),
        ("discordapp.com/invite/xyz9", "xyz9"),
        ("discord . gg / spaced1", "spaced1"),
        ("discord(dot)gg/dotted", "dotted"),
        ("dsc.gg/short", "short"),
        ("[click](https://discord.gg/hidden)", "hidden"),
    ],
)
def test_invite_links_are_found_in_their_usual_disguises(text: str, code: str) -> None:
    assert hit(only(RuleSpec("invites", InviteParams())), msg(text)) == (code,)


def test_invite_allow_list_and_own_invites_pass() -> None:
    automod = only(RuleSpec("invites", InviteParams(allowed_codes=frozenset({"partner"}))))
    assert automod.judge(msg("our partner: discord.gg/partner")) is None
    own = msg("come back via discord.gg/OurOwn", own_invite_codes={"OurOwn": 3}.keys())
    assert automod.judge(own) is None
    assert hit(automod, msg("discord.gg/OurOwn")) == ("OurOwn",)  # not ours here
    assert hit(automod, msg("discord.gg/partner and discord.gg/other")) == ("other",)
    strict = only(RuleSpec("invites", InviteParams(allow_own_invites=False)))
    assert hit(strict, own) == ("OurOwn",)


def test_plain_mentions_of_discord_are_not_invites() -> None:
    automod = only(RuleSpec("invites", InviteParams()))
    assert automod.judge(msg("I love discord, see discord.com/channels/1/2")) is None


# --- scam links (detector injected) ----------------------------------------------------------


@dataclass(frozen=True)
class FakeHit:
    domain: str
    reason: str
    detail: str = ""


class FakeDetector:
    def __init__(self, bad: dict[str, str]) -> None:
        self.bad = bad
        self.calls = 0

    def check_text(self, text: str) -> list[FakeHit]:
        self.calls += 1
        return [FakeHit(d, r) for d, r in self.bad.items() if d in text.lower()]


def test_scam_links_use_the_injected_detector_and_allowed_domains() -> None:
    detector = FakeDetector({"dlscord-gift.ru": "lookalike", "cdn.example.org": "listed"})
    rule = RuleSpec("scams", ScamLinkParams(allowed_domains=frozenset({"example.org"})))
    automod = only(rule, scam_detector=detector)
    judgement = automod.judge(msg("free nitro: https://DLSCORD-GIFT.ru/claim today"))
    assert judgement is not None
    [verdict] = judgement.verdicts
    assert verdict.detail == "dlscord-gift.ru (lookalike)"
    assert verdict.excerpt == "https://DLSCORD-GIFT.ru/claim"
    assert automod.judge(msg("see cdn.example.org/x")) is None  # an allowed subdomain
    calls = detector.calls
    assert automod.judge(msg("no links at all")) is None
    assert automod.judge(msg("the end. next sentence, 3.5 stars")) is None
    assert detector.calls == calls  # no dot before a letter: no host, no detector call
    assert automod.judge(msg("ok.see you")) is None
    assert detector.calls == calls + 1


def test_scam_rule_without_a_detector_is_listed_as_skipped() -> None:
    automod = only(RuleSpec("scams", ScamLinkParams()))
    assert automod.skipped == ("scams",)
    assert automod.rules == ()


# --- counts ----------------------------------------------------------------------------------


def test_mass_mentions_count_above_the_limit() -> None:
    automod = only(RuleSpec("mm", MassMentionParams(max_mentions=5)))
    assert automod.judge(msg("hi all", mention_count=5)) is None
    assert hit(automod, msg("hi all", mention_count=6)) == ("6 mentions",)


def test_caps() -> None:
    automod = only(RuleSpec("caps", CapsParams(max_percent=70, min_letters=10)))
    assert hit(automod, msg("WHY IS NOBODY ANSWERING ME")) == ("100% capitals",)
    assert automod.judge(msg("OK LOL")) is None  # too short to tell
    assert automod.judge(msg("I went to NASA and the USA, it was great")) is None
    assert automod.judge(msg("ÜBER ÄRGERLICH DIESES SPIEL")) is not None  # non-ASCII counted
    assert caps_counts("<:KEKW:123456789012345678> hi") == (0, 2)  # emoji names don't count


def test_zalgo() -> None:
    automod = only(RuleSpec("zalgo", ZalgoParams(max_marks=3)))
    zalgo = "h" + "\u0336\u0317\u0353\u0345\u031b" + "ello"
    assert hit(automod, msg(zalgo)) == ("5 stacked marks",)
    assert automod.judge(msg("Tiếng Việt có dấu")) is None  # real diacritics
    assert automod.judge(msg("cafe\u0301 and nai\u0308ve")) is None  # one mark each


def test_emoji_flood() -> None:
    automod = only(RuleSpec("emoji", EmojiFloodParams(max_emojis=5)))
    assert hit(automod, msg("😀" * 6)) == ("6 emojis",)
    assert automod.judge(msg("nice 😀😀 👍🏽")) is None
    custom = " ".join(["<:pog:123456789012345678>"] * 3 + ["<a:dance:123456789012345679>"] * 3)
    assert hit(automod, msg(custom)) == ("6 emojis",)
    assert emoji_count("🇩🇪🇫🇷") == 2  # flags are one each
    assert emoji_count("👍🏽") == 1  # skin tone is not a second emoji


def test_attachments_by_extension_allow_list_and_content_type() -> None:
    automod = only(RuleSpec("files", AttachmentParams()))
    files = (AttachmentInfo("cat.png", "image/png"), AttachmentInfo("FreeNitro.EXE", None))
    assert hit(automod, msg("look", attachments=files)) == ("file FreeNitro.EXE",)
    assert automod.judge(msg("look", attachments=files[:1])) is None
    images_only = only(
        RuleSpec("files", AttachmentParams(frozenset(), frozenset({"png", "jpg"}), ("video/",)))
    )
    assert images_only.judge(msg("", attachments=(AttachmentInfo("a.pdf"),))) is not None
    video = (AttachmentInfo("clip.png", "video/mp4"),)
    assert images_only.judge(msg("", attachments=video)) is not None


# --- conditions ------------------------------------------------------------------------------


def conditioned(**conditions: object) -> CompiledAutomod:
    return only(
        RuleSpec("mm", MassMentionParams(1), conditions=RuleConditions(**conditions))  # type: ignore[arg-type]
    )


def test_role_conditions() -> None:
    loud = msg(mention_count=3)
    assert conditioned(ignore_roles=frozenset({MEMBER})).judge(loud) is None
    assert conditioned(ignore_roles=frozenset({TRUSTED})).judge(loud) is not None
    assert conditioned(only_roles=frozenset({NEWBIE})).judge(loud) is None
    assert conditioned(only_roles=frozenset({MEMBER, NEWBIE})).judge(loud) is not None


def test_channel_and_category_conditions_cover_threads() -> None:
    loud = msg(mention_count=3)
    in_thread = msg(channel_id=THREAD, parent_id=CHANNEL, mention_count=3)
    assert conditioned(ignore_channels=frozenset({CHANNEL})).judge(in_thread) is None
    assert conditioned(only_channels=frozenset({CHANNEL})).judge(in_thread) is not None
    assert conditioned(only_channels=frozenset({99})).judge(loud) is None
    assert conditioned(ignore_categories=frozenset({CATEGORY})).judge(loud) is None


def test_account_age_and_membership_conditions_judge_only_the_young() -> None:
    rule = conditioned(min_account_age_days=7)
    assert rule.judge(msg(mention_count=3)) is None  # a 400-day-old account is trusted
    fresh = msg(mention_count=3, account_created_at=NOW - timedelta(days=2))
    assert rule.judge(fresh) is not None
    unknown = msg(mention_count=3, account_created_at=None)
    assert rule.judge(unknown) is not None  # unknown age counts as young
    joined = conditioned(min_member_days=30)
    assert joined.judge(msg(mention_count=3)) is None
    assert joined.judge(msg(mention_count=3, joined_at=NOW - timedelta(hours=5))) is not None


def test_bots_are_ignored_unless_a_rule_says_otherwise() -> None:
    bot_message = msg(mention_count=3, author_is_bot=True)
    assert conditioned().judge(bot_message) is None
    watching = conditioned(ignore_bots=False)
    assert watching.judges_bots
    assert watching.judge(bot_message) is not None


def test_global_exemptions_apply_to_every_rule() -> None:
    rules = AutomodRules(
        exempt_role_ids=frozenset({TRUSTED}),
        exempt_channel_ids=frozenset({CHANNEL}),
        rules=(RuleSpec("mm", MassMentionParams(1)),),
    )
    automod = compile_automod(rules)
    assert automod.judge(msg(mention_count=3, author_role_ids=frozenset({TRUSTED}))) is None
    assert automod.judge(msg(mention_count=3)) is None
    assert automod.judge(msg(mention_count=3, channel_id=THREAD, parent_id=CHANNEL)) is None
    assert automod.judge(msg(mention_count=3, channel_id=99)) is not None


# --- judgements: every rule, merged actions, strike weights -----------------------------------


def test_judgement_lists_every_rule_hit_with_summed_weight_and_merged_actions() -> None:
    rules = AutomodRules(
        blocked_terms=("free nitro",),
        strike_weight=1,
        rules=(
            RuleSpec(
                "invites",
                InviteParams(),
                (RuleAction("delete"), RuleAction("timeout", duration_minutes=10)),
                strike_weight=2,
            ),
            RuleSpec(
                "mentions",
                MassMentionParams(2),
                (
                    RuleAction("delete"),
                    RuleAction("timeout", duration_minutes=60),
                    RuleAction("add_role", role_id=7),
                    RuleAction("raise_raid_level"),
                ),
                strike_weight=3,
            ),
        ),
    )
    automod = compile_automod(rules)
    judgement = automod.judge(msg("FREE NITRO at discord.gg/scam1", mention_count=4))
    assert judgement is not None
    assert set(judgement.rules) == {"blocked_terms", "invites", "mentions"}
    assert judgement.strike_weight == 6
    assert judgement.action == "timeout"
    kinds = [a.describe() for a in judgement.actions]
    assert kinds == ["delete", "timeout 60m", "add_role 7", "raise_raid_level"]
    assert judgement.deletes
    assert "Invite link (scam1)" in judgement.reason
    assert "Blocked term (free nitro)" in judgement.reason
    assert judgement.reason.endswith("raid level raise requested")


def test_rules_without_delete_do_not_delete() -> None:
    automod = only(RuleSpec("caps", CapsParams(), (RuleAction("reply", text="calm down"),), 0))
    judgement = automod.judge(msg("STOP SHOUTING PLEASE EVERYONE"))
    assert judgement is not None and not judgement.deletes
    assert judgement.action == "reply" and judgement.strike_weight == 0


def test_action_helpers() -> None:
    assert strongest_action(()) == "allow"
    assert strongest_action((RuleAction("alert"), RuleAction("warn"))) == "warn"
    assert merge_actions(()) == ()
    with pytest.raises(ValueError, match="needs its parameter"):
        RuleAction("timeout")
    with pytest.raises(ValueError, match="unknown automod action"):
        RuleAction("explode")
    assert Judgement(()).strike_weight == 0


def test_all_rule_kinds_together_stay_fast() -> None:
    detector = FakeDetector({"dlscord-gift.ru": "lookalike"})
    rules = AutomodRules(
        blocked_terms=tuple(f"badword{i}" for i in range(5_000)),
        rules=(
            RuleSpec("re", RegexParams(tuple(f"spam{i}[0-9]+x" for i in range(300)))),
            RuleSpec("inv", InviteParams()),
            RuleSpec("scam", ScamLinkParams()),
            RuleSpec("mm", MassMentionParams()),
            RuleSpec("caps", CapsParams()),
            RuleSpec("zalgo", ZalgoParams()),
            RuleSpec("emoji", EmojiFloodParams()),
            RuleSpec("files", AttachmentParams()),
        ),
    )
    automod = compile_automod(rules, scam_detector=detector)
    texts = [msg(f"hello everyone, message number {i} about the raid tonight") for i in range(2000)]
    started = time.perf_counter()
    for text in texts:
        assert automod.judge(text) is None
    per_message = (time.perf_counter() - started) / len(texts)
    assert per_message < 200e-6  # generous for CI; the benchmark holds the real target
