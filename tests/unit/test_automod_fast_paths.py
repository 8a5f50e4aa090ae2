"""The automod fast paths give exactly what the straightforward ways of judging give.

Each shortcut (word marks before the automaton, the joined forms only after a miss, gates and
the quiet lane in the judge, the capitals bound, the mostly-ASCII fold, the host-start scan) is
checked against the plain computation it replaces, on text built to hit the edge cases.
"""

from __future__ import annotations

import random
import string
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain import normalize, scam_links
from domain.automod import (
    AttachmentInfo,
    AutomodRules,
    BlockedTermsMatcher,
    CompiledAutomod,
    Judgement,
    MessageSnapshot,
    RuleAction,
    RuleConditions,
    RuleSpec,
    compile_automod,
    compile_blocked_terms,
)
from domain.automod_rules import (
    AttachmentParams,
    BlockedTermsParams,
    CapsFinder,
    CapsParams,
    EmojiFloodParams,
    InviteParams,
    MassMentionParams,
    RegexParams,
    ScamLinkParams,
    ZalgoParams,
    caps_counts,
)
from domain.normalize import expand, located_form, search_forms, source_span
from domain.scam_links import ScamLinkDetector

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

TERMS = (
    "ass",
    "asshole",
    "bollocks",
    "shit",
    "bitch",
    "free nitro",
    "steam gift card",
    "kill yourself",
    "go die",
    "scam*",
    "*coin",
    "crypto*",
    "*porn*",
    "*bad word*",
    "*ab cd",
    "ef gh*",
    "baad",
    "zzap",
    "a55",
    "l33t",
    "h0h0",
    "kiii",
    "tool",
    "pepe",
    "oo",
)
WORDS = (
    "hey i think the new map is kinda mid lol as i said before gg wp see you at 8pm "
    "class assignment bass drop glass cannon scunthorpe sussex cocktail is this the right "
    "channel bitcoin crypto coin scammer pass asses bossy good all tool tools"
).split()
JUNK = (
    "\u200b",
    "\u0301",
    "\u0336",
    "\uff46",
    "\u1d00",
    "\u0430",
    "\u03bf",
    "\u00df",
    "\u0130",
    "\ufb01",
    "\U0001f600",
    "\U0001f1fa\U0001f1f8",
    "\u2764\ufe0f",
    "<:pepe_sad:912345678901234567>",
    "<@123456789012345678>",
    "..",
    " . ",
    "!",
    "!!",
    "|",
    "$",
    "@",
    "1",
    "0",
    "55",
    "  ",
    "\n",
    "\t",
    "-",
    "_",
    "'",
    "\u3164",
    "\u00ad",
    "\u3002",
    "discord . gg / abc",
    "dsc.gg/xyz",
    "http://dlscord-nitro.gift/x",
    "steamcommunlty.com",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "bit.ly/31neyfv",
    "a@b.com",
    "x.-y.com",
    "e.g.",
    "v1.2",
    "8.30",
    "a.b.c",
    "AAAA",
    "\u0489" * 5,
    "\U0001f525" * 12,
)
EVASIONS = ("leet", "spaced", "dotted", "repeated", "cyrillic", "fullwidth", "zero_width", "upper")
_LEET = str.maketrans("aeiost", "431057")
_CYRILLIC = str.maketrans("aeopcx", "\u0430\u0435\u043e\u0440\u0441\u0445")


def _evade(term: str, kind: str, rng: random.Random) -> str:
    term = term.strip("*")
    if kind == "leet":
        return term.translate(_LEET)
    if kind == "spaced":
        return " ".join(term.replace(" ", ""))
    if kind == "dotted":
        return ".".join(term.replace(" ", ""))
    if kind == "repeated":
        return "".join(ch * rng.choice((1, 2, 3)) for ch in term)
    if kind == "cyrillic":
        return term.translate(_CYRILLIC)
    if kind == "fullwidth":
        return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in term)
    if kind == "zero_width":
        return "\u200b".join(term)
    return term.upper()


