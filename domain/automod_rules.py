"""Automod rule kinds besides blocked terms: each kind's settings and its compiled finder.

A *finder* looks at a :class:`MessageSnapshot` and returns ``(detail, excerpt)`` when the
message breaks the rule. Finders start with a check that costs next to nothing ('no
attachments', 'all ASCII', 'no dot in the text') so an ordinary message passes in well under
a microsecond per rule. Admins' regexes run on RE2, which is linear in the text: no pattern
can stall the fast path, and patterns RE2 refuses are rejected when the config is saved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple, Protocol

import re2

from domain.automod_types import MessageSnapshot

Hit = tuple[str, str]
"""What a finder reports: the detail (what matched) and an excerpt of the message."""
Finder = Callable[[MessageSnapshot], Hit | None]
EXCERPT_LIMIT = 200
REGEX_MAX_MEM = 64 << 20
"""RE2 memory budget per compiled set of patterns; a pattern needing more is refused."""
REGEX_SET_CHUNK = 500
"""Patterns per RE2 set: bounded DFA memory, so a huge list never silently stops matching."""


NEEDS_NOTHING = 0
NEEDS_MARKER = 1
"""The content holds the gate's ``marker`` ('/' for invites)."""
NEEDS_MARKER_OR_NON_ASCII = 2
"""The content holds ``marker`` or is not all ASCII ('.' for scam links: or an ideographic dot)."""
NEEDS_NON_ASCII = 3
NEEDS_CAPITALS = 4
"""The content is not all lower case (``str.islower`` is false)."""
NEEDS_FILES = 5
NEEDS_MENTIONS_OVER = 6
"""``mention_count`` is above the gate's ``limit``."""


class Gate(NamedTuple):
    """What a message must have for a finder to possibly hit, tested inline by the judge.

    Each finder's gate restates the first check the finder itself makes, so skipping the
    finder when the gate is closed never changes a verdict; it saves the call.
    """

    kind: int = NEEDS_NOTHING
    marker: str = ""
    limit: int = 0


OPEN_GATE = Gate()


def gate_of(find: Finder) -> Gate:
    """The gate a finder declares (an open gate for plain functions)."""
    gate = getattr(find, "gate", OPEN_GATE)
    return gate if isinstance(gate, Gate) else OPEN_GATE


def excerpt_of(text: str) -> str:
    """Excerpt capped at :data:`EXCERPT_LIMIT` characters."""
    return text if len(text) <= EXCERPT_LIMIT else text[: EXCERPT_LIMIT - 1] + "…"


# --- settings per kind ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockedTermsParams:
    """Words and phrases (``*`` wildcards at the ends), with evasions folded away."""

    kind: ClassVar[str] = "blocked_terms"
    terms: tuple[str, ...] = ()
    normalise_evasions: bool = True


@dataclass(frozen=True, slots=True)
class RegexParams:
    """Admin-written patterns (RE2 syntax); any number of them."""

    kind: ClassVar[str] = "regex"
    patterns: tuple[str, ...] = ()
    case_sensitive: bool = False


@dataclass(frozen=True, slots=True)
class InviteParams:
    """Discord invite links, except to the codes allowed (and the server's own invites)."""

    kind: ClassVar[str] = "invites"
    allowed_codes: frozenset[str] = frozenset()
    allow_own_invites: bool = True


@dataclass(frozen=True, slots=True)
class ScamLinkParams:
    """Links the scam-link detector flags (listed, look-alike or lure domains)."""

    kind: ClassVar[str] = "scam_links"
    allowed_domains: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MassMentionParams:
    """More than ``max_mentions`` distinct users and roles mentioned in one message."""

    kind: ClassVar[str] = "mass_mentions"
    max_mentions: int = 5


@dataclass(frozen=True, slots=True)
class CapsParams:
    """More than ``max_percent`` of the letters in capitals, once there are ``min_letters``."""

    kind: ClassVar[str] = "caps"
    max_percent: int = 70
    min_letters: int = 10


@dataclass(frozen=True, slots=True)
class ZalgoParams:
    """A character stacked with more than ``max_marks`` combining marks."""

    kind: ClassVar[str] = "zalgo"
    max_marks: int = 3


