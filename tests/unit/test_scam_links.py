"""Scam-link detection: listed domains, brand lookalikes, lures, and real domains left alone."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dcs.scam_snapshot import shipped_detector, shipped_domains
from domain.scam_links import (
    FeedError,
    ScamLinkDetector,
    ScamLinkHit,
    normalize_host,
    parse_domain_feed,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="module")
def detector() -> ScamLinkDetector:
    return ScamLinkDetector(["listed-scam.com", "bit.ly/evil1"], allowed=["ourserver.example"])


def reason(detector: ScamLinkDetector, host: str) -> str | None:
    hit = detector.check_host(host)
    return None if hit is None else hit.reason


@pytest.mark.parametrize(
    "host",
    [
        "discord-nitro-gift.xyz",
        "dlscord.com",
        "disc0rd.gg",
        "discrod-app.com",
        "dicsord-gift.ru",
        "discordapp-hypesquad-event.site",
        "steamcommunlty.com",
        "stearncommunity.ru",
        "steamcommunity-trade.xyz",
        "steampowered-offers.com",
        "roblox-free-robux.xyz",
        "opensea-airdrop.top",
    ],
)
def test_brand_lookalikes_are_flagged(detector: ScamLinkDetector, host: str) -> None:
    assert reason(detector, host) == "lookalike"


@pytest.mark.parametrize(
    "unicode_host",
    [
        "d\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}scord.com",  # Cyrillic i
        "\N{CYRILLIC SMALL LETTER DZE}teamcommunity.com",  # Cyrillic s
        "disc\N{CYRILLIC SMALL LETTER O}rd-gift.com",  # Cyrillic o
        "disc\N{LATIN SMALL LETTER O WITH DIAERESIS}rd.com",
    ],
)
def test_idn_homoglyphs_are_flagged_in_unicode_and_punycode(
    detector: ScamLinkDetector, unicode_host: str
) -> None:
    punycode = unicode_host.encode("idna").decode()
    assert punycode.startswith("xn--")
    assert reason(detector, unicode_host) == "lookalike"
    assert reason(detector, punycode) == "lookalike"
    assert normalize_host(punycode) == unicode_host


@pytest.mark.parametrize(
    "host", ["free-nitro-claim.xyz", "nitro-drop.gift", "airdrop-claim-now.site", "fr33-n1tr0.ru"]
)
def test_lures_without_a_brand_are_flagged(detector: ScamLinkDetector, host: str) -> None:
    assert reason(detector, host) == "lure"


@pytest.mark.parametrize(
    "host",
    [
        "discord.com",
        "discord.gg",
        "discordapp.com",
        "cdn.discordapp.com",
        "media.discordapp.net",
        "discord.gift",
        "support.discord.com",
        "steamcommunity.com",
        "store.steampowered.com",
        "github.com",
        "roblox.com",
        "opensea.io",
        "metamask.io",
        "youtube.com",
        "wikipedia.org",
        "docs.python.org",
        "nitrado.net",
        "stackoverflow.com",
        "ourserver.example",
        "events.ourserver.example",
    ],
)
def test_real_and_allowed_domains_are_not_flagged(detector: ScamLinkDetector, host: str) -> None:
    assert detector.check_host(host) is None


def test_listed_domain_and_its_subdomains(detector: ScamLinkDetector) -> None:
    assert detector.check_host("listed-scam.com") == ScamLinkHit(
        "listed-scam.com", "listed", "on the scam list"
    )
    hit = detector.check_host("https://login.listed-scam.com:8443/x")
    assert hit is not None
    assert (hit.domain, hit.reason) == ("login.listed-scam.com", "listed")
    assert "under listed listed-scam.com" in hit.detail
    # the parent of a listed domain is not listed
    assert detector.check_host("scam.com") is None


def test_listed_link_with_path_does_not_list_the_shortener(detector: ScamLinkDetector) -> None:
    assert [h.reason for h in detector.check_text("go to bit.ly/evil1 now")] == ["listed"]
    assert detector.check_text("go to https://bit.ly/fine2 now") == []


def test_config_allowed_wins_over_the_list() -> None:
    detector = ScamLinkDetector(["promo.example.org"], allowed=["example.org"])
    assert detector.check_host("promo.example.org") is None


def test_list_wins_over_the_builtin_allow_list() -> None:
    detector = ScamLinkDetector(["evil.github.io"])
    assert reason(detector, "evil.github.io") == "listed"
    assert detector.check_host("docs.github.io") is None


def test_a_brand_domain_listed_by_mistake_stays_usable() -> None:
    # the shipped snapshot lists counter-strike.net, Valve's own site
    assert "counter-strike.net" in shipped_domains()
    detector = ScamLinkDetector(["counter-strike.net", "phish.counter-strike.net"])
    assert detector.check_host("counter-strike.net") is None
    assert reason(detector, "phish.counter-strike.net") == "listed"
    assert shipped_detector().check_host("counter-strike.net") is None


@pytest.mark.parametrize("host", ["metamask.app", "roblox.ru", "collabland.xyz", "navi33.com"])
def test_bare_brand_on_a_foreign_domain(detector: ScamLinkDetector, host: str) -> None:
    assert reason(detector, host) == "lookalike"


def test_check_text_finds_urls_and_bare_domains(detector: ScamLinkDetector) -> None:
    text = (
        "hey look https://discord.com/channels/1 and <https://dlscord.com/gift/abc> or "
        "[claim](http://steamcommunlty.com/tradeoffer/new) also discord-nitro-gift.xyz! "
        "DLSCORD.COM again"
    )
    hits = detector.check_text(text)
    assert [(h.domain, h.reason) for h in hits] == [
        ("dlscord.com", "lookalike"),
        ("steamcommunlty.com", "lookalike"),
        ("discord-nitro-gift.xyz", "lookalike"),
    ]
    assert "discord" in hits[0].detail


@pytest.mark.parametrize(
    "text",
    [
        "good morning everyone",
        "meet at 8.30 tonight. bring snacks...",
        "see readme.md and config.py",
        "my email is someone@gmail.com",
        "https://github.com/owner/repo/pull/3 looks good",
        "",
    ],
)
def test_ordinary_messages_are_clean(detector: ScamLinkDetector, text: str) -> None:
    assert detector.check_text(text) == []


def test_plain_message_takes_the_fast_path() -> None:
    detector = ScamLinkDetector([])
    text = "good morning everyone, who's up for the event tonight? bring snacks"
    rounds = 20_000
    started = time.perf_counter()
    for _ in range(rounds):
        assert detector.check_text(text) == []
    per_message = (time.perf_counter() - started) / rounds
    assert per_message < 5e-6  # well under a microsecond unloaded; slack for busy CI


def test_memo_is_bounded() -> None:
    detector = ScamLinkDetector([])
    for i in range(9000):
        detector.check_host(f"host{i}.example.com")
    assert len(detector._memo) <= 8192


def test_parse_feed_shapes() -> None:
    assert parse_domain_feed('["B.com", "a.org", "b.com"]') == ["a.org", "b.com"]
    assert parse_domain_feed('{"domains": ["x.xyz"]}') == ["x.xyz"]
    assert parse_domain_feed("# comment\nx.xyz\n\ny.top # trailing\n") == ["x.xyz", "y.top"]
    assert parse_domain_feed('["disc\u00f6rd.com", "bit.ly/abc"]') == ["bit.ly/abc", "discörd.com"]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "[]",
        '{"other": []}',
        "<html><body>502 Bad Gateway</body></html>",
        "[1, 2, 3]",
        '["ok.com", "not a domain", "also bad", "x", "y"]',
        "{not json",
    ],
)
def test_parse_feed_rejects_malformed(body: str) -> None:
    with pytest.raises(FeedError):
        parse_domain_feed(body)


def test_shipped_snapshot_matches_shared_data() -> None:
    shared = json.loads((SHARED / "discord-phishing-domains.json").read_text())["domains"]
    domains = shipped_domains()
    # every entry is kept but "nitro-discordapp", which has no TLD and so is no domain
    assert set(domains) == {d.lower() for d in shared} - {"nitro-discordapp"}
    assert shipped_detector().check_host(sorted(domains)[0]) is not None


def _reference_substring_distance(pattern: str, text: str) -> int:
    """Sellers' dynamic programme with adjacent swaps (optimal string alignment), for checking."""
    m = len(pattern)
    prev2: list[int] = []
    prev = list(range(m + 1))
    best = prev[m]
    for j, tc in enumerate(text):
        cur = [0] * (m + 1)
        for i in range(1, m + 1):
            value = min(prev[i] + 1, cur[i - 1] + 1, prev[i - 1] + (pattern[i - 1] != tc))
            if prev2 and i > 1 and j > 0 and pattern[i - 1] == text[j - 1] and pattern[i - 2] == tc:
                value = min(value, prev2[i - 2] + 1)
            cur[i] = value
        best = min(best, cur[m])
        prev2, prev = prev, cur
    return best


def test_bit_parallel_search_agrees_with_the_dynamic_programme() -> None:
    import random

    from domain.scam_links import _pattern_masks, _substring_distance

    rng = random.Random(7)
    for _ in range(3000):
        pattern = "".join(rng.choice("abcd") for _ in range(rng.randint(2, 9)))
        text = "".join(rng.choice("abcd") for _ in range(rng.randint(0, 16)))
        limit = rng.randint(0, 3)
        expected = _reference_substring_distance(pattern, text) <= limit
        got = _substring_distance(pattern, text, limit, _pattern_masks(pattern)) <= limit
        assert got == expected, (pattern, text, limit)
