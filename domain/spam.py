"""Spam detection on the fast path: sliding windows per member, per channel and per text.

Pure and clock-free: :meth:`SpamTracker.observe` gets the message's time as ``now`` (POSIX
seconds), so replaying a stream gives the same verdicts. Per message it does a few C-level
string operations and deque/dict updates; the slow work (building a verdict) only happens
on the rare flagged message.

What is watched, per server:

* per member, over ``window_seconds``: message rate (the (n+1)-th newest message within
  ``rate_seconds``), copies of the same text (also across channels) and near copies
  (letters only, so punctuation and numbers don't matter; plus an equal prefix, suffix or
  middle for long texts), and the mentions, links, invites and emojis summed over the window;
* new accounts get scaled-down limits, and a member's first message in the server may not
  carry invites or many links and mentions;
* per channel, the overall rate (a flood: alert only, chatty events are not punished);
* per text, the distinct members posting it (a message raid: delete every copy and alert);
* with a :class:`domain.spam_text.TextModel`, what the text says: a newcomer's message (young
  account or first message) that reads as spam is deleted ('spam_text'); an established
  member's message with a link that reads as spam only alerts the mods ('spam_text_link':
  a regular's account sending a lure is more likely hijacked than a spammer's, and a wrong
  deletion of a regular costs more). Other messages are not scored, which keeps the model
  off most of the fast path.

Responses escalate with the member's offences (remembered for ``offence_memory_seconds``):
delete, then timeouts from ``timeout_minutes``; the strike weight feeds the moderation
workflow once per offence, not per message of one burst.

Memory per server is bounded (cf. :mod:`domain.xp_tracker`, but without per-key recency):
member histories are capped at ``max_history``, and members, texts and channels live in
two-generation tables (:class:`_Generations`) that drop whatever went untouched for a
window, or turn early at half their cap under load, so nothing is swept key by key. Most
members have one message in their window and are stored as that message's tuple, with no
object built. Members with a live offence sit in their own table, kept for the offence
memory, so a crowd of newcomers can't make the tracker forget a repeat offender (up to
``max_offenders``). Not thread-safe: one asyncio loop owns a tracker.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeVar

from domain.automod_rules import INVITE_LINK, emoji_count
from domain.automod_types import MessageSnapshot
from domain.spam_text import TextModel, logit, sigmoid

Preset = Literal["relaxed", "standard", "strict"]
ReasonKind = Literal[
    "flood",
    "duplicates",
    "mentions",
    "links",
    "invites",
    "emojis",
    "first_message",
    "raid",
    "channel_flood",
    "spam_text",
    "spam_text_link",
]
WEIGHTS: dict[str, int] = {
    "flood": 1,
    "duplicates": 1,
    "mentions": 2,
    "links": 1,
    "invites": 2,
    "emojis": 1,
    "first_message": 2,
    "raid": 2,
    "channel_flood": 0,
    "spam_text": 1,
    "spam_text_link": 0,
}
"""Strike weight per reason; a verdict weighs its heaviest reason (one burst, one strike).

Weight 0 marks the alert-only reasons: alone, they delete nothing and punish nobody."""

_COUNTS = ("members", "offenders", "entries", "texts", "posts", "channels")
_ASCII_NON_LETTERS = bytes(c for c in range(128) if not (65 <= c <= 90 or 97 <= c <= 122))
"""Other scripts' letters are multi-byte UTF-8 (all >= 0x80): kept as they are."""
_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_LOWER_TABLE = bytes.maketrans(_UPPER, _UPPER.lower())
_NON_LETTERS = bytes(c for c in range(256) if not (65 <= c <= 90 or 97 <= c <= 122))