def _texts(count: int, seed: int) -> list[str]:
    """Chat lines with terms (plain and evaded), junk, links, marks and shouting."""
    rng = random.Random(seed)
    texts = ["", " ", "a", "!", "a s s", "a.s.s", "as i a s s", "b a d w o r d", "$h1t", "455"]
    for _ in range(count):
        parts = [rng.choice(WORDS) for _ in range(rng.randint(0, 12))]
        for _ in range(rng.randint(0, 4)):
            at = rng.randint(0, len(parts))
            roll = rng.random()
            if roll < 0.4:
                parts.insert(at, rng.choice(JUNK))
            elif roll < 0.8:
                term = rng.choice(TERMS)
                if rng.random() < 0.6:
                    term = _evade(term, rng.choice(EVASIONS), rng)
                parts.insert(at, term.strip("*") + rng.choice(("", "s", "ing", "!", ".")))
            else:
                parts.insert(at, "".join(rng.choice(string.printable) for _ in range(5)))
        sep = rng.choice((" ", " ", " ", "", "  "))
        texts.append(sep.join(parts))
    return texts


TEXTS = _texts(2_500, seed=7)


def _reference_match(matcher: BlockedTermsMatcher, text: str) -> tuple[str, int, int] | None:
    """Every form from search_forms through the automaton, each hit located from scratch."""
    automaton = matcher._automaton
    evasions = matcher.normalise_evasions
    if automaton is None:
        return None
    for index, (collapsed, words) in enumerate(search_forms(text, evasions=evasions)):
        expanded: str | None = None
        for _end, entries in automaton.iter(collapsed):
            for entry in entries:
                if entry.needs_verify:
                    expanded = expanded or expand(words)
                    if matcher._regex(entry).search(expanded) is None:
                        continue
                located, offsets = located_form(text, index, evasions=evasions)
                found = matcher._regex(entry).search(located)
                assert found is not None
                start, end = source_span(
                    text, offsets, found.start(1), found.end(1), evasions=evasions
                )
                return entry.term, start, end
    return None


@pytest.mark.parametrize("evasions", [True, False])
def test_blocked_terms_match_like_the_full_search(evasions: bool) -> None:
    matcher = compile_blocked_terms(TERMS, normalise_evasions=evasions)
    hits = 0
    for text in TEXTS:
        found = matcher.match(text)
        got = None if found is None else (found.term, found.start, found.end)
        assert got == _reference_match(matcher, text), text
        hits += got is not None
    assert hits > len(TEXTS) // 10  # the corpus does exercise the hits


def test_blocked_terms_without_word_marks_match_the_same() -> None:
    marked = compile_blocked_terms(TERMS)
    unmarked = compile_blocked_terms(TERMS)
    unmarked._mark = None  # what a list with too many '*x*' terms does
    for text in TEXTS:
        assert marked.match(text) == unmarked.match(text), text


def test_fold_of_mostly_ascii_text_is_the_plain_translation() -> None:
    for evasions in (True, False):
        table = normalize._EVASION_TABLE if evasions else normalize._PLAIN_TABLE
        for text in [*TEXTS, "\u00e9\u0301e\u0301", "\u0130i\u0307", "\u1e9e\u00df\ufb03"]:
            assert normalize.fold(text, evasions=evasions) == text.translate(table), text


def test_caps_bound_never_skips_a_shouting_message() -> None:
    finder = CapsFinder(max_percent=70, min_letters=10)
    texts = [*TEXTS, *(text.upper() for text in TEXTS), "\u0391\u0392\u0393\u0394" * 4]
    for text in texts:
        upper, letters = caps_counts(text)
        shouting = letters >= 10 and len(text) >= 10 and upper * 100 > letters * 70
        assert (finder(MessageSnapshot(1, 2, 3, frozenset(), False, text)) is not None) == (
            shouting
        ), text


