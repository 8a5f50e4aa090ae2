"""FAQ endpoints: the knowledge base with its answer and feedback counts, and bulk import.

Moderators edit entries; an import (Markdown or CSV) is all or nothing: one bad entry rejects the
file with every problem listed, and nothing changes. Gateways pick changes up within seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, SessionDep
from api.errors import AUTHENTICATED, ApiError, error_responses
from domain.faq import (
    MAX_ANSWER,
    MAX_QUESTION,
    EntryDraft,
    parse_entries,
)
from storage import faq as store
from storage.models import AuditLogEntry, FAQEntry
from storage.types import utcnow

router = APIRouter(
    prefix="/api/servers/{server_id}",
    tags=["faq"],
    responses=error_responses(*AUTHENTICATED, 400, 404, 413),
)

MAX_IMPORT_BYTES = 1_000_000
Language = Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]


class EntryIn(BaseModel):
    """A question, its other phrasings, its answer, its language and tags."""

    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION)]
    answer: Annotated[str, Field(min_length=1, max_length=MAX_ANSWER)]
    language: Language = "en"
    variants: list[Annotated[str, Field(min_length=1, max_length=MAX_QUESTION)]] = Field(
        default_factory=list, max_length=50
    )
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(
        default_factory=list, max_length=20
    )

    def draft(self) -> EntryDraft:
        """The entry as the domain validates and stores it."""
        return EntryDraft(
            self.question, self.answer, self.language, tuple(self.variants), tuple(self.tags)
        )


class EntryOut(BaseModel):
    """An entry with how often it was given and what members said of it."""

    id: int
    question: str
    variants: list[str]
    answer: str
    language: str
    tags: list[str]
    hits: int
    helpful: int
    not_helpful: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: FAQEntry) -> EntryOut:
        """From a stored row."""
        return cls(
            id=row.id, question=row.question, variants=list(row.variants or []),
            answer=row.answer, language=row.language, tags=list(row.tags or []),
            hits=row.hits, helpful=row.helpful, not_helpful=row.not_helpful,
            created_at=row.created_at, updated_at=row.updated_at,
        )  # fmt: skip


class EntryPage(BaseModel):
    """Entries by id; pass `next_cursor` as `cursor` for the next page."""

    items: list[EntryOut]
    next_cursor: str | None


class ImportOut(BaseModel):
    """What an import stored."""

    imported: int
    replaced: bool
    items: list[EntryOut]


def _audit(server_id: int, actor: str, action: str, target: str, after: object) -> AuditLogEntry:
    return AuditLogEntry(
        guild_id=server_id, actor=actor, action=action, target=target,
        before=None, after=after, created_at=utcnow(),
    )  # fmt: skip


@router.get("/faq", response_model=EntryPage)
async def list_faq(
    server_id: int,
    session: SessionDep,
    caller: CallerDep,
    language: Annotated[str | None, Query(max_length=8)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> EntryPage:
    """The knowledge base with hit and feedback counts (viewer)."""
    caller.require(server_id, "viewer")
    try:
        page = await store.list_entries(
            session, server_id, language=language, tag=tag, cursor=cursor, limit=limit
        )
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    return EntryPage(items=[EntryOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.post("/faq", status_code=201, response_model=EntryOut)
async def create_faq(
    server_id: int, body: EntryIn, session: SessionDep, caller: CallerDep
) -> EntryOut:
    """Add an entry (moderator)."""
    caller.require(server_id, "moderator")
    async with session.begin():
        (row,) = await store.create_entries(session, server_id, [body.draft()])
        session.add(
            _audit(server_id, caller.name, "faq.create", f"faq:{row.id}", body.model_dump())
        )
    return EntryOut.of(row)


async def _entry(session: SessionDep, server_id: int, entry_id: int) -> FAQEntry:
    row = await store.get_entry(session, server_id, entry_id)
    if row is None:
        raise ApiError(404, "not_found", f"no FAQ entry {entry_id} in this server")
    return row


@router.get("/faq/{entry_id}", response_model=EntryOut)
async def get_faq(
    server_id: int, entry_id: int, session: SessionDep, caller: CallerDep
) -> EntryOut:
    """One entry with its counts (viewer)."""
    caller.require(server_id, "viewer")
    return EntryOut.of(await _entry(session, server_id, entry_id))


@router.put("/faq/{entry_id}", response_model=EntryOut)
async def put_faq(
    server_id: int, entry_id: int, body: EntryIn, session: SessionDep, caller: CallerDep
) -> EntryOut:
    """Replace an entry's content; its counts stay (moderator)."""
    caller.require(server_id, "moderator")
    async with session.begin():
        row = await store.update_entry(session, server_id, entry_id, body.draft())
        if row is None:
            raise ApiError(404, "not_found", f"no FAQ entry {entry_id} in this server")
        session.add(
            _audit(server_id, caller.name, "faq.update", f"faq:{entry_id}", body.model_dump())
        )
    return EntryOut.of(row)


@router.delete("/faq/{entry_id}", status_code=204)
async def delete_faq(
    server_id: int, entry_id: int, session: SessionDep, caller: CallerDep
) -> Response:
    """Remove an entry and its votes (moderator)."""
    caller.require(server_id, "moderator")
    async with session.begin():
        if not await store.delete_entry(session, server_id, entry_id):
            raise ApiError(404, "not_found", f"no FAQ entry {entry_id} in this server")
        session.add(_audit(server_id, caller.name, "faq.delete", f"faq:{entry_id}", None))
    return Response(status_code=204)


def _format_of(request: Request, given: str | None) -> str | None:
    if given:
        return given
    kind = request.headers.get("content-type", "").lower()
    if "csv" in kind:
        return "csv"
    return "markdown" if "markdown" in kind else None


@router.post("/faq/import", response_model=ImportOut)
async def import_faq(
    server_id: int,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    format: Literal["markdown", "csv"] | None = None,
    mode: Literal["append", "replace"] = "append",
) -> ImportOut:
    """Import a Markdown or CSV file; all or nothing (admin).

    Markdown: `## question`, optional `variants:`/`tags:`/`language:` lines, then the answer.
    CSV: `question,answer,language,tags,variants` with `|` between items.
    """
    caller.require(server_id, "admin")
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise ApiError(413, "too_large", f"the file is over {MAX_IMPORT_BYTES} bytes")
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(422, "invalid_file", "the file is not UTF-8 text") from exc
    drafts, problems = parse_entries(content, _format_of(request, format))
    if problems:
        raise ApiError(
            422, "invalid_file",
            f"the file was not imported: {len(problems)} problem(s)", problems,
        )  # fmt: skip
    async with session.begin():
        rows = await store.create_entries(session, server_id, drafts, replace=mode == "replace")
        session.add(
            _audit(server_id, caller.name, "faq.import", f"faq:{mode}", {"entries": len(rows)})
        )
    return ImportOut(
        imported=len(rows), replaced=mode == "replace", items=[EntryOut.of(r) for r in rows]
    )
