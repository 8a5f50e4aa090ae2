"""Server configuration: read it, replace or patch it (validated, versioned), see its history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CallerDep, SessionDep
from api.errors import AUTHENTICATED, ApiError, error_responses
from dcs.server_config import (
    ConfigError,
    ServerConfig,
    default_server_config,
    parse_server_config,
)
from domain.merge_patch import changed_keys, merge_patch
from storage.models import AuditLogEntry, ServerConfigHistory
from storage.servers import VersionConflict, get_server_config, put_server_config
from storage.types import utcnow

router = APIRouter(
    prefix="/api/servers/{server_id}",
    tags=["servers"],
    responses=error_responses(*AUTHENTICATED, 400, 409),
)

MERGE_PATCH = "application/merge-patch+json"
IfMatch = Annotated[
    int | None,
    Header(description="Expected current version; another version answers 409 and changes nothing"),
]


class ConfigOut(BaseModel):
    """A server's effective config and the version to send back as If-Match."""

    server_id: str
    version: int
    config: dict[str, Any]


class ConfigVersionOut(BaseModel):
    """One stored version of the config, who stored it and when."""

    version: int
    changed_by: str
    changed_at: datetime
    config: dict[str, Any]


class ConfigVersionsOut(BaseModel):
    """Stored versions, newest first; pass `next_before` as `before` for the next page."""

    server_id: str
    current_version: int
    items: list[ConfigVersionOut]
    next_before: int | None


@router.get("/config", response_model=ConfigOut)
async def get_config(server_id: int, session: SessionDep, caller: CallerDep) -> ConfigOut:
    """The stored config (defaults filled in); version 0 means never set."""
    caller.require(server_id, "viewer")
    raw, version = await get_server_config(session, server_id)
    config = parse_server_config(raw) if raw is not None else default_server_config()
    return ConfigOut(server_id=str(server_id), version=version, config=config.model_dump())


@router.put("/config", response_model=ConfigOut)
async def put_config(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    body: Annotated[dict[str, Any], Body(description="The whole ServerConfig as JSON")],
    if_match: IfMatch = None,
) -> ConfigOut:
    """Replace the config; invalid input is refused with every problem listed, nothing changes.

    Each change is a new version in the history and an audit entry (`config.replace`).
    """
    caller.require(server_id, "admin")
    config = _validated(body)
    return await _store(session, server_id, caller.name, config, if_match, "config.replace")


@router.patch(
    "/config",
    response_model=ConfigOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A JSON Merge Patch (RFC 7396) of the ServerConfig",
            "content": {
                MERGE_PATCH: {"schema": {"type": "object", "additionalProperties": True}},
                "application/json": {"schema": {"type": "object", "additionalProperties": True}},
            },
        }
    },
)
async def patch_config(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    body: Annotated[dict[str, Any], Body()],
    if_match: IfMatch = None,
) -> ConfigOut:
    """Change part of the config with JSON Merge Patch (RFC 7396).

    Objects merge key by key, `null` removes a key (it goes back to its default), lists and
    scalars replace. The merged config is validated whole, like PUT: a bad result is refused with
    every problem named by path and nothing changes. A change is a new version in the history and
    an audit entry (`config.patch`) with the sections before and after.
    """
    caller.require(server_id, "admin")
    raw, version = await get_server_config(session, server_id)
    if if_match is not None and if_match != version:
        raise _conflict(if_match, version)
    await session.rollback()  # end the read; the write below re-checks the version atomically
    base = _effective(raw)
    config = _validated(merge_patch(base, body))
    expected = version if if_match is None else if_match  # lost updates are refused either way
    return await _store(session, server_id, caller.name, config, expected, "config.patch")


@router.get("/config/versions", response_model=ConfigVersionsOut)
async def list_config_versions(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    before: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="Only versions below this one")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ConfigVersionsOut:
    """The config's stored versions with who changed it and when, newest first.

    To restore one, PUT its `config` back (with `If-Match` set to the current version).
    """
    caller.require(server_id, "admin")
    _, current = await get_server_config(session, server_id)
    stmt = select(ServerConfigHistory).where(ServerConfigHistory.guild_id == server_id)
    if before is not None:
        stmt = stmt.where(ServerConfigHistory.version < before)
    rows = list(
        await session.scalars(stmt.order_by(ServerConfigHistory.version.desc()).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return ConfigVersionsOut(
        server_id=str(server_id),
        current_version=current,
        items=[
            ConfigVersionOut(
                version=r.version, changed_by=r.changed_by, changed_at=r.changed_at, config=r.config
            )
            for r in rows
        ],
        next_before=rows[-1].version if more and rows else None,
    )


def _conflict(expected: int, actual: int) -> ApiError:
    """409: the config changed since the caller read it."""
    return ApiError(
        409,
        "version_conflict",
        f"The config is at version {actual}, not {expected}: read it again and retry.",
        {"expected": expected, "current": actual},
    )


def _effective(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The stored config with its defaults filled in (as stored JSON), the base a patch merges on.

    A stored config that no longer validates is patched as it is, so a patch can repair it.
    """
    if raw is None:
        return default_server_config().model_dump(mode="json")
    try:
        return parse_server_config(raw).model_dump(mode="json")
    except ConfigError:
        return dict(raw)


def _validated(data: Any) -> ServerConfig:
    try:
        return parse_server_config(data)
    except ConfigError as exc:
        raise ApiError(422, "invalid_config", str(exc), exc.problems) from None


async def _store(
    session: AsyncSession,
    server_id: int,
    actor: str,
    config: ServerConfig,
    expected_version: int | None,
    action: str,
) -> ConfigOut:
    """Write a new version, with an audit entry holding the changed sections before and after."""
    stored = config.model_dump(mode="json")
    try:
        async with session.begin():
            raw, _ = await get_server_config(session, server_id)
            old = _effective(raw)
            version = await put_server_config(
                session, server_id, stored, expected_version=expected_version, changed_by=actor
            )
            changed = changed_keys(old, stored)
            session.add(
                AuditLogEntry(
                    guild_id=server_id,
                    actor=actor,
                    action=action,
                    target=f"config:v{version}",
                    before={k: old.get(k) for k in changed},
                    after={k: stored.get(k) for k in changed},
                    created_at=utcnow(),
                )
            )
    except VersionConflict as exc:
        raise _conflict(exc.expected, exc.actual) from None
    return ConfigOut(server_id=str(server_id), version=version, config=stored)
