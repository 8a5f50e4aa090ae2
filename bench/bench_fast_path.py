"""The gateway's whole fast path per message on one core: automod, spam (with the text model), XP.

Per message, what ``gateway.bot.SuiteBot.on_message`` and ``gateway.spam_guard.SpamGuard``
do in-process, minus the network: automod judges the snapshot (every rule kind on, as in
bench_automod_all_rules); a message automod deletes stops there (one it only flags still feeds
the spam windows); bots stop; otherwise the first-message check, the guild's
:class:`SpamTracker` (shipped text model loaded), the raid detector for recently joined
members, and, unless spam deleted it, the XP award. Figure: ``fast_path_all_msgs_per_s``.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from automod_data import blocked_terms, corpus
from bench_automod_all_rules import (
    MEMBER_ROLE,
    REGEX_COUNT,
    TERM_COUNT,
    _listed_sample,
    _variant,
    regexes,
    server_rules,
)
from bench_xp import guild_rules

from dcs.scam_snapshot import shipped_detector
from dcs.spam_model import shipped_model
from domain.automod import CompiledAutomod, MessageSnapshot, compile_automod
from domain.leveling import LevelingRules
from domain.raid import RaidDetector, RaidRules, message_key
from domain.spam import SpamMessage, SpamTracker
from domain.xp_tracker import XPTracker

SEED = 20_240_605
GUILDS = 100
MEMBERS = 20_000
MESSAGES = 120_000
MESSAGES_PER_S = 150.0
"""Simulated arrival rate over all guilds (the busiest guild gets ~8 msg/s)."""
NEW_MEMBER_SHARE = 0.04
"""Members who joined during the stream, most with young accounts: first messages, scored."""
SPAM_SHARE = 0.03
"""Messages from spam accounts (bursts, copies across accounts, single lures)."""
FLUSH_EVERY_S = 5.0
REPEATS = 3
TARGET = 30_000
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
MESSAGE_MEMBER = timedelta(hours=24)

LURES = (
    "free discord nitro for 3 months, claim it before it's gone https://dlscord-nitro.gift/c",
    "i'm leaving the game and giving away my skins, trade here https://steamcommunnity.ru/t",
    "earn $300 a day from home trading crypto, no experience needed, dm me",
    "hey bro is this you in this video?? https://video-leak.top/you",
    "@everyone giveaway: 1 year of nitro for 5 people, enter https://nitro-giveaway.club",
    "can you test my new game? i'll pay you in nitro https://game-beta-test.net/setup.zip",
)


@dataclass(frozen=True, slots=True)
class Member:
    """A member of one guild: roles, account age, when they joined (None: long ago)."""

    guild_id: int
    user_id: int
    role_ids: frozenset[int]
    created: datetime
    joined: datetime
    is_new: bool
    weight: float


@dataclass(frozen=True, slots=True)
class Message:
    """One message as the gateway sees it: the snapshot plus its id and times."""

    snapshot: MessageSnapshot
    message_id: int
    at: float
    now: datetime
    joined: datetime
    roll: float


def population(rng: random.Random) -> list[Member]:
    """Members over skewed guild sizes, activity Pareto (capped: no member floods by chance);
    a few joined during the stream, most with young accounts."""
    weights = [1 / (rank + 1) ** 0.5 for rank in range(GUILDS)]
    out = []
    for index in range(MEMBERS):
        guild_id = rng.choices(range(GUILDS), weights=weights)[0]
        roles = frozenset({MEMBER_ROLE, guild_id * 1_000 + 500 + rng.randrange(10)})
        is_new = rng.random() < NEW_MEMBER_SHARE
        if is_new:
            created = START - timedelta(hours=rng.choice((1, 5, 20, 24 * 30, 24 * 400)))
            joined = START + timedelta(seconds=rng.uniform(0, MESSAGES / MESSAGES_PER_S))
        else:
            created = START - timedelta(days=rng.choice((40, 400, 2000)))
            joined = START - timedelta(days=rng.choice((3, 30, 300)))
        weight = 0.3 if is_new else min(30.0, rng.paretovariate(1.5))
        out.append(Member(guild_id, 10**15 + index, roles, created, joined, is_new, weight))
    return out


def _spam_text(rng: random.Random) -> str:
    """A lure, as sent (spammers vary the tail a little)."""
    return f"{rng.choice(LURES)} {rng.choice(('', '!!', '🔥', 'fast'))}".strip()


def stream(rng: random.Random) -> list[Message]:
    """Mostly chat (automod bench's corpus and variants), with spam accounts' lures."""
    members = population(rng)
    newcomers = [m for m in members if m.is_new]
    spammers, newcomers = newcomers[:40], newcomers[40:240]
    chatters = [m for m in members if not m.is_new]
    terms = blocked_terms(TERM_COUNT)
    _, triggers = regexes(REGEX_COUNT, random.Random(SEED))
    links = _listed_sample(rng)
    texts = [m.text for m in corpus(terms, 20_000, seed=SEED)]
    authors = rng.choices(chatters, weights=[m.weight for m in chatters], k=MESSAGES)
    at, out = 0.0, []
    extra: dict[str, Any]
    for i, author in enumerate(authors):
        at += rng.expovariate(MESSAGES_PER_S)
        now = START + timedelta(seconds=at)
        roll = rng.random()
        if roll < SPAM_SHARE:
            author = rng.choice([s for s in spammers if s.joined <= now] or chatters)
            content, extra = _spam_text(rng), {}
        else:
            if roll < SPAM_SHARE + 0.03:  # a newcomer who joined by now says something
                joined = [m for m in newcomers if m.joined <= now]
                author = rng.choice(joined) if joined else author
            content, extra = _variant(rng.choice(texts), rng, links, triggers)
        out.append(_message(author, content, extra, now, at, i, rng))
    return out


def _message(
    author: Member,
    content: str,
    extra: dict[str, Any],
    now: datetime,
    at: float,
    index: int,
    rng: random.Random,
) -> Message:
    """The snapshot the gateway would build for this message."""
    snapshot = MessageSnapshot(
        guild_id=author.guild_id,
        channel_id=author.guild_id * 1_000 + rng.randrange(12),
        author_id=author.user_id,
        author_role_ids=author.role_ids,
        author_is_bot=rng.random() < 0.01,
        content=content,
        category_id=951,
        account_created_at=author.created,
        joined_at=author.joined,
        now=now,
        own_invite_codes=frozenset({"ourserver"}),
    )
    if extra:
        snapshot = replace(snapshot, **extra)
    message_id = (int(at * 1000) << 22) + index
    return Message(snapshot, message_id, at + START.timestamp(), now, author.joined, rng.random())


class FastPath:
    """One gateway process's fast-path state: spam trackers, raid detectors, XP, posters seen."""

    def __init__(self, automod: CompiledAutomod, rules: dict[int, LevelingRules]) -> None:
        self.automod = automod
        self.rules = rules
        self.model = shipped_model()
        self.trackers: dict[int, SpamTracker] = {}
        self.raids: dict[int, RaidDetector] = {}
        self.seen: dict[int, set[int]] = {}
        self.xp = XPTracker()
        self.stored: dict[tuple[int, int], int] = {}
        self.counts = dict.fromkeys(("automod", "spam", "spam_deleted", "xp"), 0)

    def tracker(self, guild_id: int) -> SpamTracker:
        """The guild's tracker, built on first use with the process's one model."""
        tracker = self.trackers.get(guild_id)
        if tracker is None:
            tracker = self.trackers[guild_id] = SpamTracker(text_model=self.model)
        return tracker

    def spam(self, m: Message) -> bool:
        """SpamGuard.on_message without the network: True when the verdict deletes."""
        snap = m.snapshot
        seen = self.seen.setdefault(snap.guild_id, set())
        first = snap.author_id not in seen and m.joined >= START
        seen.add(snap.author_id)
        spam = SpamMessage.from_snapshot(snap, m.message_id, first_message=first)
        verdict = self.tracker(snap.guild_id).observe(spam, m.at)
        if m.now - m.joined <= MESSAGE_MEMBER:
            raid = self.raids.get(snap.guild_id)
            if raid is None:
                raid = self.raids[snap.guild_id] = RaidDetector(RaidRules.from_preset("standard"))
            raid.observe_message(snap.author_id, message_key(snap.content), m.joined, m.now)
        if verdict is None:
            return False
        self.counts["spam"] += 1
        self.counts["spam_deleted"] += verdict.deletes
        return verdict.deletes

    def handle(self, m: Message) -> None:
        """SuiteBot.on_message's decisions for one message."""
        snap = m.snapshot
        judgement = self.automod.judge(snap)
        if judgement is not None:
            self.counts["automod"] += 1
            if not judgement.deletes:
                self.spam(m)
            return
        if snap.author_is_bot or self.spam(m):
            return
        award = self.xp.award(
            self.rules[snap.guild_id],
            guild_id=snap.guild_id,
            user_id=snap.author_id,
            channel_id=snap.channel_id,
            role_ids=snap.author_role_ids,
            now=m.now,
            roll=m.roll,
        )
        if award is not None:
            self.counts["xp"] += 1
            if award.total_before is None:  # the gateway loads the stored total here
                key = (snap.guild_id, snap.author_id)
                self.xp.set_known_total(*key, self.stored.setdefault(key, 0))

    def flush(self) -> None:
        """The write-behind XP flush (off the fast path, not timed)."""
        for delta in self.xp.drain():
            key = (delta.guild_id, delta.user_id)
            self.stored[key] = self.stored.get(key, 0) + delta.xp
            self.xp.confirm(*key, self.stored[key])


def segments(messages: Sequence[Message]) -> list[list[Message]]:
    """The stream cut at every XP flush."""
    cuts: list[list[Message]] = [[]]
    boundary = START + timedelta(seconds=FLUSH_EVERY_S)
    for message in messages:
        if message.now >= boundary:
            cuts.append([])
            boundary += timedelta(seconds=FLUSH_EVERY_S)
        cuts[-1].append(message)
    return cuts


def sample(
    automod: CompiledAutomod, rules: dict[int, LevelingRules], cuts: list[list[Message]]
) -> dict[str, Any]:
    """One replay on fresh state; only the per-message loops are timed."""
    path = FastPath(automod, rules)
    handle, timed, messages = path.handle, 0.0, 0
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for cut in cuts:
            started = time.perf_counter()
            for message in cut:
                handle(message)
            timed += time.perf_counter() - started
            messages += len(cut)
            path.flush()
    finally:
        if gc_was_enabled:
            gc.enable()
    return {"msgs_per_s": messages / timed, "messages": messages, **path.counts}


def text_model_cost(messages: Sequence[Message]) -> dict[str, float]:
    """µs per scored text, and the share scored (links, young accounts; first messages aside)."""
    model = shipped_model()
    young = timedelta(hours=24)
    scored = [
        m.snapshot.content
        for m in messages
        if "://" in m.snapshot.content or (m.now - (m.snapshot.account_created_at or START)) < young
    ]
    score = model.score
    started = time.perf_counter()
    for text in scored:
        score(text)
    elapsed = time.perf_counter() - started
    return {
        "text_model_us_per_scored_msg": round(elapsed / max(1, len(scored)) * 1e6, 2),
        "text_model_scored_share": round(len(scored) / len(messages), 4),
    }


METHOD = (
    "msgs/s = messages / wall time of the loops running, per message, what the gateway's "
    "on_message does in-process: automod judge (every rule kind, 20,000 terms, 500 regexes, "
    "the shipped scam list; one compiled rule set shared by all guilds), then for messages "
    "automod did not delete the first-message check, the guild's SpamTracker.observe with the "
    "shipped text model, the raid detector for members who joined within 24 h, and the XP "
    "award for what spam did not delete (gc paused; XP flush every 5 simulated s untimed); "
    f"best of {REPEATS} replays on fresh state, pinned to one core by bench/run.py. Stream: "
    f"{MESSAGES:,} messages, {MEMBERS:,} members in {GUILDS} guilds (skewed sizes, Pareto "
    f"activity), {MESSAGES_PER_S:g} msg/s simulated; chat from bench/automod_data.py with "
    f"~11% variants (links, invites, mentions, caps...), ~{SPAM_SHARE:.0%} lures from spam "
    "accounts, ~3% from members who joined during the stream (first messages, young accounts)."
)


def run() -> dict[str, dict[str, Any]]:
    """Figures for ``bench/results/latest.json``; extra keys go to the details file."""
    rng = random.Random(SEED)
    terms = blocked_terms(TERM_COUNT)
    patterns, _ = regexes(REGEX_COUNT, random.Random(SEED))
    automod = compile_automod(server_rules(terms, patterns), scam_detector=shipped_detector())
    rules = {guild_id: guild_rules(rng, guild_id) for guild_id in range(GUILDS)}
    messages = stream(rng)
    cuts = segments(messages)
    samples = [sample(automod, rules, cuts) for _ in range(REPEATS)]
    if len({(s["spam"], s["xp"], s["automod"]) for s in samples}) != 1:
        raise RuntimeError(
            "replays of the same stream disagree; the fast path is not deterministic"
        )
    best = max(samples, key=lambda s: s["msgs_per_s"])
    return {
        "fast_path_all_msgs_per_s": {
            "value": round(best["msgs_per_s"]),
            "unit": "msgs/s",
            "min": TARGET,
            "method": METHOD,
            "samples": [round(s["msgs_per_s"]) for s in samples],
            **best,
            **text_model_cost(messages),
        }
    }
