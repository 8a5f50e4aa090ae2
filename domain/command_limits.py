"""Token buckets for the suite's own commands, per member and per server, so it cannot spam.

A use takes one token from the member's bucket and one from the server's; either empty refuses
the use and takes nothing. Buckets refill continuously. Memory stays bounded: a bucket idle long
enough to be full again is the same as no bucket and is dropped, and past `max_buckets` the
least recently used go first. Time is passed in (monotonic seconds).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

MAX_BUCKETS = 50_000


@dataclass(frozen=True)
class Rate:
    """`uses` per `seconds`: the bucket holds `uses` tokens and refills over `seconds`."""

    uses: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Tokens regained each second."""
        return self.uses / self.seconds


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    full_at: float


def _refilled(bucket: _Bucket, rate: Rate, now: float) -> float:
    elapsed = max(0.0, now - bucket.stamp)
    return min(float(rate.uses), bucket.tokens + elapsed * rate.per_second)


def _wait(tokens: float, rate: Rate) -> float:
    """Seconds until one whole token is back."""
    return max(0.0, (1.0 - tokens) / rate.per_second)


class CommandLimiter:
    """Per-(server, member) and per-server buckets with bounded memory."""

    def __init__(self, max_buckets: int = MAX_BUCKETS) -> None:
        self._buckets: OrderedDict[tuple[int, int], _Bucket] = OrderedDict()
        self._max = max_buckets

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, guild_id: int, member_id: int, member: Rate, guild: Rate, now: float) -> float:
        """Take a use: 0.0 when allowed, else the seconds to wait (nothing is taken then)."""
        self._evict(now)
        keys = ((guild_id, member_id), (guild_id, 0))
        rates = (member, guild)
        levels = [self._level(key, rate, now) for key, rate in zip(keys, rates, strict=True)]
        wait = max(_wait(level, rate) for level, rate in zip(levels, rates, strict=True))
        if wait > 0:
            return wait
        for key, rate, level in zip(keys, rates, levels, strict=True):
            tokens = level - 1.0
            full_at = now + (rate.uses - tokens) / rate.per_second
            self._buckets[key] = _Bucket(tokens, now, full_at)
            self._buckets.move_to_end(key)
        self._trim()
        return 0.0

    def _level(self, key: tuple[int, int], rate: Rate, now: float) -> float:
        bucket = self._buckets.get(key)
        return float(rate.uses) if bucket is None else _refilled(bucket, rate, now)

    def _evict(self, now: float) -> None:
        """Drop buckets from the least recently used end while they are full again."""
        while self._buckets:
            key, bucket = next(iter(self._buckets.items()))
            if bucket.full_at > now:
                return
            del self._buckets[key]

    def _trim(self) -> None:
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
