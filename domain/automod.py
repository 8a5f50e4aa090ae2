"""Automod fast path: judge a chat message in microseconds, before anything else happens.

Pure logic (no I/O, no clock): a server's rules are compiled once into a
:class:`CompiledAutomod`, which looks at a :class:`MessageSnapshot` and returns a
:class:`Judgement` listing every rule the message broke. Blocked terms live here; the other
rule kinds (regex, invites, scam links, mentions, caps, zalgo, emojis, attachments) are in
:mod:`domain.automod_rules`, and the plain values they share in :mod:`domain.automod_types`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from types import FunctionType, MethodType

import ahocorasick

from domain.automod_rules import (
    CHEAP_FIRST,
    NEEDS_CAPITALS,
    NEEDS_FILES,
    NEEDS_MARKER,
    NEEDS_MARKER_OR_NON_ASCII,
    NEEDS_MENTIONS_OVER,
    NEEDS_NON_ASCII,
    NEEDS_NOTHING,
    BlockedTermsParams,
    Finder,
    RuleParams,
    ScamDetector,
    ScamLinkParams,
    finder_for,
    gate_of,
)
from domain.automod_types import (
    AttachmentInfo,
    AutomodVerdict,
    Judgement,
    MessageSnapshot,
    RuleAction,
    RuleConditions,
)
from domain.normalize import (
    Edit,
    ascii_fold_table,
    collapsed_word,
    collapsed_words,
    deleeted_word,
    expand,
    joined_forms,
    located_form,
    padded_words,
    search_view,
    source_span,
    term_form,
)

__all__ = [
    "AUTOMOD_ACTIONS",
    "RULE_BLOCKED_TERMS",
    "AttachmentInfo",
    "AutomodRules",
    "AutomodVerdict",
    "BlockedTermsMatcher",
    "CompiledAutomod",
    "CompiledRule",
    "Judgement",
    "MessageSnapshot",
    "RuleAction",
    "RuleConditions",
    "RuleSpec",
    "TermMatch",
    "blocked_term_problem",
    "compile_automod",
    "compile_blocked_terms",
    "compile_rule",
]

RULE_BLOCKED_TERMS = "blocked_terms"
AUTOMOD_ACTIONS = frozenset({"delete", "flag", "warn", "timeout", "kick", "ban"})
"""Actions the original single blocked-terms setting may name (typed rules: RuleAction)."""
WILDCARD = "*"
EXCERPT_LIMIT = 200
"""Longest excerpt kept in a verdict, so a wall of text doesn't end up in the mod log."""


@dataclass(frozen=True, slots=True)
class TermMatch:
    """A blocked term found in a text: the term as configured and where it matched."""

    term: str
    start: int
    end: int
    excerpt: str


@dataclass(frozen=True, slots=True)
class _Term:
    """What an automaton key leads to: the term as configured and its exact pattern."""

    term: str
    pattern: str
    needs_verify: bool
    core: str
    """The pattern of the term's letters alone (no wildcards, spaces or lookahead)."""


def _parse_wildcards(raw: str) -> tuple[str, bool, bool]:
    """Split ``*`` wildcards off a term's ends; a ``*`` inside is literal, as in 'f*ck'."""
    core = raw.strip()
    prefix = core.startswith(WILDCARD)
    suffix = core.endswith(WILDCARD) and len(core) > 1
    core = core.removeprefix(WILDCARD) if prefix else core
    return (core.removesuffix(WILDCARD) if suffix else core), prefix, suffix


def blocked_term_problem(term: str, *, normalise_evasions: bool = True) -> str | None:
    """Why a configured term can never match (for config validation), or None if it is fine."""
    core, _, _ = _parse_wildcards(term)
    if not term_form(core, evasions=normalise_evasions):
        return f"blocked term {term!r} has no letters or digits, so it can never match"
    return None


def _run_pattern(form: str, evasions: bool) -> str:
    """Regex for a term's expanded form: with evasions each letter run may be longer."""
    parts = []
    for ch, group in groupby(form):
        run = len(list(group))
        if ch == " ":
            parts.append(" +")  # located forms keep runs of spaces
        elif not evasions:
            parts.append(re.escape(ch) * run)
        else:
            parts.append(re.escape(ch) + ("+" if run == 1 else f"{{{run},}}"))
    return "".join(parts)


