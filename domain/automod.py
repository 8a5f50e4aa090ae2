"""Automod fast path: judge a chat message in microseconds, before anything else happens.

Pure logic (no I/O, no clock): a server's rules are compiled once into a
:class:`CompiledAutomod`, a list of rule checkers that each look at a
:class:`MessageSnapshot` and may return an :class:`AutomodVerdict`.
Only the blocked-terms rule exists so far.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Protocol

import ahocorasick

from domain.normalize import expand, located_form, search_forms, source_span, term_form

RULE_BLOCKED_TERMS = "blocked_terms"
AUTOMOD_ACTIONS = frozenset({"delete", "flag", "warn", "timeout", "kick", "ban"})
"""Actions a rule may ask for; the moderation workflow decides what each one does."""
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
    pattern = f" ({head}{_run_pattern(form, evasions)}{tail})(?= )"
    return key, _Term(raw.strip(), pattern, needs_verify=collapsed != form)


def _compile_term(raw: str, evasions: bool) -> list[tuple[str, _Term]]:
    """Keys and entries for one term (none if it folds to nothing); phrases also glued."""
    core, prefix, suffix = _parse_wildcards(raw)
    form = term_form(core, evasions=evasions)
    forms = [form, form.replace(" ", "")] if evasions and " " in form else [form]
    return [_compile_form(raw, f, prefix, suffix, evasions) for f in forms if f]


class BlockedTermsMatcher:
    """Blocked words and phrases of one server, compiled into one Aho-Corasick automaton.

    The automaton holds each term's collapsed skeleton; terms with double letters ('ass')
    are then confirmed against the expanded text, so 'as' does not count as 'ass'.
    """

    __slots__ = ("_automaton", "_evasions", "_regexes", "_terms")

    def __init__(self, terms: Sequence[str], *, normalise_evasions: bool = True) -> None:
        self._evasions = normalise_evasions
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
        automaton = self._automaton
        if automaton is None:
            return None
        for index, (collapsed, words) in enumerate(search_forms(text, evasions=self._evasions)):
            expanded: str | None = None
            refuted: set[str] = set()  # a pattern absent from the form stays absent
            for _end, entries in automaton.iter(collapsed):
                for entry in entries:
                    if entry.needs_verify:
                        if entry.pattern in refuted:
                            continue
                        expanded = expanded or expand(words)
                        if self._regex(entry).search(expanded) is None:
                            refuted.add(entry.pattern)
                            continue
                    return self._locate(text, entry, index)
        return None

    def _regex(self, entry: _Term) -> re.Pattern[str]:
        """Compiled pattern of a term, compiled on first use (large lists compile fast)."""
        regex = self._regexes.get(entry.pattern)
        if regex is None:
            regex = self._regexes[entry.pattern] = re.compile(entry.pattern)
        return regex

    def _locate(self, text: str, entry: _Term, form_index: int) -> TermMatch:
        """Map a hit back to the original text so moderators see what was written."""
        located, offsets = located_form(text, form_index, evasions=self._evasions)
        found = self._regex(entry).search(located)
        if found is None:  # cannot happen while search and located forms agree
            start, end = 0, len(text)
        else:
            start, end = source_span(
                text, offsets, found.start(1), found.end(1), evasions=self._evasions
            )
        return TermMatch(entry.term, start, end, _excerpt(text[start:end]))


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
class MessageSnapshot:
    """What automod needs of a chat message, detached from any Discord library."""

    guild_id: int
    channel_id: int
    author_id: int
    author_role_ids: frozenset[int]
    author_is_bot: bool
    content: str


@dataclass(frozen=True, slots=True)
class AutomodVerdict:
    """Why a message broke a rule and what the server wants done about it."""

    rule: str
    action: str
    term: str
    excerpt: str
    strike_weight: int


@dataclass(frozen=True, slots=True)
class AutomodRules:
    """A server's automod configuration as plain values (compiled by :func:`compile_automod`)."""

    blocked_terms: tuple[str, ...] = ()
    normalise_evasions: bool = True
    strike_weight: int = 1
    action: str = "delete"
    exempt_role_ids: frozenset[int] = field(default_factory=frozenset)
    exempt_channel_ids: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Accept lists/sets from config loaders but keep the value hashable and immutable.
        object.__setattr__(self, "blocked_terms", tuple(self.blocked_terms))
        object.__setattr__(self, "exempt_role_ids", frozenset(self.exempt_role_ids))
        object.__setattr__(self, "exempt_channel_ids", frozenset(self.exempt_channel_ids))
        if self.action not in AUTOMOD_ACTIONS:
            raise ValueError(f"unknown automod action {self.action!r}")
        if self.strike_weight < 0:
            raise ValueError("strike_weight must not be negative")


class RuleChecker(Protocol):
    """One compiled rule kind; :class:`CompiledAutomod` asks each in turn."""

    @property
    def rule(self) -> str:
        """Rule name reported in verdicts, e.g. ``"blocked_terms"``."""
        ...

    def check(self, message: MessageSnapshot) -> AutomodVerdict | None:
        """Verdict if ``message`` breaks this rule, else None."""
        ...


@dataclass(frozen=True, slots=True)
class BlockedTermsChecker:
    """Rule checker for blocked words and phrases."""

    matcher: BlockedTermsMatcher
    action: str
    strike_weight: int
    rule: str = RULE_BLOCKED_TERMS

    def check(self, message: MessageSnapshot) -> AutomodVerdict | None:
        """Verdict naming the first blocked term in the message, if any."""
        found = self.matcher.match(message.content)
        if found is None:
            return None
        return AutomodVerdict(self.rule, self.action, found.term, found.excerpt, self.strike_weight)


@dataclass(frozen=True, slots=True)
class CompiledAutomod:
    """A server's rules, compiled: exemptions first, then each checker in order."""

    checkers: tuple[RuleChecker, ...]
    exempt_role_ids: frozenset[int] = frozenset()
    exempt_channel_ids: frozenset[int] = frozenset()

    def judge(self, message: MessageSnapshot) -> AutomodVerdict | None:
        """First rule the message breaks, or None (bots and exempt members are never judged)."""
        if (
            message.author_is_bot
            or message.channel_id in self.exempt_channel_ids
            or not self.exempt_role_ids.isdisjoint(message.author_role_ids)
        ):
            return None
        for checker in self.checkers:
            verdict = checker.check(message)
            if verdict is not None:
                return verdict
        return None


def compile_automod(rules: AutomodRules) -> CompiledAutomod:
    """Compile a server's rules once per configuration change."""
    checkers: list[RuleChecker] = []
    if rules.blocked_terms:
        matcher = compile_blocked_terms(
            rules.blocked_terms, normalise_evasions=rules.normalise_evasions
        )
        checkers.append(BlockedTermsChecker(matcher, rules.action, rules.strike_weight))
    return CompiledAutomod(tuple(checkers), rules.exempt_role_ids, rules.exempt_channel_ids)
