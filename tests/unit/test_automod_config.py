"""The automod section of a server's config: typed rules, defaults, precise errors, domain form."""

import pytest

from dcs.server_config import ConfigError, default_server_config, parse_server_config
from domain.automod import RuleAction, compile_automod
from domain.automod_rules import BlockedTermsParams, InviteParams, MassMentionParams, RegexParams
from domain.automod_types import MessageSnapshot


def problems_of(raw):
    with pytest.raises(ConfigError) as info:
        parse_server_config(raw)
    return info.value.problems


def test_a_fresh_server_is_protected_from_invites_scam_links_and_mass_mentions():
    section = default_server_config().automod
    assert [rule.kind for rule in section.rules] == ["invites", "scam_links", "mass_mentions"]
    rules = section.to_domain().rules
    assert [r.name for r in rules] == ["invites", "scam_links", "mass_mentions"]
    mentions = rules[2]
    assert mentions.params == MassMentionParams(5)
    assert mentions.actions == (RuleAction("delete"), RuleAction("timeout", duration_minutes=10))
    assert mentions.strike_weight == 2


def test_old_configs_still_parse_and_keep_their_meaning():
    config = parse_server_config(
        {
            "automod": {
                "blocked_terms": ["scam*"],
                "action": "warn",
                "strike_weight": 2,
                "exempt_role_ids": [5],
                "exempt_channel_ids": [6],
            }
        }
    )
    rules = config.automod.to_domain()
    legacy = rules.legacy_rule()
    assert legacy is not None and legacy.name == "blocked_terms"
    assert legacy.actions == (RuleAction("delete"), RuleAction("warn"))
    assert (rules.exempt_role_ids, rules.exempt_channel_ids) == ({5}, {6})
    assert next(r.name for r in rules.all_rules()) == "blocked_terms"


def test_every_rule_kind_parses_with_conditions_and_actions():
    raw = {
        "automod": {
            "rules": [
                {"kind": "blocked_terms", "name": "slurs", "terms": ["badword", "free nitro"]},
                {
                    "kind": "regex",
                    "patterns": [r"bit\.ly/\w+", r"(?i)crypto\s+pump"],
                    "conditions": {"min_account_age_days": 7, "ignore_roles": [11]},
                    "actions": ["delete", {"type": "reply", "reply_text": "{mention} no"}],
                    "strike_weight": 0,
                },
                {"kind": "invites", "allowed_codes": ["partner"]},
                {"kind": "scam_links", "allowed_domains": ["example.org"]},
                {"kind": "mass_mentions", "max_mentions": 8, "actions": ["delete", "timeout"]},
                {
                    "kind": "caps",
                    "max_percent": 80,
                    "actions": [{"type": "slowmode", "seconds": 30}],
                },
                {"kind": "zalgo", "actions": ["delete", "escalate", "alert"]},
                {"kind": "emoji_flood", "max_emojis": 20},
                {
                    "kind": "attachments",
                    "allowed_extensions": ["png", ".jpg"],
                    "actions": [{"type": "add_role", "role_id": 44}, "raise_raid_level"],
                    "conditions": {"ignore_categories": [3], "ignore_bots": False},
                },
            ]
        }
    }
    rules = parse_server_config(raw).automod.to_domain().rules
    assert [r.kind for r in rules] == [
        "blocked_terms",
        "regex",
        "invites",
        "scam_links",
        "mass_mentions",
        "caps",
        "zalgo",
        "emoji_flood",
        "attachments",
    ]
    regex = rules[1]
    assert regex.params == RegexParams((r"bit\.ly/\w+", r"(?i)crypto\s+pump"))
    assert regex.conditions.min_account_age_days == 7
    assert regex.conditions.ignore_roles == {11}
    assert regex.actions[1] == RuleAction("reply", text="{mention} no")
    assert rules[2].params == InviteParams(frozenset({"partner"}))
    assert rules[4].actions[1] == RuleAction("timeout", duration_minutes=10)  # default length
    assert rules[5].actions == (RuleAction("slowmode", seconds=30),)
    assert rules[8].conditions.ignore_bots is False
    assert rules[8].actions[0] == RuleAction("add_role", role_id=44)
    # the whole set compiles and judges
    automod = compile_automod(parse_server_config(raw).automod.to_domain())
    judgement = automod.judge(MessageSnapshot(1, 2, 3, frozenset(), False, "see bit.ly/abc"))
    assert judgement is not None and judgement.rules == ("regex",)


