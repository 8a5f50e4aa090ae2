"""Scam and phishing links in chat: a listed domain, a brand lookalike, or a gift/nitro lure.

A list only knows yesterday's scam domains, so besides the list the detector scores a host by
what scam domains are made of: a commonly phished brand written with look-alike letters or a
typo (``dlscord``, ``stearncommunlty``), a brand's name on someone else's domain
(``discord-hypesquad-event.site``), and lure words (gift, nitro, airdrop, claim ...), helped by
throw-away TLDs. The brands' real domains, a built-in allow-list and the configured ``allowed``
domains (and their subdomains) are never flagged. Pure: no I/O; results memoised per host.
"""

from __future__ import annotations

import codecs
import json
import re
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

from domain.normalize import fold

__all__ = [
    "BUILTIN_ALLOWED",
    "FeedError",
    "ScamLinkDetector",
    "ScamLinkHit",
    "normalize_host",
    "parse_domain_feed",
]


@dataclass(frozen=True, slots=True)
class ScamLinkHit:
    """Why a host was flagged: ``reason`` is "listed", "lookalike" or "lure"."""

    domain: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class _Brand:
    """A phished brand: exact-name weight, and how many typo edits still count as the brand."""

    name: str
    exact_weight: float
    max_edits: int


# Brands seen impersonated in the shipped list's tuning part (see docs/scam-links.md).
# exact_weight 3 flags the name on any foreign domain; lower weights need a lure or bad TLD too.
_BRANDS: tuple[_Brand, ...] = (
    _Brand("discord", 3.0, 1),
    _Brand("discordapp", 3.0, 2),
    _Brand("discordnitro", 3.0, 2),
    _Brand("steamcommunity", 3.0, 4),
    _Brand("steampowered", 3.0, 2),
    _Brand("hypesquad", 3.0, 2),
    _Brand("roblox", 3.0, 1),
    _Brand("metamask", 2.0, 1),
    _Brand("epicgames", 2.0, 1),
    _Brand("counterstrike", 2.0, 2),
    _Brand("natusvincere", 2.0, 2),
    _Brand("collabland", 2.0, 1),
    _Brand("dynobot", 2.0, 1),
    _Brand("csgo", 2.0, 0),
    _Brand("mee6", 2.0, 0),
    _Brand("robux", 2.0, 0),
    _Brand("paypal", 1.5, 1),
    _Brand("arbitrum", 2.0, 1),
    _Brand("galxe", 2.0, 0),
    _Brand("twitch", 1.5, 0),
    _Brand("facepunch", 1.5, 1),
    _Brand("netflix", 1.5, 1),
    _Brand("binance", 1.5, 1),
    _Brand("coinbase", 1.5, 1),
    _Brand("tesla", 1.5, 0),
    _Brand("opensea", 1.5, 0),
    _Brand("fortnite", 1.5, 1),
    _Brand("valorant", 1.5, 1),
    _Brand("faceit", 1.5, 0),
    _Brand("hypixel", 1.5, 1),
    _Brand("minecraft", 1.5, 1),
    _Brand("layerzero", 1.5, 1),
    _Brand("pubg", 1.5, 0),
    _Brand("steam", 1.5, 0),
    _Brand("navi", 1.0, 0),
    _Brand("faze", 1.0, 0),
    _Brand("dyno", 1.0, 0),
    _Brand("valve", 1.0, 0),
    _Brand("xbox", 1.0, 0),
    _Brand("spotify", 1.0, 1),
    _Brand("epic", 0.5, 0),
)