@dataclass(frozen=True, slots=True)
class EmojiFloodParams:
    """More than ``max_emojis`` emojis (Unicode and custom) in one message."""

    kind: ClassVar[str] = "emoji_flood"
    max_emojis: int = 10


DANGEROUS_EXTENSIONS = frozenset(
    {"exe", "scr", "bat", "cmd", "com", "msi", "pif", "js", "jse", "vbs", "vbe", "ps1", "jar"}
    | {"apk", "lnk", "hta", "cpl", "dll", "reg", "wsf", "iso", "img", "dmg", "sys"}
)


@dataclass(frozen=True, slots=True)
class AttachmentParams:
    """Files by extension or content type; ``allowed_extensions`` (if set) is an allow-list."""

    kind: ClassVar[str] = "attachments"
    blocked_extensions: frozenset[str] = DANGEROUS_EXTENSIONS
    allowed_extensions: frozenset[str] = frozenset()
    blocked_content_types: tuple[str, ...] = ()
    """Prefixes such as 'application/x-msdownload' or 'video/'."""


RuleParams = (
    BlockedTermsParams
    | RegexParams
    | InviteParams
    | ScamLinkParams
    | MassMentionParams
    | CapsParams
    | ZalgoParams
    | EmojiFloodParams
    | AttachmentParams
)
RULE_KINDS = (
    "blocked_terms",
    "regex",
    "invites",
    "scam_links",
    "mass_mentions",
    "caps",
    "zalgo",
    "emoji_flood",
    "attachments",
)
CHEAP_FIRST = {
    "attachments": 0,
    "mass_mentions": 1,
    "caps": 2,
    "zalgo": 3,
    "emoji_flood": 4,
    "invites": 5,
    "scam_links": 6,
    "regex": 7,
    "blocked_terms": 8,
}
"""Order rules are tried in: the cheapest kinds first."""


# --- regex ---------------------------------------------------------------------------------


def _regex_options(case_sensitive: bool) -> re2.Options:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEM
    return options


def regex_problem(pattern: str) -> str | None:
    """Why RE2 cannot run ``pattern`` (for config validation), or None if it can."""
    if not pattern:
        return "an empty pattern matches every message"
    try:
        compiled = re2.compile(pattern, _regex_options(False))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        hint = ""
        if re.search(r"\(\?<?[=!]|\\[1-9]", pattern):
            hint = " (look-arounds and back-references are not supported: RE2 runs in linear time)"
        return f"pattern {pattern!r} is not valid RE2: {reason}{hint}"
    if compiled.search("") is not None:
        return f"pattern {pattern!r} matches an empty message, so it would match every message"
    return None


class RegexFinder:
    """Every pattern of a rule in RE2 sets (one scan per set); the first hit is then located."""

    __slots__ = ("_compiled", "_options", "_patterns", "_sets")

    def __init__(self, patterns: Sequence[str], *, case_sensitive: bool = False) -> None:
        self._patterns = tuple(dict.fromkeys(patterns))
        self._options = _regex_options(case_sensitive)
        self._compiled: dict[int, re2._Regexp] = {}
        self._sets: list[tuple[int, Callable[[bytes], list[int] | None]]] = []
        for offset in range(0, len(self._patterns), REGEX_SET_CHUNK):
            chunk = re2.Set.SearchSet(self._options)
            for pattern in self._patterns[offset : offset + REGEX_SET_CHUNK]:
                try:
                    chunk.Add(pattern)
                except re2.error:
                    raise ValueError(regex_problem(pattern) or f"bad pattern {pattern!r}") from None
            try:
                chunk.Compile()
            except re2.error:
                raise ValueError(
                    "the regexes need more memory than RE2 allows; split the rule"
                ) from None
            # the C++ set's own Match on UTF-8 bytes skips the wrapper's per-call type checks
            self._sets.append((offset, getattr(chunk, "_set", chunk).Match))

    def __call__(self, message: MessageSnapshot) -> Hit | None:
        """The first pattern (in config order) that matches, with what it matched."""
        text = message.content
        raw = text.encode()
        for offset, match in self._sets:
            hits = match(raw)
            if hits:
                return self._hit(text, offset + min(hits))
        return None

    def _hit(self, text: str, index: int) -> Hit:
        """Pattern ``index`` and what it matched in ``text``."""
        found = self._regex(index).search(text)
        return self._patterns[index], excerpt_of(found.group() if found else text)

    def _regex(self, index: int) -> re2._Regexp:
        """A pattern compiled alone, on its first hit (only needed to show what matched)."""
        regex = self._compiled.get(index)
        if regex is None:
            regex = self._compiled[index] = re2.compile(self._patterns[index], self._options)
        return regex