@dataclass(frozen=True, slots=True)
class SpamRules:
    """Thresholds for one server; a limit is what's allowed, one more is flagged."""

    window_seconds: float = 30.0
    """How long duplicates and mention/link/invite/emoji counts stay in a member's window."""
    rate_seconds: float = 5.0
    max_messages: int = 6
    """Messages per member per ``rate_seconds``."""
    max_duplicates: int = 2
    """Copies of (nearly) the same text per member per window, any channels."""
    min_duplicate_letters: int = 4
    """Shorter texts ('ok', 'lol') are left to the rate limit."""
    near_letters: int = 24
    """Texts this long also match on an equal prefix, suffix or middle of this many letters."""
    max_mentions: int = 12
    max_links: int = 5
    max_invites: int = 1
    max_emojis: int = 40
    new_account_hours: float = 24.0
    new_account_factor: float = 0.5
    """Limits are scaled by this (at least 1, invites at least 0) for young accounts."""
    first_message_max_links: int = 1
    first_message_max_mentions: int = 3
    first_message_invites: bool = False
    """Whether a member's first message in the server may carry an invite."""
    channel_rate_seconds: float = 10.0
    channel_max_messages: int = 80
    """Messages per channel per ``channel_rate_seconds`` before the mods are alerted."""
    raid_accounts: int = 4
    """Distinct members posting the same text within ``raid_seconds``: a message raid."""
    raid_seconds: float = 60.0
    raid_min_letters: int = 24
    """Shorter texts ('gg', 'good morning all') are what many members say anyway, unless
    they carry a link."""
    timeout_minutes: tuple[int, ...] = (0, 10, 60, 1440)
    """Timeout per offence level (0: delete only); the last step repeats."""
    offence_gap_seconds: float = 15.0
    """A flagged message this long after the last offence (or a burst that goes on) is new."""
    offence_memory_seconds: float = 3600.0
    alert_level: int = 3
    """Offence level from which the mods are alerted about a member."""
    alert_cooldown_seconds: float = 300.0
    text_score: float = 0.95
    """Spam probability from which a newcomer's message is deleted (1.0: never)."""
    text_alert_score: float = 0.99
    """Spam probability from which an established member's message with a link alerts."""
    max_history: int = 32
    """Messages remembered per member (must exceed ``max_messages``)."""
    max_members: int = 50_000
    """Members held per server (offenders apart); beyond half of it within one window the
    least recently seen half is dropped early."""
    max_offenders: int = 5_000
    max_texts: int = 20_000
    """Texts indexed for raid detection per server."""
    max_channels: int = 2_000

    def __post_init__(self) -> None:
        if self.max_history <= max(self.max_messages, self.max_duplicates):
            raise ValueError("max_history must exceed max_messages and max_duplicates")
        if min(self.max_members, self.max_offenders, self.max_texts, self.max_channels) < 1:
            raise ValueError("memory caps must be positive")
        if not self.timeout_minutes or min(self.timeout_minutes) < 0:
            raise ValueError("timeout_minutes needs at least one step, none negative")
        if self.raid_accounts < 2 or self.channel_max_messages < 1 or self.max_messages < 1:
            raise ValueError("raid_accounts must be >= 2, message limits >= 1")
        if not (0.5 <= self.text_score <= 1.0 and 0.5 <= self.text_alert_score <= 1.0):
            raise ValueError("text scores are probabilities in [0.5, 1]")

    @classmethod
    def preset(cls, name: Preset, **overrides: Any) -> SpamRules:
        """A preset (relaxed/standard/strict), optionally with some fields changed."""
        return replace(PRESETS[name], **overrides)


PRESETS: dict[str, SpamRules] = {
    "relaxed": SpamRules(
        rate_seconds=5.0,
        max_messages=9,
        max_duplicates=3,
        min_duplicate_letters=6,
        max_mentions=20,
        max_links=8,
        max_invites=2,
        max_emojis=60,
        new_account_factor=0.75,
        first_message_max_links=2,
        first_message_max_mentions=5,
        channel_max_messages=120,
        raid_accounts=6,
        raid_min_letters=32,
        timeout_minutes=(0, 5, 30, 240),
        alert_level=4,
        text_score=0.98,
        text_alert_score=0.995,
    ),
    "standard": SpamRules(),
    "strict": SpamRules(
        rate_seconds=6.0,
        max_messages=4,
        max_duplicates=1,
        min_duplicate_letters=6,
        max_mentions=6,
        max_links=3,
        max_invites=0,
        max_emojis=20,
        new_account_hours=72.0,
        new_account_factor=0.5,
        first_message_max_links=0,
        first_message_max_mentions=1,
        channel_max_messages=50,
        raid_accounts=3,
        raid_min_letters=20,
        timeout_minutes=(0, 30, 360, 10080),
        alert_level=2,
        text_score=0.9,
        text_alert_score=0.97,
    ),
}