# Lure words found anywhere in a name: rare in ordinary domains.
_STRONG_LURES: dict[str, float] = {
    "nitro": 2.5,
    "airdrop": 2.0,
    "giveaway": 2.0,
    "gift": 2.0,
    "hypeteam": 2.0,
    "hypeevent": 2.0,
    "moderat": 2.0,
    "moderetor": 2.0,
    "captcha": 2.0,
    "hypesquad": 1.0,
    "claim": 1.5,
    "formulary": 1.5,
    "eligib": 1.5,
    "tradeoffer": 1.5,
    "promo": 1.0,
    "verif": 1.0,
    "reward": 1.0,
    "bonus": 1.0,
    "skins": 1.0,
    "academy": 1.0,
}
# Common words: counted only at the start or end of a letter run, and weakly.
_WEAK_LURES: tuple[str, ...] = tuple(
    """free drop event apply trade offer case win prize login auth beta form invite access acess
    support account connect month boost premium give get check exam register signup singup join
    application tester official renew badge subscription bot hype squad redeem""".split()
)
_WEAK_WEIGHT = 0.75
_STRONG_RE = re.compile("|".join(sorted(_STRONG_LURES, key=len, reverse=True)))
_WEAK_ALTERNATION = "|".join(sorted(_WEAK_LURES, key=len, reverse=True))
# a weak lure counts at the start or the end of a letter run ("free-nitro", "3month-get")
_WEAK_RE = re.compile(rf"(?<![a-z])({_WEAK_ALTERNATION})|({_WEAK_ALTERNATION})(?![a-z])")
_SUSPICIOUS_TLDS = frozenset(
    "xyz gq tk ml ga cf site top online space pro fun store shop club gift gifts asia icu "
    "click live website pw link one monster cfd sbs buzz life today uno ink bar best rest "
    "cyou fit digital tech host surf quest world codes sale rocks".split()
)
# Free second-level registrations (x.com.ru, x.pp.ru ...) favoured by throw-away domains.
_SUSPICIOUS_SUFFIXES = (".com.ru", ".net.ru", ".org.ru", ".pp.ru", ".ru.com", ".in.net", ".com.es")
_SHARED_SLDS = frozenset("co com net org gov edu ac pp ltd me in".split())
_THRESHOLD = 3.0
_BARE_BRAND = 2.0  # brands this strong are flagged as the whole name on a foreign domain
_MIN_DISGUISED = 5  # shorter brands ("navi", "mee6") are matched only as written
_MIN_SHUFFLED = 7  # shuffled letters are a typo of a long brand, a different word for a short one

# Real domains of the brands above and of their ecosystems: never flagged, nor subdomains.
BUILTIN_ALLOWED: frozenset[str] = frozenset(
    """
    discord.com discord.gg discordapp.com discordapp.net discord.media discord.gift discord.new
    discord.dev discord.co discordstatus.com dis.gd discord.store discordmerch.com
    discord.design discord.js.org discordpy.readthedocs.io discord.me
    discordbotlist.com discordservers.com discordlist.gg disboard.org top.gg discords.com
    steamcommunity.com steampowered.com steamstatic.com steamusercontent.com steamgames.com
    steamchina.com steam-chat.com steamdeck.com steamserver.net valvesoftware.com steamdb.info
    steamcharts.com steamgifts.com steamspy.com steamtrades.com steamladder.com steamrep.com
    roblox.com rbxcdn.com roblox.qq.com robloxlabs.com twitch.tv twitchcdn.net twitchapps.com
    twitchsvc.net twitchtracker.com opensea.io metamask.io consensys.io epicgames.com
    unrealengine.com fortnite.com playvalorant.com riotgames.com counter-strike.net
    blog.counter-strike.net faceit.com hypixel.net minecraft.net minecraft.wiki mojang.com
    navi.gg layerzero.network collab.land mee6.xyz dyno.gg nitrado.net arbitrum.io
    arbitrum.foundation galxe.com paypal.com paypal.me netflix.com
    binance.com binance.us coinbase.com tesla.com spotify.com xbox.com pubg.com facepunch.com
    rust.facepunch.com github.com
    github.io youtube.com youtu.be google.com tenor.com giphy.com imgur.com reddit.com
    twitter.com x.com wikipedia.org
    """.split()
)

_URL_HINT = re.compile(r"[\w-][.\u3002\uff0e\uff61][\w-]")
# Dotted names not inside a word or an e-mail address; the TLD is checked in Python.
_HOST_RE = re.compile(
    r"(?<![\w.@\u0300-\u036f-])"
    r"((?:[\w\u0300-\u036f-]+[.\u3002\uff0e\uff61])+[\w\u0300-\u036f-]+)"
    r"(?::\d{1,5})?(/[^\s/?#<>()\[\]|\"']+)?"
)
_EXTRA_SKELETON = (("rn", "m"), ("vv", "w"), ("cl", "d"))
_DIGIT_SKELETON = str.maketrans("013456789", "oieasgtbg", "-._")
_MEMO_LIMIT = 8192
_DOTS = {0x3002: ".", 0xFF0E: ".", 0xFF61: "."}
_NON_LETTERS = re.compile(r"[^a-z]+")
_REPEATS = re.compile(r"(.)\1+")
_DIGITS = re.compile(r"\d")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _may_hold_domain(text: str) -> bool:
    """Cheap test for a dot between two name characters ("a.b"), the mark of any host name."""
    if not text.isascii():
        return _URL_HINT.search(text) is not None
    end = len(text) - 1
    i = text.find(".", 1)
    while 0 < i < end:
        before, after = text[i - 1], text[i + 1]
        if (before.isalnum() or before == "-") and (after.isalnum() or after == "-"):
            return True
        i = text.find(".", i + 2)
    return False


