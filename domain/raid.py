"""Raid detection, pure: joins and messages in, a level and the suspected raiders out.

Raids are many accounts arriving at once, so the detector watches join counts over two
sliding windows (a short one for bursts, a long one for slow waves). Volume alone is only
*elevated* (a shout-out also brings a crowd); a *raid* needs the crowd to look
manufactured: mostly young accounts, default avatars, similar names, or one invite. Message
raids are many recently joined members posting the same text.

No I/O and no clock: every call takes ``now``, so the gateway, the simulator and the tests
drive time. Memory is bounded: windows and the suspect history are capped deques, and the
counters only hold keys still in a window. Once raised, the level holds (hysteresis, so a
lockdown does not flap) until no join or message has arrived at an elevated reading for
``quiet_seconds``; then the episode ends and its events are forgotten. The workflow
lifting a lockdown asks :meth:`RaidDetector.quiet_for`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from domain.normalize import fold

RaidLevel = Literal["none", "elevated", "raid"]
RaidPreset = Literal["relaxed", "standard", "strict"]
SignalKind = Literal["join", "message"]

_RANK: dict[RaidLevel, int] = {"none": 0, "elevated": 1, "raid": 2}
_PREFIX_LEN = 5
"""Letters of a name's skeleton that make its prefix/suffix key; short enough for
'raider0001-abcd' and 'raiderz_77' to meet, long enough that 'alice' and 'alex' do not."""
_MIN_SKELETON = 3
_MIN_SHAPE_RUNS = 4
"""Only names with this many letter/digit/separator runs get a shape key: 'alex_99' (3 runs)
has a shape thousands of real people share; 'kqzvb_4821_xj' (5 runs) is a generator's."""
_TOP_CLUSTERS = 3


@dataclass(frozen=True, slots=True)
class RaidRules:
    """Thresholds for one server; :meth:`from_preset` gives the three tuned sets.

    Shares are fractions of the joins in a window. A window at its join threshold is
    *elevated*; with ``min_signals`` of the share signals (young accounts, default avatars,
    similar names, one invite) it is a *raid*; so is volume alone at ``volume_raid_factor``
    times the threshold (None: never on volume alone). Suspects score ``young`` 2,
    ``name cluster`` 2, ``default avatar`` 1, ``same invite`` 1 and are listed from
    ``suspect_score`` up, so an old account needs more than one weak mark.
    """

    join_threshold: int = 10
    window_seconds: float = 10.0
    long_join_threshold: int = 60
    long_window_seconds: float = 600.0
    new_account_hours: float = 24.0
    young_share: float = 0.5
    default_avatar_share: float = 0.6
    similar_name_share: float = 0.4
    same_invite_share: float = 0.8
    min_cluster_size: int = 5
    min_signals: int = 1
    volume_raid_factor: float | None = 5.0
    elevated_fraction: float = 0.5
    """A window at this fraction of its threshold *with* signals is already elevated."""
    suspect_score: int = 3
    quiet_seconds: float = 300.0
    message_threshold: int = 5
    message_window_seconds: float = 30.0
    message_member_hours: float = 24.0
    """Only members who joined this recently count towards (and are suspected of) a message
    raid: long-standing members quoting a meme are not raiders."""
    message_min_chars: int = 8
    """Shorter texts ('hi', 'hello!') are what new members legitimately all say."""
    max_tracked_joins: int = 10_000
    max_tracked_messages: int = 10_000

    def __post_init__(self) -> None:
        """Reject numbers that would make the detector silent or unbounded."""
        problems = []
        if self.join_threshold < 2 or self.long_join_threshold < 2:
            problems.append("join thresholds must be at least 2")
        if min(self.window_seconds, self.long_window_seconds, self.message_window_seconds) <= 0:
            problems.append("windows must be positive")
        if self.new_account_hours <= 0 or self.message_member_hours <= 0:
            problems.append("hours must be positive")
        shares = (
            self.young_share,
            self.default_avatar_share,
            self.similar_name_share,
            self.same_invite_share,
            self.elevated_fraction,
        )
        if not all(0 < s <= 1 for s in shares):
            problems.append("shares must be in (0, 1]")
        if not 1 <= self.min_signals <= 4:
            problems.append("min_signals must be 1..4")
        if self.volume_raid_factor is not None and self.volume_raid_factor < 1:
            problems.append("volume_raid_factor must be at least 1")
        if self.min_cluster_size < 2 or self.message_threshold < 2 or self.suspect_score < 1:
            problems.append("cluster size and message threshold >= 2, suspect_score >= 1")
        if self.quiet_seconds < 0:
            problems.append("quiet_seconds must not be negative")
        cap = max(self.join_threshold, self.long_join_threshold)
        if self.max_tracked_joins < cap or self.max_tracked_messages < self.message_threshold:
            problems.append("caps must hold at least one threshold's worth of events")
        if problems:
            raise ValueError("invalid raid rules: " + "; ".join(problems))

    @classmethod
    def from_preset(
        cls,
        preset: RaidPreset = "standard",
        *,
        join_threshold: int | None = None,
        window_seconds: float | None = None,
        new_account_hours: float | None = None,
    ) -> RaidRules:
        """The preset's rules with the server's explicit numbers (None keeps the preset's).

        A changed short-window rate scales the long window's threshold alike, so raising
        the bar for bursts does not leave the slow-wave bar below it.
        """
        base = _PRESETS[preset]
        rules = base
        if join_threshold is not None or window_seconds is not None:
            threshold = base.join_threshold if join_threshold is None else join_threshold
            window = base.window_seconds if window_seconds is None else window_seconds
            ratio = (threshold / window) / (base.join_threshold / base.window_seconds)
            ceiling = max(base.max_tracked_joins, threshold + 1)
            long_threshold = min(
                max(round(base.long_join_threshold * ratio), threshold + 1), ceiling
            )
            rules = replace(
                rules,
                join_threshold=threshold,
                window_seconds=window,
                long_join_threshold=long_threshold,
                max_tracked_joins=ceiling,
            )
        if new_account_hours is not None:
            rules = replace(rules, new_account_hours=new_account_hours)
        return rules


