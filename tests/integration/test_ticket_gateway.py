"""Tickets through the simulator, the real discord.py bot and a real Temporal dev server: the
panel's `ticket:open` button, the FAQ's `ticket:open` under an unanswered question (subject from
the question), the per-member limit refused clearly, messages in the thread reaching the
workflow, /claim, the Close button's form with its reason, the DM rating, /ticket open with a
category. Both databases."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from uuid import uuid4

from support import eventually, running_bot
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from dcs.server_config import default_server_config
from dcs.temporal import ticket_activities
from domain.tickets import CLOSED, TicketView
from storage.tickets import get_ticket
from workflows.ticket import TicketWorkflow
from workflows.ticket_control import ticket_view


@contextlib.asynccontextmanager
async def stack(temporal_env, sessions, sim) -> AsyncIterator[object]:
    config = default_server_config().model_dump(mode="json")
    config["tickets"] = {
        "parent_channel_id": sim.world.channel("support"),
        "log_channel_id": sim.world.channel("mod-log"),
        "support_role_ids": [sim.world.role("Moderator")],
        "categories": [{"name": "billing", "description": "Payments"}],
    }
    queue = f"q-{uuid4()}"
    acts = ticket_activities(sessions, DiscordHttp(sim.api_base, "sandbox-token"))
    client = temporal_env.client
    async with Worker(client, task_queue=queue, workflows=[TicketWorkflow], activities=acts):
        async with running_bot(sim, client, queue, sessions, config=config) as bot:
            yield bot


def _reply(sim, record) -> str:
    described = record.describe(sim.world)
    parts = [m["content"] for m in described["followups"]]
    if described["original_message"]:
        parts.append(described["original_message"]["content"])
    return " | ".join(p for p in parts if p)


async def _answer(sim, record, contains: str) -> str:
    return await eventually(lambda: (t := _reply(sim, record)) and contains in t and t, timeout=20)


async def _view(temporal_env, sim, number: int, check) -> TicketView:
    async def probe():
        view = await ticket_view(temporal_env.client, sim.world.guild_id, number)
        return view if check(view) else None

    return await eventually(probe, timeout=20)


async def test_panel_faq_button_limit_claim_close_form_and_rating(
    temporal_env, session_factory, sim
):
    guild = sim.world.guild_id
    async with stack(temporal_env, session_factory, sim):
        panel_cmd = await sim.invoke_slash_command("ticket panel", "owner", "support")
        await eventually(lambda: panel_cmd.response is not None, timeout=20)
        panel = next(
            m for m in sim.world.channel_messages(sim.world.channel("support")) if m.components
        )
        assert panel.components[0]["components"][0]["custom_id"] == "ticket:open"

        opened = await sim.click_button("ticket:open", "alice", panel.id)
        text = await _answer(sim, opened, "is open")
        view = await _view(temporal_env, sim, 1, lambda v: v.channel_id is not None)
        assert f"<#{view.channel_id}>" in text and view.user_id == sim.world.member("alice")
        assert view.source == "button"
        thread = sim.world.get_channel(view.channel_id or 0)
        assert thread.type == 12 and sim.world.member("alice") in thread.thread_members

        again = await sim.click_button("ticket:open", "alice", panel.id)
        await _answer(sim, again, "already have 1 open ticket")

        before = view.last_activity
        await sim.post_message(thread.id, "alice", "My invoice is wrong")
        await _view(temporal_env, sim, 1, lambda v: v.last_activity != before)

        claim = await sim.invoke_slash_command("claim", "moderator", thread.id)
        await _answer(sim, claim, "Done")
        claimed = await _view(temporal_env, sim, 1, lambda v: v.claimed_by is not None)
        assert claimed.claimed_by == sim.world.member("moderator")
        refused = await sim.invoke_slash_command("claim", "bob", thread.id)
        await _answer(sim, refused, "Only the support staff")

        # the FAQ's suggestion: a bot reply under bob's question, with the same button
        question = await sim.post_message("general", "bob", "How do I change my email address?")
        http = DiscordHttp(sim.api_base, "sandbox-token")
        suggestion = await http.request(
            "POST",
            f"/channels/{sim.world.channel('general')}/messages",
            {
                "content": "I don't know this one: open a ticket?",
                "message_reference": {"message_id": str(question.id)},
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 1, "label": "Open", "custom_id": "ticket:open"}
                        ],
                    }
                ],
            },
        )
        faq_click = await sim.click_button("ticket:open", "bob", int(suggestion["id"]))
        await _answer(sim, faq_click, "is open")
        second = await _view(temporal_env, sim, 2, lambda v: v.channel_id is not None)
        assert second.subject == "How do I change my email address?" and second.source == "faq"

        welcome = view.welcome_message_id or 0
        close = await sim.click_button("ticket:close:1", "moderator", welcome)
        response = await close.wait_response()
        assert response.type == 9 and response.data["custom_id"] == "ticket:close_form:1"
        form = await sim.submit_modal(
            "ticket:close_form:1", "moderator", thread.id, {"reason": "Refund sent"}
        )
        await _answer(sim, form, "closed")
        await _view(temporal_env, sim, 1, lambda v: v.status == CLOSED)

        async def transcript():
            async with session_factory() as session:
                row = await get_ticket(session, guild, 1)
            return row if row is not None and row.transcript else None

        row = await eventually(transcript, timeout=20)
        assert "My invoice is wrong" in row.transcript and "Refund sent" in row.transcript
        dm = await eventually(lambda: sim.dm_messages("alice"), timeout=20)
        rate = await sim.click_button(f"ticket:rate:{guild}:1:5", "alice", dm[-1].id)
        await _answer(sim, rate, "★★★★★")
        rated = await _view(temporal_env, sim, 1, lambda v: v.rating == 5)
        assert rated.rating == 5

        with_category = await sim.invoke_slash_command(
            "ticket open",
            "alice",
            "general",
            options={"subject": "Charged twice", "category": "billing"},
        )
        await _answer(sim, with_category, "is open")
        third = await _view(temporal_env, sim, 3, lambda v: v.channel_id is not None)
        assert (third.subject, third.category) == ("Charged twice", "billing")