_ASCII_NAME_CHARS = string.ascii_letters + string.digits + "_-"
"""What the name characters of :data:`_HOST_RE` (word characters, marks, '-') are in ASCII."""


def _host_matches(text: str) -> Iterable[re.Match[str]]:
    """``_HOST_RE.finditer(text)``, trying the pattern only where a match can start.

    In ASCII text a match starts a run of name characters that ends at a dot (its first label)
    and is not preceded by '.' or '@' (the look-behind): so only at the start of the run
    before each dot. Trying those starts in order, each at or after the end of the previous
    match, finds what scanning every position finds, without the pattern's slow misses.
    """
    if not text.isascii():
        return _HOST_RE.finditer(text)
    matches = []
    resume = 0
    dot = text.find(".")
    while dot >= 0:
        start = len(text[:dot].rstrip(_ASCII_NAME_CHARS))
        if resume <= start < dot and (start == 0 or text[start - 1] not in ".@"):
            found = _HOST_RE.match(text, start)
            if found is not None:
                matches.append(found)
                resume = found.end()
        dot = text.find(".", dot + 1)
    return matches


def _decode_label(label: str) -> str:
    """Unicode form of a punycode label (``xn--...``); other labels unchanged."""
    if label.startswith("xn--"):
        try:
            return codecs.decode(label[4:].encode("ascii"), "punycode")
        except (UnicodeError, ValueError):
            return label
    return label


def normalize_host(host: str) -> str:
    """Lower-case host without scheme, port, trailing dot; IDN labels decoded to Unicode."""
    host = host.strip().lower()
    if not host.isascii():  # the other dots are not ASCII (translate is slow even on ASCII)
        host = host.translate(_DOTS)
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].split("@")[-1].split(":", 1)[0].rstrip(".")
    if "xn--" in host:
        host = ".".join(_decode_label(label) for label in host.split("."))
    return host


def _parents(host: str) -> Iterable[str]:
    """The host and each parent domain with at least two labels."""
    labels = host.split(".")
    for i in range(len(labels) - 1):
        yield ".".join(labels[i:])


def _name_labels(host: str) -> tuple[list[str], str]:
    """The labels that are the owner's choice, and the public suffix (approximated)."""
    labels = host.split(".")
    cut = 1
    if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in _SHARED_SLDS:
        cut = 2
    if len(labels) > 2 and labels[-2:] == ["ru", "com"]:
        cut = 2
    return labels[:-cut], ".".join(labels[-cut:])


def _skeleton(text: str) -> str:
    """Look-alikes folded to one letter each, digits to letters, doubled letters squeezed."""
    folded = fold(text).replace(" ", "")
    for old, new in _EXTRA_SKELETON:
        folded = folded.replace(old, new)
    return _REPEATS.sub(r"\1", folded.translate(_DIGIT_SKELETON))


def _pattern_masks(pattern: str) -> dict[str, int]:
    """Bit mask of the positions of each character in ``pattern``."""
    masks: dict[str, int] = {}
    for i, ch in enumerate(pattern):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    return masks


def _substring_distance(pattern: str, text: str, limit: int, masks: dict[str, int]) -> int:
    """Edits (adjacent swaps count one) turning ``pattern`` into a substring of ``text``.

    Myers' bit-parallel search with Hyyro's transposition term: one pass over ``text`` with a
    few integer operations per character. Returns the first alignment's distance found within
    ``limit`` (not necessarily the fewest), or ``limit + 1`` when nothing is that close.
    """
    m = len(pattern)
    full = (1 << m) - 1
    high = 1 << (m - 1)
    vp, vn, d0, prev_eq = full, 0, 0, 0
    score = m
    if score <= limit:
        return score
    for ch in text:
        eq = masks.get(ch, 0)
        swap = (((~d0) & eq) << 1) & prev_eq
        d0 = ((((eq & vp) + vp) ^ vp) | eq | vn | swap) & full
        hp = vn | ~(d0 | vp)
        hn = d0 & vp
        if hp & high:
            score += 1
        elif hn & high:
            score -= 1
            if score <= limit:
                return score  # close enough: the caller only asks "within limit?"
        shifted = (hp << 1) & full
        vn = shifted & d0
        vp = ((hn << 1) | ~(shifted | d0)) & full
        prev_eq = eq
    return limit + 1


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


