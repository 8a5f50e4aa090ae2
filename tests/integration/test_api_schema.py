"""Property-based tests of the management API against its own OpenAPI schema (schemathesis).

The app is served by uvicorn on loopback in a thread (its own event loop and engine, as in
production), on a migrated database with a seeded server: members with XP, moderation cases and
FAQ entries, so GET-by-id paths sometimes hit a row. For every operation schemathesis generates
requests from the schema (valid ones, and for the admin pass also invalid ones) and each answer
must be documented: its status code, content type and body. No 5xx is allowed except a documented
503 in the error format, which the endpoints that signal Temporal answer while it is unreachable
(TEMPORAL_ADDRESS points at a closed port here). A viewer token must get 403 for every write, and
no token 401 everywhere but /health and the key-authenticated calendar feed.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from domain.faq import EntryDraft
from storage.cases import record_case
from storage.engine import create_engine, make_sessionmaker
from storage.faq import create_entries
from storage.levels import set_xp

CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/api/servers/{server_id}/events.ics"),
        ("GET", "/auth/discord/login"),
        ("GET", "/auth/discord/callback"),
    }
)
"""Operations without a bearer token: liveness, the feed calendar apps fetch with `?key=`, and
the Discord OAuth2 login (503 here: no DISCORD_CLIENT_ID)."""
NOT_COVERED = (
    "/metrics",
    "/discord/webhook",
    "/health/ready",
    "/api/servers/{server_id}/users/{user_id}",
    "/api/servers/{server_id}/users/{user_id}/export",
)
"""Paths added in the same batch by other work (metrics, Discord interactions webhook, readiness,
privacy), with tests of their own; fuzzing them here would chase a moving target."""
SEEDED_USERS = [1001, 1002, 1003, 1004, 1005]
DEFAULT_GUILD = 111111111111111111
"""The `token` fixture's server (conftest.DEFAULT_GUILD)."""


class _Server:
    """The app under uvicorn in a background thread, with an engine of its own loop."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.schema: dict[str, Any] = {}
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        engine = create_engine(self.database_url)
        app = create_app(make_sessionmaker(engine))
        self.schema = app.openapi()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        try:
            await self._server.serve()
        finally:
            await engine.dispose()

    def __enter__(self) -> _Server:
        self._thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._server is not None and self._server.started:
                return self
            time.sleep(0.02)
        raise RuntimeError("the API did not start")

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=10)


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[Any]]:
    """Rows for the by-id paths: members with XP, three cases, two FAQ entries."""
    async with sessions() as session, session.begin():
        for n, user in enumerate(SEEDED_USERS):
            await set_xp(session, DEFAULT_GUILD, user, 100 * (n + 1), level_of=lambda xp: xp // 100)
        for n, action in enumerate(("warn", "timeout", "ban"), start=1):
            await record_case(
                session,
                guild_id=DEFAULT_GUILD,
                user_id=SEEDED_USERS[0],
                action=action,
                reason=f"seed {n}",
                source="manual",
                source_key=f"seed:{n}",
                moderator_id=42,
                points=1,
                created_at=datetime(2026, 11, n, tzinfo=UTC),
            )
        entries = await create_entries(
            session,
            DEFAULT_GUILD,
            [
                EntryDraft("How do I verify?", "Press the button in #verify.", tags=("join",)),
                EntryDraft("Wann ist das Event?", "Freitag um 20 Uhr.", language="de"),
            ],
        )
    return {
        "server_id": [DEFAULT_GUILD],
        "user_id": SEEDED_USERS,
        "entry_id": [entry.id for entry in entries],
        "number": [1],
    }


@pytest.fixture
def no_temporal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Temporal unreachable (a closed port refuses at once); rate limits out of the fuzzer's way."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")
    monkeypatch.setenv("API_RATE_LIMIT_PER_MINUTE", "1000000")
    monkeypatch.setenv("API_RATE_LIMIT_ADMIN_PER_MINUTE", "1000000")


@pytest.fixture
async def served(
    migrated_db: str,
    session_factory: async_sessionmaker[AsyncSession],
    no_temporal: None,
) -> Any:
    """(server, seeded path values), the server started on the seeded database."""
    seeded = await _seed(session_factory)
    server = _Server(migrated_db)
    await asyncio.to_thread(server.__enter__)
    try:
        yield server, seeded
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)


def _operations(schema: dict[str, Any]) -> Iterator[Any]:
    loaded = schemathesis.openapi.from_dict(schema)
    for result in loaded.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises here
        if operation.path not in NOT_COVERED:
            yield operation


def _fuzz(
    server: _Server,
    seeded: dict[str, list[Any]],
    headers: dict[str, str],
    *,
    examples: int,
    modes: tuple[GenerationMode, ...],
    expect: Callable[[Any, requests.Response], str | None],
) -> list[str]:
    """Run every operation's generated cases; the problems found, one line (or block) each."""
    problems: list[str] = []
    session = requests.Session()
    calls = 0

    def test_for(operation: Any, mode: GenerationMode) -> Callable[[], None]:
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def run(data: st.DataObject) -> None:
            nonlocal calls
            case = data.draw(operation.as_strategy(generation_mode=mode))
            for name in list(case.path_parameters or {}):
                if name in seeded and data.draw(st.integers(0, 3)) > 0:
                    case.path_parameters[name] = data.draw(st.sampled_from(seeded[name]))
            response = case.call(base_url=server.base_url, session=session, headers=headers)
            calls += 1
            problem = expect(case, response)
            if problem:
                raise AssertionError(problem)
            case.validate_response(response, checks=CHECKS, headers=headers)

        return run

    for operation in _operations(server.schema):
        label = f"{operation.method.upper()} {operation.path}"
        for mode in modes:
            try:
                test_for(operation, mode)()
            except Unsatisfiable:
                pass  # nothing to negate (no parameters, or none that can be made invalid)
            except (Exception, BaseExceptionGroup) as exc:  # collect them all, report at the end
                problems.append(f"{label} [{mode.value}]: {str(exc)[:1500]}")
    assert calls > 0, "no request was made:\n" + "\n".join(problems[:3])
    return problems