@dataclass(frozen=True, slots=True)
class SpamMessage:
    """What spam detection needs of a message; ``account_created_at`` is POSIX seconds."""

    guild_id: int
    channel_id: int
    author_id: int
    message_id: int
    """A snowflake: ids grow with time, which keeps repeat deletions out of verdicts."""
    content: str
    mention_count: int = 0
    account_created_at: float | None = None
    first_message: bool = False
    """The member's first message in the server (the gateway knows from its member state)."""

    @classmethod
    def from_snapshot(
        cls, snapshot: MessageSnapshot, message_id: int, *, first_message: bool = False
    ) -> SpamMessage:
        """The fields of an automod snapshot, so the gateway builds one object per message."""
        created = snapshot.account_created_at
        return cls(
            snapshot.guild_id,
            snapshot.channel_id,
            snapshot.author_id,
            message_id,
            snapshot.content,
            snapshot.mention_count,
            None if created is None else created.timestamp(),
            first_message,
        )


@dataclass(frozen=True, slots=True)
class SpamReason:
    """One signal that fired, e.g. ('flood', '7 messages in 5s')."""

    kind: ReasonKind
    detail: str


@dataclass(frozen=True, slots=True)
class SpamVerdict:
    """What to do about a message; ``delete_ids`` are (channel_id, message_id) pairs.

    ``delete_ids`` holds the message itself and earlier copies of its text (the member's, or
    every raider's) not handed out before; empty for an alert-only verdict (channel flood).
    """

    guild_id: int
    channel_id: int
    author_id: int
    message_id: int
    reasons: tuple[SpamReason, ...]
    delete_ids: tuple[tuple[int, int], ...]
    timeout_minutes: int
    """0: no timeout."""
    strike_weight: int
    """Strike points for the member's moderation workflow; 0 within an ongoing burst."""
    offence_level: int
    """The member's offences remembered, raised by heavy reasons (0 for alert-only)."""
    alert: bool
    raid_member_ids: tuple[int, ...] = ()
    """In a message raid: every member who posted the text (for the raid workflow)."""

    @property
    def kinds(self) -> tuple[str, ...]:
        """The reasons' kinds, in the order they fired."""
        return tuple(r.kind for r in self.reasons)

    @property
    def deletes(self) -> bool:
        """Whether any message should be deleted."""
        return bool(self.delete_ids)

    @property
    def reason(self) -> str:
        """How the case reads, e.g. 'Spam: flood (7 messages in 5s)'."""
        return "Spam: " + "; ".join(f"{r.kind} ({r.detail})" for r in self.reasons)


@dataclass(frozen=True, slots=True)
class _Limits:
    """Per-window limits after scaling for the account's age."""

    messages: int
    duplicates: int
    mentions: int
    links: int
    invites: int
    emojis: int


def _scaled(rules: SpamRules, factor: float) -> _Limits:
    """Limits multiplied by ``factor``, never below 1 (0 for invites, which may be banned)."""
    return _Limits(
        max(1, int(rules.max_messages * factor)),
        max(1, int(rules.max_duplicates * factor)),
        max(1, int(rules.max_mentions * factor)),
        max(1, int(rules.max_links * factor)),
        max(0, int(rules.max_invites * factor)),
        max(1, int(rules.max_emojis * factor)),
    )


def _copies(entries: deque[_Entry], key: bytes, near: int, since: float) -> list[tuple[int, int]]:
    """(channel, message) of each entry since ``since`` with the same or a near text.

    A long text is near another when that one starts with its first ``near`` letters, ends
    with its last ones, or contains its middle ones: an edit at either end or in the middle
    (or a prefix like 'hey guys') still leaves one of the three intact.
    """
    if len(key) < near:
        return [(e[2], e[1]) for e in entries if e[3] == key and e[0] > since]
    pre, suf = key[:near], key[-near:]
    start = (len(key) - near) // 2
    mid = key[start : start + near]
    return [
        (e[2], e[1])
        for e in entries
        if e[0] > since
        and (e[3] == key or e[3].startswith(pre) or e[3].endswith(suf) or mid in e[3])
    ]


