"""`dcs faq import`: a good file lands, a bad one prints every problem and changes nothing."""

from __future__ import annotations

import asyncio

from dcs.cli import main
from storage.faq import all_entries

GUILD = 333333333333333333


async def test_cli_import_all_or_nothing(
    migrated_db, session_factory, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_URL", migrated_db)
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer,language\nFine?,Yes,en\nNo answer?,,en\n")
    code = await asyncio.to_thread(main, ["faq", "import", "--server", str(GUILD), str(bad)])
    assert code == 1
    assert "line 3: the answer is empty" in capsys.readouterr().err
    async with session_factory() as session:
        assert await all_entries(session, GUILD) == []

    good = tmp_path / "faq.md"
    good.write_text(
        "## When is the mint?\nvariants: mint date\nSaturday.\n\n## Wann?\nlanguage: de\nSamstag.\n"
    )
    code = await asyncio.to_thread(main, ["faq", "import", "--server", str(GUILD), str(good)])
    assert code == 0 and "imported 2 FAQ entries" in capsys.readouterr().out
    async with session_factory() as session:
        rows = await all_entries(session, GUILD)
    assert [(r.question, r.language, r.variants) for r in rows] == [
        ("When is the mint?", "en", ["mint date"]),
        ("Wann?", "de", []),
    ]
