"""GDPR export and erasure over every table, on SQLite and PostgreSQL.

`seed` writes rows naming ALICE in every table that can name a member, next to rows about BOB
(the control). The checks read every table and column (introspected), so a new table or column
that can hold a member is either covered by storage.privacy or fails here.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, select

from storage.models import (
    Achievement,
    AnalyticsPoint,
    Announcement,
    AntiNukeIncident,
    Appeal,
    AuditLogEntry,
    Base,
    EngagementAward,
    Event,
    EventRSVP,
    FAQEntry,
    FAQFeedback,
    MemberTimezone,
    ModerationCase,
    OutboxEntry,
    PendingApproval,
    RaidIncident,
    RaidIncidentMember,
    Server,
    SupportTicket,
    UserLevel,
)
from storage.privacy import (
    NOT_USER_COLUMNS,
    TOMBSTONE_ID,
    UNSWEPT_TABLES,
    USER_COLUMNS,
    erase_member,
    export_member,
    is_id_candidate,
)

GUILD, OTHER_GUILD = 111111111111111111, 222222222222222222
ALICE, BOB = 300000000000000001, 300000000000000002
T0 = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)
USER_ISH = re.compile(r"user|member|actor|moderator|creator|author|assigned|claimed|closed_by")


def seed_rows(guild: int = GUILD) -> list[Base]:
    """Rows naming ALICE (about her, or her acting on others) and rows only about BOB."""
    a, b = ALICE, BOB
    return [
        UserLevel(guild_id=guild, user_id=a, xp=500, total_messages=9),
        UserLevel(guild_id=guild, user_id=b, xp=100),
        Achievement(guild_id=guild, user_id=a, achievement_key="first_message", granted_at=T0),
        EngagementAward(guild_id=guild, user_id=a, award_key="event:1", xp=50),
        ModerationCase(
            guild_id=guild, case_number=1, user_id=a, moderator_id=None, action="warn",
            reason="spam", evidence={"excerpt": "alice's words"}, source="automod",
            source_key="k1", workflow_id=f"moderation:{guild}:{a}",
        ),
        ModerationCase(
            guild_id=guild, case_number=2, user_id=b, moderator_id=a, action="timeout",
            reason=f"warned by <@{a}>", evidence={"excerpt": "bob's words", "by": a},
            source="command", source_key="k2", workflow_id=f"moderation:{guild}:{b}",
        ),
        PendingApproval(
            id="ap-a", guild_id=guild, workflow_id=f"moderation:{guild}:{a}", action="ban",
            target_user_id=a, reason="r", evidence={"excerpt": "x"}, requested_by="automod",
        ),
        PendingApproval(
            id="ap-b", guild_id=guild, workflow_id=f"moderation:{guild}:{b}", action="ban",
            target_user_id=b, reason="r", requested_by=f"moderator:{a}",
            decided_by=f"discord:{a}", status="approved", decision_channel="discord",
        ),
        Appeal(id="appeal-a", guild_id=guild, user_id=a, sanction="ban", text="please"),
        # Named only inside (encryptable) free text: Bob's appeal and a case about Bob.
        Appeal(id="appeal-b", guild_id=guild, user_id=b, sanction="ban", text=f"<@{a}> did it"),
        ModerationCase(
            guild_id=guild, case_number=3, user_id=b, action="warn", reason="spam",
            evidence={"excerpt": f"hey <@{a}>"}, source="automod", source_key="k3",
        ),
        SupportTicket(
            guild_id=guild, number=1, user_id=a, subject="help", transcript="alice: hi",
        ),
        SupportTicket(
            guild_id=guild, number=2, user_id=b, subject="bob's", assigned_to=a, claimed_by=a,
            closed_by=a, transcript=f"<@{a}> answered",
        ),
        Event(
            id=1, guild_id=guild, title="party", timezone="UTC", start_at=T0,
            spec={"title": "party", "created_by": a}, created_by=a,
        ),
        EventRSVP(
            event_id=1, occurrence=0, user_id=a, guild_id=guild, status="going", choice="going",
            seq=1, source="button",
        ),
        EventRSVP(
            event_id=1, occurrence=0, user_id=b, guild_id=guild, status="going", choice="going",
            seq=2, source="button",
        ),
        FAQEntry(id=1, guild_id=guild, question="q?", answer="a."),
        FAQFeedback(message_id=9, user_id=a, guild_id=guild, entry_id=1, helpful=True),
        RaidIncident(
            id=1, guild_id=guild, incident_number=1, workflow_id=f"raid:{guild}",
            workflow_run_id=f"run-{guild}", trigger="manual", started_by=f"discord:{a}",
            reason="raid", started_at=T0, raid_invite_creator_id=a,
        ),
        RaidIncidentMember(incident_id=1, guild_id=guild, user_id=a, username="alice"),
        RaidIncidentMember(incident_id=1, guild_id=guild, user_id=b, username="bob"),
        AntiNukeIncident(
            guild_id=guild, actor_id=a, workflow_id=f"antinuke:{guild}:{a}",
            workflow_run_id=f"nuke-{guild}", trigger="channel_delete", summary="deleted 5",
            mitigation="quarantined", evidence=[{"actor": a, "what": "channel_delete"}],
            started_at=T0,
        ),
        AnalyticsPoint(guild_id=guild, metric="messages", value=3, date=date(2026, 11, 20), hour=5),
        Announcement(
            guild_id=guild, number=1, channel_id=5, title="t", body="b", colour=0,
            timezone="UTC", created_by=f"discord:{a}",
        ),
        AuditLogEntry(
            guild_id=guild, actor="admin-token", action="levels.set", target=f"user:{a}",
            before={"xp": 1}, after={"xp": 2},
        ),
        AuditLogEntry(guild_id=guild, actor="admin-token", action="faq.create", target="faq:1"),
        OutboxEntry(kind="violation", payload={"guild_id": guild, "user_id": a}),
    ]  # fmt: skip


async def seed(session_factory, guild: int = GUILD) -> None:
    async with session_factory() as session, session.begin():
        session.add(Server(id=guild, name="g"))
        await session.flush()
        for row in seed_rows(guild):
            session.add(row)
            await session.flush()


async def _seed_both(session_factory) -> None:
    await seed(session_factory, GUILD)
    async with session_factory() as session, session.begin():
        session.add(Server(id=OTHER_GUILD, name="other"))
        await session.flush()
        session.add(UserLevel(guild_id=OTHER_GUILD, user_id=ALICE, xp=7))
        other = Appeal(id="appeal-o", guild_id=OTHER_GUILD, user_id=ALICE, sanction="ban", text="x")
        session.add(other)


async def rows_naming(session, user_id: int, guild: int | None = GUILD) -> list[str]:
    """`table.column` of every value, in every table and column, that holds the id."""
    pattern = re.compile(rf"(?<!\d){user_id}(?!\d)")
    found = []
    for table in Base.metadata.sorted_tables:
        for row in await session.execute(select(table)):
            m = row._mapping
            if guild is not None and m.get("guild_id", guild) != guild:
                continue
            for column, value in m.items():
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                if value == user_id or (not isinstance(value, int) and pattern.search(text)):
                    found.append(f"{table.name}.{column}")
    return found


def test_every_id_column_in_the_models_is_classified():
    """A new column holding a Discord id must be added to USER_COLUMNS or NOT_USER_COLUMNS."""
    unclassified = []
    for table in Base.metadata.tables.values():
        for column in table.c:
            key = (table.name, column.name)
            if key in USER_COLUMNS or key in NOT_USER_COLUMNS:
                continue
            user_ish = USER_ISH.search(column.name) and not isinstance(column.type, BigInteger)
            if is_id_candidate(table, column.name) or (user_ish and table.name in UNSWEPT_TABLES):
                unclassified.append(key)
    assert unclassified == []
    for table_name, column_name in [*USER_COLUMNS, *NOT_USER_COLUMNS]:
        assert column_name in Base.metadata.tables[table_name].c, (table_name, column_name)


async def test_export_lists_every_row_naming_the_member(session_factory):
    await _seed_both(session_factory)
    async with session_factory() as session:
        doc = await export_member(session, GUILD, ALICE)
    counts = {table: len(rows) for table, rows in doc.items() if rows}
    assert counts == {
        "user_levels": 1,
        "achievements": 1,
        "engagement_awards": 1,
        "moderation_cases": 3,  # her case, Bob's case she made, Bob's case quoting her
        "pending_approvals": 2,
        "appeals": 2,  # hers and Bob's quoting her, not the other server's
        "support_tickets": 2,
        "events": 1,
        "event_rsvps": 1,
        "faq_feedback": 1,
        "raid_incidents": 1,
        "raid_incident_members": 1,
        "anti_nuke_incidents": 1,
        "announcements": 1,
        "audit_log": 1,
        "outbox": 1,
    }
    level = doc["user_levels"][0]
    assert (level["user_id"], level["xp"], level["total_messages"]) == (str(ALICE), 500, 9)
    assert doc["support_tickets"][0]["transcript"] == "alice: hi"
    assert doc["achievements"][0]["granted_at"].startswith("2026-11-20T18:30")
    json.dumps(doc)  # one JSON document


async def test_erasure_leaves_no_trace_of_the_member_and_keeps_others(session_factory):
    await _seed_both(session_factory)
    async with session_factory() as session, session.begin():
        session.add(MemberTimezone(user_id=ALICE, timezone="Europe/Paris"))
    async with session_factory() as session:
        assert len(await rows_naming(session, ALICE)) > 20
        before_bob = sorted(await rows_naming(session, BOB))
    async with session_factory() as session, session.begin():
        counts = await erase_member(session, GUILD, ALICE)
    assert counts.deleted["user_levels"] == 1
    assert counts.deleted["moderation_cases"] == 1
    assert counts.deleted["member_timezones"] == 1
    assert counts.anonymised["moderation_cases"] == 2
    assert counts.anonymised["appeals"] == 1
    async with session_factory() as session:
        assert await rows_naming(session, ALICE) == []
        assert sorted(await rows_naming(session, BOB)) == before_bob
        doc = await export_member(session, GUILD, ALICE)
        assert all(rows == [] for rows in doc.values()), doc
        bobs_case = await session.scalar(
            select(ModerationCase).where(ModerationCase.user_id == BOB)
        )
        assert bobs_case is not None
        assert bobs_case.moderator_id == TOMBSTONE_ID
        assert bobs_case.reason == "warned by <@erased>"
        assert bobs_case.evidence == {"excerpt": "bob's words", "by": TOMBSTONE_ID}
        ticket = await session.scalar(select(SupportTicket).where(SupportTicket.user_id == BOB))
        assert ticket is not None
        assert (ticket.assigned_to, ticket.transcript) == (TOMBSTONE_ID, "<@erased> answered")
        assert await session.scalar(select(AntiNukeIncident.actor_id)) == TOMBSTONE_ID
        # The other server keeps what it holds.
        others = await rows_naming(session, ALICE, guild=OTHER_GUILD)
        assert sorted(others) == ["appeals.user_id", "user_levels.user_id"]
    async with session_factory() as session, session.begin():
        again = await erase_member(session, GUILD, ALICE)
    assert again.total == 0