@dataclass(frozen=True, slots=True)
class _BrandForm:
    """A brand's skeleton, and how many of its bigrams a typo of it must still share."""

    brand: _Brand
    skeleton: str
    bigrams: frozenset[str]
    min_shared: int
    masks: dict[str, int]
    letters: dict[str, int]


def _brand_form(brand: _Brand) -> _BrandForm:
    skeleton = _skeleton(brand.name)
    bigrams = _bigrams(skeleton)
    # one edit destroys at most two bigrams, an adjacent swap three (q-gram lemma)
    min_shared = max(1, len(bigrams) - 3 * brand.max_edits)
    letters: dict[str, int] = {}
    for ch in skeleton:
        letters[ch] = letters.get(ch, 0) + 1
    return _BrandForm(brand, skeleton, bigrams, min_shared, _pattern_masks(skeleton), letters)


_BRAND_FORMS = tuple(_brand_form(b) for b in _BRANDS)
_ANY_BRAND_AT = re.compile("(?=" + "|".join(form.brand.name for form in _BRAND_FORMS) + ")")
_BRANDS_BY_FIRST: dict[str, tuple[tuple[int, str], ...]] = {}
for _index, _form in enumerate(_BRAND_FORMS):
    _first = _form.brand.name[0]
    _BRANDS_BY_FIRST[_first] = (*_BRANDS_BY_FIRST.get(_first, ()), (_index, _form.brand.name))
_BIGRAM_INDEX: dict[str, tuple[int, ...]] = {}
for _index, _form in enumerate(_BRAND_FORMS):
    for _bigram in _form.bigrams:
        _BIGRAM_INDEX[_bigram] = (*_BIGRAM_INDEX.get(_bigram, ()), _index)


@dataclass(frozen=True, slots=True)
class _BrandEvidence:
    weight: float
    brand: str
    disguised: bool
    brands: int


def _brand_signal(compact: str, plain: str, skeleton: str, folded: str) -> _BrandEvidence | None:
    """Strongest brand evidence in a name, and how many brands appear in it."""
    shared = Counter(chain.from_iterable([_BIGRAM_INDEX.get(b, ()) for b in _bigrams(skeleton)]))
    best: _BrandEvidence | None = None
    seen = 0
    words: list[str] | None = None
    chosen = {i for i, n in shared.items() if n >= _BRAND_FORMS[i].min_shared}
    for match in _ANY_BRAND_AT.finditer(compact):  # every brand written in full, overlaps too
        start = match.start()
        chosen.update(
            i for i, name in _BRANDS_BY_FIRST[compact[start]] if compact.startswith(name, start)
        )
    candidates = sorted(chosen)
    for index in candidates:
        form = _BRAND_FORMS[index]
        brand = form.brand
        if brand.name in compact:
            weight = brand.exact_weight
            if plain == brand.name and (compact != plain or weight >= _BARE_BRAND):
                weight = 3.0  # the bare brand elsewhere (mee6.sk) or with digits (navi33)
            disguised = False
        elif shared.get(index, 0) < form.min_shared or len(form.skeleton) < _MIN_DISGUISED:
            continue
        else:
            if words is None:
                words = [_skeleton(w) for w in _NON_LETTERS.split(folded) if len(w) >= 4]
            if not _disguised(form, skeleton, words):
                continue
            weight, disguised = 3.0, True
        seen += 1
        if best is None or weight > best.weight:
            best = _BrandEvidence(weight, brand.name, disguised, 0)
    if best is None:
        return None
    return _BrandEvidence(best.weight, best.brand, best.disguised, seen)


