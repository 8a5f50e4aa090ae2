"""The engine: every state change the REST API and scripts share, with its dispatches."""

from __future__ import annotations

from .ops_roles import RoleOps


class Engine(RoleOps):
    """Messages, members, moderation, channels, threads, invites and events in one place.

    The layers are ``EngineBase`` (world, gateway, audit log) -> ``MessageOps`` ->
    ``MemberOps`` -> ``GuildOps`` -> ``RoleOps``; each layer lives in its own ``ops_*`` module.
    """
