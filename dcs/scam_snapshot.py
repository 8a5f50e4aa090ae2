"""The scam-domain list shipped inside the package: the fallback until a feed refresh lands."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from domain.scam_links import ScamLinkDetector, parse_domain_feed

SNAPSHOT_NAME = "discord-phishing-domains.json"
SNAPSHOT_SOURCE = "shipped:nikolaischunk/discord-phishing-links@2024-03-24"


@lru_cache(maxsize=1)
def shipped_domains() -> tuple[str, ...]:
    """Domains of the shipped snapshot (MIT, see dcs/data/*.LICENSE), read once per process."""
    body = resources.files("dcs").joinpath("data", SNAPSHOT_NAME).read_text(encoding="utf-8")
    return tuple(parse_domain_feed(body))


@lru_cache(maxsize=4)
def shipped_detector(allowed: tuple[str, ...] = ()) -> ScamLinkDetector:
    """A detector over the shipped snapshot, for when no feed snapshot is stored yet (shared)."""
    return ScamLinkDetector(shipped_domains(), allowed=allowed)
