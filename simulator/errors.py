"""Discord-shaped API errors (``{"code", "message"}``) raised by handlers and scripts."""

from __future__ import annotations

from typing import Any


class DiscordAPIError(Exception):
    """An error the simulator answers with Discord's JSON error body and status."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """Return the JSON body Discord would send."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def unauthorized() -> DiscordAPIError:
    """401 for a missing or wrong bot token."""
    return DiscordAPIError(401, 0, "401: Unauthorized")


def not_found_route() -> DiscordAPIError:
    """404 for a path the API does not have."""
    return DiscordAPIError(404, 0, "404: Not Found")


def missing_permissions() -> DiscordAPIError:
    """403 50013 when the bot lacks a permission or is below the target in hierarchy."""
    return DiscordAPIError(403, 50013, "Missing Permissions")


def missing_access() -> DiscordAPIError:
    """403 50001 when the bot cannot see the channel at all."""
    return DiscordAPIError(403, 50001, "Missing Access")


_UNKNOWN = {
    "account": 10001,
    "application": 10002,
    "channel": 10003,
    "guild": 10004,
    "integration": 10005,
    "invite": 10006,
    "member": 10007,
    "message": 10008,
    "overwrite": 10009,
    "role": 10011,
    "user": 10013,
    "emoji": 10014,
    "webhook": 10015,
    "ban": 10026,
    "interaction": 10062,
    "application command": 10063,
    "guild scheduled event": 10070,
    "guild scheduled event user": 10071,
}


def unknown(kind: str) -> DiscordAPIError:
    """404 ``Unknown <Kind>`` with Discord's JSON error code for that kind."""
    return DiscordAPIError(404, _UNKNOWN[kind], f"Unknown {kind.title()}")


def invalid_form(field: str, message: str, code: str = "BASE_TYPE_INVALID") -> DiscordAPIError:
    """400 50035 Invalid Form Body with a per-field error like Discord's."""
    errors = {field: {"_errors": [{"code": code, "message": message}]}}
    return DiscordAPIError(400, 50035, "Invalid Form Body", errors)


def bad_request(code: int, message: str) -> DiscordAPIError:
    """400 with a specific Discord JSON error code."""
    return DiscordAPIError(400, code, message)
