"""The anti-nuke incident workflow alone (time-skipping server, real activities on the simulator):
an unanswered approval expires with nothing restored, evidence sent twice is kept once, and a
restore retried after it already happened creates nothing twice."""

import uuid
from datetime import UTC, datetime

from moderation_harness import Helpers, approvals_of
from sqlalchemy import select
from temporalio.worker import Worker

from activities.anti_nuke import (
    AntiNukeActivities,
    RestoreChannelInput,
    RestoreRoleInput,
    WebhookInput,
)
from activities.discord_rest import DiscordHttp
from dcs.temporal import anti_nuke_activities, moderation_activities
from domain.anti_nuke import ChannelRecord, Evidence, OverwriteRecord, RoleRecord
from storage.models import AntiNukeIncident
from workflows.anti_nuke import (
    EVIDENCE_SIGNAL,
    AntiNukeInput,
    AntiNukeWorkflow,
    anti_nuke_workflow_id,
)

T0 = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def deleted_channel(sim, name="lost-and-found"):
    record = ChannelRecord(
        channel_id=424242,
        name=name,
        type=0,
        position=3,
        topic="gone",
        parent_id=None,
        overwrites=(OverwriteRecord(sim.world.role("Moderator"), 0, 1024, 0),),
    )
    return Evidence("channel_delete", record.channel_id, T0, f"#{name}", channel=record)


async def test_an_unanswered_incident_expires_with_nothing_restored(env, session_factory, sim):
    queue = f"antinuke-{uuid.uuid4()}"
    helpers = Helpers()
    http = DiscordHttp(sim.api_base, "sandbox-token")
    guild, actor = sim.world.guild_id, sim.world.member("alice")
    inp = AntiNukeInput(
        guild_id=guild,
        actor_id=actor,
        trigger="channel_delete",
        summary="<@alice>: 3 channel_delete in 2 s",
        mitigation="quarantined",
        mod_log_channel_id=sim.world.channel("mod-log"),
        approval_timeout_minutes=60,
    )
    evidence = deleted_channel(sim)
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[AntiNukeWorkflow],
        activities=[
            *moderation_activities(session_factory, http),
            *anti_nuke_activities(session_factory, http),
            *helpers.activities(session_factory),
        ],
    ):
        handle = await env.client.start_workflow(
            AntiNukeWorkflow.run,
            inp,
            id=anti_nuke_workflow_id(guild, actor),
            task_queue=queue,
            start_signal=EVIDENCE_SIGNAL,
            start_signal_args=[[evidence]],
        )
        await handle.signal(EVIDENCE_SIGNAL, [evidence])  # the same action again: kept once
        result = await handle.result()
    await http.aclose()
    assert result.status == "expired" and result.decided_by is None
    assert not sim.requests("POST", "/guilds/{guild_id}/channels")
    [row] = await approvals_of(session_factory, handle.id)
    assert row.status == "expired" and row.action == "antinuke"
    async with session_factory() as session:
        stored = await session.scalar(select(AntiNukeIncident))
    assert stored.status == "expired" and len(stored.evidence) == 1
    assert stored.evidence[0]["channel"]["name"] == "lost-and-found"
    assert helpers.outcomes[-1].status == "expired"


async def test_restores_are_idempotent_when_retried(sim, session_factory):
    http = DiscordHttp(sim.api_base, "sandbox-token")
    acts = AntiNukeActivities(http, session_factory)
    guild = sim.world.guild_id
    role = RoleRecord(1, "Returned", 1 << 10, color=0xABCDEF, hoist=True)
    first = await acts.restore_role(RestoreRoleInput(guild, role, "test"))
    again = await acts.restore_role(RestoreRoleInput(guild, role, "test"))
    assert first.new_id == again.new_id and again.note.endswith("already there")
    channel = deleted_channel(sim, "returned").channel
    made = await acts.restore_channel(RestoreChannelInput(guild, channel, "test"))
    twice = await acts.restore_channel(RestoreChannelInput(guild, channel, "test"))
    assert made.new_id == twice.new_id
    assert len(sim.requests("POST", "/guilds/{guild_id}/channels")) == 1
    restored = sim.world.get_channel(made.new_id)
    assert restored.topic == "gone" and restored.overwrites[0].allow == 1024
    assert (await acts.delete_webhook(WebhookInput(999, "test"))).endswith("already gone")
    await http.aclose()
