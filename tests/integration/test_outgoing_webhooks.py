"""Outgoing webhooks against a local aiohttp receiver that checks the HMAC signature."""

import dataclasses
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from moderation_harness import Helpers, configure
from raid_harness import running, start_lockdown
from support import eventually
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from activities.discord_rest import DiscordHttp
from activities.webhooks import WebhookActivities
from dcs.temporal import build_worker
from domain.cases import Violation
from domain.lockdown import UnlockRequest
from domain.tickets import CLOSE, TicketAction, TicketSpec
from domain.webhooks import WebhookEventInput, verify
from storage.servers import put_server_config
from workflows.moderation import ModerationInput, ModerationWorkflow, moderation_workflow_id
from workflows.raid import UNLOCK_SIGNAL, RaidLockdownWorkflow
from workflows.ticket import ticket_workflow_id
from workflows.ticket_control import act, open_ticket, ticket_view

SECRET = b"test-webhook-secret"
GUILD = 111111111111111111


class Receiver:
    """A third-party service: answers with scripted statuses and records verified deliveries."""

    def __init__(self) -> None:
        self.statuses: dict[str, list[int]] = {}
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.base = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ok = verify(
            SECRET,
            request.headers["X-DCS-Timestamp"],
            body,
            request.headers["X-DCS-Signature"],
            now=int(time.time()),
        )
        if not ok:
            self.bad_signatures += 1
            return web.Response(status=401)
        doc = json.loads(body)
        self.received.append({"path": request.path, "headers": dict(request.headers), "doc": doc})
        script = self.statuses.get(request.path) or [200]
        status = script.pop(0) if len(script) > 1 else script[0]
        headers = {"Retry-After": "7"} if status == 429 else {}
        return web.Response(status=status, headers=headers)

    def paths(self) -> list[str]:
        return [r["path"] for r in self.received]


@pytest.fixture
async def receiver():
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rec.base = f"http://127.0.0.1:{port}"
    yield rec
    await runner.cleanup()


async def _configure(session_factory, hooks, guild=GUILD):
    async with session_factory() as session, session.begin():
        await put_server_config(
            session, guild, {"webhooks": hooks}, expected_version=None, changed_by="test"
        )


def _event(event="case.created", delivery="wf-1:case-1"):
    return WebhookEventInput(GUILD, event, delivery, {"case_number": 1, "user_id": "42"})


async def test_subscribed_urls_get_a_signed_delivery_others_nothing(session_factory, receiver):
    await _configure(
        session_factory,
        [
            {"url": f"{receiver.base}/cases", "events": ["case.created"]},
            {"url": f"{receiver.base}/tickets", "events": ["ticket.closed"]},
            {"url": f"{receiver.base}/off", "events": ["case.created"], "enabled": False},
        ],
    )
    acts = WebhookActivities(session_factory, secret=SECRET, allow_private=True)
    report = await ActivityEnvironment().run(acts.deliver_webhooks, _event())
    assert receiver.paths() == ["/cases"] and receiver.bad_signatures == 0
    (got,) = receiver.received
    assert got["headers"]["X-DCS-Event"] == "case.created"
    assert got["headers"]["X-DCS-Delivery"] == "wf-1:case-1"
    assert got["doc"]["data"] == {"case_number": 1, "user_id": "42"}
    assert got["doc"]["guild_id"] == str(GUILD)
    assert report.delivered == ["#0 127.0.0.1"] and report.given_up == []


async def test_5xx_and_429_are_retried_4xx_is_given_up(session_factory, receiver):
    await _configure(
        session_factory,
        [
            {"url": f"{receiver.base}/ok", "events": ["case.created"]},
            {"url": f"{receiver.base}/gone", "events": ["case.created"]},
            {"url": f"{receiver.base}/busy", "events": ["case.created"]},
            {"url": f"{receiver.base}/limited", "events": ["case.created"]},
        ],
    )
    receiver.statuses = {"/gone": [404], "/busy": [503, 200], "/limited": [429, 200]}
    acts = WebhookActivities(session_factory, secret=SECRET, allow_private=True)
    env = ActivityEnvironment()
    beats: list = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    with pytest.raises(ApplicationError) as err:
        await env.run(acts.deliver_webhooks, _event())
    assert not err.value.non_retryable
    assert err.value.next_retry_delay == timedelta(seconds=7)  # the 429's Retry-After
    assert "#2 127.0.0.1: HTTP 503" in str(err.value) and "#3 127.0.0.1: HTTP 429" in str(err.value)
    done = beats[-1]
    assert done == {"#0 127.0.0.1": "delivered", "#1 127.0.0.1": "give_up"}
    # the retry (Temporal hands back the last heartbeat) only sends to the pending two
    env.info = dataclasses.replace(env.info, heartbeat_details=[done], attempt=2)
    report = await env.run(acts.deliver_webhooks, _event())
    assert receiver.paths() == ["/ok", "/gone", "/busy", "/limited", "/busy", "/limited"]
    assert sorted(report.delivered) == ["#0 127.0.0.1", "#2 127.0.0.1", "#3 127.0.0.1"]
    assert report.given_up == ["#1 127.0.0.1"]


async def test_a_dead_receiver_is_retried(session_factory, receiver):
    await _configure(
        session_factory, [{"url": "http://127.0.0.1:9/closed", "events": ["case.created"]}]
    )
    acts = WebhookActivities(session_factory, secret=SECRET, allow_private=True, timeout=2)
    with pytest.raises(ApplicationError, match="ConnectError"):
        await ActivityEnvironment().run(acts.deliver_webhooks, _event())


