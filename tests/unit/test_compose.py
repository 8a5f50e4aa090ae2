"""docker-compose.yml: valid against the Compose Specification, and consistent with the suite.

There is no Docker engine on the test machines, so the file is checked here: against the official
JSON schema (tests/data/compose-spec.json, vendored), then for what the schema cannot know (every
suite process has a health check and a restart policy, every `${VAR}` is documented in
.env.example, every application variable is a real setting, dependencies wait for health, the
gateway shard groups cover every shard once). `docker compose config -q` runs too where Docker
is installed. Each checker returns a list of problems; the mutation test shows each one fails.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from dcs.settings import Settings, parse_relay_urls, parse_shard_ids

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"

# `${NAME}`, `${NAME:-default}`, `${NAME:?message}`, `$NAME`; `$$` is a literal dollar
_REFERENCE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
_RESTART = {"always", "unless-stopped", "on-failure"}
_LOCAL_URL = re.compile(r"http://(?:127\.0\.0\.1|localhost):(\d+)/")


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # PyYAML resolves the `<<: *anchor` merges


def env_example() -> dict[str, list[str]]:
    """Variables of .env.example, each with the comment lines of its paragraph above it."""
    found: dict[str, list[str]] = {}
    comments: list[str] = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if not stripped:
            comments = []  # a blank line ends the paragraph
        elif stripped.startswith("#"):
            text = stripped.lstrip("#").strip()
            if text.strip("- "):  # not a "# ---- section ----" rule
                comments.append(text)
        elif "=" in stripped:
            found[stripped.split("=", 1)[0].strip()] = list(comments)
    return found


def referenced_variables(text: str) -> set[str]:
    """Every variable Compose interpolates in `text` (comments excluded)."""
    lines = [
        line.split(" #", 1)[0] for line in text.splitlines() if not line.lstrip().startswith("#")
    ]
    return {a or b for a, b in _REFERENCE.findall("\n".join(lines))}


def suite_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from the suite's Dockerfile."""
    return {name: s for name, s in compose["services"].items() if "build" in s}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def setting_names() -> set[str]:
    """Environment names pydantic-settings reads (field names, aliases), upper case."""
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        for alias in (field.alias, field.validation_alias):
            if isinstance(alias, str):
                names.add(alias.upper())
    return names