# --- invites -------------------------------------------------------------------------------

_DOT = r"\s*(?:\.|\(\.\)|\[\.\]|\(dot\)|\[dot\]|\sdot\s)\s*"
_SLASH = r"\s*/\s*"
INVITE_LINK = re.compile(
    rf"(?:discord(?:app)?{_DOT}com{_SLASH}invite|discord{_DOT}(?:gg|io|me|li)"
    rf"|dsc{_DOT}gg|invite{_DOT}gg){_SLASH}([a-z0-9-]{{2,32}})",
    re.IGNORECASE,
)


def _invite_hint(text: str) -> bool:
    """Whether an invite host can be in the text (plain substring tests: C speed)."""
    lowered = text.lower()
    return "discord" in lowered or "dsc" in lowered or "invite" in lowered


@dataclass(frozen=True, slots=True)
class InviteFinder:
    """Invite links ('discord.gg/x', 'discord . gg / x', 'discord.com/invite/x', 'dsc.gg/x')."""

    allowed: frozenset[str]
    allow_own: bool
    gate: ClassVar[Gate] = Gate(NEEDS_MARKER, "/")

    def __call__(self, message: MessageSnapshot) -> Hit | None:
        """The first invite to someone else's server."""
        text = message.content
        if "/" not in text or not _invite_hint(text):  # every invite link has a slash
            return None
        own = message.own_invite_codes if self.allow_own else frozenset()
        for found in INVITE_LINK.finditer(text):
            code = found.group(1)
            if code in own or code.lower() in self.allowed:
                continue
            return code, excerpt_of(found.group())
        return None


# --- scam links ----------------------------------------------------------------------------


class ScamHit(Protocol):
    """What a scam-link detector reports about one link (see ``domain.scam_links``)."""

    @property
    def domain(self) -> str:
        """The flagged host."""
        ...

    @property
    def reason(self) -> str:
        """'listed', 'lookalike' or 'lure'."""
        ...


class ScamDetector(Protocol):
    """The part of ``domain.scam_links.ScamLinkDetector`` automod uses."""

    def check_text(self, text: str) -> Sequence[ScamHit]:
        """Every flagged link in a message."""
        ...


_HOST_HINT = re.compile(r"[.\u3002\uff0e\uff61][^\W\d_]")
"""A host name ends in a dot (or an ideographic / full-width one) and a letter of its TLD."""


def _has_dot(text: str) -> bool:
    """Any dot a host name may use (memchr-fast for the ASCII one)."""
    return "." in text or (
        not text.isascii() and ("\u3002" in text or "\uff0e" in text or "\uff61" in text)
    )


@dataclass(frozen=True, slots=True)
class ScamLinkFinder:
    """Asks the injected detector, skipping domains the server allows (and their subdomains)."""

    detector: ScamDetector
    allowed: frozenset[str]
    gate: ClassVar[Gate] = Gate(NEEDS_MARKER_OR_NON_ASCII, ".")

    def __call__(self, message: MessageSnapshot) -> Hit | None:
        """The first flagged link that is not allowed."""
        text = message.content
        if not _has_dot(text) or _HOST_HINT.search(text) is None:  # a host has a dot + TLD
            return None
        for hit in self.detector.check_text(text):
            domain = hit.domain.lower()
            if self._allowed(domain):
                continue
            return f"{domain} ({hit.reason})", excerpt_of(_around(text, domain))
        return None

    def _allowed(self, domain: str) -> bool:
        return any(domain == a or domain.endswith("." + a) for a in self.allowed)


