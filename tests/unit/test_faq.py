"""The FAQ's pure parts: question check, lexical and blended matching, limits, import files."""

from __future__ import annotations

import numpy as np
import pytest

from dcs.server_config import ConfigError, parse_server_config
from domain.catalogue import LANGUAGES, keys, text
from domain.faq import (
    AnswerLimiter,
    Entry,
    FaqIndex,
    channel_allowed,
    is_question,
    parse_csv,
    parse_markdown,
    terms,
)

KB = [
    Entry(1, "When is the next mint?", "First Saturday, 18:00 UTC.", "en",
          ("mint date", "when does the mint start")),
    Entry(2, "Which wallets are supported?", "MetaMask and Rabby.", "en",
          ("can I use MetaMask",)),
    Entry(3, "How do I open a support ticket?", "Press Open ticket in #support.", "en"),
    Entry(4, "¿Cuándo es el próximo mint?", "El primer sábado.", "es", ("fecha del mint",)),
]  # fmt: skip


@pytest.mark.parametrize(
    "message",
    [
        "when is the mint?",
        "How do I connect my wallet",
        "¿Cuándo empieza el mint?",
        "wann ist der nächste Mint",
        "Comment connecter mon portefeuille",
        "quando é o mint",
        "is metamask ok for this?",
    ],
)
def test_questions_are_recognised_in_five_languages(message):
    assert is_question(message)


@pytest.mark.parametrize(
    "message",
    ["gm", "lol?", "just minted my first one", "great stream today everyone", "x" * 700 + "?"],
)
def test_chatter_and_extremes_are_not_questions(message):
    assert not is_question(message)


def test_terms_fold_accents_and_drop_question_and_stop_words():
    assert terms("¿Cuándo es el próximo MINT?", "es") == ["proximo", "mint"]
    assert terms("How do I link my wallets to <@123> https://x.y/z", "en") == ["link", "wallet"]


def test_lexical_matching_picks_the_entry_and_scores_chatter_low():
    index = FaqIndex(KB)
    hit = index.match("hey when does the mint start?", "en")
    assert hit is not None and hit.entry.id == 1 and hit.confidence >= 0.5
    assert hit.semantic is None
    miss = index.match("what pizza do you like?", "en")
    assert miss is not None and miss.confidence < 0.2


def test_answer_prefers_the_message_language_then_the_default():
    index = FaqIndex(KB)
    spanish = index.answer("¿cuál es la fecha del mint?", "es", "en", 0.5)
    assert spanish is not None and spanish.entry.id == 4
    german = index.answer("can I use metamask?", "de", "en", 0.5)  # no German entries
    assert german is not None and german.entry.id == 2
    assert FaqIndex([]).answer("when is the mint?", "en", "en", 0.5) is None


def test_vectors_blend_in_and_can_decide_the_match():
    """A paraphrase with no shared words is found only through its vector."""
    index = FaqIndex(KB)
    dims = len(index.phrasings())
    vectors = np.eye(dims, dtype=np.float32)  # one orthogonal direction per phrasing
    blended = FaqIndex(KB, vectors)
    close_to_tickets = vectors[index.phrasings().index("How do I open a support ticket?")]
    message = "I need a human to talk to"
    assert index.match(message, "en").confidence < 0.2  # type: ignore[union-attr]
    found = blended.match(message, "en", close_to_tickets)
    assert found is not None and found.entry.id == 3
    assert found.semantic == pytest.approx(1.0) and found.confidence >= 0.6
    with pytest.raises(ValueError):
        FaqIndex(KB, vectors[:2])


def test_limiter_one_answer_per_channel_and_member_interval():
    limiter = AnswerLimiter(channel_seconds=30, member_seconds=300)
    assert limiter.allow(1, 10, 100, now=0)
    assert not limiter.allow(1, 10, 101, now=5)  # same channel too soon
    assert limiter.allow(1, 11, 101, now=5)  # another channel
    assert not limiter.allow(1, 12, 100, now=60)  # same member too soon
    assert limiter.allow(1, 10, 100, now=301)


def test_channel_lists_deny_wins_and_threads_follow_their_parent():
    assert channel_allowed(5, None, [], [])
    assert not channel_allowed(5, None, [], [5])
    assert channel_allowed(9, 5, [5], [])  # a thread of an allowed channel
    assert not channel_allowed(9, 5, [5], [9])
    assert not channel_allowed(6, None, [5], [])


MARKDOWN = """# Our FAQ

## When is the mint?
variants: mint date | when does it start
tags: mint, dates
First Saturday.

Bring ETH.

## ¿Cuándo es el mint?
language: es
El primer sábado.
"""


def test_markdown_import_reads_headings_meta_lines_and_answers():
    drafts, problems = parse_markdown(MARKDOWN)
    assert problems == []
    assert [d.question for d in drafts] == ["When is the mint?", "¿Cuándo es el mint?"]
    assert drafts[0].variants == ("mint date", "when does it start")
    assert drafts[0].tags == ("mint", "dates")
    assert drafts[0].answer == "First Saturday.\n\nBring ETH."
    assert (drafts[1].language, drafts[1].answer) == ("es", "El primer sábado.")


def test_markdown_import_lists_every_problem():
    bad = "stray text\n## \nanswer\n## Fine?\nlanguage: english\nok\n## No answer?\n"
    _, problems = parse_markdown(bad)
    assert problems == [
        "line 1: text before the first '## question' heading",
        "line 2: the question is empty",
        "line 4: language 'english' is not a code like 'en' or 'pt-BR'",
        "line 7: the answer is empty",
    ]


def test_csv_import_reads_rows_and_lists_every_problem():
    good = 'question,answer,language,tags,variants\n"Mint?","Saturday.",en,mint|dates,a|b\n'
    drafts, problems = parse_csv(good)
    assert problems == [] and drafts[0].tags == ("mint", "dates")
    assert drafts[0].variants == ("a", "b")
    bad = "question,answer,language\nq,,en\nq2,a2\nq3,a3,xx-yy\n"
    _, problems = parse_csv(bad)
    assert problems == [
        "line 2: the answer is empty",
        "line 3: 2 fields, the header has 3",
        "line 4: language 'xx-yy' is not a code like 'en' or 'pt-BR'",
    ]
    assert parse_csv("answer,question,colour\n")[1] == ["line 1: unknown column 'colour'"]


def test_faq_config_defaults_and_errors():
    config = parse_server_config({})
    assert config.faq.enabled and config.faq.threshold == 0.5 and config.faq.languages == ["en"]
    with pytest.raises(ConfigError) as err:
        parse_server_config({"faq": {"threshold": 2, "languages": ["xx"], "colour": 1}})
    joined = " ".join(err.value.problems)
    assert "faq.threshold" in joined and "faq.languages[0]" in joined and "faq.colour" in joined


def test_member_texts_exist_in_every_language():
    for key in [k for k in keys() if k.startswith("faq.")]:
        for language in LANGUAGES:
            assert text(key, language, answer="A") != ""
    assert text("faq.answer", "pt", answer="Resposta").startswith("Resposta\n")


def test_ranked_lists_the_best_entries_of_a_language_first():
    index = FaqIndex(KB)
    ranked = index.ranked("can I use metamask to check the mint date?", "en", limit=3)
    assert [m.entry.id for m in ranked][:2] in ([1, 2], [2, 1])
    assert [m.confidence for m in ranked] == sorted((m.confidence for m in ranked), reverse=True)
    assert len(ranked) == 3 and index.ranked("mint?", "fr") == []