def _compile_form(
    raw: str, form: str, prefix: bool, suffix: bool, evasions: bool
) -> tuple[str, _Term]:
    """Automaton key and entry for one expanded form of a configured term."""
    collapsed = "".join(ch for ch, _ in groupby(form)) if evasions else form
    key = ("" if prefix else " ") + collapsed + ("" if suffix else " ")
    head = "[^ ]*" if prefix else ""
    tail = "[^ ]*" if suffix else ""
    # The leading space is consumed, not looked behind for: a literal prefix is much faster.
    core = _run_pattern(form, evasions)
    pattern = f" ({head}{core}{tail})(?= )"
    return key, _Term(raw.strip(), pattern, collapsed != form, core)


def _compile_term(raw: str, evasions: bool) -> list[tuple[str, _Term]]:
    """Keys and entries for one term (none if it folds to nothing); phrases also glued."""
    core, prefix, suffix = _parse_wildcards(raw)
    form = term_form(core, evasions=evasions)
    forms = [form, form.replace(" ", "")] if evasions and " " in form else [form]
    return [_compile_form(raw, f, prefix, suffix, evasions) for f in forms if f]


CONTAINED_KEY_LIMIT = 64
"""Most keys with a wildcard at both ends the word marks test; past that, always scan."""
MARK_MEMO_LIMIT = 16_384
"""Words whose mark a matcher keeps (then starts afresh): a server's chat reuses few words."""
_MAYBE = "x"
"""Mark of a word some key may touch; other words are marked '1' (one character) or '0'."""
_SINGLES_RUN = "111"
"""Three one-character words in a row: a 'b a d' run, so the joined forms are searched."""


class _WordMarks(dict[str, str]):
    """Per folded word of a message: could any key of the automaton touch it.

    Every key holds a whole word (its parts between spaces), or else is one word's start
    (' scam' from 'scam*'), end ('coin ' from '*coin', or the first part of '*ab cd*') or
    middle ('*x*'). A form in which no word is marked :data:`_MAYBE` holds no key, so the
    automaton would find nothing there. Filled on first sight of a word, bounded.

    A one-word key whose every term has double letters (' as ' from 'ass') only counts where
    a word of the expanded form is one of those terms (``core`` matches it whole): so 'as'
    is not marked for it, 'asss' is.
    """

    __slots__ = ("_contained", "_ends", "_evasions", "_starts", "_verified", "_words")

    def __init__(self, by_key: Mapping[str, Sequence[_Term]], evasions: bool) -> None:
        super().__init__()
        words: set[str] = set()
        verified: dict[str, list[re.Pattern[str]]] = {}
        starts: list[str] = []
        ends: list[str] = []
        contained: list[str] = []
        for key, entries in by_key.items():
            parts = key.split(" ")
            if (
                len(parts) == 3
                and not parts[0]
                and not parts[2]
                and all(entry.needs_verify for entry in entries)
            ):  # ' a ': one whole word, each term checked against the expanded words
                cores = verified.setdefault(parts[1], [])
                cores.extend(re.compile(entry.core) for entry in entries)
            elif len(parts) >= 3:  # ' a b ', ' a b', 'a b ', 'a b c': a part is a whole word
                words.add(parts[1])
            elif len(parts) == 1:  # 'x': inside one word
                contained.append(key)
            elif not parts[0]:  # ' x': a word's start
                starts.append(parts[1])
            else:  # 'x ' or 'x y': the end of a word
                ends.append(parts[0])
        self._evasions = evasions
        self._words = frozenset(words)
        self._verified = {word: tuple(cores) for word, cores in verified.items()}
        self._starts = tuple(starts)
        self._ends = tuple(ends)
        self._contained = tuple(contained)

    @classmethod
    def for_keys(cls, by_key: Mapping[str, Sequence[_Term]], evasions: bool) -> _WordMarks | None:
        """Marks for these keys, or None when testing them per word would not pay."""
        if any("" in key.split(" ")[1:-1] for key in by_key):
            return None  # never made by _compile_form; keeps the reasoning above airtight
        marks = cls(by_key, evasions)
        return None if len(marks._contained) > CONTAINED_KEY_LIMIT else marks

    def __missing__(self, word: str) -> str:
        if len(self) >= MARK_MEMO_LIMIT:
            self.clear()
        form = collapsed_word(word) if self._evasions else word
        if (
            form in self._words
            or form.startswith(self._starts)
            or form.endswith(self._ends)
            or any(key in form for key in self._contained)
            or self._verifies(form, word)
        ):
            mark = _MAYBE
        else:
            mark = "1" if len(word) == 1 else "0"
        self[word] = mark
        return mark

    def _verifies(self, form: str, word: str) -> bool:
        """Whether the expanded word is a term of the verified one-word key ``form``."""
        cores = self._verified.get(form)
        if cores is None:
            return False
        expanded = deleeted_word(word)
        return any(core.fullmatch(expanded) is not None for core in cores)


