"""Issue #6's support path end to end, with no stand-in between the features: a question the FAQ
cannot answer gets the FAQ's own reply with its `ticket:open` button; the member clicks it and a
ticket opens whose subject is their question, in a private thread the support role shares; an
answerable question in Spanish gets the Spanish entry. Real discord.py bot, simulator, dev server,
MiniLM and lingua; both databases."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from support import eventually, running_bot
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from dcs.server_config import default_server_config
from dcs.temporal import ticket_activities
from domain.faq import parse_markdown
from gateway.faq import TICKET_BUTTON
from storage import faq as store
from workflows.ticket import TicketWorkflow
from workflows.ticket_control import ticket_view

KB = Path(__file__).resolve().parents[2] / "docs" / "faq-eval" / "kb.md"


def _config(sim) -> dict:
    config = default_server_config().model_dump(mode="json")
    config["faq"] = {
        "languages": ["en", "es"],
        "channel_cooldown_seconds": 0,
        "member_cooldown_seconds": 0,
    }
    config["support_ai"]["enabled"] = False  # no provider: the ticket button is the way on
    config["tickets"] = {
        "parent_channel_id": sim.world.channel("support"),
        "support_role_ids": [sim.world.role("Moderator")],
    }
    return config


def _reply_to(sim, bot, question):
    for post in sim.world.messages[question.channel_id].values():
        reference = post.reference or {}
        if post.author_id == bot.user.id and int(reference.get("message_id", 0)) == question.id:
            return post
    return None


async def test_an_unanswerable_question_becomes_a_ticket_and_spanish_gets_spanish(
    temporal_env, session_factory, sim
):
    drafts, problems = parse_markdown(KB.read_text())
    assert not problems
    async with session_factory() as session, session.begin():
        await store.create_entries(session, sim.world.guild_id, drafts)
    queue = f"q-{uuid4()}"
    acts = ticket_activities(session_factory, DiscordHttp(sim.api_base, "sandbox-token"))
    client = temporal_env.client
    async with (
        Worker(client, task_queue=queue, workflows=[TicketWorkflow], activities=acts),
        running_bot(sim, client, queue, session_factory, config=_config(sim)) as bot,
    ):
        await eventually(lambda: bot.faq.embedder is not None, timeout=60)
        await eventually(lambda: bot.faq.detector(("en", "es")) is not None, timeout=60)

        asked = "how do I recover the deleted clips from my old console account?"
        question = await sim.post_message("general", "alice", asked)
        suggestion = await eventually(lambda: _reply_to(sim, bot, question), timeout=20)
        buttons = [c["custom_id"] for row in suggestion.components for c in row["components"]]
        assert buttons == [TICKET_BUTTON]

        click = await sim.click_button(TICKET_BUTTON, "alice", suggestion.id)
        await eventually(lambda: click.response is not None, timeout=20)

        async def opened():
            try:
                view = await ticket_view(client, sim.world.guild_id, 1)
            except Exception:  # not started yet
                return None
            return view if view.channel_id is not None else None

        view = await eventually(opened, timeout=20)
        assert view.user_id == sim.world.member("alice") and view.subject == asked
        thread = sim.world.get_channel(view.channel_id or 0)
        assert thread.type == 12  # a private thread
        assert sim.world.member("alice") in thread.thread_members

        spanish = await sim.post_message("general", "bob", "¿cuándo empieza el próximo mint?")
        answer = await eventually(lambda: _reply_to(sim, bot, spanish), timeout=20)
        entry = next(d for d in drafts if d.language == "es" and "mint" in d.question)
        assert entry.answer[:40] in answer.content
