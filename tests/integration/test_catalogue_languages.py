"""Members are told things in their server's language: a German server's sanction DMs and
Appeal button (the moderation workflow), a Spanish server's level-up post (the gateway), a
German event's cancellation and promotion DMs (the event workflow); a server's own level-up
template stays its own."""

from __future__ import annotations

from datetime import timedelta

from moderation_harness import Helpers, configure, offence, running, settled
from support import eventually, running_bot
from temporalio.worker import Worker

from activities.discord_rest import DiscordHttp
from dcs.server_config import default_server_config
from dcs.temporal import event_activities
from domain.events import GOING, WAITLIST, CancelRequest, EventSpec, RsvpAction
from storage.servers import put_server_config
from workflows.event import EventWorkflow
from workflows.event_control import cancel_event, create_event, event_view, rsvp
from workflows.moderation import ModerationWorkflow

DM_OPEN = "/users/@me/channels"


def _dm_texts(sim) -> list[str]:
    return [
        r.json.get("content", "")
        for r in sim.requests("POST")
        if "/channels/" in r.path and r.path.endswith("/messages") and r.json
    ]


async def test_a_german_server_warns_and_times_out_in_german(
    env, session_factory, sim, task_queue, started
):
    await configure(session_factory, sim, language="de")
    async with running(env.client, task_queue, session_factory, sim, Helpers(), started):
        handle = await started.start(env.client, task_queue, offence(sim, "de1"))
        await eventually(lambda: settled(handle, 1))
        await handle.signal(ModerationWorkflow.report, offence(sim, "de2"))
        await eventually(lambda: settled(handle, 3))
    texts = _dm_texts(sim)
    # the reason is the case's own (the rule's words), the sentence around it is German
    assert any(t.startswith("Du wurdest verwarnt: Blocked term (scam*)") for t in texts)
    assert any(t.startswith("Du wurdest für 10 Min. stummgeschaltet: Blocked term") for t in texts)
    timeout_dm = next(
        r for r in sim.requests("POST") if r.json and "stummgeschaltet" in r.json.get("content", "")
    )
    assert timeout_dm.json["components"][0]["components"][0]["label"] == "Einspruch"


async def test_a_spanish_server_announces_level_ups_in_spanish(
    temporal_env, session_factory, sim, task_queue
):
    config = default_server_config().model_dump(mode="json")
    config["language"] = "es"
    config["xp"].update(min_gain=100, max_gain=100)
    async with running_bot(sim, temporal_env.client, task_queue, session_factory, config=config):
        await sim.post_message("general", "alice", "hola a todos")
        [post] = await eventually(
            lambda: [m for m in sim.messages("general") if "nivel" in m.content]
        )
    assert post.content == f"¡GG <@{sim.world.member('alice')}>, acabas de llegar al nivel 1!"


async def test_a_servers_own_template_is_kept_whatever_its_language(
    temporal_env, session_factory, sim, task_queue
):
    config = default_server_config().model_dump(mode="json")
    config["language"] = "de"
    config["xp"].update(min_gain=100, max_gain=100, announce_template="{name} -> {level}")
    async with running_bot(sim, temporal_env.client, task_queue, session_factory, config=config):
        await sim.post_message("general", "alice", "hallo")
        posts = await eventually(lambda: [m for m in sim.messages("general") if "->" in m.content])
    assert posts[0].content == "Alice -> 1"


async def test_a_german_event_tells_members_in_german(env, session_factory, sim, task_queue):
    guild = sim.world.guild_id
    async with session_factory() as session, session.begin():
        await put_server_config(
            session, guild, {"language": "de"}, expected_version=None, changed_by="test"
        )
    acts = event_activities(session_factory, DiscordHttp(sim.api_base, "sandbox-token"))
    now = await env.get_current_time()
    spec = EventSpec(
        title="Spieleabend",
        start=now + timedelta(days=3),
        timezone="Europe/Berlin",
        channel_id=sim.world.channel("events"),
        capacity=1,
    )
    async with Worker(
        env.client, task_queue=task_queue, workflows=[EventWorkflow], activities=acts
    ):
        event_id = await create_event(
            env.client, session_factory, task_queue, guild, spec, sim.world.member("owner"), now
        )
        view = await eventually(lambda: _posted(env, guild, event_id), timeout=20)
        post = sim.world.get_message(spec.channel_id, view.message_id)
        assert "Neues Event: **Spieleabend**" in post.content
        assert [f["name"] for f in post.embeds[0]["fields"]][:4] == [
            "Wann",
            "✅ Dabei",
            "🤔 Vielleicht",
            "❌ Absagen",
        ]
        labels = [b["label"] for b in post.components[0]["components"]]
        assert labels == ["Dabei", "Vielleicht", "Kann nicht", "Austragen"]
        alice, bob = sim.world.member("alice"), sim.world.member("bob")
        await rsvp(env.client, guild, event_id, RsvpAction(alice, GOING, source="button"))
        outcome = await rsvp(env.client, guild, event_id, RsvpAction(bob, GOING, source="button"))
        assert outcome.status == WAITLIST
        await rsvp(env.client, guild, event_id, RsvpAction(alice, None, source="button"))
        await eventually(lambda: _dm(sim, "bob", "Ein Platz ist frei geworden"))
        await cancel_event(env.client, guild, event_id, CancelRequest(reason="Regen"))
        await eventually(lambda: _dm(sim, "bob", "**Spieleabend** wurde abgesagt (Regen)."))


async def _posted(env, guild, event_id):
    view = await event_view(env.client, guild, event_id)
    return view if view.message_id else None


def _dm(sim, name: str, contains: str) -> bool:
    channel = sim.world.dm_channels.get(sim.world.member(name))
    texts = [m.content for m in sim.world.channel_messages(channel)] if channel else []
    return any(contains in t for t in texts)