_Hit = tuple[_Term, int, str, Edit | None]
"""A hit before it is located: entry, form index, the text's view, the form's joining edit."""


class BlockedTermsMatcher:
    """Blocked words and phrases of one server, compiled into one Aho-Corasick automaton.

    The automaton holds each term's collapsed skeleton; terms with double letters ('ass')
    are then confirmed against the expanded text, so 'as' does not count as 'ass'.
    Each folded word is marked once (:class:`_WordMarks`), so a message none of whose words
    any key can touch is cleared without building its forms or running the automaton.
    """

    __slots__ = ("_ascii_table", "_automaton", "_evasions", "_mark", "_regexes", "_terms")

    def __init__(self, terms: Sequence[str], *, normalise_evasions: bool = True) -> None:
        self._evasions = normalise_evasions
        self._ascii_table = ascii_fold_table(evasions=normalise_evasions)
        self._regexes: dict[str, re.Pattern[str]] = {}
        by_key: dict[str, list[_Term]] = {}
        seen: dict[str, None] = {}  # an ordered set
        for raw in terms:
            compiled = [] if raw.strip() in seen else _compile_term(raw, normalise_evasions)
            for key, entry in compiled:
                seen[entry.term] = None
                by_key.setdefault(key, []).append(entry)
        self._terms = tuple(seen)
        self._automaton = _build_automaton(by_key) if by_key else None
        marks = _WordMarks.for_keys(by_key, normalise_evasions)
        self._mark = None if marks is None else marks.__getitem__

    def __len__(self) -> int:
        return len(self._terms)

    @property
    def terms(self) -> tuple[str, ...]:
        """The distinct usable terms as configured (stripped), in configuration order."""
        return self._terms

    @property
    def normalise_evasions(self) -> bool:
        """Whether leetspeak, look-alikes, spacing and repeats are folded away."""
        return self._evasions

    def match(self, text: str) -> TermMatch | None:
        """First blocked term in ``text``, or None.

        The text as written is searched first, then with runs of spaced-out letters joined;
        within one form the hit ending earliest wins.
        """
        view = search_view(text, evasions=self._evasions)
        words = view.split()
        mark = self._mark
        found = self._first(
            text, view, words, _MAYBE if mark is None else "".join(map(mark, words))
        )
        if found is None:
            return None
        start, end = self._span(text, *found)
        return TermMatch(found[0].term, start, end, _excerpt(text[start:end]))

    def find(self, message: MessageSnapshot) -> tuple[str, str] | None:
        """:meth:`match` as an automod finder: the term and the excerpt where it was written."""
        text = message.content  # the common case (no word any key touches) inlined: hot path
        if text.isascii():  # search_view, inlined
            view = f" {text.encode().translate(self._ascii_table).decode()} "
        else:
            view = search_view(text, evasions=self._evasions)
        words = view.split()
        mark = self._mark
        if mark is None:
            marks = _MAYBE
        else:
            marks = "".join(map(mark, words))
            if _MAYBE not in marks and (_SINGLES_RUN not in marks or not self._evasions):
                return None
        found = self._first(text, view, words, marks)
        if found is None:
            return None
        start, end = self._span(text, *found)
        return found[0].term, _excerpt(text[start:end])

    def _first(self, text: str, view: str, words: list[str], marks: str) -> _Hit | None:
        """The first hit in the text's forms: its entry, form index, view and joining edit.

        ``view`` is the text's :func:`search_view`, ``words`` its words and ``marks`` their
        marks (:data:`_MAYBE` alone when there are no marks).
        """
        automaton = self._automaton
        if automaton is None:
            return None
        evasions = self._evasions
        mark = self._mark
        if _MAYBE in marks:
            collapsed = collapsed_words(words) if evasions else words
            entry = self._search(automaton, collapsed, words)
            if entry is not None:
                return entry, 0, view, None
        elif not evasions or _SINGLES_RUN not in marks:
            return None  # no word any key touches, and no 'b a d' run to join
        if not evasions:
            return None
        for index, (collapsed, words, edit) in enumerate(joined_forms(view), 1):
            if mark is None or _MAYBE in "".join(map(mark, words)):
                entry = self._search(automaton, collapsed, words)
                if entry is not None:
                    return entry, index, view, edit
        return None

    def _search(
        self, automaton: ahocorasick.Automaton, collapsed_words: list[str], words: list[str]
    ) -> _Term | None:
        """The first entry that hits in one form (collapsed and folded words), or None."""
        expanded: str | None = None
        refuted: set[str] = set()  # a pattern absent from the form stays absent
        for _end, entries in automaton.iter(padded_words(collapsed_words)):
            for entry in entries:
                if entry.needs_verify:
                    if entry.pattern in refuted:
                        continue
                    expanded = expanded or expand(words)
                    if self._regex(entry).search(expanded) is None:
                        refuted.add(entry.pattern)
                        continue
                found: _Term = entry
                return found
        return None

    def _regex(self, entry: _Term) -> re.Pattern[str]:
        """Compiled pattern of a term, compiled on first use (large lists compile fast)."""
        regex = self._regexes.get(entry.pattern)
        if regex is None:
            regex = self._regexes[entry.pattern] = re.compile(entry.pattern)
        return regex

    def _span(
        self, text: str, entry: _Term, form_index: int, view: str, edit: Edit | None
    ) -> tuple[int, int]:
        """Map a hit back to the original text so moderators see what was written."""
        evasions = self._evasions
        located, offsets = located_form(text, form_index, evasions=evasions, view=view, edit=edit)
        found = self._regex(entry).search(located)
        if found is None:  # cannot happen while search and located forms agree
            return 0, len(text)
        return source_span(text, offsets, found.start(1), found.end(1), evasions=evasions)