def text_key(text: str) -> bytes:
    """The text as compared for duplicates: letters only, lower case ('Buy now!! 2' -> 'buynow').

    Punctuation, digits, spacing and emoji are dropped (ASCII through one C-level translate),
    so small edits still match; mostly non-ASCII text is casefolded and loses only ASCII
    non-letters. A text without letters ('!!!', emoji only) is keyed on itself
    without spaces; an empty key means nothing to compare (attachments only).
    """
    if text.isascii():
        key = text.encode().translate(_LOWER_TABLE, _NON_LETTERS)
    else:
        raw = text.encode("ascii", "ignore")
        if len(raw) * 2 >= len(text):  # mostly ASCII, e.g. chat with an emoji: drop the rest
            key = raw.translate(_LOWER_TABLE, _NON_LETTERS)
        else:
            key = text.casefold().encode().translate(None, _ASCII_NON_LETTERS)
    if key:
        return key
    return "".join(text.split()).encode()


def invite_count(text: str) -> int:
    """Discord invite links in ``text`` (gated by plain substring tests: C speed)."""
    if "/" not in text:
        return 0
    lowered = text.lower()
    if "discord" not in lowered and "dsc" not in lowered and "invite" not in lowered:
        return 0
    return len(INVITE_LINK.findall(text))


# A member's window entry: (time, message_id, channel_id, text key, mentions, links, invites,
# emojis). Tuples are the cheapest record CPython builds.
_Entry = tuple[float, int, int, bytes, int, int, int, int]


class _Member:
    """One member's window with running sums, plus offence state."""

    __slots__ = (
        "burst",
        "deleted_through",
        "emojis",
        "entries",
        "invites",
        "last_alert",
        "last_offence",
        "last_seen",
        "links",
        "mentions",
        "offences",
    )

    def __init__(self) -> None:
        self.entries: deque[_Entry] = deque()
        self.mentions = self.links = self.invites = self.emojis = 0
        self.last_seen = 0.0
        self.offences = 0
        self.last_offence = float("-inf")
        self.last_alert = float("-inf")
        self.burst = 0
        self.deleted_through = 0

    def add(self, entry: _Entry, horizon: float, history: int) -> None:
        """Slide the window past ``horizon``, then add the entry (dropping beyond the cap)."""
        entries = self.entries
        while entries and entries[0][0] <= horizon:
            self.drop_oldest()
        if len(entries) >= history:
            self.drop_oldest()
        entries.append(entry)
        self.mentions += entry[4]
        self.links += entry[5]
        self.invites += entry[6]
        self.emojis += entry[7]
        self.last_seen = entry[0]

    def drop_oldest(self) -> None:
        """Remove the oldest entry and take it out of the sums."""
        old = self.entries.popleft()
        self.mentions -= old[4]
        self.links -= old[5]
        self.invites -= old[6]
        self.emojis -= old[7]


_Post = tuple[float, int, int, int]
"""(time, author, channel, message) of one post of a text."""


class _Text:
    """Recent posts of one text in a server, for telling a message raid."""

    __slots__ = ("alerted", "posts")

    def __init__(self) -> None:
        self.posts: deque[_Post] = deque()
        self.alerted = False


class _Channel:
    """Recent message times in a channel, for the channel-wide rate."""

    __slots__ = ("last_alert", "times")

    def __init__(self, size: int) -> None:
        self.times: deque[float] = deque(maxlen=size)
        self.last_alert = float("-inf")


_Raid = tuple[_Text, tuple[int, ...], bool]
"""A message raid: the text's posts, the distinct members who posted it, whether to alert."""

K = TypeVar("K")
V = TypeVar("V")


