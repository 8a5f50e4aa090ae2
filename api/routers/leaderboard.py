"""The leaderboard: pages by cursor, a CSV download, and importing levels from a CSV file."""

from __future__ import annotations

import base64
import binascii
from email import policy
from email.parser import BytesParser
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from pydantic_core import to_json

from api.deps import CallerDep, SessionDep, read_only
from api.errors import AUTHENTICATED, ApiError, error_responses
from api.routers.users import level_of, xp_settings
from api.xp_cache import XPSettingsCache
from domain.leveling import level_for_xp
from storage.levels import export_leaderboard_csv, import_levels_csv, leaderboard_rows
from storage.models import AuditLogEntry
from storage.types import utcnow

router = APIRouter(
    prefix="/api/servers/{server_id}",
    tags=["leaderboard"],
    responses=error_responses(*AUTHENTICATED, 413, 415),
)

MAX_IMPORT_BYTES = 64 * 1024 * 1024
"""A MEE6-style CSV of a million members (id, name, xp, level, messages) is about 50 MB."""
_CSV_TYPES = frozenset(
    {"", "text/csv", "text/plain", "application/csv", "application/octet-stream"}
)
_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


class LeaderboardItem(BaseModel):
    """One member's place; `level` is on the server's current curve."""

    rank: int
    user_id: str
    xp: int
    level: int
    messages: int


class LeaderboardPage(BaseModel):
    """A page in order of XP (ties: smaller user id first); pass `next_cursor` as `cursor`."""

    items: list[LeaderboardItem]
    next_cursor: str | None


@router.get("/leaderboard", response_model=LeaderboardPage)
@read_only
async def get_leaderboard(
    request: Request,
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=100, description="From next_cursor")] = None,
) -> Response:
    """A page of the leaderboard; the cursor carries the rank, so deep pages cost no count."""
    # The body is a `LeaderboardPage` (the response model documents it) built as plain dicts in
    # the models' field order and serialized by pydantic-core's `to_json`: the bytes FastAPI's
    # serialization of the model gives, without a model built and validated per row. The curve
    # comes from the process's XP settings cache (api.xp_cache: a change made by another process
    # shows at most XP_SETTINGS_CACHE_SECONDS later).
    caller.require(server_id, "viewer")
    after, rank = _decode_cursor(cursor) if cursor else (None, 0)
    rows = await leaderboard_rows(session, server_id, limit=limit + 1, after=after)
    xp = await _xp_settings_cache(request).get(session, server_id)
    curve, max_level = xp.curve, xp.max_level
    items = [
        {  # a row is storage.levels.BOARD_FIELDS: (user_id, xp, total_messages)
            "rank": rank + offset,
            "user_id": str(user_id),
            "xp": points,
            "level": level_for_xp(curve, points, max_level=max_level),
            "messages": messages,
        }
        for offset, (user_id, points, messages) in enumerate(rows[:limit], start=1)
    ]
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    next_cursor = _encode_cursor(last[1], last[0], rank + limit) if last else None
    body = {"items": items, "next_cursor": next_cursor}
    return Response(to_json(body), media_type="application/json")


def _xp_settings_cache(request: Request) -> XPSettingsCache:
    """The app's cache of the servers' XP settings, built on first use."""
    state = request.app.state
    cache: XPSettingsCache | None = getattr(state, "xp_settings_cache", None)
    if cache is None:
        cache = state.xp_settings_cache = XPSettingsCache()
    return cache


def _encode_cursor(xp: int, user_id: int, rank: int) -> str:
    """Opaque to clients: the last row's (xp, user_id) and its rank."""
    raw = f"v1:{xp}:{user_id}:{rank}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> tuple[tuple[int, int], int]:
    """((xp, user_id), rank) from a cursor this API issued, or a 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, xp, user_id, rank = raw.split(":")
        numbers = int(xp), int(user_id), int(rank)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        numbers, version = (-1, -1, -1), ""
    if version != "v1" or min(numbers) < 0:
        raise ApiError(422, "invalid_cursor", "The cursor is not one this API issued.")
    return (numbers[0], numbers[1]), numbers[2]


@router.get(
    "/leaderboard.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The whole leaderboard"}},
)
async def get_leaderboard_csv(server_id: int, session: SessionDep, caller: CallerDep) -> Response:
    """The whole leaderboard as CSV: rank, user_id, xp, level (server's curve), messages, voice."""
    caller.require(server_id, "viewer")
    xp = await xp_settings(session, server_id)
    body = await export_leaderboard_csv(session, server_id, level_of=level_of(xp))
    disposition = f'attachment; filename="leaderboard-{server_id}.csv"'
    return Response(
        body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition}
    )


class ImportOut(BaseModel):
    """What an import wrote."""

    imported: int
    skipped: int
    errors: list[str]


@router.post("/levels/import", response_model=ImportOut, openapi_extra=_IMPORT_BODY)
async def import_levels(
    server_id: int,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    mode: Annotated[
        Literal["replace", "max"], Query(description="Overwrite, or keep the larger")
    ] = "replace",
) -> ImportOut:
    """Import XP from a CSV (MEE6-style export): all of it, or with any bad line, none of it.

    Send the file as the body (`text/csv`) or as the `file` part of a multipart form. A file
    with bad lines is refused with 422, every bad line listed in `details`.
    """
    caller.require(server_id, "admin")
    text = _decode(await _read_csv_body(request))
    async with session.begin():
        xp = await xp_settings(session, server_id)
        report = await import_levels_csv(session, server_id, text, level_of=level_of(xp), mode=mode)
        if report.errors:
            message = f"{report.skipped} bad line(s); nothing was imported."
            raise ApiError(422, "invalid_csv", message, report.errors)
        session.add(
            AuditLogEntry(
                guild_id=server_id,
                actor=caller.name,
                action="levels.import",
                target=None,
                before=None,
                after={"mode": mode, "imported": report.imported},
                created_at=utcnow(),
            )
        )
    return ImportOut(imported=report.imported, skipped=report.skipped, errors=report.errors)


async def _read_csv_body(request: Request) -> bytes:
    """The CSV bytes of a plain or multipart body, refusing oversized and foreign ones."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_IMPORT_BYTES:
            raise _too_large()
    content_type = request.headers.get("content-type", "")
    media = content_type.partition(";")[0].strip().lower()
    if media == "multipart/form-data":
        return _multipart_file(bytes(body), content_type)
    if media not in _CSV_TYPES:
        raise ApiError(415, "unsupported_media_type", "Send text/csv or a multipart form.")
    return bytes(body)


def _too_large() -> ApiError:
    return ApiError(413, "too_large", f"The file is over {MAX_IMPORT_BYTES // 2**20} MiB.")


def _multipart_file(body: bytes, content_type: str) -> bytes:
    """The `file` part (or the first part with a filename) of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if message.is_multipart():
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "file" or part.get_filename() is not None:
                payload = part.get_payload(decode=True)
                return payload if isinstance(payload, bytes) else b""
    raise ApiError(422, "invalid_csv", 'The form has no "file" part.')


def _decode(data: bytes) -> str:
    """UTF-8 text (a byte-order mark is fine), or a 422 that says where it is not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(
            422, "invalid_csv", f"The file is not UTF-8 text (byte {exc.start})."
        ) from None