def test_host_starts_scan_finds_what_the_full_scan_finds() -> None:
    rng = random.Random(3)
    pieces = (*JUNK, "www.", "a.b", ".com", "-x.", "@y.", "x..y.z", "/p/q", ":8080", "xn--80a.ru")
    texts = [*TEXTS, *(" ".join(rng.choice(pieces) for _ in range(6)) for _ in range(2_000))]
    for text in texts:
        expected = [(m.span(), m.groups()) for m in scam_links._HOST_RE.finditer(text)]
        got = [(m.span(), m.groups()) for m in scam_links._host_matches(text)]
        assert got == expected, text
        for found in scam_links._HOST_RE.finditer(text):
            host = found.group(1).lower()
            if host.isascii() and "xn--" not in host:  # check_text's shortcut
                assert scam_links.normalize_host(host) == host


def _reference_judge(automod: CompiledAutomod, message: MessageSnapshot) -> Judgement | None:
    """Every rule's own check in order: no gates, no quiet lane."""
    if (
        (message.author_is_bot and not automod.judges_bots)
        or message.channel_id in automod.exempt_channel_ids
        or message.parent_id in automod.exempt_channel_ids
        or not automod.exempt_role_ids.isdisjoint(message.author_role_ids)
    ):
        return None
    verdicts = [v for rule in automod.rules if (v := rule.check(message)) is not None]
    return Judgement(tuple(verdicts)) if verdicts else None


def _all_rules(max_emojis: int = 3) -> AutomodRules:
    return AutomodRules(
        blocked_terms=TERMS[:12],
        exempt_channel_ids=frozenset({77}),
        rules=(
            RuleSpec("terms", BlockedTermsParams(TERMS[12:])),
            RuleSpec("rx", RegexParams((r"\bcoins?\b", r"gift\W*card", r"\d{3}-\d{4}"))),
            RuleSpec("inv", InviteParams(frozenset({"abc"}))),
            RuleSpec("scam", ScamLinkParams()),
            RuleSpec("mentions", MassMentionParams(3)),
            RuleSpec("mentions-more", MassMentionParams(8), (RuleAction("alert"),)),
            RuleSpec("caps", CapsParams(60, 8), conditions=RuleConditions(min_account_age_days=30)),
            RuleSpec("zalgo", ZalgoParams(2)),
            RuleSpec("emoji", EmojiFloodParams(max_emojis)),
            RuleSpec("files", AttachmentParams()),
            RuleSpec(
                "rx-new",
                RegexParams((r"https?://",)),
                conditions=RuleConditions(ignore_roles=frozenset({9}), ignore_bots=False),
            ),
        ),
    )


@pytest.mark.parametrize("max_emojis", [3, -1])
def test_judge_with_gates_and_quiet_lane_matches_every_rule_checked(max_emojis: int) -> None:
    detector = ScamLinkDetector(["dlscord-nitro.gift", "bit.ly/31neyfv"])
    automod = compile_automod(_all_rules(max_emojis), scam_detector=detector)
    rng = random.Random(11)
    base = MessageSnapshot(1, 100, 5, frozenset({1}), False, "", now=NOW)
    flagged = 0
    for text in TEXTS:
        message = replace(
            base,
            content=text if rng.random() < 0.8 else text.upper(),
            channel_id=rng.choice((100, 100, 77)),
            author_is_bot=rng.random() < 0.1,
            author_role_ids=frozenset({rng.choice((1, 9))}),
            mention_count=rng.choice((0, 0, 2, 4, 9)),
            attachments=rng.choice(
                ((), (), (AttachmentInfo("x.exe"),), (AttachmentInfo("a.png"),))
            ),
            account_created_at=NOW - timedelta(days=rng.choice((1, 400))),
        )
        judgement = automod.judge(message)
        assert judgement == _reference_judge(automod, message), text
        flagged += judgement is not None
    assert flagged > len(TEXTS) // 4
