"""No report is lost while Temporal is unreachable: the gateway keeps it and hands it over later."""

from support import eventually, running_bot
from temporalio.client import Client, WorkflowExecutionStatus

from simulator import DiscordSimulator
from storage import outbox
from workflows.moderation import moderation_workflow_id


async def test_reports_wait_in_the_outbox_until_temporal_answers(
    temporal_env, session_factory, task_queue
):
    unreachable = await Client.connect("127.0.0.1:1", lazy=True)
    async with DiscordSimulator() as sim:
        guild, alice = sim.world.guild_id, sim.world.member("alice")
        async with running_bot(sim, unreachable, task_queue, session_factory) as bot:
            bad = await sim.post_message("general", "alice", "you idiot")

            async def kept():
                async with session_factory() as session:
                    return await outbox.oldest(session)

            [entry] = await eventually(kept, timeout=30)
            # the fast path did not wait for Temporal: the message is gone already
            assert bad.id not in {m.id for m in sim.messages("general")}
            assert entry.payload["source_key"] == f"automod:{bad.id}"

            assert await bot.drain_outbox() == 0  # still unreachable: kept, attempt counted
            async with session_factory() as session:
                [again] = await outbox.oldest(session)
            assert again.attempts == 1

            bot.temporal = temporal_env.client  # Temporal is back
            assert await bot.drain_outbox() == 1
            async with session_factory() as session:
                assert await outbox.oldest(session) == []
    handle = temporal_env.client.get_workflow_handle(moderation_workflow_id(guild, alice))
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