def _around(text: str, needle: str) -> str:
    """The whitespace-delimited word of ``text`` that contains ``needle`` (else the needle)."""
    at = text.lower().find(needle)
    if at < 0:
        return needle
    start = max(text.rfind(" ", 0, at), text.rfind("\n", 0, at)) + 1
    end = len(text)
    for sep in (" ", "\n"):
        stop = text.find(sep, at)
        if stop >= 0:
            end = min(end, stop)
    return text[start:end]


# --- counts: mentions, caps, zalgo, emojis, attachments -----------------------------------


@dataclass(frozen=True, slots=True)
class MassMentionFinder:
    """Too many distinct mentions (counted by the gateway from the message)."""

    max_mentions: int

    @property
    def gate(self) -> Gate:
        """More mentions than the limit."""
        return Gate(NEEDS_MENTIONS_OVER, limit=self.max_mentions)

    def __call__(self, message: MessageSnapshot) -> Hit | None:
        """'7 mentions' when above the limit."""
        if message.mention_count <= self.max_mentions:
            return None
        return f"{message.mention_count} mentions", excerpt_of(message.content)


_UPPER_ASCII = bytes(range(ord("A"), ord("Z") + 1))
_LETTERS_ASCII = _UPPER_ASCII + bytes(range(ord("a"), ord("z") + 1))
_CUSTOM_EMOJI_OR_MENTION = re.compile(r"<(?:a?:\w+:|@[!&]?|#)\d+>")


def caps_counts(text: str) -> tuple[int, int]:
    """Upper-case letters and all letters in ``text`` (custom emoji and mentions not counted)."""
    if "<" in text:
        text = _CUSTOM_EMOJI_OR_MENTION.sub("", text)
    if text.isascii():
        raw = text.encode()
        return len(raw) - len(raw.translate(None, _UPPER_ASCII)), len(raw) - len(
            raw.translate(None, _LETTERS_ASCII)
        )
    return sum(map(str.isupper, text)), sum(map(str.isalpha, text))


@dataclass(frozen=True, slots=True)
class CapsFinder:
    """Shouting: most letters in capitals, in a message long enough to tell."""

    max_percent: int
    min_letters: int
    gate: ClassVar[Gate] = Gate(NEEDS_CAPITALS)

    def __call__(self, message: MessageSnapshot) -> Hit | None:
        """'85% capitals' when above the limit."""
        text = message.content
        if len(text) < self.min_letters or text.islower():
            return None
        # At most the ASCII capitals plus every other character can be a capital: when even
        # that is too few to be over the limit at any length, nothing needs counting.
        raw = text.encode("ascii", "ignore")
        most = len(raw) - len(raw.translate(None, _UPPER_ASCII)) + len(text) - len(raw)
        if most * 100 <= self.min_letters * self.max_percent:
            return None
        upper, letters = caps_counts(text)
        if letters < self.min_letters or upper * 100 <= letters * self.max_percent:
            return None
        return f"{upper * 100 // letters}% capitals", excerpt_of(text)


_COMBINING = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"


@dataclass(frozen=True, slots=True)
class ZalgoFinder:
    """Stacked combining marks (zalgo text), found as a run of them on one character."""

    max_marks: int
    _run: re.Pattern[str] = field(init=False, repr=False, compare=False)
    gate: ClassVar[Gate] = Gate(NEEDS_NON_ASCII)

    def __post_init__(self) -> None:
        run = re.compile(f"[{_COMBINING}]{{{self.max_marks + 1},}}")
        object.__setattr__(self, "_run", run)

    def __call__(self, message: MessageSnapshot) -> Hit | None:
        """The first over-stacked character."""
        text = message.content
        if text.isascii() or len(text) - len(text.encode("ascii", "ignore")) <= self.max_marks:
            return None
        found = self._run.search(text)
        if found is None:
            return None
        start = max(found.start() - 1, 0)
        return f"{found.end() - found.start()} stacked marks", excerpt_of(text[start : start + 40])