def has_healthcheck(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck") or {}
    test = check.get("test")
    return bool(test) and not check.get("disable") and test not in (["NONE"], "NONE")


# -- the checks: each returns its problems ---------------------------------------------------


def schema_problems(compose: dict[str, Any]) -> list[str]:
    validator = jsonschema_rs.Draft7Validator(json.loads(SCHEMA.read_text()))
    return [
        f"{'/'.join(map(str, e.instance_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(compose)
    ]


def health_and_restart_problems(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, service in suite_services(compose).items():
        if not has_healthcheck(service):
            problems.append(f"service {name!r} is built from the Dockerfile but has no healthcheck")
        if service.get("restart") not in _RESTART:
            problems.append(
                f"service {name!r} has restart {service.get('restart')!r};"
                f" use one of {sorted(_RESTART)}"
            )
    return problems


def health_port_problems(compose: dict[str, Any]) -> list[str]:
    """A suite health check must probe a port that service really listens on."""
    problems = []
    for name, service in suite_services(compose).items():
        env = environment(service)
        listening = {
            env[key] for key in ("METRICS_PORT_WORKER", "METRICS_PORT_GATEWAY") if key in env
        }
        if service.get("command") == ["dcs", "api"]:
            listening.add(env.get("API_PORT", "8080"))
        for port in _LOCAL_URL.findall(
            " ".join(map(str, (service.get("healthcheck") or {}).get("test") or []))
        ):
            if port not in listening:
                problems.append(
                    f"service {name!r}: its healthcheck probes port {port}, but it listens on "
                    f"{sorted(listening) or 'no configured port'}"
                )
    return problems


def env_example_problems(text: str) -> list[str]:
    documented = env_example()
    used = referenced_variables(text)
    problems = [
        f"${{{name}}} is used in docker-compose.yml but missing from .env.example"
        for name in sorted(used - documented.keys())
    ]
    problems += [
        f".env.example lists {name}, which docker-compose.yml never reads"
        for name in sorted(documented.keys() - used)
    ]
    problems += [
        f".env.example: {name} has no comment above it" for name, c in documented.items() if not c
    ]
    return problems


def setting_problems(compose: dict[str, Any]) -> list[str]:
    known = setting_names()
    return [
        f"service {name!r} sets {key}, which is not a setting in dcs/settings.py"
        for name, service in suite_services(compose).items()
        for key in environment(service)
        if key.upper() not in known
    ]


def dependency_problems(compose: dict[str, Any]) -> list[str]:
    services = compose["services"]
    problems = []
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, spec in depends.items():
            if target not in services:
                problems.append(f"service {name!r} depends on {target!r}, which does not exist")
                continue
            condition = (spec or {}).get("condition", "service_started")
            if has_healthcheck(services[target]) and condition != "service_healthy":
                problems.append(
                    f"service {name!r} waits for {target!r} with {condition!r}; {target!r} has a "
                    "healthcheck, so use condition: service_healthy"
                )
    return problems


def shard_problems(compose: dict[str, Any]) -> list[str]:
    """The gateway services' DISCORD_SHARD_IDS cover 0..DISCORD_SHARD_COUNT-1 exactly once."""
    gateways = {
        name: environment(s)
        for name, s in suite_services(compose).items()
        if "gateway" in (s.get("command") or [])
    }
    if not gateways:
        return ["no gateway service: nothing connects to Discord"]
    counts = {env.get("DISCORD_SHARD_COUNT") for env in gateways.values()}
    if counts == {None}:
        return [] if len(gateways) == 1 else [f"{sorted(gateways)} all connect unsharded"]
    if len(counts) != 1:
        return [f"gateway services disagree on DISCORD_SHARD_COUNT: {sorted(map(str, counts))}"]
    count = int(counts.pop() or 0)
    owner: dict[int, list[str]] = {}
    problems = []
    for name, env in sorted(gateways.items()):
        try:
            ids = (
                parse_shard_ids(env["DISCORD_SHARD_IDS"], count)
                if env.get("DISCORD_SHARD_IDS")
                else list(range(count))
            )
        except ValueError as exc:
            problems.append(f"service {name!r}: {exc}")
            continue
        for shard in ids:
            owner.setdefault(shard, []).append(name)
    problems += [
        f"shard {s} is connected by {sorted(n)}" for s, n in sorted(owner.items()) if len(n) > 1
    ]
    missing = sorted(set(range(count)) - owner.keys())
    if missing:
        problems.append(f"shards {missing} of {count} are connected by no gateway service")
    return problems


def relay_problems(compose: dict[str, Any]) -> list[str]:
    """The api relays each shard's HTTP interactions to the gateway service that connects it.

    Its INTERACTIONS_RELAY_URLS must be valid for the gateways' DISCORD_SHARD_COUNT, and each
    shard's URL must name the service connecting that shard and the port its relay listens on.
    """
    services = suite_services(compose)
    apis = {n: environment(s) for n, s in services.items() if s.get("command") == ["dcs", "api"]}
    gateways = {
        n: environment(s) for n, s in services.items() if s.get("command") == ["dcs", "gateway"]
    }
    problems = []
    for api_name, env in sorted(apis.items()):
        spec = env.get("INTERACTIONS_RELAY_URLS")
        if not spec:
            if len(gateways) > 1:
                problems.append(f"service {api_name!r} has no INTERACTIONS_RELAY_URLS")
            continue
        counts = {g.get("DISCORD_SHARD_COUNT") for g in gateways.values()}
        if counts != {env.get("DISCORD_SHARD_COUNT")}:
            problems.append(
                f"service {api_name!r}: DISCORD_SHARD_COUNT {env.get('DISCORD_SHARD_COUNT')!r} "
                f"is not the gateways' {sorted(map(str, counts))}"
            )
            continue
        count = int(env["DISCORD_SHARD_COUNT"])
        try:
            routes = parse_relay_urls(spec, count)
        except ValueError as exc:
            problems.append(f"service {api_name!r}: {exc}")
            continue
        for name, g in sorted(gateways.items()):
            ids = parse_shard_ids(g["DISCORD_SHARD_IDS"], count)
            expected = f"http://{name}:{g.get('INTERACTIONS_RELAY_PORT', '8767')}"
            if g.get("INTERACTIONS_RELAY_PORT") == "0":
                problems.append(f"service {name!r}: its relay is off (INTERACTIONS_RELAY_PORT=0)")
            if g.get("INTERACTIONS_RELAY_HOST") in (None, "127.0.0.1", "localhost", "::1"):
                problems.append(f"service {name!r}: its relay listens on loopback only")
            problems += [
                f"service {api_name!r} relays shard {shard} to {routes.urls[shard]}, "
                f"but {name!r} connects it at {expected}"
                for shard in ids
                if routes.urls[shard] != expected
            ]
    return problems


def pinned_image_problems(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        image = service.get("image", "")
        if "build" in service or not image:
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        if not tag or tag == "latest":
            problems.append(f"service {name!r} uses image {image!r}: pin a version tag")
    return problems


# -- the tests ---------------------------------------------------------------------------------


def test_the_vendored_schema_is_the_compose_specification():
    schema = json.loads(SCHEMA.read_text())
    assert schema["title"] == "Compose Specification"
    assert "services" in schema["properties"]


def test_compose_file_is_valid_against_the_compose_specification():
    problems = schema_problems(load_compose())
    assert not problems, "docker-compose.yml breaks the Compose Specification:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize(
    "check",
    [
        health_and_restart_problems,
        health_port_problems,
        setting_problems,
        dependency_problems,
        shard_problems,
        relay_problems,
        pinned_image_problems,
    ],
)
def test_compose_semantics(check):
    problems = check(load_compose())
    assert not problems, f"{check.__name__}:\n" + "\n".join(problems)


def test_every_variable_is_documented_in_env_example():
    problems = env_example_problems(COMPOSE.read_text())
    assert not problems, "\n".join(problems)


def test_the_production_layout_has_every_process():
    compose = load_compose()
    commands = {" ".join(s.get("command", [])) for s in suite_services(compose).values()}
    assert {"dcs api", "dcs worker", "dcs gateway", "dcs telegram"} <= commands
    assert {"postgres", "temporal", "temporal-ui"} <= compose["services"].keys()
    gateways = [s for s in suite_services(compose).values() if s["command"] == ["dcs", "gateway"]]
    assert len(gateways) >= 2, "the production layout shows at least two shard groups"
    for service in suite_services(compose).values():
        env = environment(service)
        assert env["TEMPORAL_START_DEV_SERVER"] == "false"
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://")


def test_each_check_catches_its_mistake():
    """The checks above are not vacuous: each reports a planted mistake."""
    base = load_compose()

    def broken(edit) -> dict[str, Any]:
        compose = copy.deepcopy(base)
        edit(compose["services"])
        return compose

    def no_healthcheck(s):
        del s["worker"]["healthcheck"]

    def no_restart(s):
        s["api"]["restart"] = "no"

    def wrong_port(s):
        s["gateway-0"]["environment"]["METRICS_PORT_GATEWAY"] = "9999"

    def typo_setting(s):
        s["worker"]["environment"]["DATABSE_URL"] = "x"

    def started_only(s):
        s["api"]["depends_on"] = ["postgres", "temporal"]

    def missing_target(s):
        s["api"]["depends_on"]["redis"] = {"condition": "service_healthy"}

    def overlapping(s):
        s["gateway-1"]["environment"]["DISCORD_SHARD_IDS"] = "1-3"

    def gap(s):
        s["gateway-1"]["environment"]["DISCORD_SHARD_IDS"] = "3"

    def other_count(s):
        s["gateway-1"]["environment"]["DISCORD_SHARD_COUNT"] = "8"

    def relay_to_wrong_group(s):
        s["api"]["environment"]["INTERACTIONS_RELAY_URLS"] = (
            "0-2=http://gateway-0:8767,3=http://gateway-1:8767"
        )

    def relay_off(s):
        s["gateway-1"]["environment"]["INTERACTIONS_RELAY_PORT"] = "0"

    def unpinned(s):
        s["temporal-ui"]["image"] = "temporalio/ui"

    def not_compose(s):
        s["api"]["restart_policy"] = "always"

    cases = [
        (
            health_and_restart_problems,
            no_healthcheck,
            "'worker' is built from the Dockerfile but has no healthcheck",
        ),
        (health_and_restart_problems, no_restart, "'api' has restart 'no'"),
        (health_port_problems, wrong_port, "'gateway-0': its healthcheck probes port 9102"),
        (setting_problems, typo_setting, "sets DATABSE_URL, which is not a setting"),
        (dependency_problems, started_only, "waits for 'postgres' with 'service_started'"),
        (dependency_problems, missing_target, "depends on 'redis', which does not exist"),
        (shard_problems, overlapping, "shard 1 is connected by ['gateway-0', 'gateway-1']"),
        (shard_problems, gap, "shards [2] of 4 are connected by no gateway service"),
        (shard_problems, other_count, "disagree on DISCORD_SHARD_COUNT"),
        (
            relay_problems,
            relay_to_wrong_group,
            "relays shard 2 to http://gateway-0:8767, but 'gateway-1' connects it",
        ),
        (relay_problems, relay_off, "'gateway-1': its relay is off"),
        (pinned_image_problems, unpinned, "'temporalio/ui': pin a version tag"),
        (schema_problems, not_compose, "restart_policy"),
    ]
    for check, edit, expected in cases:
        found = check(broken(edit))
        assert any(expected in p for p in found), (
            f"{check.__name__} missed {edit.__name__}: {found}"
        )

    text = COMPOSE.read_text().replace("${LOG_LEVEL:-INFO}", "${DCS_LOG_LEVEL:-INFO}")
    problems = env_example_problems(text)
    assert (
        "${DCS_LOG_LEVEL} is used in docker-compose.yml but missing from .env.example" in problems
    )
    assert ".env.example lists LOG_LEVEL, which docker-compose.yml never reads" in problems


def test_variable_references_are_found_in_every_form():
    text = 'a: ${ONE}\nb: "${TWO:-x} $THREE ${FOUR:?set it}"\nc: $$NOT_ME\n# ${COMMENTED}\n'
    assert referenced_variables(text) == {"ONE", "TWO", "THREE", "FOUR"}


def _docker_compose_available() -> str | None:
    if shutil.which("docker") is None:
        return "no docker executable on PATH"
    try:
        done = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`docker compose version` failed: {exc}"
    if done.returncode != 0:
        return f"`docker compose version` exited {done.returncode}: {done.stderr.strip()[:200]}"
    return None


def test_docker_compose_config_accepts_the_file(tmp_path: Path):
    reason = _docker_compose_available()
    if reason is not None:
        pytest.skip(f"docker compose is not available ({reason}); the schema checks above ran")
    env = tmp_path / ".env"
    required = {"POSTGRES_PASSWORD", "DISCORD_BOT_TOKEN", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"}
    env.write_text("".join(f"{name}=compose-check\n" for name in sorted(required)))
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "--env-file", str(env), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"docker compose config -q refused the file:\n{done.stderr}"
