"""Rank cards: how long one /rank render takes (p50/p99), warm caches, realistic avatars."""

from __future__ import annotations

import io
import random
import statistics
import time
from typing import Any

from PIL import Image

from gateway.rank_card import RankCard, render_rank_card

SEED = 7
CARDS = 300
AVATARS = 40
"""Distinct avatars cycled through: the renderer caches the 32 most recent, so some miss."""

METHOD = (
    f"{CARDS} cards rendered one after another in one process after one warm-up card; "
    f"{AVATARS} distinct 256x256 PNG avatars in rotation (more than the 32-avatar cache), random "
    "names, levels and progress. Times cover render_rank_card only (PNG bytes out)."
)


def _avatar(rng: random.Random) -> bytes:
    colour = tuple(rng.randrange(256) for _ in range(3))
    image = Image.new("RGB", (256, 256), colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _card(rng: random.Random, avatars: list[bytes]) -> RankCard:
    level = rng.randrange(0, 80)
    needed = 5 * level * level + 50 * level + 100
    return RankCard(
        display_name=rng.choice(["Aurora", "Max Moderator", "Ωmega", "night_owl_1987", "Zoë"]),
        username=f"user{rng.randrange(10**6)}",
        avatar=rng.choice(avatars),
        level=level,
        rank=rng.randrange(1, 100_000),
        xp_into_level=rng.randrange(needed),
        xp_needed=needed,
        total_xp=rng.randrange(10**7),
    )


def run() -> dict[str, dict[str, Any]]:
    """Figure `rank_card_render_p99_ms` for bench/results/latest.json."""
    rng = random.Random(SEED)
    avatars = [_avatar(rng) for _ in range(AVATARS)]
    cards = [_card(rng, avatars) for _ in range(CARDS)]
    render_rank_card(cards[0])
    timings = []
    for card in cards:
        start = time.perf_counter()
        render_rank_card(card)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p99 = timings[int(len(timings) * 0.99) - 1]
    return {
        "rank_card_render_p99_ms": {
            "value": round(p99, 2),
            "unit": "ms",
            "max": 30,
            "method": METHOD,
            "p50_ms": round(statistics.median(timings), 2),
            "max_ms": round(timings[-1], 2),
        }
    }
