"""Dry run of a server's automod rules: `dcs automod check` and `/automod test` use this.

Admins try rules before they turn them on: each text is judged by the server's compiled rules
(and scored by the local offensive-language model), nothing is acted on, and one JSON object a
message comes out: ``{"text", "action", "rules", "score"}``. A dry run judges the *text*: the
rules' who-and-where conditions and the server's exemptions are left out, so a moderator (often
exempt) sees what a member's message would trigger.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from dcs.server_config import ConfigError, ServerConfig, default_server_config, parse_server_config
from domain.automod import AutomodRules, CompiledAutomod, MessageSnapshot, compile_automod
from domain.automod_types import RuleConditions

_USER_MENTION = re.compile(r"<@!?(\d{15,21})>")
_ROLE_MENTION = re.compile(r"<@&(\d{15,21})>")
DRY_RUN_AUTHOR = 0
DRY_RUN_CHANNEL = 0


def dry_run_rules(rules: AutomodRules) -> AutomodRules:
    """The same rules judging every author everywhere (conditions and exemptions dropped)."""
    return replace(
        rules,
        exempt_role_ids=frozenset(),
        exempt_channel_ids=frozenset(),
        rules=tuple(replace(rule, conditions=RuleConditions()) for rule in rules.rules),
    )


def compile_dry_run(config: ServerConfig) -> CompiledAutomod:
    """A server's automod compiled for dry runs, with the shipped scam-link detector."""
    from dcs.scam_snapshot import shipped_detector

    rules = dry_run_rules(config.automod.to_domain())
    needs_detector = any(rule.kind == "scam_links" for rule in rules.rules)
    return compile_automod(rules, scam_detector=shipped_detector() if needs_detector else None)


def dry_run_snapshot(guild_id: int, text: str) -> MessageSnapshot:
    """A plain member's message with ``text`` (mentions counted from the text itself)."""
    mentions = len(set(_USER_MENTION.findall(text))) + len(set(_ROLE_MENTION.findall(text)))
    return MessageSnapshot(
        guild_id=guild_id,
        channel_id=DRY_RUN_CHANNEL,
        author_id=DRY_RUN_AUTHOR,
        author_role_ids=frozenset(),
        author_is_bot=False,
        content=text,
        mention_count=mentions,
    )


def offensive_scores(texts: Sequence[str]) -> list[float]:
    """The local model's offensive-language probability per text (alt-profanity-check)."""
    if not texts:
        return []
    from profanity_check import predict_prob

    return [round(float(p), 3) for p in predict_prob(list(texts))]


def judge_texts(
    automod: CompiledAutomod, guild_id: int, texts: Sequence[str]
) -> list[dict[str, Any]]:
    """One result per text: ``{"text", "action", "rules", "score"}``; nothing is acted on."""
    scores = offensive_scores(texts)
    results = []
    for text, score in zip(texts, scores, strict=True):
        judgement = automod.judge(dry_run_snapshot(guild_id, text))
        results.append(
            {
                "text": text,
                "action": judgement.action if judgement is not None else "allow",
                "rules": list(judgement.rules) if judgement is not None else [],
                "score": score,
            }
        )
    return results


def describe_result(result: dict[str, Any], automod: CompiledAutomod, guild_id: int) -> str:
    """A few lines for Discord: the verdict, each rule with what it matched, and the score."""
    judgement = automod.judge(dry_run_snapshot(guild_id, result["text"]))
    if judgement is None:
        head = "**allow**: no rule matches"
    else:
        actions = ", ".join(a.describe() for a in judgement.actions)
        head = f"**{judgement.action}** ({actions}; strike weight {judgement.strike_weight})"
    lines = [head]
    for verdict in judgement.verdicts if judgement is not None else ():
        lines.append(f"- `{verdict.rule}` ({verdict.kind}): {verdict.detail}")
    lines.append(f"offensive-language score: {result['score']:.3f}")
    return "\n".join(lines)


def read_texts(file: str | None, texts: Iterable[str], stdin: TextIO) -> list[str]:
    """Arguments, then the file's lines (``-`` is standard input); blank lines are skipped."""
    out = [t for t in texts if t.strip()]
    if file is not None:
        source = stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        out += [line for line in source.splitlines() if line.strip()]
    return out


async def load_config(database_url: str, guild_id: int) -> tuple[ServerConfig, int]:
    """The server's stored config and version (defaults, version 0, when it has none)."""
    from storage.engine import create_engine, make_sessionmaker
    from storage.servers import get_server_config

    engine = create_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            raw, version = await get_server_config(session, guild_id)
    finally:
        await engine.dispose()
    return (parse_server_config(raw) if raw is not None else default_server_config()), version


def run_check(
    args: argparse.Namespace,
    database_url: str | None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """`dcs automod check`: print one JSON object per message; 2 on bad input or config."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        texts = read_texts(args.file, args.text, stdin)
    except OSError as exc:
        print(f"cannot read {args.file}: {exc}", file=stderr)
        return 2
    if not texts:
        print("nothing to check: give TEXT arguments or --file F (- for stdin)", file=stderr)
        return 2
    guild_id = args.server or 0
    if args.server is None:
        config = default_server_config()
    else:
        assert database_url is not None
        try:
            config, version = asyncio.run(load_config(database_url, args.server))
        except ConfigError as exc:
            print(f"server {args.server} has an invalid stored config: {exc}", file=stderr)
            return 2
        if version == 0:
            print(f"server {args.server} has no stored config; using defaults", file=stderr)
    automod = compile_dry_run(config)
    for name in automod.skipped:
        print(f"rule {name!r} cannot run here (no scam-link list loaded)", file=stderr)
    for result in judge_texts(automod, guild_id, texts):
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """`dcs automod check [--server ID] [--file F] [TEXT ...]`."""
    automod = sub.add_parser("automod", help="automod tools: dry-run the rules on messages")
    asub = automod.add_subparsers(dest="subcommand", required=True)
    check = asub.add_parser(
        "check",
        help="judge messages with a server's rules without acting; one JSON object per message",
    )
    check.add_argument("--server", type=int, default=None, help="guild id (omit: defaults)")
    check.add_argument("--file", default=None, help="one message per line; - reads stdin")
    check.add_argument("text", nargs="*", help="messages to judge")
    return automod