_PRESETS: dict[RaidPreset, RaidRules] = {
    # Busy public servers: big shout-out crowds are normal; need two signals for a raid.
    "relaxed": RaidRules(
        join_threshold=25,
        long_join_threshold=150,
        young_share=0.7,
        default_avatar_share=0.8,
        similar_name_share=0.6,
        same_invite_share=0.9,
        min_cluster_size=8,
        min_signals=2,
        volume_raid_factor=None,
        suspect_score=4,
        quiet_seconds=120.0,
        message_threshold=8,
    ),
    "standard": RaidRules(),
    # Small or targeted servers: few joins are already unusual; one young account is enough.
    "strict": RaidRules(
        join_threshold=5,
        long_join_threshold=40,
        young_share=0.3,
        default_avatar_share=0.4,
        similar_name_share=0.3,
        same_invite_share=0.75,
        min_cluster_size=4,
        volume_raid_factor=3.0,
        suspect_score=2,
        quiet_seconds=600.0,
        message_threshold=3,
    ),
}


@dataclass(frozen=True, slots=True)
class JoinEvent:
    """One member joining; ``invite_code`` is None when the invite could not be told."""

    user_id: int
    joined_at: datetime
    account_created_at: datetime
    username: str
    has_default_avatar: bool
    invite_code: str | None = None