async def test_private_addresses_are_refused_unless_allowed(session_factory, receiver):
    await _configure(session_factory, [{"url": f"{receiver.base}/x", "events": ["case.created"]}])
    acts = WebhookActivities(session_factory, secret=SECRET, allow_private=False)
    report = await ActivityEnvironment().run(acts.deliver_webhooks, _event())
    assert report.given_up == ["#0 127.0.0.1"] and receiver.received == []


async def test_nothing_is_sent_unsigned(session_factory, receiver, monkeypatch):
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    monkeypatch.chdir("/")  # no .env
    await _configure(session_factory, [{"url": f"{receiver.base}/x", "events": ["case.created"]}])
    acts = WebhookActivities(session_factory, allow_private=True)
    report = await ActivityEnvironment().run(acts.deliver_webhooks, _event())
    assert report.skipped == "WEBHOOK_SECRET is unset" and receiver.received == []


async def test_raid_lockdown_start_and_lift_reach_the_receiver(
    env, session_factory, sim, task_queue, receiver, monkeypatch
):
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET.decode())
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE", "true")
    hook = {"url": f"{receiver.base}/raid", "events": ["raid.started", "raid.lifted"]}
    await configure(session_factory, sim, raid={"lockdown": {}}, webhooks=[hook])
    async with running(env.client, task_queue, session_factory, sim, Helpers()):
        handle = await start_lockdown(env.client, task_queue, sim, reason="test raid")
        await eventually(lambda: receiver.received or None)
        await handle.signal(UNLOCK_SIGNAL, UnlockRequest("api:token:1", "over"))
        await handle.result()
    # the background deliveries are deterministic: the history replays without a mismatch
    history = await handle.fetch_history()
    await Replayer(workflows=[RaidLockdownWorkflow]).replay_workflow(history)
    events = [r["doc"]["event"] for r in receiver.received]
    assert events == ["raid.started", "raid.lifted"]
    started, lifted = (r["doc"] for r in receiver.received)
    assert started["data"]["reason"] == "test raid" and started["data"]["incident"] == 1
    assert lifted["data"]["lifted_by"] == "api:token:1"
    assert lifted["delivery_id"] == f"{handle.id}:raid-lift-1"
    assert receiver.bad_signatures == 0
    assert datetime.fromisoformat(started["data"]["started_at"]) <= datetime.now(UTC)


async def test_a_recorded_case_reaches_the_receiver(
    time_skipping_env, session_factory, sim, task_queue, receiver, monkeypatch
):
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET.decode())
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE", "true")
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    hook = {"url": f"{receiver.base}/cases", "events": ["case.created"]}
    await _configure(session_factory, [hook], guild=guild)
    v = Violation(
        guild_id=guild,
        user_id=alice,
        source_key="automod:hook",
        source="automod",
        action="delete",
        reason="Blocked term (scam*)",
        occurred_at=datetime.now(UTC),
        rule="blocked_terms",
        points=1,
        excerpt="scamcoin",
    )
    client = time_skipping_env.client
    http = DiscordHttp(sim.api_base, "sandbox-token")
    async with build_worker(client, task_queue, session_factory, http):
        handle = await client.start_workflow(
            ModerationWorkflow.run,
            ModerationInput(guild, alice),
            id=moderation_workflow_id(guild, alice) + f":{uuid.uuid4().hex[:6]}",
            task_queue=task_queue,
            start_signal="report",
            start_signal_args=[v],
        )
        try:
            await eventually(lambda: receiver.received or None)
        finally:
            await handle.terminate("test finished")
    (got,) = receiver.received
    assert got["doc"]["event"] == "case.created"
    assert got["doc"]["data"]["case_number"] == 1
    assert got["doc"]["data"]["user_id"] == str(alice)
    assert "excerpt" not in got["doc"]["data"]  # members' words stay in the suite
    assert got["doc"]["delivery_id"] == f"{handle.id}:case-1"


async def test_a_closed_ticket_reaches_the_receiver(
    env, session_factory, sim, task_queue, receiver, monkeypatch
):
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET.decode())
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE", "true")
    guild, alice = sim.world.guild_id, sim.world.member("alice")
    config = {
        "tickets": {
            "parent_channel_id": sim.world.channel("support"),
            "support_role_ids": [sim.world.role("Moderator")],
        },
        "webhooks": [{"url": f"{receiver.base}/t", "events": ["ticket.closed"]}],
    }
    async with session_factory() as session, session.begin():
        await put_server_config(session, guild, config, expected_version=None, changed_by="t")
    http = DiscordHttp(sim.api_base, "sandbox-token")
    async with build_worker(env.client, task_queue, session_factory, http):
        spec = TicketSpec(guild, alice, "Cannot log in")
        number = await open_ticket(env.client, session_factory, task_queue, spec)
        moderator = sim.world.member("moderator")
        close = TicketAction(actor_id=moderator, actor_is_staff=True, kind=CLOSE, reason="done")
        try:
            await eventually(lambda: _opened(env, guild, number))
            await act(env.client, guild, number, close)
            await eventually(lambda: receiver.received or None)
        finally:
            await env.client.get_workflow_handle(ticket_workflow_id(guild, number)).terminate()
    (got,) = receiver.received
    assert got["doc"]["event"] == "ticket.closed"
    data = got["doc"]["data"]
    assert (data["number"], data["closed_by"], data["reason"]) == (number, str(moderator), "done")
    assert got["doc"]["delivery_id"] == f"{ticket_workflow_id(guild, number)}:close-0"


async def _opened(env, guild: int, number: int) -> bool:
    view = await ticket_view(env.client, guild, number)
    return view.channel_id is not None
