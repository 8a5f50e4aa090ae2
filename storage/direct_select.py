"""A Core SELECT run straight on the asyncpg connection, for the API's most-polled reads.

Through the session, SQLAlchemy's execution and result layers cost a 51-row page about three
times what asyncpg itself spends fetching it (docs/api-load.md, round 3). A `DirectSelect` keeps
what matters from that layer and drops the rest: the statement is still built from the models
(so it follows schema changes), compiled once per dialect, its bind values and result columns
still go through the column types' own processors (aware UTC datetimes, evidence decryption),
and it runs on the request session's own connection (one pool, the same transaction state).
What it skips is the per-call execution context, cursor wrapper and `Row` objects, and, outside
a transaction, the session's connection: the statement runs on a pooled connection with no
`BEGIN`/`ROLLBACK` around it.

Only on PostgreSQL with asyncpg, and only while nobody observes the engine's statements: with
SQL echo on or a connection event listener registered (tracing, statement counting in tests),
it runs through the session as usual, so they see it. Callers get the same rows either way.
It only ever runs SELECTs (checked when built).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    binds: tuple[tuple[str, _Processor], ...]
    """Each positional parameter's bind name and its type's bind processor, in order."""
    results: tuple[tuple[int, Callable[[Any], Any]], ...]
    """(column index, result processor) for the columns whose type converts values."""


class DirectSelect:
    """A SELECT with named bind parameters, compiled once, fetched as plain tuples."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Select[Any]) -> None:
        if not statement.is_select:
            raise TypeError("DirectSelect runs SELECT statements only")
        self.statement = statement
        self._compiled: tuple[Dialect, _Compiled] | None = None

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """The result rows as tuples in the statement's column order.

        In a session with a transaction open, on that transaction's connection (it sees the
        session's own uncommitted writes). Otherwise on a connection borrowed from the engine's
        pool for this one statement, with no transaction at all: no `BEGIN`/`ROLLBACK` round
        trips, and no session connection bookkeeping. Any error on the direct path (a value
        PostgreSQL refuses, a dropped connection) is reported by running the statement once
        more the ordinary way, so callers get SQLAlchemy's exceptions as everywhere else.
        """
        engine = session.bind
        if session.in_transaction() or not isinstance(engine, AsyncEngine):
            connection = await session.connection()
            if not _direct(connection.dialect) or _observed(connection.sync_connection):
                return await self._through_session(session, params)
            raw = await connection.get_raw_connection()
            try:
                return await self._fetch(raw, connection.dialect, params)
            except Exception:
                return await self._through_session(session, params)
        if not _direct(engine.dialect) or _engine_observed(engine):
            return await self._through_session(session, params)
        raw = await engine.raw_connection()
        try:
            return await self._fetch(raw, engine.dialect, params)
        except Exception:
            driver = raw.driver_connection
            if driver is None or driver.is_closed():
                await greenlet_spawn(raw.invalidate)
            return await self._through_session(session, params)
        finally:
            await greenlet_spawn(raw.close)  # back to the pool (its reset runs no statement)

    async def _through_session(
        self, session: AsyncSession, params: Mapping[str, Any]
    ) -> list[Sequence[Any]]:
        return list(await session.execute(self.statement, params))

    async def _fetch(
        self, raw: PoolProxiedConnection, dialect: Dialect, params: Mapping[str, Any]
    ) -> list[Sequence[Any]]:
        compiled = self._compile(dialect)
        args = [
            params[name] if process is None else process(params[name])
            for name, process in compiled.binds
        ]
        records = await raw.driver_connection.fetch(compiled.sql, *args)  # type: ignore[union-attr]
        if not compiled.results:
            return [tuple(record) for record in records]
        out: list[Sequence[Any]] = []
        for record in records:
            row = list(record)
            for index, process in compiled.results:
                row[index] = process(row[index])
            out.append(row)
        return out

    def _compile(self, dialect: Dialect) -> _Compiled:
        cached = self._compiled
        if cached is not None and cached[0] is dialect:
            return cached[1]
        compiled = self.statement.compile(dialect=dialect)
        names = compiled.positiontup or []
        binds = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        )
        results = []
        for index, column in enumerate(self.statement.selected_columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                results.append((index, process))
        sql = str(compiled)
        if "__[POSTCOMPILE" in sql:  # expanding IN lists are rendered per call: not for this path
            raise TypeError("DirectSelect cannot run statements with expanding parameters")
        built = _Compiled(sql, binds, tuple(results))
        self._compiled = (dialect, built)
        return built


def _direct(dialect: Dialect) -> bool:
    return dialect.name == "postgresql" and dialect.driver == "asyncpg"


def _observed(connection: Any) -> bool:
    """True when SQL echo is on or connection events have listeners (`before_cursor_execute`...).

    Reads SQLAlchemy's own flags for that (what `Connection` checks before each statement); if a
    release renames them, the answer is True and every call takes the ordinary path.
    """
    return bool(
        getattr(connection, "_echo", True)
        or getattr(connection, "_has_events", True)
        or _engine_observed(connection.engine)
    )


def _engine_observed(engine: Any) -> bool:
    """`_observed` before any connection exists: engine-level listeners or SQL logging."""
    sync = getattr(engine, "sync_engine", engine)
    should_log = getattr(sync, "_should_log_info", None)
    return bool(getattr(sync, "_has_events", True) or should_log is None or should_log())