@dataclass(frozen=True, slots=True)
class Suspect:
    """A member the lockdown may propose removing, with why (for the moderator to judge)."""

    user_id: int
    score: int
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RaidSignal:
    """Something to act on: the level rose, or more suspects arrived during a raid.

    ``escalated`` is True when this event raised the level; then ``suspects`` lists every
    suspect since the episode began (ids may repeat across signals: act idempotently).
    Otherwise it names the newcomers only.
    """

    kind: SignalKind
    level: RaidLevel
    escalated: bool
    reasons: tuple[str, ...]
    suspects: tuple[Suspect, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class NameCluster:
    """Joins in the long window sharing a name key ('p:raide', 's:gamer', 'shape:...')."""

    key: str
    size: int


@dataclass(frozen=True, slots=True)
class RaidState:
    """A summary for dashboards and the lockdown workflow."""

    level: RaidLevel
    joins_in_window: int
    joins_in_long_window: int
    joins_per_minute: float
    young_share: float
    default_avatar_share: float
    dominant_invite: str | None
    dominant_invite_share: float
    name_clusters: tuple[NameCluster, ...]
    top_message_authors: int
    quiet_for: timedelta | None


def name_keys(username: str) -> tuple[str, ...]:
    """Keys under which similar names meet: prefix, suffix and (for busy names) shape.

    Raid tools vary digits, separators, case and look-alike letters around a fixed word, or
    fill a fixed pattern with random letters; the skeleton (folded letters only) exposes
    the first, the run shape ('a6d4-a4') the second. At most three keys: bounded cost.
    """
    skeleton = _NOT_LETTERS.sub("", fold(username))
    keys: list[str] = []
    if len(skeleton) >= _MIN_SKELETON:
        keys.append("p:" + skeleton[:_PREFIX_LEN])
        if len(skeleton) > _PREFIX_LEN:
            keys.append("s:" + skeleton[-_PREFIX_LEN:])
    runs = _RUN.findall(username if username.isascii() else unicodedata.normalize("NFKC", username))
    if len(runs) >= _MIN_SHAPE_RUNS:
        shape = [
            (f"a{len(run)}" if run[0].isalpha() else f"d{len(run)}") if run[0].isalnum() else "-"
            for run in runs
        ]
        keys.append("shape:" + "".join(shape))
    return tuple(keys)


_NOT_LETTERS = re.compile(r"[\W\d_]+")
_RUN = re.compile(r"[^\W\d_]+|\d+|[\W_]+")


_MENTION = re.compile(r"<(?:@[!&]?|#)\d+>|@\S+")
_URL_TAIL = re.compile(r"(https?://[^\s/?#]+)\S*")


def message_key(text: str) -> str:
    """What makes two raid messages 'the same': folded, mentions and URL paths dropped.

    Raiders mention different victims and vary link paths; the rest of the spam is fixed.
    """
    text = _MENTION.sub(" ", text)
    text = _URL_TAIL.sub(r"\1", text)
    return " ".join(fold(text).split())


class _TopCounter:
    """Counts per key and the largest count, in O(1): a histogram of counts tracks the top.

    The top key itself is only looked up for reasons and summaries (O(keys)).
    """

    __slots__ = ("_counts", "_freq", "_top")

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._freq: dict[int, int] = {}
        self._top = 0

    def add(self, key: str) -> None:
        counts, freq = self._counts, self._freq
        new = counts.get(key, 0) + 1
        counts[key] = new
        if new > 1:
            left = freq[new - 1] - 1
            if left:
                freq[new - 1] = left
            else:
                del freq[new - 1]
        freq[new] = freq.get(new, 0) + 1
        if new > self._top:
            self._top = new

    def remove(self, key: str) -> None:
        counts, freq = self._counts, self._freq
        old = counts[key]
        left = freq[old] - 1
        if left:
            freq[old] = left
        else:
            del freq[old]
            if old == self._top:
                self._top = old - 1  # the key just lowered now holds the top
        if old > 1:
            counts[key] = old - 1
            freq[old - 1] = freq.get(old - 1, 0) + 1
        else:
            del counts[key]

    def get(self, key: str) -> int:
        return self._counts.get(key, 0)

    @property
    def top_count(self) -> int:
        return self._top

    def top_key(self) -> str | None:
        return max(self._counts, key=self._counts.__getitem__, default=None)

    def at_least(self, size: int) -> list[tuple[str, int]]:
        big = [(k, c) for k, c in self._counts.items() if c >= size]
        return sorted(big, key=lambda kc: (-kc[1], kc[0]))

    def __len__(self) -> int:
        return len(self._counts)


class _Join:
    """A join as tracked; its name keys are worked out only if a window needs them."""

    __slots__ = ("_keys", "event", "young")

    def __init__(self, event: JoinEvent, young: bool) -> None:
        self.event = event
        self.young = young
        self._keys: tuple[str, ...] | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        if self._keys is None:
            self._keys = name_keys(self.event.username)
        return self._keys


class _Window:
    """Joins within ``span`` of now, with running counts of each signal.

    Invite and name counts cost most, and ordinary traffic never needs them: they are built
    from the joins when first asked for (only at a crowd's size, ``bar``) and kept up to
    date until the window empties below half of that.
    """

    __slots__ = ("_invites", "_names", "avatars", "bar", "cap", "joins", "span", "young")

    def __init__(self, span: timedelta, cap: int, bar: float) -> None:
        self.span = span
        self.cap = cap
        self.bar = bar
        self.joins: deque[_Join] = deque()
        self.young = 0
        self.avatars = 0
        self._invites: _TopCounter | None = None
        self._names: _TopCounter | None = None

    @property
    def invites(self) -> _TopCounter:
        if self._invites is None:
            self._count()
        assert self._invites is not None
        return self._invites

    @property
    def names(self) -> _TopCounter:
        if self._names is None:
            self._count()
        assert self._names is not None
        return self._names

    def _count(self) -> None:
        invites, names = _TopCounter(), _TopCounter()
        for join in self.joins:
            if join.event.invite_code is not None:
                invites.add(join.event.invite_code)
            for key in join.keys:
                names.add(key)
        self._invites, self._names = invites, names

    def add(self, join: _Join) -> None:
        self.joins.append(join)
        self.young += join.young
        self.avatars += join.event.has_default_avatar
        if self._names is not None and self._invites is not None:
            if join.event.invite_code is not None:
                self._invites.add(join.event.invite_code)
            for key in join.keys:
                self._names.add(key)
        if len(self.joins) > self.cap:
            self._drop()

    def prune(self, now: datetime) -> None:
        start = now - self.span
        joins = self.joins
        while joins and joins[0].event.joined_at <= start:
            self._drop()
        if self._names is not None and len(joins) < self.bar / 2:
            self._invites = self._names = None

    def _drop(self) -> None:
        join = self.joins.popleft()
        self.young -= join.young
        self.avatars -= join.event.has_default_avatar
        if self._names is not None and self._invites is not None:
            if join.event.invite_code is not None:
                self._invites.remove(join.event.invite_code)
            for key in join.keys:
                self._names.remove(key)


@dataclass(frozen=True, slots=True)
class _Verdict:
    """A level and what produced it: a join window (with its threshold) or messages."""

    level: RaidLevel
    window: _Window | None = None
    threshold: int = 0
    since: datetime | None = None


_CALM = _Verdict("none")


class RaidDetector:
    """One server's raid state; feed it every join and message, in time order."""

    def __init__(self, rules: RaidRules | None = None) -> None:
        self.rules = rules or RaidRules()
        r = self.rules
        self._young_age = timedelta(hours=r.new_account_hours)
        self._short = _Window(
            timedelta(seconds=r.window_seconds),
            r.max_tracked_joins,
            r.join_threshold * r.elevated_fraction,
        )
        self._long = _Window(
            timedelta(seconds=r.long_window_seconds), r.max_tracked_joins, r.long_join_threshold
        )
        self._recent: deque[_Join] = deque(maxlen=r.max_tracked_joins)
        self._quiet = timedelta(seconds=r.quiet_seconds)
        self._level: RaidLevel = "none"
        self._last_hot: datetime | None = None
        self._episode_start: datetime | None = None
        self._reasons: tuple[str, ...] = ()
        self._short_level: RaidLevel = "none"  # as of the last verdict: is a burst going on
        # message raids: (at, author, key) in the window; posts per (key, author); authors per key
        self._message_span = timedelta(seconds=r.message_window_seconds)
        self._member_recent = timedelta(hours=r.message_member_hours)
        self._messages: deque[tuple[datetime, int, str]] = deque()
        self._posts: dict[tuple[str, int], int] = {}
        self._authors = _TopCounter()

    @property
    def level(self) -> RaidLevel:
        """The held level as of the last call (:meth:`state` brings it to a given time)."""
        return self._level

    def observe_join(self, event: JoinEvent, now: datetime) -> RaidSignal | None:
        """Record a join; a signal when the level rises or, during a raid, for a suspect."""
        young = event.joined_at - event.account_created_at < self._young_age
        join = _Join(event, young)
        self._prune(now)
        self._decay(now)
        self._short.add(join)
        self._long.add(join)
        self._recent.append(join)
        before = self._level
        verdict = self._verdict()
        self._raise(verdict, now)
        if _RANK[self._level] > _RANK[before]:
            return self._escalation(verdict, now)
        if self._level == "raid":
            # after the burst the long window stays full for a while: then only joins that
            # match the raid's name or invite cluster are suspects, not any young account
            suspect = self._score(join, clustered_only=self._short_level == "none")
            if suspect is not None:
                return RaidSignal("join", "raid", False, self._reasons, (suspect,), now)
        return None

    def observe_message(
        self, author_id: int, text_key: str, author_joined_at: datetime, now: datetime
    ) -> RaidSignal | None:
        """Record a message (``text_key`` from :func:`message_key`) by its author.

        Only members who joined within ``message_member_hours`` and texts of at least
        ``message_min_chars`` count. A signal when the level rises, when a text reaches
        ``message_threshold`` authors (all of them), or for each further author of it.
        """
        self._prune(now)
        self._decay(now)
        r = self.rules
        new_author = False
        if len(text_key) >= r.message_min_chars and now - author_joined_at <= self._member_recent:
            post = (text_key, author_id)
            new_author = post not in self._posts
            self._posts[post] = self._posts.get(post, 0) + 1
            self._messages.append((now, author_id, text_key))
            if new_author:
                self._authors.add(text_key)
            if len(self._messages) > r.max_tracked_messages:
                self._drop_message()
        before = self._level
        verdict = self._verdict()
        self._raise(verdict, now)
        if _RANK[self._level] > _RANK[before]:
            return self._escalation(verdict, now)
        authors = self._authors.get(text_key)
        if not new_author or authors < r.message_threshold:
            return None
        reasons = (f"{authors} recently joined members posted the same text",)
        ids = self._authors_of(text_key) if authors == r.message_threshold else [author_id]
        suspects = tuple(self._message_suspect(text_key, author) for author in ids)
        return RaidSignal("message", self._level, False, reasons, suspects, now)

    def quiet_for(self, now: datetime) -> timedelta | None:
        """Time since the last join or message that arrived at an elevated reading.

        None if none ever has. The level falls back to none once this reaches
        ``quiet_seconds`` (at the next call).
        """
        return None if self._last_hot is None else max(now - self._last_hot, timedelta(0))

    def state(self, now: datetime) -> RaidState:
        """The windows as of ``now``, with the held level decayed if it has gone quiet."""
        self._prune(now)
        self._decay(now)
        short = self._short
        n = len(short.joins)
        clusters = tuple(
            NameCluster(k, c) for k, c in self._long.names.at_least(self.rules.min_cluster_size)
        )[:_TOP_CLUSTERS]
        return RaidState(
            level=self._level,
            joins_in_window=n,
            joins_in_long_window=len(self._long.joins),
            joins_per_minute=n * 60.0 / self.rules.window_seconds,
            young_share=short.young / n if n else 0.0,
            default_avatar_share=short.avatars / n if n else 0.0,
            dominant_invite=short.invites.top_key(),
            dominant_invite_share=short.invites.top_count / n if n else 0.0,
            name_clusters=clusters,
            top_message_authors=self._authors.top_count,
            quiet_for=self.quiet_for(now),
        )

    # -- internals -------------------------------------------------------------------------

    def _prune(self, now: datetime) -> None:
        self._short.prune(now)
        self._long.prune(now)
        start = now - self._message_span
        while self._messages and self._messages[0][0] <= start:
            self._drop_message()

    def _decay(self, now: datetime) -> None:
        """End the episode after ``quiet_seconds`` without an event at an elevated verdict.

        Its joins and messages are forgotten, so a raid's tail in the long window cannot
        raise the level again for the next ordinary join.
        """
        if self._level == "none" or self._last_hot is None or now - self._last_hot < self._quiet:
            return
        r = self.rules
        self._short = _Window(self._short.span, r.max_tracked_joins, self._short.bar)
        self._long = _Window(self._long.span, r.max_tracked_joins, self._long.bar)
        self._recent.clear()
        self._messages.clear()
        self._posts.clear()
        self._authors = _TopCounter()
        self._level = "none"
        self._episode_start = None
        self._reasons = ()

    def _raise(self, verdict: _Verdict, now: datetime) -> None:
        """An event at an elevated verdict is 'hot'; the level rises at once, never falls here."""
        if verdict.level == "none":
            return
        self._last_hot = now
        if _RANK[verdict.level] > _RANK[self._level]:
            if self._level == "none":
                self._episode_start = verdict.since
            self._level = verdict.level
            self._reasons = self._describe(verdict)

    def _verdict(self) -> _Verdict:
        r = self.rules
        best = _CALM
        for window, threshold in (
            (self._short, r.join_threshold),
            (self._long, r.long_join_threshold),
        ):
            level = self._window_level(window, threshold, early=window is self._short)
            if window is self._short:
                self._short_level = level
            if _RANK[level] > _RANK[best.level]:
                best = _Verdict(level, window, threshold, window.joins[0].event.joined_at)
                if level == "raid":
                    return best
        authors = self._authors.top_count
        if authors >= r.message_threshold * r.elevated_fraction:
            level = "raid" if authors >= r.message_threshold else "elevated"
            if _RANK[level] > _RANK[best.level]:
                return _Verdict(level, since=self._messages[0][0])
        return best

    def _window_level(self, window: _Window, threshold: int, *, early: bool) -> RaidLevel:
        """Volume decides if it is a crowd, signals if it is a raid.

        Only the short window is ``early`` (elevated below its threshold when the joins
        look manufactured): a long window of ordinary joins is mostly one vanity invite.
        """
        r = self.rules
        n = len(window.joins)
        if n < threshold * (r.elevated_fraction if early else 1.0):
            return "none"
        signals = len(self._signals(window, n))
        if n >= threshold:
            factor = r.volume_raid_factor
            if signals >= r.min_signals or (factor is not None and n >= threshold * factor):
                return "raid"
            return "elevated"
        return "elevated" if signals >= r.min_signals else "none"

    def _signals(self, window: _Window, n: int) -> list[str]:
        """Which signals a window shows, as reason templates (formatted only when reported)."""
        r = self.rules
        hits = []
        if window.young >= r.young_share * n:
            hits.append("young")
        if window.avatars >= r.default_avatar_share * n:
            hits.append("avatar")
        if window.names.top_count >= max(r.min_cluster_size, r.similar_name_share * n):
            hits.append("names")
        if window.invites.top_count >= max(r.min_cluster_size, r.same_invite_share * n):
            hits.append("invite")
        return hits

    def _describe(self, verdict: _Verdict) -> tuple[str, ...]:
        window = verdict.window
        if window is None:
            key = self._authors.top_key()
            count = self._authors.top_count
            return (f"{count} recently joined members posted the same text: {key!r:.80}",)
        n = len(window.joins)
        reasons = [
            f"{n} joins in {window.span.total_seconds():g} s (threshold {verdict.threshold})"
        ]
        for hit in self._signals(window, n):
            if hit == "young":
                hours = self.rules.new_account_hours
                reasons.append(f"{window.young}/{n} accounts younger than {hours:g} h")
            elif hit == "avatar":
                reasons.append(f"{window.avatars}/{n} default avatars")
            elif hit == "names":
                key = window.names.top_key()
                reasons.append(f"{window.names.top_count}/{n} similar names ({key})")
            else:
                code = window.invites.top_key()
                reasons.append(f"{window.invites.top_count}/{n} joined through invite {code}")
        return tuple(reasons)

    def _score(self, join: _Join, *, clustered_only: bool = False) -> Suspect | None:
        """Score a join against the current windows; None below ``suspect_score``.

        Clusters count only at the share that makes them a raid signal, so five ordinary
        'alex...' joins in ten busy minutes do not mark the next Alex.
        """
        r = self.rules
        windows = (self._short, self._long)
        score = 0
        reasons: list[str] = []
        if join.young:
            score += 2
            reasons.append("young account")
        clustered = False
        if any(
            w.names.get(k) >= max(r.min_cluster_size, r.similar_name_share * len(w.joins))
            for w in windows
            for k in join.keys
        ):
            score += 2
            reasons.append("similar name")
            clustered = True
        if join.event.has_default_avatar:
            score += 1
            reasons.append("default avatar")
        code = join.event.invite_code
        if code is not None and any(
            w.invites.get(code) >= max(r.min_cluster_size, r.same_invite_share * len(w.joins))
            for w in windows
        ):
            score += 1
            reasons.append(f"invite {code}")
            clustered = True
        if score < r.suspect_score or (clustered_only and not clustered):
            return None
        return Suspect(join.event.user_id, score, tuple(reasons))

    def _escalation(self, verdict: _Verdict, now: datetime) -> RaidSignal:
        """The signal for a rise: every suspect of the episode so far."""
        if verdict.window is None:
            key = self._authors.top_key() or ""
            authors = self._authors_of(key)
            suspects = tuple(self._message_suspect(key, a) for a in authors)
            return RaidSignal("message", self._level, True, self._reasons, suspects, now)
        start = self._episode_start or verdict.since or now
        episode = (j for j in self._recent if j.event.joined_at >= start)
        scored = tuple(s for s in map(self._score, episode) if s is not None)
        return RaidSignal("join", self._level, True, self._reasons, scored, now)

    def _message_suspect(self, text_key: str, author: int) -> Suspect:
        posts = self._posts.get((text_key, author), 0)
        return Suspect(author, posts, (f"posted the raid text {posts}x",))

    def _authors_of(self, text_key: str) -> list[int]:
        seen: dict[int, None] = {}
        for _, author, key in self._messages:
            if key == text_key:
                seen[author] = None
        return list(seen)

    def _drop_message(self) -> None:
        _, author, key = self._messages.popleft()
        post = (key, author)
        left = self._posts[post] - 1
        if left:
            self._posts[post] = left
        else:
            del self._posts[post]
            self._authors.remove(key)
