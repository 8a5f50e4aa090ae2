"""Who may act on whom: Discord's role hierarchy, as the suite applies it before any sanction.

Discord itself refuses a ban or timeout on someone whose highest role is not below the bot's; the
suite is stricter and also refuses a moderator acting on someone not below *them*, on themselves,
on the bot, and on the server owner. Bots may be moderated like anyone else (a misbehaving bot is
kicked the same way), as long as they sit below both the moderator and the suite's bot.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rank:
    """Where one account stands in a server: its highest role's position (0 = only @everyone).

    A user who is not a member (a ban by id) has position 0 and is not the owner.
    """

    user_id: int
    top_role_position: int = 0
    is_owner: bool = False
    display_name: str = ""

    @property
    def label(self) -> str:
        """A name for messages; the mention form when no display name is known."""
        return self.display_name or f"<@{self.user_id}>"


def hierarchy_problem(moderator: Rank, target: Rank, bot: Rank) -> str | None:
    """Why `moderator` may not act on `target` through the suite's `bot`, or None if they may.

    The checks run from the most to the least specific reason, so the message names the real
    obstacle: acting on oneself, on the bot, on the owner, above oneself, then above the bot.
    The owner may act on anyone below the bot.
    """
    if target.user_id == moderator.user_id:
        return "You can't moderate yourself."
    if target.user_id == bot.user_id:
        return "I can't moderate myself."
    if target.is_owner:
        return "You can't act on the server owner."
    if not moderator.is_owner and target.top_role_position >= moderator.top_role_position:
        return f"You can't act on {target.label}: their highest role is not below yours."
    if target.top_role_position >= bot.top_role_position:
        return (
            f"I can't act on {target.label}: their highest role is not below mine "
            "(move my role above theirs in Server Settings → Roles)."
        )
    return None
