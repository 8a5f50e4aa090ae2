"""/announce through the simulator, the real discord.py bot and a real Temporal dev server:
Manage Server required, create (refusals list every problem), list, now (the post pings only
its role), pause, delete; replies in the server's language."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from uuid import uuid4

from support import eventually, running_bot
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.announcements import AnnouncementActivities
from activities.discord_rest import DiscordHttp
from dcs.server_config import default_server_config
from domain.announcements import schedule_id
from storage.announcements import list_announcements
from workflows.announcement import AnnouncementWorkflow


@contextlib.asynccontextmanager
async def stack(temporal_env, sessions, sim, config=None) -> AsyncIterator[object]:
    queue = f"q-{uuid4()}"
    acts = AnnouncementActivities(DiscordHttp(sim.api_base, "sandbox-token"), sessions)
    client = temporal_env.client
    try:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[AnnouncementWorkflow],
            activities=[acts.post_announcement],
        ):
            async with running_bot(sim, client, queue, sessions, config=config) as bot:
                yield bot
    finally:
        for n in range(1, 4):  # the simulator's guild id is the same in every test
            with contextlib.suppress(RPCError):
                await client.get_schedule_handle(schedule_id(sim.world.guild_id, n)).delete()


def _reply(sim, record) -> str:
    described = record.describe(sim.world)
    parts = [m["content"] for m in described["followups"]]
    if described["original_message"]:
        parts.append(described["original_message"]["content"])
    parts += [str(r["data"].get("content", "")) for r in described["responses"] if r["data"]]
    return " | ".join(p for p in parts if p)


async def _answer(sim, record, contains: str) -> str:
    return await eventually(lambda: (t := _reply(sim, record)) and contains in t and t, timeout=20)


async def test_announce_create_list_now_pause_delete(temporal_env, session_factory, sim):
    slash = sim.invoke_slash_command
    async with stack(temporal_env, session_factory, sim):
        denied = await slash("announce list", "alice", "general")
        await _answer(sim, denied, "Manage Server")

        bad = await slash(
            "announce create",
            "owner",
            "general",
            options={"title": "Hi", "cron": "99 * * * *", "at": "friday 8pm"},
        )
        text = await _answer(sim, bad, "Nothing was scheduled")
        assert "cron minute" in text and "/timezone set" in text  # no zone for cron and at
        bad = await slash(
            "announce create",
            "owner",
            "general",
            options={"title": "Hi", "cron": "99 * * * *", "at": "friday 8pm", "timezone": "UTC"},
        )
        text = await _answer(sim, bad, "Nothing was scheduled")
        assert "cron minute" in text and "exactly one" in text

        made = await slash(
            "announce create",
            "owner",
            "general",
            options={
                "title": "Weekly news",
                "body": "What happened this week",
                "cron": "0 18 * * fri",
                "timezone": "Europe/Paris",
                "role": "Member",
                "colour": "#112233",
            },
        )
        await _answer(sim, made, "Announcement #1 scheduled")
        async with session_factory() as session:
            [row] = await list_announcements(session, sim.world.guild_id)
        assert (row.cron, row.timezone, row.colour, row.role_id) == (
            "0 18 * * fri",
            "Europe/Paris",
            0x112233,
            sim.world.role("Member"),
        )

        listed = await slash("announce list", "owner", "general")
        await _answer(sim, listed, "**#1** Weekly news")

        now = await slash("announce now", "owner", "general", options={"number": 1})
        await _answer(sim, now, "being posted")
        general = sim.world.channel("general")

        def posted():
            return [m for m in sim.world.channel_messages(general) if m.embeds]

        [post] = await eventually(posted)
        assert post.embeds[0]["title"] == "Weekly news"
        assert post.mention_role_ids == [sim.world.role("Member")]

        paused = await slash("announce pause", "owner", "general", options={"number": 1})
        await _answer(sim, paused, "paused")
        listed = await slash("announce list", "owner", "general")
        await _answer(sim, listed, "⏸")

        gone = await slash("announce delete", "owner", "general", options={"number": 1})
        await _answer(sim, gone, "deleted")
        missing = await slash("announce now", "owner", "general", options={"number": 1})
        await _answer(sim, missing, "no announcement #1")


async def test_replies_in_the_servers_language(temporal_env, session_factory, sim):
    config = default_server_config().model_dump(mode="json")
    config["language"] = "es"
    async with stack(temporal_env, session_factory, sim, config):
        listed = await sim.invoke_slash_command("announce list", "owner", "general")
        await _answer(sim, listed, "No hay anuncios programados.")
        made = await sim.invoke_slash_command(
            "announce create", "owner", "general", options={"title": "Hola", "every": "1d"}
        )
        await _answer(sim, made, "Anuncio n.º 1 programado")