def _build_automaton(by_key: dict[str, list[_Term]]) -> ahocorasick.Automaton:
    """One Aho-Corasick automaton over every key, each leading to the terms sharing it."""
    automaton = ahocorasick.Automaton()
    for key, entries in by_key.items():
        automaton.add_word(key, tuple(entries))
    automaton.make_automaton()
    return automaton


def _excerpt(text: str) -> str:
    """Excerpt capped at :data:`EXCERPT_LIMIT` characters."""
    return text if len(text) <= EXCERPT_LIMIT else text[: EXCERPT_LIMIT - 1] + "…"


def compile_blocked_terms(
    terms: Sequence[str], *, normalise_evasions: bool = True
) -> BlockedTermsMatcher:
    """Compile a server's blocked terms once; ``*`` at a term's start/end is a wildcard.

    Terms that fold to nothing ('...', '!!!') can never match and are left out; config
    validation should reject them first with :func:`blocked_term_problem`.
    """
    return BlockedTermsMatcher(terms, normalise_evasions=normalise_evasions)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One configured rule as plain values: its name, kind settings, conditions and actions."""

    name: str
    params: RuleParams
    actions: tuple[RuleAction, ...] = (RuleAction("delete"),)
    strike_weight: int = 1
    conditions: RuleConditions = field(default_factory=RuleConditions)

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", tuple(self.actions))
        if self.strike_weight < 0:
            raise ValueError("strike_weight must not be negative")

    @property
    def kind(self) -> str:
        """The rule kind, e.g. ``"regex"``."""
        return self.params.kind


LEGACY_TIMEOUT_MINUTES = 10


@dataclass(frozen=True, slots=True)
class AutomodRules:
    """A server's automod configuration as plain values (compiled by :func:`compile_automod`).

    ``blocked_terms`` / ``action`` / ``strike_weight`` are the original single blocked-terms
    rule (named ``blocked_terms``); ``rules`` holds any number of typed rules besides.
    Exempt roles and channels apply to every rule.
    """

    blocked_terms: tuple[str, ...] = ()
    normalise_evasions: bool = True
    strike_weight: int = 1
    action: str = "delete"
    exempt_role_ids: frozenset[int] = field(default_factory=frozenset)
    exempt_channel_ids: frozenset[int] = field(default_factory=frozenset)
    rules: tuple[RuleSpec, ...] = ()

    def __post_init__(self) -> None:
        # Accept lists/sets from config loaders but keep the value hashable and immutable.
        object.__setattr__(self, "blocked_terms", tuple(self.blocked_terms))
        object.__setattr__(self, "exempt_role_ids", frozenset(self.exempt_role_ids))
        object.__setattr__(self, "exempt_channel_ids", frozenset(self.exempt_channel_ids))
        object.__setattr__(self, "rules", tuple(self.rules))
        if self.action not in AUTOMOD_ACTIONS:
            raise ValueError(f"unknown automod action {self.action!r}")
        if self.strike_weight < 0:
            raise ValueError("strike_weight must not be negative")
        names = [rule.name for rule in self.all_rules()]
        if len(names) != len(set(names)):
            raise ValueError(f"rule names must be unique: {names}")

    def legacy_rule(self) -> RuleSpec | None:
        """The original blocked-terms setting as a rule: delete, then the configured action."""
        if not self.blocked_terms:
            return None
        actions = [RuleAction("delete")]
        if self.action in ("warn", "timeout"):
            minutes = LEGACY_TIMEOUT_MINUTES if self.action == "timeout" else None
            actions.append(RuleAction(self.action, duration_minutes=minutes))
        elif self.action != "delete":
            actions.append(RuleAction("escalate"))  # flag/kick/ban: the ladder decides
        params = BlockedTermsParams(self.blocked_terms, self.normalise_evasions)
        return RuleSpec(RULE_BLOCKED_TERMS, params, tuple(actions), self.strike_weight)

    def all_rules(self) -> tuple[RuleSpec, ...]:
        """The legacy blocked-terms rule (if any) followed by the typed rules."""
        legacy = self.legacy_rule()
        return self.rules if legacy is None else (legacy, *self.rules)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule ready for the fast path: who it applies to, its finder, what it asks for."""

    name: str
    kind: str
    conditions: RuleConditions
    plain: bool
    """No conditions beyond ignoring bots: skip the conditions call."""
    find: Finder
    actions: tuple[RuleAction, ...]
    strike_weight: int

    def check(self, message: MessageSnapshot) -> AutomodVerdict | None:
        """Verdict if ``message`` breaks this rule and the rule applies to its author."""
        if self.plain:
            if message.author_is_bot:
                return None
        elif not self.conditions.applies(message):
            return None
        hit = self.find(message)
        return None if hit is None else self.verdict(hit)

    def verdict(self, hit: tuple[str, str]) -> AutomodVerdict:
        """The verdict for a finder's hit."""
        detail, excerpt = hit
        return AutomodVerdict(
            self.name, self.kind, detail, excerpt, self.strike_weight, self.actions
        )


