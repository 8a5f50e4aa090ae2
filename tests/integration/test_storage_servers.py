"""Guild rows and versioned configuration on both backends."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.models import Server, UserLevel
from storage.servers import (
    VersionConflict,
    allocate_ticket_number,
    config_versions,
    ensure_server,
    get_server_config,
    list_server_config_history,
    put_server_config,
)

GUILD = 111_111_111_111_111_111


async def _put(factory, config, expected, by="admin"):
    async with factory() as session, session.begin():
        return await put_server_config(
            session, GUILD, config, expected_version=expected, changed_by=by
        )


async def _config(factory):
    async with factory() as session:
        return await get_server_config(session, GUILD)


async def test_ensure_server_inserts_then_renames(session_factory):
    """The first call creates the guild; later calls keep it and follow renames."""
    for name in ("Old name", "New name", "New name"):
        async with session_factory() as session, session.begin():
            await ensure_server(session, GUILD, name)
    async with session_factory() as session:
        servers = (await session.scalars(select(Server))).all()
    assert [(s.id, s.name, s.config_version, s.tier) for s in servers] == [
        (GUILD, "New name", 0, "starter")
    ]


async def test_unknown_guild_has_no_config(session_factory):
    assert await _config(session_factory) == (None, 0)


async def test_put_bumps_version_and_keeps_history(session_factory):
    """Each put is a new version with a history row; the newest comes first."""
    assert await _put(session_factory, {"a": 1}, None, by="setup") == 1
    assert await _put(session_factory, {"a": 2}, 1, by="api:alice") == 2
    assert await _config(session_factory) == ({"a": 2}, 2)
    async with session_factory() as session:
        history = await list_server_config_history(session, GUILD)
    assert [(h.version, h.config, h.changed_by) for h in history] == [
        (2, {"a": 2}, "api:alice"),
        (1, {"a": 1}, "setup"),
    ]
    assert all(h.changed_at.tzinfo is not None for h in history)


async def test_version_conflict_changes_nothing(session_factory):
    """A stale writer is refused, and the stored config and history stay as they were."""
    await _put(session_factory, {"a": 1}, None)
    await _put(session_factory, {"a": 2}, 1)
    with pytest.raises(VersionConflict) as conflict:
        await _put(session_factory, {"a": "stale"}, 1)
    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    assert await _config(session_factory) == ({"a": 2}, 2)
    async with session_factory() as session:
        assert len(await list_server_config_history(session, GUILD)) == 2


async def test_first_put_with_expected_version(session_factory):
    """Version 0 means "never configured": it creates the guild; any other version conflicts."""
    with pytest.raises(VersionConflict):
        await _put(session_factory, {"a": 1}, 3)
    async with session_factory() as session:
        assert await session.get(Server, GUILD) is None
    assert await _put(session_factory, {"a": 1}, 0) == 1
    with pytest.raises(VersionConflict):
        await _put(session_factory, {"a": 2}, 0)


async def test_put_on_a_known_unconfigured_guild(session_factory):
    async with session_factory() as session, session.begin():
        await ensure_server(session, GUILD, "Guild")
    assert await _put(session_factory, {"a": 1}, 0) == 1
    async with session_factory() as session:
        assert (await session.get(Server, GUILD)).name == "Guild"


async def test_concurrent_puts_at_the_same_version_have_one_winner(session_factory):
    """Optimistic concurrency: of ten editors who read version 1, exactly one succeeds."""
    await _put(session_factory, {"n": 0}, None)
    results = await asyncio.gather(
        *(_put(session_factory, {"n": i}, 1) for i in range(1, 11)), return_exceptions=True
    )
    winners = [r for r in results if r == 2]
    assert len(winners) == 1
    assert all(isinstance(r, VersionConflict) for r in results if r != 2)
    config, version = await _config(session_factory)
    assert version == 2 and config["n"] in range(1, 11)


async def test_concurrent_unconditional_puts_all_land(session_factory):
    """Without an expected version every write lands, each with its own version."""
    versions = await asyncio.gather(*(_put(session_factory, {"n": i}, None) for i in range(10)))
    assert sorted(versions) == list(range(1, 11))
    async with session_factory() as session:
        count = await session.scalar(select(func.count()).select_from(Server))
    assert count == 1


async def test_ticket_numbers_are_per_guild(session_factory):
    numbers = []
    for guild in (GUILD, GUILD, 5, GUILD):
        async with session_factory() as session, session.begin():
            numbers.append(await allocate_ticket_number(session, guild))
    assert numbers == [1, 2, 1, 3]


async def test_foreign_keys_are_enforced(session_factory):
    """Guild-scoped rows need their guild first (SQLite enforces this too: foreign_keys=ON)."""
    with pytest.raises(IntegrityError):
        async with session_factory() as session, session.begin():
            session.add(UserLevel(guild_id=GUILD, user_id=1))


async def test_conflict_leaves_the_transaction_usable(session_factory):
    """A caller can catch VersionConflict, read the winner's config and commit (no failed SQL)."""
    await _put(session_factory, {"a": 1}, None)
    async with session_factory() as session, session.begin():
        with pytest.raises(VersionConflict):
            await put_server_config(session, GUILD, {"a": 9}, expected_version=0, changed_by="x")
        assert await get_server_config(session, GUILD) == ({"a": 1}, 1)
        await ensure_server(session, GUILD, "still writable")


async def test_config_versions_of_known_guilds(session_factory):
    await _put(session_factory, {"a": 1}, None)
    await _put(session_factory, {"a": 2}, None)
    async with session_factory() as session, session.begin():
        await ensure_server(session, 5, "unconfigured")
    async with session_factory() as session:
        assert await config_versions(session, [GUILD, 5, 6]) == {GUILD: 2, 5: 0}
        assert await config_versions(session, []) == {}