def test_round_trip_through_json_keeps_the_rules():
    raw = {"automod": {"rules": [{"kind": "regex", "patterns": ["a+b"], "actions": ["warn"]}]}}
    config = parse_server_config(raw)
    assert parse_server_config(config.model_dump(mode="json")) == config


def test_disabled_rules_and_disabled_automod_judge_nothing():
    rules = [{"kind": "caps", "enabled": False}, {"kind": "zalgo"}]
    section = parse_server_config({"automod": {"rules": rules}}).automod
    assert [r.kind for r in section.to_domain().rules] == ["zalgo"]
    off = parse_server_config({"automod": {"rules": rules, "enabled": False}}).automod
    assert off.to_domain().all_rules() == ()


def test_bad_rules_are_each_named_by_path():
    problems = problems_of(
        {
            "automod": {
                "rules": [
                    {"kind": "regex", "patterns": ["ok", r"(a)\1", "(?<=x)y"]},
                    {
                        "kind": "caps",
                        "actions": [{"type": "reply"}, {"type": "delete", "seconds": 5}],
                    },
                    {"kind": "telepathy"},
                    {"kind": "invites", "conditions": {"min_account_age_days": 0}},
                    {"kind": "mass_mentions", "max_mentions": 0, "actions": []},
                    {"kind": "blocked_terms", "terms": ["fine", "!!!"]},
                    {"kind": "zalgo", "typo": 1},
                ]
            }
        }
    )
    paths = [p.split(":")[0] for p in problems]
    assert paths == [
        "automod.rules[0].regex.patterns[1]",
        "automod.rules[0].regex.patterns[2]",
        "automod.rules[1].caps.actions[0]",
        "automod.rules[1].caps.actions[1]",
        "automod.rules[2]",
        "automod.rules[3].invites.conditions.min_account_age_days",
        "automod.rules[4].mass_mentions.actions",
        "automod.rules[4].mass_mentions.max_mentions",
        "automod.rules[5].blocked_terms.terms[1]",
        "automod.rules[6].zalgo.typo",
    ]
    text = "\n".join(problems)
    assert "back-references are not supported" in text
    assert "action 'reply' needs reply_text" in text
    assert "action 'delete' does not take seconds" in text
    assert "'telepathy'" in text and "does not match any of the expected tags" in text
    assert "has no letters or digits" in text


def test_rule_names_must_be_unique():
    problems = problems_of(
        {
            "automod": {
                "blocked_terms": ["x"],
                "rules": [
                    {"kind": "blocked_terms", "terms": ["y"]},
                    {"kind": "caps"},
                    {"kind": "caps"},
                ],
            }
        }
    )
    assert any("two rules are named blocked_terms, caps" in p for p in problems), problems


def test_tens_of_thousands_of_terms_and_hundreds_of_regexes_are_accepted():
    raw = {
        "automod": {
            "rules": [
                {"kind": "blocked_terms", "terms": [f"term{i}" for i in range(30_000)]},
                {"kind": "regex", "patterns": [f"pat{i}[0-9]+" for i in range(500)]},
            ]
        }
    }
    terms, regex = (rule.params for rule in parse_server_config(raw).automod.to_domain().rules)
    assert isinstance(terms, BlockedTermsParams) and len(terms.terms) == 30_000
    assert isinstance(regex, RegexParams) and len(regex.patterns) == 500