def _terms_finder(params: BlockedTermsParams) -> Finder | None:
    """The blocked-terms matcher as a finder (None when no term can match)."""
    matcher = compile_blocked_terms(params.terms, normalise_evasions=params.normalise_evasions)
    return matcher.find if len(matcher) else None


_Step = tuple[CompiledRule, RuleConditions | None, Finder, int, str, int]
"""A rule as the judge runs it: the rule, its conditions (None: only bots), finder, gate."""


@dataclass(frozen=True, slots=True)
class CompiledAutomod:
    """A server's rules, compiled: exemptions first, then every rule, cheapest kinds first."""

    rules: tuple[CompiledRule, ...]
    exempt_role_ids: frozenset[int] = frozenset()
    exempt_channel_ids: frozenset[int] = frozenset()
    skipped: tuple[str, ...] = ()
    """Rules that could not be compiled to run (a scam-links rule without a detector)."""
    judges_bots: bool = field(init=False)
    """Whether any rule looks at other bots' messages (``ignore_bots: false``)."""
    _steps: tuple[_Step, ...] = field(init=False, repr=False, compare=False)
    _quiet: _Quiet | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bots = any(not rule.conditions.ignore_bots for rule in self.rules)
        object.__setattr__(self, "judges_bots", bots)
        steps = tuple(
            (r, None if r.plain else r.conditions, _direct(r.find), *gate_of(r.find))
            for r in self.rules
        )
        object.__setattr__(self, "_steps", steps)
        object.__setattr__(self, "_quiet", _quiet_lane(steps))

    def judge(self, message: MessageSnapshot) -> Judgement | None:
        """Every rule the message broke, or None (exempt members and channels never judged)."""
        if (
            (message.author_is_bot and not self.judges_bots)
            or message.channel_id in self.exempt_channel_ids
            or message.parent_id in self.exempt_channel_ids
            or not self.exempt_role_ids.isdisjoint(message.author_role_ids)
        ):
            return None
        bot = message.author_is_bot
        text = message.content
        ascii_only = text.isascii()
        steps = self._steps
        quiet = self._quiet
        if (
            quiet is not None
            and ascii_only
            and not message.attachments
            and message.mention_count <= quiet.mentions
            and (not quiet.lowercase or text.islower())
        ):
            for marker in quiet.markers:
                if marker in text:
                    break
            else:
                steps = quiet.steps  # every gate is closed: only the ungated rules can hit
        verdicts = None
        # CompiledRule.check, inlined (hot loop); a closed gate (automod_rules.Gate) means the
        # finder would return None at its first check, so it is not called.
        for rule, conditions, find, gate, marker, limit in steps:
            if gate:
                if gate == NEEDS_CAPITALS:
                    if text.islower():
                        continue
                elif gate == NEEDS_MARKER_OR_NON_ASCII:
                    if ascii_only and marker not in text:
                        continue
                elif gate == NEEDS_MARKER:
                    if marker not in text:
                        continue
                elif gate == NEEDS_NON_ASCII:
                    if ascii_only:
                        continue
                elif gate == NEEDS_FILES:
                    if not message.attachments:
                        continue
                elif gate == NEEDS_MENTIONS_OVER and message.mention_count <= limit:
                    continue
            if conditions is None:
                if bot:
                    continue
            elif not conditions.applies(message):
                continue
            hit = find(message)
            if hit is not None:
                verdict = rule.verdict(hit)
                verdicts = [verdict] if verdicts is None else [*verdicts, verdict]
        return None if verdicts is None else Judgement(tuple(verdicts))


