"""Slash commands, one module per feature; `register` adds them all to the bot's tree."""

from __future__ import annotations

from discord import app_commands

from gateway.commands import (
    announcements,
    automod,
    engagement,
    events,
    faq,
    moderation,
    raid,
    report,
    selfcheck,
    tickets,
    verification,
)


def register(tree: app_commands.CommandTree) -> None:
    """Add every feature's commands to the tree (synced to Discord at start-up)."""
    for module in (
        engagement,
        moderation,
        automod,
        report,
        verification,
        raid,
        events,
        announcements,
        faq,
        tickets,
        selfcheck,
    ):
        for command in module.COMMANDS:
            tree.add_command(command)
