"""XP and levels: level curves, XP gain per message, voice XP eligibility.

Pure logic (no I/O, no clock, no randomness): the caller passes the random ``roll``
that picks a message's XP. A server's :class:`LevelingRules` are plain values that can
travel as workflow inputs; :func:`compile_leveling` turns them into the lookup tables the
fast path (:mod:`domain.xp_tracker`) uses on every message.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from math import isqrt
from typing import Literal, get_args

Curve = Literal["mee6", "linear", "flat"]
CURVES: frozenset[str] = frozenset(get_args(Curve))
DEFAULT_BASE = 100
"""XP per level step of the linear and flat curves (MEE6's curve has its own constants)."""

Multipliers = tuple[tuple[int, float], ...]
"""Channel or role id -> XP multiplier, as sorted pairs so rules stay hashable."""

_FLOAT_SAFE = 2**52
"""Below this a total converts to float exactly enough for the MEE6 level estimate."""


def _check_level(level: int) -> None:
    """Levels start at 0; a negative one is a caller bug, not a value to clamp."""
    if level < 0:
        raise ValueError(f"level must not be negative, got {level}")


def _check_curve(curve: str, base: int) -> None:
    """Reject unknown curves and bases that would make a level free or negative."""
    if curve not in CURVES:
        raise ValueError(f"unknown curve {curve!r}; expected one of {sorted(CURVES)}")
    if base < 1:
        raise ValueError(f"base must be at least 1, got {base}")


def xp_to_next(curve: Curve, level: int, *, base: int = DEFAULT_BASE) -> int:
    """XP needed to go from ``level`` to ``level + 1``.

    MEE6: ``5n² + 50n + 100``; linear: ``base * (n + 1)``; flat: ``base``.
    """
    _check_curve(curve, base)
    _check_level(level)
    if curve == "mee6":
        return 5 * level * level + 50 * level + 100
    if curve == "linear":
        return base * (level + 1)
    return base


def total_xp_for_level(curve: Curve, level: int, *, base: int = DEFAULT_BASE) -> int:
    """Cumulative XP needed to reach ``level`` from 0, in closed form (O(1)).

    MEE6's sum of ``5k² + 50k + 100`` for k < n is ``(10n³ + 135n² + 455n) / 6``.
    """
    _check_curve(curve, base)
    _check_level(level)
    return _cumulative(curve, level, base)


def _cumulative(curve: str, level: int, base: int) -> int:
    """:func:`total_xp_for_level` without the argument checks, for inner loops."""
    if curve == "mee6":
        return (10 * level**3 + 135 * level * level + 455 * level) // 6
    if curve == "linear":
        return base * level * (level + 1) // 2
    return base * level


def _mee6_level(total_xp: int) -> int:
    """Highest MEE6 level whose cumulative XP is at most ``total_xp``.

    A float cube-root estimate lands within a level or two, and integer steps make it
    exact; totals too big for a float fall back to a bisection (O(log n)).
    """
    if total_xp >= _FLOAT_SAFE:
        return _bisect_level("mee6", total_xp, DEFAULT_BASE)
    # (5/3)(n + 4.5)³ is the cumulative sum plus ~25n, so this slightly overshoots.
    level = max(0, int((0.6 * total_xp) ** (1 / 3) - 4.5))
    while level > 0 and _cumulative("mee6", level, 0) > total_xp:
        level -= 1
    while _cumulative("mee6", level + 1, 0) <= total_xp:
        level += 1
    return level


def _bisect_level(curve: str, total_xp: int, base: int) -> int:
    """Highest level whose cumulative XP is at most ``total_xp``, by bisection."""
    high = 1
    while _cumulative(curve, high, base) <= total_xp:
        high *= 2
    low = high // 2  # cumulative(low) <= total_xp < cumulative(high), or low == 0
    while high - low > 1:
        middle = (low + high) // 2
        if _cumulative(curve, middle, base) <= total_xp:
            low = middle
        else:
            high = middle
    return low


def level_for_xp(
    curve: Curve, total_xp: int, *, base: int = DEFAULT_BASE, max_level: int | None = None
) -> int:
    """Level reached with ``total_xp`` (capped at ``max_level``), without building a progress."""
    _check_curve(curve, base)
    if total_xp < 0:
        raise ValueError(f"total_xp must not be negative, got {total_xp}")
    if curve == "mee6":
        level = _mee6_level(total_xp)
    elif curve == "linear":
        # base * n(n+1)/2 <= total  <=>  n(n+1)/2 <= total // base
        level = (isqrt(8 * (total_xp // base) + 1) - 1) // 2
    else:
        level = total_xp // base
    return level if max_level is None else min(level, max_level)


@dataclass(frozen=True, slots=True)
class LevelProgress:
    """Where a member stands: level, XP into it, XP still needed for the next one."""

    level: int
    xp_into_level: int
    xp_needed: int
    total_xp: int
    at_max: bool


def progress(
    curve: Curve, total_xp: int, max_level: int | None = None, *, base: int = DEFAULT_BASE
) -> LevelProgress:
    """Level and progress for a total; at ``max_level`` XP keeps counting but needs nothing."""
    if max_level is not None and max_level < 0:
        raise ValueError(f"max_level must not be negative, got {max_level}")
    level = level_for_xp(curve, total_xp, base=base, max_level=max_level)
    into = total_xp - _cumulative(curve, level, base)
    if max_level is not None and level >= max_level:
        return LevelProgress(level, into, 0, total_xp, at_max=True)
    needed = xp_to_next(curve, level, base=base) - into
    return LevelProgress(level, into, needed, total_xp, at_max=False)


def multipliers(value: Mapping[int, float] | Iterable[tuple[int, float]]) -> Multipliers:
    """Multipliers as :class:`LevelingRules` stores them: sorted pairs, none negative."""
    pairs = value.items() if isinstance(value, Mapping) else value
    normalised = {int(key): float(mult) for key, mult in pairs}
    for key, mult in normalised.items():
        if not mult >= 0:  # also refuses NaN
            raise ValueError(f"multiplier for {key} must be a number >= 0, got {mult}")
    return tuple(sorted(normalised.items()))


def _check_gain_range(what: str, min_gain: int, max_gain: int, cooldown_seconds: int) -> None:
    """Shared validation of a gain range and a cooldown."""
    if min_gain < 0 or min_gain > max_gain:
        raise ValueError(f"{what}: need 0 <= min_gain <= max_gain, got {min_gain}..{max_gain}")
    if cooldown_seconds < 0:
        raise ValueError(f"{what}: cooldown_seconds must not be negative")


@dataclass(frozen=True, slots=True)
class VoiceXPRules:
    """XP for time in voice: a gain per eligible minute, off by default."""

    enabled: bool = False
    min_gain: int = 5
    max_gain: int = 10
    cooldown_seconds: int = 60
    min_listeners: int = 2

    def __post_init__(self) -> None:
        _check_gain_range("voice", self.min_gain, self.max_gain, self.cooldown_seconds)
        if self.min_listeners < 0:
            raise ValueError("voice: min_listeners must not be negative")


@dataclass(frozen=True, slots=True)
class LevelingRules:
    """A server's XP configuration as plain values (MEE6-style defaults).

    Multipliers: the channel's multiplier times the HIGHEST multiplier among the member's
    roles that have one (1.0 when none has), as MEE6 does, so stacking boost roles does not
    compound. Build the multipliers with :func:`multipliers` from a mapping; pairs given
    directly are sorted and checked the same way.
    """

    min_gain: int = 15
    max_gain: int = 25
    cooldown_seconds: int = 60
    curve: Curve = "mee6"
    max_level: int | None = None
    channel_multipliers: Multipliers = ()
    role_multipliers: Multipliers = ()
    no_xp_channel_ids: frozenset[int] = field(default_factory=frozenset)
    no_xp_role_ids: frozenset[int] = field(default_factory=frozenset)
    voice: VoiceXPRules = field(default_factory=VoiceXPRules)
    curve_base: int = DEFAULT_BASE

    def __post_init__(self) -> None:
        # Accept lists/sets/dicts from config loaders but keep the value hashable and immutable.
        object.__setattr__(self, "channel_multipliers", multipliers(self.channel_multipliers))
        object.__setattr__(self, "role_multipliers", multipliers(self.role_multipliers))
        object.__setattr__(self, "no_xp_channel_ids", frozenset(self.no_xp_channel_ids))
        object.__setattr__(self, "no_xp_role_ids", frozenset(self.no_xp_role_ids))
        _check_gain_range("message", self.min_gain, self.max_gain, self.cooldown_seconds)
        _check_curve(self.curve, self.curve_base)
        if self.max_level is not None and self.max_level < 0:
            raise ValueError("max_level must not be negative")


def _pick_gain(min_gain: int, max_gain: int, roll: float) -> int:
    """Uniform integer in [min_gain, max_gain] from a roll in [0, 1)."""
    if not 0.0 <= roll < 1.0:
        raise ValueError(f"roll must be in [0, 1), got {roll}")
    return min(max_gain, min_gain + int(roll * (max_gain - min_gain + 1)))


def _highest_role_multiplier(lookup: Mapping[int, float], role_ids: Collection[int]) -> float:
    """Highest multiplier among the member's roles that have one; 1.0 when none has."""
    best: float | None = None
    for role_id in role_ids:
        mult = lookup.get(role_id)
        if mult is not None and (best is None or mult > best):
            best = mult
    return 1.0 if best is None else best


@dataclass(frozen=True, slots=True, eq=False)
class CompiledLeveling:
    """A server's rules with lookup tables and cooldowns precomputed for the fast path."""

    rules: LevelingRules
    channel_multipliers: Mapping[int, float]
    role_multipliers: Mapping[int, float]
    message_cooldown: timedelta
    voice_cooldown: timedelta

    def gain(
        self, *, channel_id: int, role_ids: Collection[int], roll: float, voice: bool = False
    ) -> int:
        """XP for one message (or one voice minute): 0 in a no-XP channel or for a no-XP role."""
        rules = self.rules
        if channel_id in rules.no_xp_channel_ids or not rules.no_xp_role_ids.isdisjoint(role_ids):
            return 0
        gains = rules.voice if voice else rules
        base = _pick_gain(gains.min_gain, gains.max_gain, roll)
        multiplier = self.channel_multipliers.get(channel_id, 1.0)
        if self.role_multipliers:
            multiplier *= _highest_role_multiplier(self.role_multipliers, role_ids)
        return base if multiplier == 1.0 else round(base * multiplier)


def compile_leveling(rules: LevelingRules) -> CompiledLeveling:
    """Compile a server's XP rules once per configuration change."""
    return CompiledLeveling(
        rules=rules,
        channel_multipliers=dict(rules.channel_multipliers),
        role_multipliers=dict(rules.role_multipliers),
        message_cooldown=timedelta(seconds=rules.cooldown_seconds),
        voice_cooldown=timedelta(seconds=rules.voice.cooldown_seconds),
    )


def gain_for_message(
    rules: LevelingRules, *, channel_id: int, role_ids: Collection[int], roll: float
) -> int:
    """XP a message earns: ``round(base * multiplier)``, base uniform in the gain range.

    ``roll`` in [0, 1) is the caller's random value (0 gives ``min_gain``, just under 1
    gives ``max_gain``); 0 when the channel or one of the member's roles earns no XP.
    Python's ``round`` rounds halves to even (22.5 -> 22).
    """
    return compile_leveling(rules).gain(channel_id=channel_id, role_ids=role_ids, roll=roll)


@dataclass(frozen=True, slots=True)
class VoiceState:
    """What voice XP needs of a member's voice state, detached from any Discord library."""

    self_mute: bool
    self_deaf: bool
    server_mute: bool
    server_deaf: bool
    is_bot: bool
    channel_id: int | None
    afk_channel: bool


def voice_minute_eligible(
    member: VoiceState, listeners_in_channel: int, rules: LevelingRules
) -> bool:
    """Whether a minute in voice earns XP: no farming alone, muted, deafened or AFK.

    ``listeners_in_channel`` counts the OTHER eligible humans in the channel (not the
    member); it must reach ``rules.voice.min_listeners``.
    """
    return (
        rules.voice.enabled
        and member.channel_id is not None
        and not member.afk_channel
        and not member.is_bot
        and not (member.self_mute or member.server_mute)
        and not (member.self_deaf or member.server_deaf)
        and listeners_in_channel >= rules.voice.min_listeners
    )
