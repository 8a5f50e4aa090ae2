"""Point an unmodified discord.py at a simulator (REST base and default gateway)."""

from __future__ import annotations

from collections.abc import Callable


def point_discord_py_at(base_url: str) -> Callable[[], None]:
    """Redirect discord.py's REST and gateway to ``base_url``; returns an undo function.

    ``Route.BASE`` covers REST and webhooks.  ``DiscordWebSocket.DEFAULT_GATEWAY`` must
    also change: ``Client`` connects to it directly (it only asks ``/gateway/bot`` when
    sharded) and falls back to it after an INVALID_SESSION.
    """
    import yarl
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = f"{base_url.rstrip('/')}/api/v10"
    ws_base = base_url.replace("https://", "wss://").replace("http://", "ws://").rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{ws_base}/gateway")

    def restore() -> None:
        Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    return restore
