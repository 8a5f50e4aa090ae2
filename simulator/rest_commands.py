"""REST: global and guild application commands (list, bulk overwrite, CRUD)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from . import errors
from .rest_common import APIRoutes, body, body_any, no_content, ok, sim_of, snowflake_param

routes = APIRoutes()

_NAME = re.compile(r"^[-_\w]{1,32}$")
GLOBAL = "/applications/{application_id}/commands"
GUILD = "/applications/{application_id}/guilds/{guild_id}/commands"


def _pool(request: web.Request) -> tuple[dict[int, dict[str, Any]], int | None]:
    sim = sim_of(request)
    if snowflake_param(request, "application_id") != sim.world.application_id:
        raise errors.DiscordAPIError(403, 50001, "Missing Access")
    if "guild_id" in request.match_info:
        guild = sim.world.get_guild(snowflake_param(request, "guild_id"))
        return guild.commands, guild.id
    return sim.world.global_commands, None


def _normalise(
    request: web.Request, raw: Any, existing: dict[int, dict[str, Any]], guild_id: int | None
) -> dict[str, Any]:
    sim = sim_of(request)
    if not isinstance(raw, dict):
        raise errors.invalid_form("0", "Expected an object.")
    name = raw.get("name")
    kind = int(raw.get("type", 1))
    if not isinstance(name, str) or (kind == 1 and not _NAME.match(name)):
        raise errors.invalid_form(
            "name", "Command name is invalid", "APPLICATION_COMMAND_INVALID_NAME"
        )
    if kind == 1 and not raw.get("description"):
        raise errors.invalid_form("description", "This field is required", "BASE_TYPE_REQUIRED")
    same = next(
        (c for c in existing.values() if c["name"] == name and int(c.get("type", 1)) == kind), None
    )
    command: dict[str, Any] = {
        "id": same["id"] if same else str(sim.world.new_id()),
        "application_id": str(sim.world.application_id),
        "version": str(sim.world.new_id()),
        "type": kind,
        "name": name,
        "name_localizations": raw.get("name_localizations"),
        "description": raw.get("description", ""),
        "description_localizations": raw.get("description_localizations"),
        "options": raw.get("options") or [],
        "default_member_permissions": raw.get("default_member_permissions"),
        "dm_permission": raw.get("dm_permission", True),
        "nsfw": bool(raw.get("nsfw", False)),
        "contexts": raw.get("contexts"),
        "integration_types": raw.get("integration_types", [0]),
    }
    if guild_id is not None:
        command["guild_id"] = str(guild_id)
    return command


@routes.get(GLOBAL)
@routes.get(GUILD)
async def list_commands(request: web.Request) -> web.Response:
    """Registered commands."""
    pool, _ = _pool(request)
    return ok(list(pool.values()))


@routes.put(GLOBAL)
@routes.put(GUILD)
async def overwrite_commands(request: web.Request) -> web.Response:
    """Bulk overwrite: replace every command, keeping ids of unchanged names."""
    pool, guild_id = _pool(request)
    raw = body_any(request)
    if not isinstance(raw, list) or len(raw) > 100:
        raise errors.invalid_form("_root", "Expected a list of at most 100 commands.")
    commands = [_normalise(request, c, pool, guild_id) for c in raw]
    keys = [(c["name"], c["type"]) for c in commands]
    if len(set(keys)) != len(keys):
        raise errors.invalid_form(
            "_root",
            "Application command names must be unique",
            "APPLICATION_COMMANDS_DUPLICATE_NAME",
        )
    pool.clear()
    pool.update({int(c["id"]): c for c in commands})
    return ok(commands)


@routes.post(GLOBAL)
@routes.post(GUILD)
async def create_command(request: web.Request) -> web.Response:
    """Create (or upsert by name) one command."""
    pool, guild_id = _pool(request)
    command = _normalise(request, body(request), pool, guild_id)
    existed = int(command["id"]) in pool
    pool[int(command["id"])] = command
    return ok(command, status=200 if existed else 201)


def _command(request: web.Request, pool: dict[int, dict[str, Any]]) -> dict[str, Any]:
    command = pool.get(snowflake_param(request, "command_id"))
    if command is None:
        raise errors.unknown("application command")
    return command


@routes.get(GLOBAL + "/{command_id}")
@routes.get(GUILD + "/{command_id}")
async def get_command(request: web.Request) -> web.Response:
    """One command."""
    pool, _ = _pool(request)
    return ok(_command(request, pool))


@routes.patch(GLOBAL + "/{command_id}")
@routes.patch(GUILD + "/{command_id}")
async def edit_command(request: web.Request) -> web.Response:
    """Edit one command."""
    pool, guild_id = _pool(request)
    command = _command(request, pool)
    merged = {**command, **body(request)}
    updated = _normalise(request, merged, {int(command["id"]): command}, guild_id)
    pool[int(updated["id"])] = updated
    return ok(updated)


@routes.delete(GLOBAL + "/{command_id}")
@routes.delete(GUILD + "/{command_id}")
async def delete_command(request: web.Request) -> web.Response:
    """Delete one command."""
    pool, _ = _pool(request)
    command = _command(request, pool)
    del pool[int(command["id"])]
    return no_content()
