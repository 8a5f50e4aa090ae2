"""`dcs automod check`: a dry run of the server's rules that prints one JSON object a message."""

import asyncio
import io
import json
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

from dcs.automod_check import run_check
from dcs.cli import main
from storage.engine import create_engine, make_sessionmaker
from storage.servers import put_server_config

GUILD = 4242
ROOT = Path(__file__).resolve().parents[2]


def lines_of(text):
    return [json.loads(line) for line in text.splitlines()]


def test_defaults_judge_arguments_and_file_lines(tmp_path, capsys):
    messages = tmp_path / "messages.txt"
    messages.write_text("join my server discord.gg/abc123\n\nhello there, friends\n")
    assert main(["automod", "check", "--file", str(messages), "you are a stupid idiot"]) == 0
    results = lines_of(capsys.readouterr().out)
    assert [set(r) for r in results] == [{"text", "action", "rules", "score"}] * 3
    insult, invite, hello = results
    assert insult["text"] == "you are a stupid idiot" and insult["score"] > 0.9
    assert (insult["action"], insult["rules"]) == ("allow", [])  # defaults block no words
    assert (invite["action"], invite["rules"]) == ("delete", ["invites"])
    assert (hello["action"], hello["rules"]) == ("allow", [])
    assert hello["score"] < 0.5


def test_nothing_to_check_is_an_error(capsys):
    assert main(["automod", "check"]) == 2
    assert "nothing to check" in capsys.readouterr().err


def test_server_rules_come_from_the_database(migrated_db):
    config = {
        "automod": {
            "blocked_terms": ["free nitro"],
            "action": "timeout",
            "exempt_role_ids": [77],
            "rules": [
                {
                    "kind": "regex",
                    "name": "shorteners",
                    "patterns": [r"bit\.ly/\w+"],
                    "conditions": {"only_channels": [5]},  # conditions are not applied
                    "actions": ["delete", "warn"],
                },
                {"kind": "caps", "actions": [{"type": "reply", "reply_text": "calm"}]},
            ],
        }
    }

    async def store():
        engine = create_engine(migrated_db)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                await put_server_config(session, GUILD, config, expected_version=0, changed_by="t")
        finally:
            await engine.dispose()

    asyncio.run(store())
    out, err = io.StringIO(), io.StringIO()
    args = Namespace(
        server=GUILD,
        file=None,
        text=["get FR33 N1TRO now", "see bit.ly/xyz", "STOP SHOUTING AT EVERYONE", "hi"],
    )
    assert run_check(args, migrated_db, stdout=out, stderr=err) == 0
    nitro, short, caps, hi = lines_of(out.getvalue())
    assert (nitro["action"], nitro["rules"]) == ("timeout", ["blocked_terms"])
    assert (short["action"], short["rules"]) == ("warn", ["shorteners"])
    assert (caps["action"], caps["rules"]) == ("reply", ["caps"])
    assert (hi["action"], hi["rules"]) == ("allow", [])

    unknown = Namespace(server=GUILD + 1, file=None, text=["discord.gg/zzz"])
    out, err = io.StringIO(), io.StringIO()
    assert run_check(unknown, migrated_db, stdout=out, stderr=err) == 0
    assert "no stored config; using defaults" in err.getvalue()
    assert lines_of(out.getvalue())[0]["rules"] == ["invites"]


def test_the_installed_command_reads_stdin():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISCORD_BOT_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "dcs", "automod", "check", "--file", "-"],
        input="discord.gg/letmein\nnice weather today\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second = lines_of(done.stdout)
    assert first["rules"] == ["invites"] and second["action"] == "allow"