class _Generations(Generic[K, V]):
    """A map that forgets what wasn't touched for a while, at O(1) per operation.

    Two plain dicts: new and touched keys go into ``current``; every ``lifetime`` seconds (or
    when ``current`` holds half the cap) ``current`` becomes ``previous`` and the old
    ``previous`` is dropped whole. A key touched within ``lifetime`` is never dropped unless
    the cap forces an early turn, and at most ``cap`` keys are held. No per-key timestamps,
    no sweeping, no linked list: cheaper than an LRU for state that simply goes stale.
    """

    __slots__ = ("current", "half", "lifetime", "previous", "turned_at")

    def __init__(self, lifetime: float, cap: int) -> None:
        self.current: dict[K, V] = {}
        self.previous: dict[K, V] = {}
        self.lifetime = lifetime
        self.half = max(1, cap // 2)
        self.turned_at = float("-inf")

    def get(self, key: K) -> V | None:
        """The value, moved to ``current`` if it was in ``previous``; None when unknown."""
        value = self.current.get(key)
        if value is None and self.previous:
            value = self.previous.pop(key, None)
            if value is not None:
                self.current[key] = value
        return value

    def put(self, key: K, value: V, now: float) -> None:
        """Set a value, first turning the generations over when due."""
        if now - self.turned_at >= self.lifetime or len(self.current) >= self.half:
            self.turn(now)
        self.current[key] = value

    def turn(self, now: float) -> None:
        """``current`` becomes ``previous``; the old ``previous`` is dropped whole."""
        self.previous = self.current
        self.current = {}
        self.turned_at = now

    def pop(self, key: K) -> V | None:
        """Remove a key wherever it is."""
        value = self.current.pop(key, None)
        return self.previous.pop(key, None) if value is None else value

    def __len__(self) -> int:
        return len(self.current) + len(self.previous)

    def values(self) -> list[V]:
        """Every value held."""
        return [*self.current.values(), *self.previous.values()]


class _Guild:
    """One server's state, each table bounded by its cap and forgetting stale keys."""

    __slots__ = ("channels", "members", "next_turn", "offenders", "texts")

    def __init__(self, rules: SpamRules, window: float) -> None:
        self.members: _Generations[int, _Member | _Entry] = _Generations(window, rules.max_members)
        """A member with one recent message is just its entry; more make a :class:`_Member`."""
        self.offenders: _Generations[int, _Member] = _Generations(
            rules.offence_memory_seconds, rules.max_offenders
        )
        """Members with an offence, kept apart so a crowd of newcomers can't push them out."""
        self.texts: _Generations[bytes, _Text | _Post] = _Generations(
            rules.raid_seconds, rules.max_texts
        )
        """Texts by key; a text seen once is just its post (most are: no object to build)."""
        self.channels: _Generations[int, _Channel] = _Generations(
            max(rules.channel_rate_seconds, rules.alert_cooldown_seconds), rules.max_channels
        )
        self.next_turn = float("-inf")
        """When some table is next due to turn over even if nothing new is put in it."""

    def turn_due(self, now: float) -> None:
        """Turn over every table whose lifetime passed, so a quiet server frees its state."""
        tables = (self.members, self.offenders, self.texts, self.channels)
        for table in tables:
            if now - table.turned_at >= table.lifetime:
                table.turn(now)
        self.next_turn = min(table.turned_at + table.lifetime for table in tables)


class SpamTracker:
    """Per-server sliding windows; :meth:`observe` each message in time order."""

    def __init__(self, rules: SpamRules | None = None, text_model: TextModel | None = None) -> None:
        self.rules = rules = rules or PRESETS["standard"]
        self._model = text_model
        self._text_logit = logit(rules.text_score)
        self._text_alert_logit = logit(rules.text_alert_score)
        self._guilds: dict[int, _Guild] = {}
        self._normal = _scaled(rules, 1.0)
        self._young = _scaled(rules, rules.new_account_factor)
        self._young_seconds = rules.new_account_hours * 3600.0
        self._window = max(rules.window_seconds, rules.rate_seconds)
        # Copied to attributes: one lookup each on the hot path instead of two.
        self._near = rules.near_letters
        self._history = rules.max_history
        self._rate = rules.rate_seconds
        self._min_duplicate = rules.min_duplicate_letters
        self._duplicate_window = rules.window_seconds
        self._raid_letters = rules.raid_min_letters
        self._memory = rules.offence_memory_seconds
        self._channel_rate = rules.channel_rate_seconds

    def observe(self, msg: SpamMessage, now: float) -> SpamVerdict | None:
        """Record ``msg`` (sent at ``now``) and judge it: None for the usual, clean message."""
        guild = self._guilds.get(msg.guild_id)
        if guild is None:
            guild = self._guilds[msg.guild_id] = _Guild(self.rules, self._window)
        if now >= guild.next_turn:
            guild.turn_due(now)
        text = msg.content
        key = text_key(text)
        size = len(key)
        links = text.count("://")
        invites = invite_count(text) if links else 0
        emojis = 0 if "<" not in text and text.isascii() else emoji_count(text)
        mentions = msg.mention_count
        channel_id = msg.channel_id
        entry = (now, msg.message_id, channel_id, key, mentions, links, invites, emojis)
        created = msg.account_created_at
        young = created is not None and now - created < self._young_seconds
        limits = self._young if young else self._normal
        lure: SpamReason | None = None
        model = self._model
        if model is not None and (young or links or msg.first_message):
            lure = self._lure(model, text, young or msg.first_message)
        author_id = msg.author_id
        # Inlined _Generations.get/put on the member table: this runs for every message.
        members = guild.members
        offenders = guild.offenders
        if offenders.current or offenders.previous:
            found = self._find(guild, author_id, now)
        else:
            found = members.current.get(author_id)
            if found is None and members.previous:
                found = members.previous.pop(author_id, None)
                if found is not None:
                    members.current[author_id] = found
        copies: list[tuple[int, int]] = []
        member: _Member | None = None
        flagged = False
        if (found is None or (type(found) is tuple and found[0] <= now - self._window)) and not (
            mentions > limits.mentions
            or links > limits.links
            or invites > limits.invites
            or emojis > limits.emojis
            or (msg.first_message and self._first_message_flagged(mentions, links, invites))
        ):
            # The common case: nothing in the member's window and a clean message on its own.
            # Its entry is all the state kept (no object built) until the next message.
            if now - members.turned_at >= members.lifetime or len(members.current) >= members.half:
                members.turn(now)
            members.current[author_id] = entry
        else:
            member = self._upgrade(guild, author_id, found, now)
            member.add(entry, now - self._window, self._history)
            entries = member.entries
            count = len(entries)
            flagged = (
                (count > limits.messages and entries[-limits.messages - 1][0] > now - self._rate)
                or member.mentions > limits.mentions
                or member.links > limits.links
                or member.invites > limits.invites
                or member.emojis > limits.emojis
                or (msg.first_message and self._first_message_flagged(mentions, links, invites))
            )
            if count > 1 and size >= self._min_duplicate:
                copies = _copies(entries, key, self._near, now - self._duplicate_window)
                flagged = flagged or len(copies) > limits.duplicates
        raid: _Raid | None = None
        if size >= self._raid_letters or (links and size >= self._min_duplicate):
            texts = guild.texts
            if key in texts.current or key in texts.previous:
                raid = self._raid_check(guild, key, msg, now)
            else:  # first sight of the text (most are): just its post
                if now - texts.turned_at >= texts.lifetime or len(texts.current) >= texts.half:
                    texts.turn(now)
                texts.current[key] = (now, author_id, channel_id, msg.message_id)
        channel = guild.channels.current.get(channel_id)
        if channel is None:
            alert = self._channel_check(guild, channel_id, now)
        else:
            times = channel.times
            times.append(now)
            alert = len(times) == times.maxlen and times[0] > now - self._channel_rate
            if alert:
                alert = self._channel_check(guild, channel_id, now, counted=True)
        if not (flagged or raid or alert or lure):
            return None
        if member is None:
            member = self._upgrade(guild, author_id, self._find(guild, author_id, now), now)
        reasons = self._reasons(member, limits, msg, now, len(copies), raid, alert)
        if lure is not None:
            reasons.append(lure)
        return self._verdict(guild, member, msg, now, reasons, copies, raid)

    def _find(self, guild: _Guild, author_id: int, now: float) -> _Member | _Entry | None:
        """A member's state: an offender's (until the offence is old), else their entry or state."""
        offenders = guild.offenders
        if offenders.current or offenders.previous:
            member = offenders.get(author_id)
            if member is not None:
                if member.last_offence > now - self._memory:
                    return member
                offenders.pop(author_id)  # the offence is forgotten; the window is kept
                member.offences = member.burst = 0
                guild.members.put(author_id, member, now)
                return member
        return guild.members.get(author_id)

    def _upgrade(
        self, guild: _Guild, author_id: int, found: _Member | _Entry | None, now: float
    ) -> _Member:
        """The member's full state, built from their one entry (or made) when needed."""
        if isinstance(found, _Member):
            return found
        member = _Member()
        if found is not None:
            member.add(found, found[0] - 1.0, self._history)
        guild.members.put(author_id, member, now)
        return member

    def _lure(self, model: TextModel, text: str, newcomer: bool) -> SpamReason | None:
        """The text model's reason when the text reads as spam (scored only where it matters)."""
        score = model.score(text)
        if score is None:
            return None
        if newcomer and score >= self._text_logit:
            return SpamReason("spam_text", f"a newcomer's text scores {sigmoid(score):.3f}")
        if not newcomer and score >= self._text_alert_logit:  # scored for its link
            return SpamReason("spam_text_link", f"text with a link scores {sigmoid(score):.3f}")
        return None

    def _first_message_flagged(self, mentions: int, links: int, invites: int) -> bool:
        """Whether a member's first message carries what a first message may not."""
        rules = self.rules
        return (
            (invites > 0 and not rules.first_message_invites)
            or links > rules.first_message_max_links
            or mentions > rules.first_message_max_mentions
        )

    def _reasons(
        self,
        member: _Member,
        limits: _Limits,
        msg: SpamMessage,
        now: float,
        copies: int,
        raid: _Raid | None,
        alert: bool,
    ) -> list[SpamReason]:
        """Every signal that fired, worked out again on the (rare) flagged message."""
        rules = self.rules
        entries = member.entries
        count = len(entries)
        reasons: list[SpamReason] = []
        if count > limits.messages and entries[-limits.messages - 1][0] > now - rules.rate_seconds:
            reasons.append(
                SpamReason("flood", f"{limits.messages + 1}+ messages in {rules.rate_seconds:g}s")
            )
        if copies > limits.duplicates:
            reasons.append(SpamReason("duplicates", f"{copies} copies"))
        sums: tuple[tuple[ReasonKind, int, int], ...] = (
            ("mentions", member.mentions, limits.mentions),
            ("links", member.links, limits.links),
            ("invites", member.invites, limits.invites),
            ("emojis", member.emojis, limits.emojis),
        )
        for kind, total, limit in sums:
            if total > limit:
                reasons.append(SpamReason(kind, f"{total} {kind} in {rules.window_seconds:g}s"))
        last = entries[-1]
        mentions, links, invites = last[4], last[5], last[6]
        if msg.first_message and self._first_message_flagged(mentions, links, invites):
            detail = f"{invites} invites, {links} links, {mentions} mentions"
            reasons.append(SpamReason("first_message", detail))
        if raid is not None:
            reasons.append(SpamReason("raid", f"{len(raid[1])} members posted this"))
        if alert:
            rate = f"{rules.channel_max_messages + 1}+ messages in {rules.channel_rate_seconds:g}s"
            reasons.append(SpamReason("channel_flood", rate))
        return reasons

    def tracked_counts(self, guild_id: int) -> dict[str, int]:
        """How much one server holds: members, offenders, entries, texts, posts, channels."""
        guild = self._guilds.get(guild_id)
        if guild is None:
            return dict.fromkeys(_COUNTS, 0)
        members = guild.members.values() + guild.offenders.values()
        texts = guild.texts.values()
        return {
            "members": len(members),
            "offenders": len(guild.offenders),
            "entries": sum(1 if isinstance(m, tuple) else len(m.entries) for m in members),
            "texts": len(texts),
            "posts": sum(1 if isinstance(t, tuple) else len(t.posts) for t in texts),
            "channels": len(guild.channels),
        }

    def offence_level(self, guild_id: int, author_id: int, now: float) -> int:
        """A member's remembered offences (0 when clean or forgotten)."""
        guild = self._guilds.get(guild_id)
        found = None if guild is None else self._find(guild, author_id, now)
        return found.offences if isinstance(found, _Member) else 0

    def forget_guild(self, guild_id: int) -> None:
        """Drop a server's state (the bot left it)."""
        self._guilds.pop(guild_id, None)

    def _raid_check(self, guild: _Guild, key: bytes, msg: SpamMessage, now: float) -> _Raid | None:
        """Post the text; once enough members posted it, the raid (first: alert due)."""
        rules = self.rules
        texts = guild.texts
        post = (now, msg.author_id, msg.channel_id, msg.message_id)
        found = texts.get(key)
        if found is None:
            texts.put(key, post, now)
            return None
        if isinstance(found, tuple):
            seen = _Text()
            seen.posts.append(found)
        else:
            seen = found
        texts.put(key, seen, now)
        posts = seen.posts
        horizon = now - rules.raid_seconds
        while posts and posts[0][0] <= horizon:
            posts.popleft()
        if len(posts) >= rules.raid_accounts * 4:
            posts.popleft()  # a long raid: the newest copies are what's left to delete
        posts.append(post)
        if len(posts) < rules.raid_accounts:
            return None
        authors = tuple(dict.fromkeys(p[1] for p in posts))
        if len(authors) < rules.raid_accounts:
            return None
        first = not seen.alerted
        seen.alerted = True
        return seen, authors, first

    def _channel_check(
        self, guild: _Guild, channel_id: int, now: float, *, counted: bool = False
    ) -> bool:
        """Record a message in its channel; True when the rate tops the limit (alert due)."""
        rules = self.rules
        channel = guild.channels.get(channel_id)
        if channel is None:
            channel = _Channel(rules.channel_max_messages + 1)
        if not counted:
            guild.channels.put(channel_id, channel, now)
            channel.times.append(now)
        times = channel.times
        if len(times) <= rules.channel_max_messages or times[0] <= now - rules.channel_rate_seconds:
            return False
        if now - channel.last_alert < rules.alert_cooldown_seconds:
            return False
        channel.last_alert = now
        return True

    def _verdict(
        self,
        guild: _Guild,
        member: _Member,
        msg: SpamMessage,
        now: float,
        reasons: list[SpamReason],
        copies: list[tuple[int, int]],
        raid: _Raid | None,
    ) -> SpamVerdict:
        """Escalate the member's offences and turn the reasons into a response."""
        rules = self.rules
        weight = max(WEIGHTS[r.kind] for r in reasons)
        alert = any(WEIGHTS[r.kind] == 0 for r in reasons) or (raid is not None and raid[2])
        if weight == 0:  # alert-only reasons (channel flood, a regular's lure): punish nobody
            return SpamVerdict(
                msg.guild_id, msg.channel_id, msg.author_id, msg.message_id,
                tuple(reasons), (), 0, 0, 0, alert=True,
            )  # fmt: skip
        member.burst += 1
        new = (
            not member.offences
            or now - member.last_offence >= rules.offence_gap_seconds
            or member.burst > rules.max_messages
        )
        if new:
            member.offences += 1
            member.burst = 1
            if member.offences == 1:  # out of the member tables, into the offenders'
                guild.members.pop(msg.author_id)
                guild.offenders.put(msg.author_id, member, now)
        member.last_offence = now
        level = member.offences + weight - 1
        steps = rules.timeout_minutes
        timeout = steps[min(level, len(steps)) - 1] if new else 0
        if level >= rules.alert_level and now - member.last_alert >= rules.alert_cooldown_seconds:
            member.last_alert = now
            alert = True
        wanted: dict[tuple[int, int], None] = {(msg.channel_id, msg.message_id): None}
        if any(r.kind == "duplicates" for r in reasons):
            wanted.update(dict.fromkeys(c for c in copies if c[1] > member.deleted_through))
        raiders: tuple[int, ...] = ()
        if raid is not None:
            raiders = raid[1]
            wanted.update(dict.fromkeys((p[2], p[3]) for p in raid[0].posts))
        member.deleted_through = max(member.deleted_through, msg.message_id)
        return SpamVerdict(
            msg.guild_id,
            msg.channel_id,
            msg.author_id,
            msg.message_id,
            tuple(reasons),
            tuple(wanted),
            timeout,
            weight if new else 0,
            level,
            alert,
            raiders,
        )