_EMOJI = re.compile(
    "[\U0001f1e6-\U0001f1ff]{2}"  # a flag is two regional indicators
    r"|<a?:\w{2,32}:\d{15,21}>"  # custom emoji
    "|[\U0001f000-\U0001f1e5\U0001f200-\U0001f3fa\U0001f400-\U0001faff"  # skin tones excluded
    "\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u3030\u303d\u3297\u3299\u00a9\u00ae\u203c\u2049]"
)


def emoji_count(text: str) -> int:
    """Emojis in ``text``: Unicode pictographs, flags and custom ``<:name:id>`` emoji."""
    if text.isascii() and "<" not in text:
        return 0
    return len(_EMOJI.findall(text))


def emoji_bound(text: str) -> int:
    """Cheap upper bound of :func:`emoji_count`: non-ASCII characters plus custom-emoji opens."""
    non_ascii = 0 if text.isascii() else len(text) - len(text.encode("ascii", "ignore"))
    return non_ascii + (text.count("<a:") + text.count("<:") if "<" in text else 0)


@dataclass(frozen=True, slots=True)
class EmojiFloodFinder:
    """Too many emojis in one message."""

    max_emojis: int

    @property
    def gate(self) -> Gate:
        """Something that may be an emoji: a non-ASCII character or a custom emoji's '<'."""
        if self.max_emojis < 0:  # then even a message without emojis is over the limit
            return OPEN_GATE
        return Gate(NEEDS_MARKER_OR_NON_ASCII, "<")

    def __call__(self, message: MessageSnapshot) -> Hit | None:
        """'14 emojis' when above the limit."""
        text = message.content
        if len(text) <= self.max_emojis or emoji_bound(text) <= self.max_emojis:
            return None
        count = emoji_count(text)
        if count <= self.max_emojis:
            return None
        return f"{count} emojis", excerpt_of(text)


@dataclass(frozen=True, slots=True)
class AttachmentFinder:
    """Files whose extension or content type the server does not accept."""

    blocked: frozenset[str]
    allowed: frozenset[str]
    blocked_types: tuple[str, ...]
    gate: ClassVar[Gate] = Gate(NEEDS_FILES)

    def __call__(self, message: MessageSnapshot) -> Hit | None:
        """The first unwanted file, named."""
        for attachment in message.attachments:
            ext = attachment.extension
            content_type = (attachment.content_type or "").lower()
            if (
                (self.allowed and ext not in self.allowed)
                or ext in self.blocked
                or (content_type and content_type.startswith(self.blocked_types))
            ):
                return f"file {attachment.filename}", excerpt_of(attachment.filename)
        return None


def _lowered(items: Iterable[str]) -> frozenset[str]:
    return frozenset(item.strip().lower().lstrip(".") for item in items if item.strip())


def finder_for(params: RuleParams, scam_detector: ScamDetector | None) -> Finder | None:
    """Compile one rule's settings; None when the rule cannot run (no scam detector given)."""
    if isinstance(params, RegexParams):
        return RegexFinder(params.patterns, case_sensitive=params.case_sensitive)
    if isinstance(params, InviteParams):
        return InviteFinder(_lowered(params.allowed_codes), params.allow_own_invites)
    if isinstance(params, ScamLinkParams):
        if scam_detector is None:
            return None
        return ScamLinkFinder(scam_detector, _lowered(params.allowed_domains))
    if isinstance(params, MassMentionParams):
        return MassMentionFinder(params.max_mentions)
    if isinstance(params, CapsParams):
        return CapsFinder(params.max_percent, params.min_letters)
    if isinstance(params, ZalgoParams):
        return ZalgoFinder(params.max_marks)
    if isinstance(params, EmojiFloodParams):
        return EmojiFloodFinder(params.max_emojis)
    if isinstance(params, AttachmentParams):
        types = tuple(t.strip().lower() for t in params.blocked_content_types if t.strip())
        return AttachmentFinder(
            _lowered(params.blocked_extensions), _lowered(params.allowed_extensions), types
        )
    raise TypeError(f"no finder for {type(params).__name__}")  # blocked terms: domain.automod
