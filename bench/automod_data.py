"""Deterministic blocked-term lists and chat corpora for the automod benchmark."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

SEED = 20_240_601

PROFANITY = (
    "shit",
    "fuck",
    "bitch",
    "bastard",
    "asshole",
    "dickhead",
    "wanker",
    "twat",
    "slut",
    "whore",
    "cunt",
    "prick",
    "bollocks",
    "arsehole",
    "douchebag",
    "jackass",
    "dumbass",
    "motherfucker",
    "cock",
    "pussy",
    "tits",
    "ass",
    "damn",
    "crap",
    "piss",
    "bullshit",
    "shithead",
    "fuckface",
    "skank",
    "tosser",
    "bellend",
    "knobhead",
    "shitbag",
    "dipshit",
    "butthole",
    "jizz",
    "wank",
    "arse",
    "scumbag",
    "hoe",
)
PHRASES = (
    "free nitro",
    "kill yourself",
    "send nudes",
    "steam gift card",
    "nitro giveaway",
    "claim your prize",
    "go die",
    "free robux",
    "hot singles",
    "click my link",
)
WILDCARDS = ("scam*", "*coin", "crypto*", "porn*", "hentai*", "onlyfan*", "fuck*", "*bitch")

_ONSETS = (
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "k",
    "kr",
    "m",
    "n",
    "p",
    "pl",
    "s",
    "sk",
    "t",
    "tr",
    "v",
    "z",
    "zh",
    "ch",
    "sh",
    "th",
    "j",
    "w",
    "x",
    "qu",
)
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ee", "oo", "y")
_CODAS = ("", "", "n", "r", "k", "x", "sh", "th", "ng", "rt", "lt", "mp", "z", "ck")

GREETINGS = ("hey", "yo", "hi", "hello", "morning", "evening", "sup", "heyo", "good morning")
CROWDS = ("guys", "everyone", "all", "chat", "folks", "people", "team", "friends")
GAMES = (
    "valorant",
    "minecraft",
    "apex",
    "league",
    "elden ring",
    "rocket league",
    "overwatch",
    "fortnite",
    "stardew",
    "terraria",
    "cs2",
    "baldurs gate",
    "the finals",
    "helldivers",
)
WHEN = (
    "tonight",
    "later",
    "after dinner",
    "at 8pm",
    "in 10 min",
    "tomorrow",
    "this weekend",
    "right now",
    "around 9",
    "after work",
    "on saturday",
)
THINGS = (
    "boss fight",
    "patch",
    "update",
    "new map",
    "ranked grind",
    "trailer",
    "soundtrack",
    "event",
    "raid",
    "build",
    "mod pack",
    "server",
    "stream",
    "tournament",
    "class",
    "assignment",
    "exam",
    "lecture",
    "essay",
    "glass cannon build",
    "bass drop",
)
ADJECTIVES = (
    "insane",
    "so good",
    "kinda mid",
    "actually fun",
    "way too hard",
    "hilarious",
    "broken",
    "underrated",
    "overrated",
    "really chill",
    "pretty solid",
    "cursed",
)
REACTIONS = ("lol", "lmao", "haha", "xd", "gg", "no way", "bruh", "fr", "same", "wild", "nice")
EMOJIS = ("😂", "🔥", "👀", "💀", "😭", "🙏", "❤️", "👍", ":)", ":D", "<:pepe_sad:912345678901>")
NAMES = (
    "alex",
    "sam",
    "jordan",
    "casey",
    "riley",
    "morgan",
    "taylor",
    "jamie",
    "chris",
    "pat",
    "kim",
    "lee",
    "max",
    "ash",
    "sky",
    "robin",
    "dana",
    "quinn",
)
TEMPLATES = (
    "{greet} {crowd}, anyone up for {game} {when}?",
    "that {thing} was {adj} {emoji}",
    "does anyone know how to fix the crash when loading {game}?",
    "{name} did you see the {thing}? looks {adj} {react}",
    "brb grabbing food, back in {n} min",
    "i think the {thing} is {adj} but the {thing2} is {adj2}",
    "<@{uid}> can you check the {thing} channel when you get a sec",
    "need {n} more for {game} ranked {when}, dm me",
    "gg wp everyone, that last round was {adj} {react}",
    "my pc keeps freezing whenever i alt tab out of {game} {emoji}",
    "as i said before, the {thing} starts {when} so be there",
    "is this the right channel to ask about the {thing}?",
    "this hit different {emoji} the {thing} is {adj}",
    "who is hosting the {thing} {when}? i can help moderate",
    "anyone from scunthorpe or sussex here? {react}",
    "honestly the {thing} in {game} is {adj}, {react}",
    "check this out https://www.youtube.com/watch?v=dQw4w9WgXcQ {react}",
    "i got {n}k points in {game} yesterday {emoji}",
    "can't wait for the {thing} {when}!! {emoji}",
    "wait what, the {thing} got delayed again? {react}",
    "passing the class was {adj}, the final assignment took {n} hours",
    "ok i'm off to bed, night {crowd} {emoji}",
    "Does anyone have a spare key for {game}? I'll pay you back",
    "LMAO {name} that was {adj}",
    "remember to read #rules before posting in the {thing} channel",
)


def _pseudo_word(rng: random.Random) -> str:
    """Pronounceable nonsense word, like the in-jokes and slurs-of-the-week servers block."""
    syllables = rng.randint(2, 3)
    word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
    return word + rng.choice(_CODAS)


def chat_vocabulary() -> set[str]:
    """Every word the clean chatter can contain, so generated terms never collide with it."""
    parts = (GREETINGS, CROWDS, GAMES, WHEN, THINGS, ADJECTIVES, REACTIONS, NAMES, TEMPLATES)
    words: set[str] = set()
    for group in parts:
        for phrase in group:
            words.update("".join(ch if ch.isalnum() else " " for ch in phrase.lower()).split())
    return words


def _skeleton(word: str) -> str:
    """Rough fold (repeats squeezed, l->i) to keep pseudo-terms clear of real chat words."""
    word = word.replace("l", "i")
    return "".join(ch for i, ch in enumerate(word) if i == 0 or word[i - 1] != ch)


def blocked_terms(count: int = 1_000, seed: int = SEED) -> list[str]:
    """``count`` terms: real-looking profanity, phrases, wildcards, then pseudo-words."""
    rng = random.Random(seed)
    terms = [*PROFANITY, *PHRASES, *WILDCARDS]
    taken = {_skeleton(word) for word in chat_vocabulary()} | {_skeleton(t) for t in terms}
    while len(terms) < count:
        word = _pseudo_word(rng)
        if len(word) >= 4 and _skeleton(word) not in taken:
            taken.add(_skeleton(word))
            terms.append(word)
    return terms


_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_CYRILLIC = {
    latin: unicodedata.lookup(f"CYRILLIC SMALL LETTER {name}")
    for latin, name in (("a", "A"), ("e", "IE"), ("o", "O"), ("p", "ER"), ("c", "ES"), ("x", "HA"))
}
EVASIONS = (
    "leet",
    "spaced",
    "dotted",
    "repeated",
    "cyrillic",
    "fullwidth",
    "zero_width",
    "accents",
    "mixed_case",
)


def evade(term: str, kind: str, rng: random.Random) -> str:
    """Disguise one term the way spammers do."""
    if kind == "leet":
        return "".join(_LEET.get(ch, ch) if rng.random() < 0.7 else ch for ch in term)
    if kind == "spaced":
        return " ".join(term.replace(" ", ""))
    if kind == "dotted":
        return ".".join(term.replace(" ", ""))
    if kind == "repeated":
        return "".join(ch * rng.choice((1, 1, 2, 4)) if ch.isalpha() else ch for ch in term)
    if kind == "cyrillic":
        return "".join(_CYRILLIC.get(ch, ch) for ch in term)
    if kind == "fullwidth":
        return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in term)
    if kind == "zero_width":
        return "\u200b".join(term)
    if kind == "accents":
        return term.translate(str.maketrans("aeiou", "áéíóú"))
    return "".join(ch.upper() if i % 2 else ch for i, ch in enumerate(term))


@dataclass(frozen=True)
class Message:
    """One corpus message and what it is supposed to contain."""

    text: str
    kind: str  # "clean", "plain" (a term as written) or "evasion:<kind>"
    term: str | None = None


def _fill(template: str, rng: random.Random) -> str:
    """One template with its slots filled."""
    return template.format(
        greet=rng.choice(GREETINGS),
        crowd=rng.choice(CROWDS),
        game=rng.choice(GAMES),
        when=rng.choice(WHEN),
        thing=rng.choice(THINGS),
        thing2=rng.choice(THINGS),
        adj=rng.choice(ADJECTIVES),
        adj2=rng.choice(ADJECTIVES),
        react=rng.choice(REACTIONS),
        emoji=rng.choice(EMOJIS) if rng.random() < 0.4 else "",
        name=rng.choice(NAMES),
        n=rng.randint(2, 45),
        uid=rng.randint(10**17, 10**18),
    ).strip()


def clean_message(rng: random.Random) -> str:
    """One line of ordinary chat (for other benchmarks' regular members)."""
    return _clean_message(rng)


def _clean_message(rng: random.Random) -> str:
    """Chatter of 40-120 characters, built from one to three templates."""
    text = _fill(rng.choice(TEMPLATES), rng)
    while len(text) < 40:
        text += " " + _fill(rng.choice(TEMPLATES), rng)
    return text if len(text) <= 120 else text[:120].rsplit(" ", 1)[0]


def _insert(text: str, term: str, rng: random.Random) -> str:
    """Put ``term`` between two words of ``text``."""
    words = text.split(" ")
    at = rng.randint(0, len(words))
    return " ".join([*words[:at], term, *words[at:]])


def _concrete(term: str, rng: random.Random) -> str:
    """A word a wildcard term stands for ('scam*' -> 'scammer')."""
    if term.endswith("*"):
        return term[:-1] + rng.choice(("mer", "s", "ing", "", "ers"))
    if term.startswith("*"):
        return rng.choice(("shit", "doge", "moon", "")) + term[1:]
    return term


def corpus(
    terms: list[str],
    size: int = 20_000,
    seed: int = SEED,
    plain_share: float = 0.05,
    evasion_share: float = 0.02,
) -> list[Message]:
    """Deterministic chat: mostly clean, ``plain_share`` with a term, some with evasions."""
    rng = random.Random(seed)
    evadable = [t for t in terms[:80] if "*" not in t]
    messages = []
    for _ in range(size):
        text = _clean_message(rng)
        roll = rng.random()
        if roll < plain_share:
            term = rng.choice(terms)
            messages.append(Message(_insert(text, _concrete(term, rng), rng), "plain", term))
        elif roll < plain_share + evasion_share:
            term = rng.choice(evadable)
            kind = rng.choice(EVASIONS)
            messages.append(
                Message(_insert(text, evade(term, kind, rng), rng), f"evasion:{kind}", term)
            )
        else:
            messages.append(Message(text, "clean"))
    return messages
