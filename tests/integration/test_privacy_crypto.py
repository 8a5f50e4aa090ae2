"""Encrypted free text on a real database: ciphertext at rest, plaintext through the ORM and API,
no secret in the logs, and erasure still finding the member inside encrypted columns."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from test_privacy import ALICE, BOB, GUILD, rows_naming, seed

from dcs.settings import Settings
from storage import crypto
from storage.models import Appeal, ModerationCase, Server, SupportTicket
from storage.privacy import erase_member, export_member
from storage.retention import ERASED, erase_message_content

KEY = Fernet.generate_key().decode()


@pytest.fixture
def encrypted():
    """Encryption on with KEY for the test; the previous state afterwards."""
    saved = (crypto._Keys.configured, crypto._Keys.cipher)
    crypto.configure([KEY])
    yield
    crypto._Keys.configured, crypto._Keys.cipher = saved


async def _raw(session, sql: str) -> list[str]:
    return list((await session.execute(text(sql))).scalars())


async def test_raw_columns_hold_ciphertext_and_the_orm_plaintext(session_factory, encrypted):
    async with session_factory() as session, session.begin():
        session.add(Server(id=GUILD, name="g"))
        await session.flush()
        session.add(Appeal(id="ap", guild_id=GUILD, user_id=ALICE, sanction="ban", text="sorry!"))
        session.add(
            SupportTicket(
                guild_id=GUILD, number=1, user_id=ALICE, subject="s", description="my card",
                transcript="alice: my password is hunter2",
            )
        )  # fmt: skip
    async with session_factory() as session:
        (stored,) = await _raw(session, "SELECT text FROM appeals")
        assert stored.startswith(crypto.PREFIX) and "sorry" not in stored
        (transcript,) = await _raw(session, "SELECT transcript FROM support_tickets")
        assert "hunter2" not in transcript
        (description,) = await _raw(session, "SELECT description FROM support_tickets")
        assert "card" not in description
        ticket = await session.scalar(select(SupportTicket))
        assert ticket is not None
        assert ticket.transcript == "alice: my password is hunter2"
        assert ticket.description == "my card"
        assert await session.scalar(select(Appeal.text)) == "sorry!"


async def test_plaintext_written_before_the_key_still_reads(session_factory, encrypted):
    async with session_factory() as session, session.begin():
        session.add(Server(id=GUILD, name="g"))
        await session.flush()
        await session.execute(
            text(
                "INSERT INTO appeals (id, guild_id, user_id, sanction, text, status, created_at) "
                "VALUES ('old', :g, :u, 'ban', 'from last year', 'pending', CURRENT_TIMESTAMP)"
            ),
            {"g": GUILD, "u": ALICE},
        )
    async with session_factory() as session, session.begin():
        appeal = await session.get(Appeal, "old")
        assert appeal is not None and appeal.text == "from last year"
        appeal.text = "edited"
    async with session_factory() as session:
        (stored,) = await _raw(session, "SELECT text FROM appeals")
        assert stored.startswith(crypto.PREFIX)
        # Retention's "already erased" test compares with the empty string: it stays plain.
        await session.execute(text("UPDATE appeals SET text = ''"))
        assert await session.scalar(select(Appeal.id).where(Appeal.text != ERASED)) is None


async def test_erasure_and_export_look_inside_encrypted_columns(session_factory, encrypted):
    await seed(session_factory)  # Bob's ticket transcript quotes <@ALICE>, encrypted now
    async with session_factory() as session:
        doc = await export_member(session, GUILD, ALICE)
        assert len(doc["support_tickets"]) == 2
    async with session_factory() as session, session.begin():
        await erase_member(session, GUILD, ALICE)
    async with session_factory() as session:
        assert await rows_naming(session, ALICE) == []
        ticket = await session.scalar(select(SupportTicket).where(SupportTicket.user_id == BOB))
        assert ticket is not None and ticket.transcript == "<@erased> answered"
        raw = await _raw(session, "SELECT transcript FROM support_tickets")
        assert all(value.startswith(crypto.PREFIX) for value in raw)


async def test_no_secret_reaches_the_logs(api, token, session_factory, caplog, monkeypatch):
    """An API session with a token, keys and bot secrets configured: none of them is logged."""
    bot_token = "MTAxOTk5.secret-bot-token.abcdefghijklmnop"
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", KEY)
    monkeypatch.setenv("DISCORD_BOT_TOKEN", bot_token)
    saved = (crypto._Keys.configured, crypto._Keys.cipher)
    crypto._Keys.configured = False  # read the keys from the settings, as a process does
    try:
        caplog.set_level(logging.DEBUG)
        settings = Settings()
        logging.getLogger("dcs.test").info("settings: %s %r", settings, settings)
        await seed(session_factory)
        headers = await token("admin")
        secret = headers["Authorization"].removeprefix("Bearer ")
        url = f"/api/servers/{GUILD}/users/{ALICE}"
        assert (await api.get(f"{url}/export", headers=headers)).status_code == 200
        wrong = {"Authorization": "Bearer " + secret[:-1]}
        assert (await api.get(f"{url}/export", headers=wrong)).status_code == 401
        transcript = await api.get(f"/api/servers/{GUILD}/tickets/1/transcript", headers=headers)
        assert transcript.text == "alice: hi"
        async with session_factory() as session:
            assert "alice: hi" not in await _raw(session, "SELECT transcript FROM support_tickets")
    finally:
        crypto._Keys.configured, crypto._Keys.cipher = saved
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records  # the capture really ran
    for value in (secret, KEY, bot_token):
        assert value not in logged


async def test_case_excerpts_are_encrypted_and_retention_still_strips_them(
    session_factory, encrypted
):
    async with session_factory() as session, session.begin():
        session.add(Server(id=GUILD, name="g"))
        await session.flush()
        session.add(
            ModerationCase(
                guild_id=GUILD, case_number=1, user_id=ALICE, action="warn", reason="spam",
                evidence={"excerpt": "buy cheap nitro", "rule": "scam"}, source="automod",
                source_key="k1", created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )  # fmt: skip
    async with session_factory() as session:
        (raw,) = await _raw(session, "SELECT CAST(evidence AS TEXT) FROM moderation_cases")
        assert "nitro" not in raw and crypto.PREFIX in raw and "scam" in raw
        case = await session.scalar(select(ModerationCase))
        assert case is not None and case.evidence == {"excerpt": "buy cheap nitro", "rule": "scam"}
    async with session_factory() as session, session.begin():
        erased = await erase_message_content(session, datetime(2026, 2, 1, tzinfo=UTC))
    assert erased.case_excerpts == 1
    async with session_factory() as session:
        assert await session.scalar(select(ModerationCase.evidence)) == {"rule": "scam"}
