"""Every simulated REST route over raw HTTP: state changes, dispatches, errors, headers."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from simulator import DiscordAPIError, DiscordSimulator, RateLimitConfig, SimulatorConfig
from simulator.snowflake import iso, snowflake_time, utcnow

AUTH = {"Authorization": "Bot test-token"}


class Api:
    """Tiny Discord REST client returning (status, json, headers)."""

    def __init__(self, sim: DiscordSimulator, http: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.http = http

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, Any]:
        all_headers = {**(AUTH if auth else {}), **(headers or {})}
        async with self.http.request(
            method,
            f"{self.sim.api_base}{path}",
            json=body,
            params=params,
            headers=all_headers,
        ) as resp:
            data = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, data, resp.headers

    async def control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, f"{self.sim.base_url}{path}", json=body) as resp:
            data = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, data


@pytest_asyncio.fixture(scope="module")
async def sim() -> AsyncIterator[DiscordSimulator]:
    config = SimulatorConfig(
        ratelimits=RateLimitConfig(routes={"GET /guilds/{guild_id}/roles": (2, 0.5)}),
    )
    async with DiscordSimulator(config) as simulator:
        yield simulator


@pytest_asyncio.fixture(scope="module")
async def api(sim: DiscordSimulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(sim, http)


def names(sim: DiscordSimulator, event: str) -> list[dict[str, Any]]:
    return [d.data for d in sim.dispatched(event)]


# ----------------------------------------------------------------------------- plumbing


async def test_auth_required_and_error_shape(sim: DiscordSimulator, api: Api) -> None:
    status, data, _ = await api("GET", "/users/@me", auth=False)
    assert status == 401 and data == {"message": "401: Unauthorized", "code": 0}
    status, data, _ = await api("GET", "/nope/nothing")
    assert status == 404 and data["code"] == 0
    status, data, _ = await api("GET", f"/channels/{sim.world.channel('general')}/messages/1")
    assert status == 404 and data == {"message": "Unknown Message", "code": 10008}
    status, data, _ = await api("GET", "/channels/1/messages")
    assert (status, data["code"]) == (404, 10003)
    status, data, _ = await api("GET", "/gateway", auth=False)
    assert status == 200 and data["url"] == sim.gateway_url


async def test_pinned_token_rejects_others() -> None:
    async with DiscordSimulator(SimulatorConfig(token="right")) as pinned:
        async with aiohttp.ClientSession() as http:
            api = Api(pinned, http)
            status, _, _ = await api("GET", "/users/@me", headers={"Authorization": "Bot wrong"})
            assert status == 401
            status, me, _ = await api("GET", "/users/@me", headers={"Authorization": "Bot right"})
            assert status == 200 and me["bot"] is True


async def test_ratelimit_headers_and_enforced_bucket(sim: DiscordSimulator, api: Api) -> None:
    status, _, headers = await api("GET", "/users/@me")
    assert status == 200
    for name in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
        assert f"X-RateLimit-{name}" in headers
    assert headers["Via"]
    path = f"/guilds/{sim.world.guild_id}/roles"
    results = [await api("GET", path) for _ in range(3)]
    assert [r[0] for r in results] == [200, 200, 429]
    limited = results[2]
    assert limited[1]["message"] == "You are being rate limited."
    assert 0 < limited[1]["retry_after"] <= 0.5 and limited[1]["global"] is False
    assert limited[2]["X-RateLimit-Scope"] == "user" and "Retry-After" in limited[2]
    assert results[0][2]["X-RateLimit-Bucket"] == results[1][2]["X-RateLimit-Bucket"]
    assert sim.requests("GET", "/guilds/{guild_id}/roles", status=429)


async def test_fault_injection_statuses_and_counts(sim: DiscordSimulator, api: Api) -> None:
    general = sim.world.channel("general")
    rule = sim.inject_fault(r"/channels/\d+/messages$", 503, method="GET", count=2)
    assert (await api("GET", f"/channels/{general}/messages"))[0] == 503
    assert (await api("GET", f"/channels/{general}/messages"))[0] == 503
    assert (await api("GET", f"/channels/{general}/messages"))[0] == 200
    assert rule.hits == 2 and rule.remaining == 0
    sim.inject_fault(r"/members/\d+$", 404, method="GET")
    status, data, _ = await api("GET", f"/guilds/{sim.world.guild_id}/members/{sim.world.bot_id}")
    assert status == 404 and data["message"] == "404: Not Found"
    recorded = sim.requests("GET", "/guilds/{guild_id}/members/{user_id}")[-1]
    assert recorded.injected and recorded.status == 404
    assert "Authorization" not in recorded.headers


async def test_bad_bodies_are_400(sim: DiscordSimulator, api: Api) -> None:
    path = f"/channels/{sim.world.channel('general')}/messages"
    assert (await api("POST", path, {}))[1]["code"] == 50006
    status, data, _ = await api("POST", path, {"content": "x" * 2001})
    assert status == 400 and data["code"] == 50035 and "content" in data["errors"]
    async with api.http.post(
        f"{sim.api_base}{path}",
        data=b"{not json",
        headers={**AUTH, "Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400 and (await resp.json())["code"] == 50109


# ----------------------------------------------------------------------------- messages


async def test_message_lifecycle(sim: DiscordSimulator, api: Api) -> None:
    channel = sim.world.channel("general")
    user_msg = await sim.post_message("general", "alice", "original question")
    body = {
        "content": f"answer for <@{sim.world.member('alice')}>",
        "embeds": [{"title": "Info", "description": "details"}],
        "components": [
            {"type": 1, "components": [{"type": 2, "style": 1, "label": "OK", "custom_id": "ok"}]}
        ],
        "message_reference": {"message_id": str(user_msg.id)},
    }
    status, created, _ = await api("POST", f"/channels/{channel}/messages", body)
    assert status == 200
    assert created["type"] == 19 and created["referenced_message"]["id"] == str(user_msg.id)
    assert created["mentions"][0]["id"] == str(sim.world.member("alice"))
    assert created["embeds"][0]["title"] == "Info"
    assert names(sim, "MESSAGE_CREATE")[-1]["id"] == created["id"]

    mid = created["id"]
    status, fetched, _ = await api("GET", f"/channels/{channel}/messages/{mid}")
    assert status == 200 and fetched["content"] == body["content"]
    status, edited, _ = await api("PATCH", f"/channels/{channel}/messages/{mid}", {"content": "v2"})
    assert status == 200 and edited["content"] == "v2" and edited["edited_timestamp"]
    assert names(sim, "MESSAGE_UPDATE")[-1]["content"] == "v2"
    status, data, _ = await api(
        "PATCH", f"/channels/{channel}/messages/{user_msg.id}", {"content": "hijack"}
    )
    assert (status, data["code"]) == (403, 50005)

    status, history, _ = await api("GET", f"/channels/{channel}/messages", params={"limit": "2"})
    assert status == 200 and [m["id"] for m in history] == [mid, str(user_msg.id)]
    status, older, _ = await api(
        "GET", f"/channels/{channel}/messages", params={"limit": "5", "before": mid}
    )
    assert str(user_msg.id) in [m["id"] for m in older] and mid not in [m["id"] for m in older]

    assert (await api("DELETE", f"/channels/{channel}/messages/{mid}"))[0] == 204
    assert (await api("GET", f"/channels/{channel}/messages/{mid}"))[0] == 404
    assert names(sim, "MESSAGE_DELETE")[-1]["id"] == mid


async def test_bulk_delete(sim: DiscordSimulator, api: Api) -> None:
    channel = sim.world.channel("general")
    spam = [await sim.post_message("general", "bob", f"spam {i}") for i in range(3)]
    ids = [str(m.id) for m in spam]
    status, data, _ = await api(
        "POST", f"/channels/{channel}/messages/bulk-delete", {"messages": ids[:1]}
    )
    assert (status, data["code"]) == (400, 50016)
    status, _, _ = await api("POST", f"/channels/{channel}/messages/bulk-delete", {"messages": ids})
    assert status == 204
    assert not any(m.id in sim.world.messages[channel] for m in spam)
    assert names(sim, "MESSAGE_DELETE_BULK")[-1]["ids"] == ids
    old_id = str(sim.world.new_id(utcnow() - dt.timedelta(days=20)))
    status, data, _ = await api(
        "POST", f"/channels/{channel}/messages/bulk-delete", {"messages": [ids[0], old_id]}
    )
    assert (status, data["code"]) == (400, 50034)


async def test_reactions(sim: DiscordSimulator, api: Api) -> None:
    channel = sim.world.channel("general")
    message = await sim.post_message("general", "carol", "vote")
    await sim.add_reaction("general", message.id, "alice", "✅")
    base = f"/channels/{channel}/messages/{message.id}/reactions/%E2%9C%85"
    assert (await api("PUT", f"{base}/@me"))[0] == 204
    status, users, _ = await api("GET", base)
    assert status == 200 and {u["id"] for u in users} == {
        str(sim.world.member("alice")),
        str(sim.world.bot_id),
    }
    status, fetched, _ = await api("GET", f"/channels/{channel}/messages/{message.id}")
    assert fetched["reactions"][0]["count"] == 2 and fetched["reactions"][0]["me"] is True
    assert (await api("DELETE", f"{base}/@me"))[0] == 204
    assert names(sim, "MESSAGE_REACTION_REMOVE")[-1]["user_id"] == str(sim.world.bot_id)
    assert (await api("DELETE", f"{base}/{sim.world.member('alice')}"))[0] == 204
    assert not message.reactions
    custom = f"/channels/{channel}/messages/{message.id}/reactions/party:123456789012345678/@me"
    assert (await api("PUT", custom))[0] == 204
    assert names(sim, "MESSAGE_REACTION_ADD")[-1]["emoji"] == {
        "id": "123456789012345678",
        "name": "party",
        "animated": False,
    }


async def test_dm_channels(sim: DiscordSimulator, api: Api) -> None:
    alice = sim.world.member("alice")
    status, channel, _ = await api("POST", "/users/@me/channels", {"recipient_id": str(alice)})
    assert status == 200 and channel["type"] == 1
    assert channel["recipients"][0]["id"] == str(alice)
    status, again, _ = await api("POST", "/users/@me/channels", {"recipient_id": str(alice)})
    assert again["id"] == channel["id"]
    status, msg, _ = await api("POST", f"/channels/{channel['id']}/messages", {"content": "hi"})
    assert status == 200 and "guild_id" not in msg
    assert [m.content for m in sim.dm_messages("alice")][-1] == "hi"
    closed = await sim.member_join("private-person", dms_open=False)
    status, dm, _ = await api("POST", "/users/@me/channels", {"recipient_id": str(closed.user_id)})
    status, data, _ = await api("POST", f"/channels/{dm['id']}/messages", {"content": "hi"})
    assert (status, data["code"]) == (403, 50007)


# ----------------------------------------------------------------------------- members & bans


async def test_members_read_and_edit(sim: DiscordSimulator, api: Api) -> None:
    guild_id = sim.world.guild_id
    bob = sim.world.member("bob")
    status, member, _ = await api("GET", f"/guilds/{guild_id}/members/{bob}")
    assert status == 200 and member["user"]["username"] == "bob"
    status, page, _ = await api("GET", f"/guilds/{guild_id}/members", params={"limit": "1000"})
    ids = [int(m["user"]["id"]) for m in page]
    assert ids == sorted(ids) and bob in ids
    status, page2, _ = await api(
        "GET", f"/guilds/{guild_id}/members", params={"limit": "2", "after": str(ids[0])}
    )
    assert [int(m["user"]["id"]) for m in page2] == ids[1:3]
    status, found, _ = await api(
        "GET", f"/guilds/{guild_id}/members/search", params={"query": "bo", "limit": "5"}
    )
    assert [m["user"]["username"] for m in found] == ["bob"]

    muted = sim.world.role("Muted")
    status, edited, _ = await api(
        "PATCH",
        f"/guilds/{guild_id}/members/{bob}",
        {"nick": "Bobby", "roles": [str(sim.world.role("Member")), str(muted)]},
        headers={"X-Audit-Log-Reason": "muting%20bob"},
    )
    assert status == 200 and edited["nick"] == "Bobby" and str(muted) in edited["roles"]
    update = names(sim, "GUILD_MEMBER_UPDATE")[-1]
    assert update["nick"] == "Bobby" and update["guild_id"] == str(guild_id)
    entry = sim.world.guilds[guild_id].audit_log[-1]
    assert entry.action_type == 25 and entry.reason == "muting bob"
    assert (await api("DELETE", f"/guilds/{guild_id}/members/{bob}/roles/{muted}"))[0] == 204
    assert muted not in sim.world.get_member(guild_id, bob).roles
    assert (await api("PUT", f"/guilds/{guild_id}/members/{bob}/roles/{muted}"))[0] == 204
    assert muted in sim.world.get_member(guild_id, bob).roles
    with pytest.raises(DiscordAPIError, match="cannot post"):
        await sim.post_message("general", "bob", "muted people cannot talk")
    assert (await api("DELETE", f"/guilds/{guild_id}/members/{bob}/roles/{muted}"))[0] == 204
    bot_role = sim.world.bot_role_id
    status, data, _ = await api("PUT", f"/guilds/{guild_id}/members/{bob}/roles/{bot_role}")
    assert (status, data["code"]) == (403, 50013)

    until = iso(utcnow() + dt.timedelta(days=29))
    status, data, _ = await api(
        "PATCH", f"/guilds/{guild_id}/members/{bob}", {"communication_disabled_until": until}
    )
    assert (status, data["code"]) == (400, 50035)
    owner = sim.world.owner_id
    until = iso(utcnow() + dt.timedelta(minutes=5))
    status, data, _ = await api(
        "PATCH", f"/guilds/{guild_id}/members/{owner}", {"communication_disabled_until": until}
    )
    assert (status, data["code"]) == (403, 50013)


async def test_kick(sim: DiscordSimulator, api: Api) -> None:
    guild_id = sim.world.guild_id
    member = await sim.member_join("kickme")
    status, _, _ = await api("DELETE", f"/guilds/{guild_id}/members/{member.user_id}")
    assert status == 204
    assert member.user_id not in sim.world.guilds[guild_id].members
    assert names(sim, "GUILD_MEMBER_REMOVE")[-1]["user"]["id"] == str(member.user_id)
    assert sim.world.guilds[guild_id].audit_log[-1].action_type == 20
    moderator = sim.world.member("moderator")
    assert (await api("DELETE", f"/guilds/{guild_id}/members/{moderator}"))[0] == 204
    status, data, _ = await api("DELETE", f"/guilds/{guild_id}/members/{moderator}")
    assert (status, data["code"]) == (404, 10007)
    await sim.member_join("moderator")


async def test_bans_and_bulk_ban(sim: DiscordSimulator, api: Api) -> None:
    guild_id = sim.world.guild_id
    raiders = [await sim.member_join(f"bulk{i}") for i in range(3)]
    ids = [str(m.user_id) for m in raiders]
    body = {"user_ids": [*ids, str(sim.world.owner_id), "999"], "delete_message_seconds": 60}
    status, result, _ = await api("POST", f"/guilds/{guild_id}/bulk-ban", body)
    assert status == 200
    assert result["banned_users"] == ids
    assert set(result["failed_users"]) == {str(sim.world.owner_id), "999"}
    status, bans, _ = await api("GET", f"/guilds/{guild_id}/bans")
    assert ids[0] in {b["user"]["id"] for b in bans}
    status, ban, _ = await api("GET", f"/guilds/{guild_id}/bans/{ids[1]}")
    assert status == 200 and ban["user"]["id"] == ids[1]
    status, data, _ = await api("GET", f"/guilds/{guild_id}/bans/{sim.world.member('alice')}")
    assert (status, data["code"]) == (404, 10026)
    status, data, _ = await api("POST", f"/guilds/{guild_id}/bulk-ban", {"user_ids": ids})
    assert (status, data["code"]) == (400, 500000)
    assert (await api("DELETE", f"/guilds/{guild_id}/bans/{ids[0]}"))[0] == 204
    with pytest.raises(Exception, match="banned"):
        await sim.member_join("bulk1")
    assert len(names(sim, "GUILD_BAN_ADD")) >= 3


# ----------------------------------------------------------------------------- guild


async def test_guild_settings_and_incidents(sim: DiscordSimulator, api: Api) -> None:
    guild_id = sim.world.guild_id
    status, guild, _ = await api("GET", f"/guilds/{guild_id}", params={"with_counts": "true"})
    assert status == 200 and guild["approximate_member_count"] == len(
        sim.world.guilds[guild_id].members
    )
    status, guild, _ = await api("PATCH", f"/guilds/{guild_id}", {"verification_level": 3})
    assert status == 200 and guild["verification_level"] == 3
    assert names(sim, "GUILD_UPDATE")[-1]["verification_level"] == 3
    assert (await api("PATCH", f"/guilds/{guild_id}", {"verification_level": 9}))[0] == 400

    until = iso(utcnow() + dt.timedelta(hours=2))
    status, incidents, _ = await api(
        "PUT", f"/guilds/{guild_id}/incident-actions", {"invites_disabled_until": until}
    )
    assert status == 200 and incidents["invites_disabled_until"] is not None
    assert incidents["dms_disabled_until"] is None
    welcome = sim.world.channel("welcome")
    status, data, _ = await api("POST", f"/channels/{welcome}/invites", {})
    assert (status, data["code"]) == (403, 40069)
    too_late = iso(utcnow() + dt.timedelta(hours=30))
    status, _, _ = await api(
        "PUT", f"/guilds/{guild_id}/incident-actions", {"dms_disabled_until": too_late}
    )
    assert status == 400
    status, incidents, _ = await api(
        "PUT", f"/guilds/{guild_id}/incident-actions", {"invites_disabled_until": None}
    )
    assert incidents["invites_disabled_until"] is None


async def test_channels_overwrites_and_slowmode(sim: DiscordSimulator, api: Api) -> None:
    guild_id = sim.world.guild_id
    status, channels, _ = await api("GET", f"/guilds/{guild_id}/channels")
    assert {"general", "mod-log"} <= {c["name"] for c in channels}
    category = sim.world.channel("Staff")
    status, created, _ = await api(
        "POST",
        f"/guilds/{guild_id}/channels",
        {"name": "Raid Room", "type": 0, "parent_id": str(category), "topic": "lockdown"},
    )
    assert status == 201 and created["name"] == "raid-room"
    cid = created["id"]
    assert names(sim, "CHANNEL_CREATE")[-1]["id"] == cid
    status, edited, _ = await api("PATCH", f"/channels/{cid}", {"rate_limit_per_user": 120})
    assert status == 200 and edited["rate_limit_per_user"] == 120
    assert (await api("PATCH", f"/channels/{cid}", {"rate_limit_per_user": 50000}))[0] == 400

    everyone = str(guild_id)
    send = str(1 << 11)
    status, _, _ = await api(
        "PUT", f"/channels/{cid}/permissions/{everyone}", {"type": 0, "allow": "0", "deny": send}
    )
    assert status == 204
    status, fetched, _ = await api("GET", f"/channels/{cid}")
    assert {"id": everyone, "type": 0, "allow": "0", "deny": send} in fetched[
        "permission_overwrites"
    ]
    with pytest.raises(Exception, match="cannot post"):
        await sim.post_message(int(cid), "alice", "let me in")
    assert (await api("DELETE", f"/channels/{cid}/permissions/{everyone}"))[0] == 204
    await sim.post_message(int(cid), "alice", "thanks")

    bot_role = str(sim.world.bot_role_id)
    view = str(1 << 10)
    await api(
        "PUT", f"/channels/{cid}/permissions/{bot_role}", {"type": 0, "allow": "0", "deny": view}
    )
    status, data, _ = await api("GET", f"/channels/{cid}/messages")
    assert (status, data["code"]) == (403, 50001)
    assert (await api("DELETE", f"/channels/{cid}/permissions/{bot_role}"))[0] == 403
    channel = sim.world.channels[int(cid)]
    sim.engine.delete_overwrite(channel, int(bot_role), actor_id=sim.world.owner_id, reason=None)

    status, deleted, _ = await api("DELETE", f"/channels/{cid}")
    assert status == 200 and deleted["id"] == cid
    assert int(cid) not in sim.world.channels
    assert names(sim, "CHANNEL_DELETE")[-1]["id"] == cid


async def test_roles_invites_and_audit_log(sim: DiscordSimulator, api: Api) -> None:
    guild_id = sim.world.guild_id
    sim.limiter.reset()
    status, roles, _ = await api("GET", f"/guilds/{guild_id}/roles")
    assert status == 200 and roles[0]["name"] == "@everyone"
    assert [r["position"] for r in roles] == sorted(r["position"] for r in roles)

    welcome = sim.world.channel("welcome")
    status, created, _ = await api("POST", f"/channels/{welcome}/invites", {"max_age": 3600})
    assert status == 200 and created["max_age"] == 3600
    status, invites, _ = await api("GET", f"/guilds/{guild_id}/invites")
    codes = {i["code"] for i in invites}
    assert created["code"] in codes and len(codes) >= 2
    status, deleted, _ = await api("DELETE", f"/invites/{created['code']}")
    assert status == 200 and deleted["code"] == created["code"]
    assert names(sim, "INVITE_DELETE")[-1]["code"] == created["code"]
    assert (await api("DELETE", f"/invites/{created['code']}"))[1]["code"] == 10006

    status, log, _ = await api("GET", f"/guilds/{guild_id}/audit-logs", params={"limit": "100"})
    assert status == 200 and log["audit_log_entries"]
    actions = {e["action_type"] for e in log["audit_log_entries"]}
    assert {40, 42} <= actions
    status, only, _ = await api(
        "GET", f"/guilds/{guild_id}/audit-logs", params={"action_type": "42"}
    )
    assert {e["action_type"] for e in only["audit_log_entries"]} == {42}
    assert any(u["id"] == str(sim.world.bot_id) for u in only["users"])


async def test_threads(sim: DiscordSimulator, api: Api) -> None:
    support = sim.world.channel("support")
    alice = sim.world.member("alice")
    status, thread, _ = await api(
        "POST",
        f"/channels/{support}/threads",
        {"name": "ticket-1", "type": 12, "auto_archive_duration": 1440},
    )
    assert status == 201 and thread["type"] == 12 and thread["parent_id"] == str(support)
    assert thread["member"]["user_id"] == str(sim.world.bot_id)
    tid = thread["id"]
    assert names(sim, "THREAD_CREATE")[-1]["id"] == tid
    assert (await api("PUT", f"/channels/{tid}/thread-members/{alice}"))[0] == 204
    update = names(sim, "THREAD_MEMBERS_UPDATE")[-1]
    assert update["added_members"][0]["user_id"] == str(alice)
    status, members, _ = await api("GET", f"/channels/{tid}/thread-members")
    assert {m["user_id"] for m in members} == {str(alice), str(sim.world.bot_id)}
    status, msg, _ = await api("POST", f"/channels/{tid}/messages", {"content": "how can we help?"})
    assert status == 200 and msg["channel_id"] == tid
    await sim.post_message(int(tid), "alice", "my bot is broken")
    assert (await api("DELETE", f"/channels/{tid}/thread-members/{alice}"))[0] == 204
    assert names(sim, "THREAD_MEMBERS_UPDATE")[-1]["removed_member_ids"] == [str(alice)]
    status, archived, _ = await api("PATCH", f"/channels/{tid}", {"archived": True, "locked": True})
    assert status == 200 and archived["thread_metadata"]["archived"] is True

    starter = await sim.post_message("general", "bob", "discuss this")
    general = sim.world.channel("general")
    status, from_msg, _ = await api(
        "POST", f"/channels/{general}/messages/{starter.id}/threads", {"name": "discussion"}
    )
    assert status == 201 and from_msg["id"] == str(starter.id) and from_msg["type"] == 11
    status, data, _ = await api(
        "POST", f"/channels/{general}/messages/{starter.id}/threads", {"name": "again"}
    )
    assert (status, data["code"]) == (400, 160004)
    status, fetched, _ = await api("GET", f"/channels/{general}/messages/{starter.id}")
    assert fetched["thread"]["id"] == str(starter.id)


# ----------------------------------------------------------------------------- interactions


async def test_interaction_callback_webhooks_and_followups(sim: DiscordSimulator, api: Api) -> None:
    record = await sim.invoke_slash_command("report", "alice", "support", {"reason": "spam"})
    payload = names(sim, "INTERACTION_CREATE")[-1]
    assert payload["data"]["name"] == "report" and payload["type"] == 2
    assert payload["data"]["options"] == [{"name": "reason", "type": 3, "value": "spam"}]
    assert payload["member"]["user"]["username"] == "alice" and payload["token"] == record.token
    cb = f"/interactions/{record.id}/{record.token}/callback"
    status, data, _ = await api(
        "POST", cb, {"type": 4, "data": {"content": "thanks", "flags": 64}}, auth=False
    )
    assert status == 204
    status, data, _ = await api("POST", cb, {"type": 4, "data": {"content": "again"}})
    assert (status, data["code"]) == (400, 40060)
    hook = f"/webhooks/{sim.world.application_id}/{record.token}"
    status, original, _ = await api("GET", f"{hook}/messages/@original", auth=False)
    assert status == 200 and original["content"] == "thanks" and original["flags"] & 64
    assert not any(d["id"] == original["id"] for d in names(sim, "MESSAGE_CREATE"))
    status, edited, _ = await api("PATCH", f"{hook}/messages/@original", {"content": "updated"})
    assert status == 200 and edited["content"] == "updated"
    status, follow, _ = await api("POST", hook, {"content": "follow-up"}, params={"wait": "true"})
    assert status == 200 and follow["content"] == "follow-up"
    assert record.followup_ids == [int(follow["id"])]
    assert (await api("DELETE", f"{hook}/messages/{follow['id']}"))[0] == 204
    assert (await api("GET", f"/webhooks/1/{record.token}/messages/@original"))[1]["code"] == 10015


async def test_interaction_ack_deadline() -> None:
    async with DiscordSimulator(SimulatorConfig(interaction_ack_timeout=0.05)) as quick:
        async with aiohttp.ClientSession() as http:
            api = Api(quick, http)
            record = await quick.invoke_slash_command("late", "bob")
            await asyncio.sleep(0.06)
            cb = f"/interactions/{record.id}/{record.token}/callback"
            status, data, _ = await api("POST", cb, {"type": 5})
            assert (status, data["code"]) == (404, 10062)


async def test_slash_options_resolve_users_channels_roles(sim: DiscordSimulator, api: Api) -> None:
    app = sim.world.application_id
    commands = [
        {
            "name": "mod",
            "description": "moderation",
            "options": [
                {
                    "type": 1,
                    "name": "warn",
                    "description": "warn a member",
                    "options": [
                        {"type": 6, "name": "member", "description": "who", "required": True},
                        {"type": 7, "name": "where", "description": "channel"},
                        {"type": 8, "name": "role", "description": "role"},
                        {"type": 4, "name": "points", "description": "points"},
                    ],
                }
            ],
        }
    ]
    status, synced, _ = await api(
        "PUT", f"/applications/{app}/guilds/{sim.world.guild_id}/commands", commands
    )
    assert status == 200 and synced[0]["id"] and synced[0]["guild_id"] == str(sim.world.guild_id)
    record = await sim.invoke_slash_command(
        "mod warn",
        "moderator",
        "general",
        {"member": "bob", "where": "support", "role": "Muted", "points": 2},
    )
    data = record.data
    assert data["id"] == synced[0]["id"]
    sub = data["options"][0]
    assert sub["name"] == "warn" and sub["type"] == 1
    values = {o["name"]: (o["type"], o["value"]) for o in sub["options"]}
    assert values["member"] == (6, str(sim.world.member("bob")))
    assert values["where"] == (7, str(sim.world.channel("support")))
    assert values["role"] == (8, str(sim.world.role("Muted")))
    assert values["points"] == (4, 2)
    assert str(sim.world.member("bob")) in data["resolved"]["members"]
    assert str(sim.world.channel("support")) in data["resolved"]["channels"]


async def test_application_commands_keep_ids(sim: DiscordSimulator, api: Api) -> None:
    app = sim.world.application_id
    body = [{"name": "ping", "description": "ping"}, {"name": "ban", "description": "ban"}]
    status, first, _ = await api("PUT", f"/applications/{app}/commands", body)
    assert status == 200 and all(c["application_id"] == str(app) for c in first)
    status, second, _ = await api("PUT", f"/applications/{app}/commands", body[:1])
    assert second[0]["id"] == first[0]["id"]
    status, listed, _ = await api("GET", f"/applications/{app}/commands")
    assert [c["name"] for c in listed] == ["ping"]
    assert (await api("PUT", f"/applications/{app}/commands", [{"name": "Bad Name!"}]))[0] == 400


# ----------------------------------------------------------------------------- scheduled events


async def test_scheduled_events(sim: DiscordSimulator, api: Api) -> None:
    guild_id = sim.world.guild_id
    start = utcnow() + dt.timedelta(days=1)
    body = {
        "name": "Game night",
        "privacy_level": 2,
        "entity_type": 3,
        "scheduled_start_time": iso(start),
        "scheduled_end_time": iso(start + dt.timedelta(hours=2)),
        "entity_metadata": {"location": "Online"},
        "description": "Bring snacks",
    }
    status, event, _ = await api("POST", f"/guilds/{guild_id}/scheduled-events", body)
    assert (
        status == 200 and event["status"] == 1 and event["entity_metadata"]["location"] == "Online"
    )
    eid = event["id"]
    assert names(sim, "GUILD_SCHEDULED_EVENT_CREATE")[-1]["id"] == eid
    await sim.set_event_interest(int(eid), "alice")
    status, listed, _ = await api(
        "GET", f"/guilds/{guild_id}/scheduled-events", params={"with_user_count": "true"}
    )
    assert listed[0]["user_count"] == 1
    status, users, _ = await api("GET", f"/guilds/{guild_id}/scheduled-events/{eid}/users")
    assert users[0]["user"]["username"] == "alice"
    base = f"/guilds/{guild_id}/scheduled-events/{eid}"
    assert (await api("PATCH", base, {"status": 3}))[0] == 400
    status, active, _ = await api("PATCH", base, {"status": 2})
    assert status == 200 and active["status"] == 2
    status, done, _ = await api("PATCH", base, {"status": 3})
    assert done["status"] == 3
    assert (await api("GET", base))[1]["name"] == "Game night"
    assert (await api("DELETE", base))[0] == 204
    assert (await api("GET", base))[1]["code"] == 10070
    lounge = sim.world.channel("lounge")
    voice = {**body, "entity_type": 2, "channel_id": str(lounge)}
    voice.pop("entity_metadata")
    status, created, _ = await api("POST", f"/guilds/{guild_id}/scheduled-events", voice)
    assert status == 200 and created["channel_id"] == str(lounge)
    past = {**body, "scheduled_start_time": iso(utcnow() - dt.timedelta(hours=1))}
    assert (await api("POST", f"/guilds/{guild_id}/scheduled-events", past))[0] == 400


# ----------------------------------------------------------------------------- control API


async def test_control_api_endpoints(sim: DiscordSimulator, api: Api) -> None:
    status, ids = await api.control("GET", "/_sim/world")
    assert status == 200 and ids["channels"]["general"] == str(sim.world.channel("general"))
    status, member = await api.control(
        "POST", "/_sim/members", {"username": "newbie", "account_age_seconds": 600}
    )
    assert status == 201
    created = snowflake_time(int(member["user"]["id"]))
    assert dt.timedelta(minutes=9) < utcnow() - created < dt.timedelta(minutes=11)
    status, msg = await api.control(
        "POST", "/_sim/messages", {"channel": "general", "author": "newbie", "content": "hi all"}
    )
    assert status == 201
    status, result = await api.control(
        "POST",
        "/_sim/reactions",
        {"channel": "general", "message_id": msg["id"], "user": "alice", "emoji": "👋"},
    )
    assert result == {"changed": True}
    status, _ = await api.control("DELETE", "/_sim/members/newbie")
    assert status == 204
    status, data = await api.control("DELETE", "/_sim/members/newbie")
    assert status == 404 and data["code"] == 10007

    status, rule = await api.control(
        "POST", "/_sim/faults", {"method": "GET", "path": "/users/@me$", "status": 502}
    )
    assert status == 201 and rule["remaining"] == 1
    assert (await api("GET", "/users/@me"))[0] == 502
    status, recorded = await api.control("GET", "/_sim/requests?method=GET&route=/users/@me")
    assert recorded[-1]["status"] == 502 and recorded[-1]["injected"] is True
    assert (await api.control("DELETE", "/_sim/faults"))[0] == 204

    status, started = await api.control(
        "POST", "/_sim/interactions/commands", {"name": "ping", "user": "bob"}
    )
    assert status == 201
    cb = f"/interactions/{started['id']}/{started['token']}/callback"
    await api("POST", cb, {"type": 4, "data": {"content": "pong"}})
    status, described = await api.control("GET", f"/_sim/interactions/{started['id']}?wait=2")
    assert described["responses"][0]["type"] == 4
    assert described["original_message"]["content"] == "pong"

    button_msg = await sim.post_message("general", "owner", "press")
    status, clicked = await api.control(
        "POST",
        "/_sim/interactions/components",
        {"custom_id": "press:1", "user": "carol", "message_id": str(button_msg.id)},
    )
    assert status == 201
    data = names(sim, "INTERACTION_CREATE")[-1]
    assert data["type"] == 3 and data["data"]["custom_id"] == "press:1"
    assert data["id"] == clicked["id"]
    assert data["message"]["id"] == str(button_msg.id)

    status, dm = await api.control("POST", "/_sim/dms", {"author": "alice", "content": "help me"})
    assert status == 201 and "guild_id" not in dm
    status, state = await api.control("GET", "/_sim/state")
    assert status == 200 and state["guilds"][0]["members"]
    status, gateway = await api.control("GET", "/_sim/gateway")
    assert status == 200 and "sessions" in gateway


async def test_mass_join_spreads_joins_and_young_share(sim: DiscordSimulator, api: Api) -> None:
    started = time.monotonic()
    status, result = await api.control(
        "POST",
        "/_sim/raids",
        {"count": 10, "seconds": 0.3, "young_share": 0.3, "name_prefix": "wave", "seed": 7},
    )
    elapsed = time.monotonic() - started
    assert status == 201 and len(result["members"]) == 10
    assert 0.25 <= elapsed < 2.0
    ages = [utcnow() - snowflake_time(int(m["user"]["id"])) for m in result["members"]]
    assert sum(age < dt.timedelta(days=1) for age in ages) == 3
    joins = [
        d
        for d in sim.dispatched("GUILD_MEMBER_ADD")
        if d.data["user"]["username"].startswith("wave")
    ]
    assert len(joins) == 10
    assert joins[-1].at - joins[0].at >= 0.25