def _disguised(form: _BrandForm, skeleton: str, words: list[str]) -> bool:
    """A brand written with look-alikes, or a typo of it inside the name or as a whole word.

    The caller has checked that the name shares enough of the brand's bigrams.
    """
    if form.skeleton in skeleton:
        return True
    edits = form.brand.max_edits
    if not edits:
        return False
    if _substring_distance(form.skeleton, skeleton, edits, form.masks) <= edits:
        return True
    # a whole word with the brand's letters shuffled (dicsocrd)
    if len(form.skeleton) < _MIN_SHUFFLED:
        return False
    size = len(form.skeleton)
    first = form.skeleton[0]
    return any(
        abs(len(word) - size) <= 1 and word[0] == first and _letters_apart(form.letters, word) <= 1
        for word in words
    )


def _letters_apart(letters: dict[str, int], word: str) -> int:
    """How many letters must be added or removed to give ``word`` the brand's letters."""
    counts = dict(letters)
    extra = 0
    for ch in word:
        left = counts.get(ch, 0)
        if left:
            counts[ch] = left - 1
        else:
            extra += 1
    return extra + sum(counts.values())


def _lure_signal(plain: str, skeleton: str, folded: str) -> tuple[float, list[str]]:
    """Weight of lure words in a name (more when disguised), and which were found."""
    found = set(_STRONG_RE.findall(plain))
    score = sum(_STRONG_LURES[word] for word in found)
    for word in _STRONG_RE.findall(skeleton):
        if word not in found:
            found.add(word)
            score += _STRONG_LURES[word] + 0.5  # written with look-alikes: nltro, glft
    weak = {a or b for a, b in _WEAK_RE.findall(folded)}
    score += _WEAK_WEIGHT * len(weak)
    return score, sorted(found) + sorted(weak)


class ScamLinkDetector:
    """Flags listed scam domains, brand lookalikes and gift/nitro lures; allowed hosts never.

    Precedence: the configured ``allowed`` domains win over everything, the list wins over the
    built-in allow-list (a feed that lists a subdomain of a brand knows better), and the
    heuristics judge whatever is left. List entries with a path (``bit.ly/abc``) match links
    to that path only, never the whole shortener.
    """

    __slots__ = ("_allowed", "_listed", "_listed_paths", "_memo", "_path_hosts")

    def __init__(self, listed: Iterable[str], *, allowed: Iterable[str] = ()) -> None:
        hosts: set[str] = set()
        paths: set[str] = set()
        for entry in listed:
            entry = entry.strip().lower()
            if "/" in entry.split("://", 1)[-1]:
                host, _, rest = entry.split("://", 1)[-1].partition("/")
                segment = rest.split("/", 1)[0]
                if segment:
                    paths.add(f"{normalize_host(host)}/{segment}")
            elif host := normalize_host(entry):
                hosts.add(host)
        # the brands' own domains stay usable even if a feed lists them by mistake (the shipped
        # snapshot lists counter-strike.net); their subdomains can still be listed
        self._listed = frozenset(hosts - BUILTIN_ALLOWED)
        self._listed_paths = frozenset(paths)
        self._path_hosts = frozenset(path.split("/", 1)[0] for path in paths)
        self._allowed = frozenset(h for h in (normalize_host(d) for d in allowed) if h)
        self._memo: dict[str, ScamLinkHit | None] = {}

    @property
    def listed_count(self) -> int:
        """How many entries the list holds (for logs and the API)."""
        return len(self._listed) + len(self._listed_paths)

    def check_host(self, host: str) -> ScamLinkHit | None:
        """Verdict for one host name (a URL is accepted too: its host is used)."""
        memo = self._memo
        if host in memo:
            return memo[host]
        verdict = self._judge(normalize_host(host))
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[host] = verdict
        return verdict

    def check_text(self, text: str) -> list[ScamLinkHit]:
        """Every flagged host among the URLs and bare domain names in a chat message."""
        if ("." not in text and text.isascii()) or not _may_hold_domain(text):
            return []  # the common chat message: a few C-level string scans, no regex
        hits: list[ScamLinkHit] = []
        seen: set[str] = set()
        for match in _host_matches(text):
            host, path = match.group(1).lower(), match.group(2)
            if not host.isascii():
                host = host.translate(_DOTS)
            tld = host.rsplit(".", 1)[-1]
            if not ((tld.isalpha() and len(tld) >= 2) or tld.startswith("xn--")):
                continue  # "8.30", "e.g", "v1.2": not a domain name
            hit = None
            if path and self._listed_paths:
                # an ASCII host from the pattern is already normalised, unless punycode
                link_host = host if host.isascii() and "xn--" not in host else normalize_host(host)
                if link_host in self._path_hosts:
                    link = f"{link_host}{path.lower()}"
                    if link in self._listed_paths:
                        hit = ScamLinkHit(link, "listed", "link on the scam list")
            if hit is None:
                hit = self.check_host(host)
            if hit is not None and hit.domain not in seen:
                seen.add(hit.domain)
                hits.append(hit)
        return hits

    def _judge(self, host: str) -> ScamLinkHit | None:
        if "." not in host:
            return None
        parents = list(_parents(host))
        if any(p in self._allowed for p in parents):
            return None
        for parent in parents:
            if parent in self._listed:
                detail = "on the scam list" if parent == host else f"under listed {parent}"
                return ScamLinkHit(host, "listed", detail)
        if any(p in BUILTIN_ALLOWED for p in parents):
            return None
        return _heuristic(host)


