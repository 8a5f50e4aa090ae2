"""Command rate limits through the simulator and the real gateway: a member spamming /rank is
refused after the limit, another member is not, the server's limit caps everyone, and a member
with Manage Server is exempt. Both databases."""

from support import eventually, running_bot

from dcs.server_config import default_server_config

TOO_FAST = "too fast"


def limits_config(member_uses, guild_uses):
    config = default_server_config().model_dump(mode="json")
    config["commands"] = {
        "per_member": {"uses": member_uses, "seconds": 600},
        "per_guild": {"uses": guild_uses, "seconds": 600},
    }
    return config


def reply_text(sim, record) -> str:
    view = record.describe(sim.world)
    parts = [str(r["data"]) for r in view["responses"]]
    if view["original_message"]:
        parts.append(view["original_message"]["content"])
    parts += [m["content"] for m in view["followups"]]
    return " | ".join(parts)


def answered(sim, record):
    """The reply once there is one: the rank card (an attachment) or the refusal."""
    view = record.describe(sim.world)
    original = view["original_message"]
    if original and original["attachments"]:
        return "card"
    text = reply_text(sim, record)
    return text if TOO_FAST in text else None


async def rank(sim, user):
    record = await sim.invoke_slash_command("rank", user)
    return await eventually(lambda: answered(sim, record))


async def test_a_member_spamming_rank_is_refused_and_others_are_not(
    env, session_factory, sim, task_queue
):
    config = limits_config(member_uses=3, guild_uses=5)
    async with running_bot(sim, env.client, task_queue, session_factory, config=config):
        assert [await rank(sim, "alice") for _ in range(3)] == ["card"] * 3
        refused = await rank(sim, "alice")
        assert "You're doing that too fast, try again in" in refused
        assert await rank(sim, "bob") == "card"  # alice's limit is hers alone
        assert await rank(sim, "bob") == "card"  # the server's 5 uses are gone now
        assert TOO_FAST in await rank(sim, "carol")
        assert await rank(sim, "owner") == "card"  # Manage Server: exempt
    cards = [
        m for m in sim.messages("general") if m.attachments and m.author_id == sim.world.bot_id
    ]
    assert len(cards) == 6


async def test_buttons_count_against_the_same_limit(env, session_factory, sim, task_queue):
    config = limits_config(member_uses=2, guild_uses=100)
    config["verification"] = {"enabled": True, "verified_role_id": sim.world.role("Member")}
    async with running_bot(sim, env.client, task_queue, session_factory, config=config):
        panel = await sim.invoke_slash_command("verification panel", "owner", "welcome")
        await eventually(lambda: "panel posted" in reply_text(sim, panel))
        verify = f"verify:{sim.world.guild_id}"
        [message] = [m for m in sim.messages("welcome") if verify in str(m.components)]
        first = await sim.click_button(verify, "alice", message.id)
        await eventually(lambda: "already verified" in reply_text(sim, first))
        assert await rank(sim, "alice") == "card"  # commands and buttons share one bucket
        third = await sim.click_button(verify, "alice", message.id)
        await eventually(lambda: TOO_FAST in reply_text(sim, third))
        assert "already verified" not in reply_text(sim, third)
