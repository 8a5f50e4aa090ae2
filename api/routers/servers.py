"""Server configuration: read it, replace it (validated, versioned), see its history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header
from pydantic import BaseModel

from api.deps import CallerDep, SessionDep
from api.errors import AUTHENTICATED, ApiError, error_responses
from dcs.server_config import ConfigError, default_server_config, parse_server_config
from storage.servers import VersionConflict, get_server_config, put_server_config

router = APIRouter(
    prefix="/api/servers/{server_id}",
    tags=["servers"],
    responses=error_responses(*AUTHENTICATED, 400, 409),
)


class ConfigOut(BaseModel):
    """A server's effective config and the version to send back as If-Match."""

    server_id: str
    version: int
    config: dict[str, Any]


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
    if_match: Annotated[int | None, Header(description="Expected current version")] = None,
) -> ConfigOut:
    """Replace the config; invalid input is refused with every problem listed, nothing changes."""
    caller.require(server_id, "admin")
    try:
        config = parse_server_config(body)
    except ConfigError as exc:
        raise ApiError(422, "invalid_config", str(exc), exc.problems) from None
    stored = config.model_dump(mode="json")
    try:
        async with session.begin():
            version = await put_server_config(
                session, server_id, stored, expected_version=if_match, changed_by=caller.name
            )
    except VersionConflict as exc:
        raise ApiError(409, "version_conflict", str(exc)) from None
    return ConfigOut(server_id=str(server_id), version=version, config=stored)
