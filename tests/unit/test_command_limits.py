"""Token buckets for the suite's commands: per member, per server, refill, bounded memory."""

import pytest

from dcs.server_config import ConfigError, parse_server_config
from domain.command_limits import CommandLimiter, Rate

MEMBER = Rate(3, 6.0)  # 3 uses, one back every 2 s
GUILD = Rate(5, 10.0)


def test_a_member_gets_their_burst_then_waits_for_a_token():
    limiter = CommandLimiter()
    assert [limiter.take(1, 10, MEMBER, GUILD, 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take(1, 10, MEMBER, GUILD, 0.0)
    assert wait == pytest.approx(2.0)
    assert limiter.take(1, 10, MEMBER, GUILD, 1.0) == pytest.approx(1.0)
    assert limiter.take(1, 10, MEMBER, GUILD, 2.0) == 0.0


def test_another_member_is_unaffected_but_the_server_caps_everyone():
    limiter = CommandLimiter()
    for _ in range(3):
        assert limiter.take(1, 10, MEMBER, GUILD, 0.0) == 0.0
    assert limiter.take(1, 10, MEMBER, GUILD, 0.0) > 0
    assert limiter.take(1, 11, MEMBER, GUILD, 0.0) == 0.0
    assert limiter.take(1, 11, MEMBER, GUILD, 0.0) == 0.0
    # 5 server uses taken (the refused one took nothing): a third member is refused too
    wait = limiter.take(1, 12, MEMBER, GUILD, 0.0)
    assert wait == pytest.approx(2.0)
    assert limiter.take(2, 12, MEMBER, GUILD, 0.0) == 0.0  # another server is its own


def test_a_refusal_by_the_server_bucket_costs_the_member_nothing():
    limiter = CommandLimiter()
    once, server = Rate(1, 1000.0), Rate(1, 10.0)  # one use each, the member's slow to refill
    assert limiter.take(1, 10, once, server, 0.0) == 0.0
    assert limiter.take(1, 11, once, server, 0.0) == pytest.approx(10.0)
    # member 11's one use was not spent by the refusal: the server's token is back at 10 s
    assert limiter.take(1, 11, once, server, 10.0) == 0.0
    assert limiter.take(1, 11, once, server, 20.0) > 900


def test_idle_buckets_are_forgotten_and_memory_is_bounded():
    limiter = CommandLimiter(max_buckets=100)
    for member in range(1000):
        limiter.take(1, member, MEMBER, Rate(10_000, 1.0), float(member) / 1000)
    assert len(limiter) <= 100
    limiter.take(1, 5000, MEMBER, Rate(10_000, 1.0), 1000.0)  # long after: all were full again
    assert len(limiter) == 2  # the new member's bucket and the server's


def test_commands_config_defaults_and_bounds():
    config = parse_server_config({})
    assert config.commands.enabled and config.commands.exempt_managers
    assert (config.commands.per_member.uses, config.commands.per_member.seconds) == (5, 10)
    custom = parse_server_config({"commands": {"per_member": {"uses": 2, "seconds": 30}}})
    assert custom.commands.per_member.uses == 2
    with pytest.raises(ConfigError, match=r"commands\.per_guild\.uses"):
        parse_server_config({"commands": {"per_guild": {"uses": 0, "seconds": 1}}})