def _no_server_error(case: Any, response: requests.Response) -> str | None:
    """5xx only as the documented 503 in the error format (Temporal unreachable)."""
    if response.status_code < 500:
        return None
    body = response.text[:300]
    if response.status_code == 503 and '"code":"unavailable"' in body.replace(" ", ""):
        return None
    return f"{case.method} {case.formatted_path} -> {response.status_code}: {body}"


def _refused(status: int, code: str) -> Callable[[Any, requests.Response], str | None]:
    def expect(case: Any, response: requests.Response) -> str | None:
        if (case.method.upper(), case.path) in PUBLIC:
            return _no_server_error(case, response)
        if case.method.upper() not in WRITE_METHODS and status == 403:
            return _no_server_error(case, response)  # a viewer may read
        # A body the schema refuses may be rejected (422) before the role is looked at; and the
        # Temporal dependency resolves before the handler checks the role, so while Temporal is
        # down a write answers 503 (nothing is done) where it would answer 403 (see the report).
        unavailable = response.status_code == 503 and _no_server_error(case, response) is None
        if status == 403 and (response.status_code == 422 or unavailable):
            return None
        if response.status_code != status or f'"code":"{code}"' not in response.text.replace(
            " ", ""
        ):
            return (
                f"{case.method} {case.formatted_path}: expected {status} {code}, got "
                f"{response.status_code}: {response.text[:200]}"
            )
        return None

    return expect


async def test_every_operation_conforms_with_an_admin_token(served: Any, token: Any) -> None:
    """Valid and invalid requests as an admin: documented answers only, no 5xx but a 503."""
    server, seeded = served
    headers = await token("admin")
    problems = await asyncio.to_thread(
        _fuzz,
        server,
        seeded,
        headers,
        examples=6,
        modes=(GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
        expect=_no_server_error,
    )
    assert not problems, "\n\n".join(problems)


async def test_a_viewer_token_cannot_write(served: Any, token: Any) -> None:
    """Every write answers 403 to a viewer (or 422 for a body refused first); reads conform."""
    server, seeded = served
    headers = await token("viewer")
    problems = await asyncio.to_thread(
        _fuzz,
        server,
        seeded,
        headers,
        examples=3,
        modes=(GenerationMode.POSITIVE,),
        expect=_refused(403, "forbidden"),
    )
    assert not problems, "\n\n".join(problems)


async def test_no_token_is_401_everywhere_but_public_paths(served: Any) -> None:
    """Without a token every operation but /health and the calendar feed answers 401."""
    server, seeded = served
    problems = await asyncio.to_thread(
        _fuzz,
        server,
        seeded,
        {},
        examples=2,
        modes=(GenerationMode.POSITIVE,),
        expect=_refused(401, "unauthorized"),
    )
    assert not problems, "\n\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_every_operation_conforms_at_length(served: Any, token: Any) -> None:
    """The admin pass with more examples per operation, on the production database (-m slow)."""
    server, seeded = served
    headers = await token("admin")
    problems = await asyncio.to_thread(
        _fuzz,
        server,
        seeded,
        headers,
        examples=30,
        modes=(GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
        expect=_no_server_error,
    )
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize(
    "query",
    [
        "user_id=18446744073709551616",  # past int64: the database cannot hold it
        "before=9223372036854775808",
        "since=0001-01-01T00:00:00%2B01:00",  # exists with its offset, not in UTC
    ],
)
async def test_what_the_fuzzer_found_stays_a_422(api: Any, token: Any, query: str) -> None:
    """Values past what the database holds are the client's error (422), not a 500."""
    headers = await token("admin")
    answer = await api.get(f"/api/servers/{DEFAULT_GUILD}/moderation/logs?{query}", headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"


async def test_a_nul_character_is_a_422_on_postgres(
    api: Any, token: Any, database_url: str
) -> None:
    """PostgreSQL cannot store NUL in text or JSON, nor a case number past int32: the API says
    so (422) instead of failing; SQLite stores both."""
    postgres = database_url.startswith("postgresql")
    headers = await token("admin")
    path = f"/api/servers/{DEFAULT_GUILD}/faq"
    created = await api.post(
        path, json={"question": "Rules?", "answer": "Be kind."}, headers=headers
    )
    assert created.status_code == 201, created.text
    entry = created.json()["id"]
    answer = await api.put(
        f"{path}/{entry}", json={"question": "Rules\u0000?", "answer": "x"}, headers=headers
    )
    assert answer.status_code == (422 if postgres else 200), answer.text
    before = await api.get(
        f"/api/servers/{DEFAULT_GUILD}/raid/incidents?before=2147483648", headers=headers
    )
    assert before.status_code == (422 if postgres else 200), before.text
