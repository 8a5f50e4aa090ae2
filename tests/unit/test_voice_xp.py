"""Which members of a voice channel earn a voice minute."""

from domain.leveling import LevelingRules, VoiceState, VoiceXPRules
from gateway.voice_xp import voice_earners

ON = LevelingRules(voice=VoiceXPRules(enabled=True, min_listeners=1))


def state(**overrides) -> VoiceState:
    base = dict(
        self_mute=False,
        self_deaf=False,
        server_mute=False,
        server_deaf=False,
        is_bot=False,
        channel_id=42,
        afk_channel=False,
    )
    return VoiceState(**{**base, **overrides})


def test_two_people_talking_both_earn():
    assert voice_earners([("ann", state()), ("ben", state())], ON) == ["ann", "ben"]


def test_alone_earns_nothing():
    assert voice_earners([("ann", state())], ON) == []


def test_company_must_itself_be_eligible():
    people = [("ann", state()), ("bot", state(is_bot=True)), ("deaf", state(self_deaf=True))]
    assert voice_earners(people, ON) == []


def test_muted_member_does_not_earn_but_others_may():
    people = [("ann", state()), ("ben", state()), ("mute", state(server_mute=True))]
    assert voice_earners(people, ON) == ["ann", "ben"]


def test_afk_channel_and_disabled_voice_earn_nothing():
    afk = [("ann", state(afk_channel=True)), ("ben", state(afk_channel=True))]
    assert voice_earners(afk, ON) == []
    assert voice_earners([("ann", state()), ("ben", state())], LevelingRules()) == []


def test_min_listeners_counts_the_others():
    rules = LevelingRules(voice=VoiceXPRules(enabled=True, min_listeners=2))
    two = [("ann", state()), ("ben", state())]
    assert voice_earners(two, rules) == []
    assert voice_earners([*two, ("cat", state())], rules) == ["ann", "ben", "cat"]