def _heuristic(host: str) -> ScamLinkHit | None:
    """Score a host that no list knows by its brand and lure evidence."""
    labels, suffix = _name_labels(host)
    if not labels:
        return None
    raw = ".".join(labels)
    folded = fold(raw, evasions=False)
    plain = _NON_LETTERS.sub("", folded)
    compact = _NON_ALNUM.sub("", folded)
    skeleton = _skeleton(raw)
    evidence = _brand_signal(compact, plain, skeleton, folded)
    lure_weight, lures = _lure_signal(plain, skeleton, folded)
    context = 0.0
    tld = suffix.rsplit(".", 1)[-1]
    if tld in _SUSPICIOUS_TLDS or host.endswith(_SUSPICIOUS_SUFFIXES):
        context += 1.0
    if _DIGITS.search(raw):
        context += 0.5
    if "-" in raw:
        context += 0.5
    if evidence is not None:
        extra_brands = 1.0 if evidence.brands > 1 else 0.0
        if evidence.weight + extra_brands + lure_weight + context >= _THRESHOLD:
            how = "disguised as" if evidence.disguised else "uses the name of"
            extra = f" with {', '.join(lures)}" if lures else ""
            return ScamLinkHit(host, "lookalike", f"{how} {evidence.brand}{extra}")
        return None
    if lure_weight >= 1.5 and lure_weight + context >= _THRESHOLD:
        return ScamLinkHit(host, "lure", f"lure words: {', '.join(lures)}")
    return None


_DOMAIN_RE = re.compile(
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:xn--[a-z0-9-]{1,59}|[a-z]{2,63})$"
)
MAX_FEED_DOMAINS = 500_000
MIN_FEED_DOMAINS = 1


class FeedError(ValueError):
    """A feed that is not a usable domain list: never replaces the list in use."""


def parse_domain_feed(body: str) -> list[str]:
    """Domains of a feed: a JSON list, ``{"domains": [...]}`` or one domain a line.

    Returns the valid entries sorted and de-duplicated; raises :class:`FeedError` when the body
    is not one of those shapes, is empty, too large, or mostly not domain names (an HTML error
    page served with status 200 must not wipe the list).
    """
    text = body.strip()
    entries: list[object]
    if text.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FeedError(f"feed is not valid JSON: {exc}") from exc
        if isinstance(data, dict):
            data = data.get("domains")
        if not isinstance(data, list):
            raise FeedError('feed JSON must be a list or an object with a "domains" list')
        entries = data
    else:
        entries = [line.split("#", 1)[0].strip() for line in text.splitlines() if line.strip()]
        entries = [e for e in entries if e]
    if len(entries) > MAX_FEED_DOMAINS:
        raise FeedError(f"feed has {len(entries):,} entries, more than {MAX_FEED_DOMAINS:,}")
    valid: set[str] = set()
    invalid = 0
    for entry in entries:
        if not isinstance(entry, str):
            invalid += 1
            continue
        domain = entry.strip().lower().rstrip(".")
        host = domain.split("/", 1)[0]
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                invalid += 1
                continue
        if _DOMAIN_RE.match(host):
            valid.add(domain)
        else:
            invalid += 1
    if len(valid) < MIN_FEED_DOMAINS:
        raise FeedError("feed holds no domain names")
    if invalid > len(valid) // 10:
        raise FeedError(f"feed has {invalid:,} malformed entries of {len(entries):,}")
    return sorted(valid)
