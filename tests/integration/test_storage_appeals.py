"""Appeals on both backends: one pending appeal per member and sanction, decisions close them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from storage.appeals import (
    AppealPending,
    decide_appeal,
    get_appeal,
    open_appeal,
    pending_appeal,
    withdraw_appeal,
)

GUILD = 111_111_111_111_111_111
USER = 333_333_333_333_333_333
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def _open(factory, *, sanction="ban", text="I am sorry", user=USER):
    async with factory() as session, session.begin():
        return await open_appeal(
            session, guild_id=GUILD, user_id=user, sanction=sanction, text=text, created_at=T0
        )


async def test_one_pending_appeal_per_member_and_sanction(session_factory):
    first = await _open(session_factory)
    assert (first.status, first.sanction, first.text, first.created_at) == (
        "pending",
        "ban",
        "I am sorry",
        T0,
    )
    with pytest.raises(AppealPending) as refused:
        await _open(session_factory, text="again")
    assert refused.value.existing.id == first.id
    # another sanction, or another member, is a separate appeal
    assert (await _open(session_factory, sanction="timeout")).id != first.id
    assert (await _open(session_factory, user=USER + 1)).id != first.id


async def test_a_decided_appeal_makes_room_for_a_new_one(session_factory):
    first = await _open(session_factory)
    async with session_factory() as session, session.begin():
        assert await decide_appeal(session, first.id, granted=False, decided_at=T0)
        assert not await decide_appeal(session, first.id, granted=True, decided_at=T0)
    async with session_factory() as session:
        stored = await get_appeal(session, first.id)
        assert stored is not None and stored.status == "denied" and stored.decided_at == T0
        assert await pending_appeal(session, GUILD, USER, "ban") is None
    second = await _open(session_factory, text="please reconsider")
    assert second.id != first.id


async def test_a_withdrawn_appeal_can_be_sent_again(session_factory):
    first = await _open(session_factory)
    async with session_factory() as session, session.begin():
        await withdraw_appeal(session, first.id)
    async with session_factory() as session:
        assert await get_appeal(session, first.id) is None
    assert (await _open(session_factory)).status == "pending"


async def test_simultaneous_appeals_leave_exactly_one(session_factory):
    results = await asyncio.gather(
        *(_open(session_factory, text=f"try {i}") for i in range(4)), return_exceptions=True
    )
    opened = [r for r in results if not isinstance(r, BaseException)]
    assert len(opened) == 1
    assert all(isinstance(r, AppealPending) for r in results if r not in opened)


@pytest.mark.parametrize(("sanction", "text"), [("kick", "sorry"), ("ban", "   ")])
async def test_only_bans_and_timeouts_with_text_are_appealed(session_factory, sanction, text):
    with pytest.raises(ValueError):
        await _open(session_factory, sanction=sanction, text=text)