@dataclass(frozen=True, slots=True)
class _Quiet:
    """What makes a message quiet: then every gate is closed and only ``steps`` need running.

    Quiet is all ASCII, no files, at most ``mentions`` mentions, none of ``markers``, and
    lower case when a gate asks for capitals.
    """

    steps: tuple[_Step, ...]
    mentions: int
    markers: tuple[str, ...]
    lowercase: bool


def _quiet_lane(steps: tuple[_Step, ...]) -> _Quiet | None:
    """What makes a message quiet for these steps (None when fewer than two are gated)."""
    gated = [step for step in steps if step[3] != NEEDS_NOTHING]
    if len(gated) < 2:
        return None
    markers = sorted({step[4] for step in gated if step[3] in _MARKER_GATES})
    if not all(markers) or not all(step[3] in _KNOWN_GATES for step in gated):
        return None  # an empty marker is in every text; an unknown gate: judge step by step
    mentions = [step[5] for step in gated if step[3] == NEEDS_MENTIONS_OVER]
    return _Quiet(
        tuple(step for step in steps if step[3] == NEEDS_NOTHING),
        min(mentions, default=_NO_LIMIT),
        tuple(markers),
        any(step[3] == NEEDS_CAPITALS for step in gated),
    )


_MARKER_GATES = frozenset({NEEDS_MARKER, NEEDS_MARKER_OR_NON_ASCII})
_KNOWN_GATES = _MARKER_GATES | {NEEDS_NON_ASCII, NEEDS_CAPITALS, NEEDS_FILES, NEEDS_MENTIONS_OVER}
_NO_LIMIT = 1 << 62


def _direct(find: Finder) -> Finder:
    """A finder object's ``__call__`` as a bound method: calling that skips the slot lookup."""
    call = type(find).__call__
    if not isinstance(find, FunctionType) and isinstance(call, FunctionType):
        bound: Finder = MethodType(call, find)
        return bound
    return find


def compile_rule(spec: RuleSpec, scam_detector: ScamDetector | None = None) -> CompiledRule | None:
    """Compile one rule; None when it cannot run (no terms usable, no scam detector)."""
    params = spec.params
    if isinstance(params, BlockedTermsParams):
        find = _terms_finder(params)
    else:
        find = finder_for(params, scam_detector)
    if find is None:
        return None
    conditions = spec.conditions
    plain = conditions.trivial
    return CompiledRule(
        spec.name, spec.kind, conditions, plain, find, spec.actions, spec.strike_weight
    )


def compile_automod(
    rules: AutomodRules, *, scam_detector: ScamDetector | None = None
) -> CompiledAutomod:
    """Compile a server's rules once per configuration change.

    ``scam_detector`` is injected (the shipped domain list lives outside ``domain``); without
    one, scam-link rules are listed in :attr:`CompiledAutomod.skipped` instead of running.
    """
    compiled: list[CompiledRule] = []
    skipped: list[str] = []
    for spec in rules.all_rules():
        rule = compile_rule(spec, scam_detector)
        if rule is not None:
            compiled.append(rule)
        elif isinstance(spec.params, ScamLinkParams):
            skipped.append(spec.name)
    compiled.sort(key=lambda rule: CHEAP_FIRST.get(rule.kind, len(CHEAP_FIRST)))
    return CompiledAutomod(
        tuple(compiled), rules.exempt_role_ids, rules.exempt_channel_ids, tuple(skipped)
    )
