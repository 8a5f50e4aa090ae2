"""The gateway health check over every gateway process's heartbeat (domain.health, no I/O).

Unsharded installs keep the one `gateway` mark; shard groups each write `gateway:<count>:<ids>`,
and the check needs every shard of the newest layout covered by a fresh, connected mark.
"""

from datetime import UTC, datetime, timedelta

import pytest

from domain.health import (
    HEARTBEAT_STALE_AFTER,
    GatewayMark,
    format_shard_ids,
    gateway_mark_key,
    gateway_result,
    parse_gateway_mark_key,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
FRESH = NOW - timedelta(seconds=10)
STALE = NOW - HEARTBEAT_STALE_AFTER - timedelta(seconds=30)  # 120 s ago


def mark(key: str, at: datetime = FRESH, detail: str = "connected") -> GatewayMark:
    return GatewayMark(key, at, detail)


def test_keys_name_the_shard_count_and_the_processes_shards():
    assert gateway_mark_key(None) == "gateway"  # single-process installs: unchanged
    assert gateway_mark_key(None, None) == "gateway"
    assert gateway_mark_key(4, [0, 1]) == "gateway:4:0-1"
    assert gateway_mark_key(4, [3, 2]) == "gateway:4:2-3"
    assert gateway_mark_key(4) == "gateway:4:0-3"  # every shard in one process
    assert gateway_mark_key(8, [0, 1, 2, 5, 7]) == "gateway:8:0-2,5,7"
    with pytest.raises(ValueError, match=r"within 0\.\.3"):
        gateway_mark_key(4, [4])
    with pytest.raises(ValueError, match="at least 1"):
        gateway_mark_key(0)
    assert format_shard_ids([]) == ""


def test_keys_parse_back_and_anything_else_is_not_a_shard_group():
    assert parse_gateway_mark_key("gateway:4:0-1") == (4, frozenset({0, 1}))
    assert parse_gateway_mark_key("gateway:8:0-2,5,7") == (8, frozenset({0, 1, 2, 5, 7}))
    for key in ("gateway", "gateway:4", "gateway:4:", "gateway:x:0", "gateway:4:4", "gateway:4:3-2",
                "gateway:4:a-b", "ai", "alert:gateway"):  # fmt: skip
        assert parse_gateway_mark_key(key) is None, key
    for count, ids in ((1, [0]), (4, [2, 3]), (16, [0, 3, 4, 5, 15])):
        assert parse_gateway_mark_key(gateway_mark_key(count, ids)) == (count, frozenset(ids))


def test_unsharded_mark_decides_as_before():
    assert gateway_result([mark("gateway")], NOW).status == "ok"
    assert gateway_result([mark("gateway")], NOW).detail == "connected"
    stale = gateway_result([mark("gateway", STALE)], NOW)
    assert stale.status == "error" and stale.detail == "last heartbeat 120s ago"
    down = gateway_result([mark("gateway", detail="disconnected")], NOW)
    assert down.status == "error" and down.detail == "disconnected"
    none = gateway_result([], NOW)
    assert none.status == "error" and "no heartbeat yet" in none.detail


def test_every_shard_covered_by_a_fresh_connected_mark_is_ok():
    result = gateway_result([mark("gateway:4:0-1"), mark("gateway:4:2-3")], NOW, 1.5)
    assert result.status == "ok" and result.latency_ms == 1.5
    assert result.detail == "connected: shards 0-3 of 4 (2 processes)"
    single = gateway_result([mark("gateway:4:0-3")], NOW)
    assert single.status == "ok" and single.detail == "connected: shards 0-3 of 4 (1 process)"


def test_a_stale_group_is_not_hidden_by_a_live_one():
    result = gateway_result([mark("gateway:4:0-1"), mark("gateway:4:2-3", STALE)], NOW)
    assert result.status == "error"
    assert result.detail == "shards of 4: stale 2-3 (last heartbeat 120s ago)"


def test_missing_stale_and_disconnected_shards_are_each_named():
    marks = [
        mark("gateway:8:0-1"),
        mark("gateway:8:2-3", detail="disconnected"),
        mark("gateway:8:4", STALE),
        mark("gateway:8:5", NOW - timedelta(seconds=300)),
        # 6 and 7: no process ever wrote
    ]
    result = gateway_result(marks, NOW)
    assert result.status == "error"
    assert result.detail == (
        "shards of 8: missing 6-7 (no heartbeat); stale 4 (last heartbeat 120s ago); "
        "stale 5 (last heartbeat 300s ago); disconnected 2-3"
    )


def test_an_older_layouts_rows_are_ignored():
    # re-sharded from 2 to 4 shards: the count-2 rows stop beating and stay behind
    old = [mark("gateway:2:0", STALE), mark("gateway:2:1", STALE - timedelta(hours=1))]
    current = [mark("gateway:4:0-1"), mark("gateway:4:2-3")]
    assert gateway_result([*old, *current], NOW).status == "ok"
    # the old unsharded row, too, once shard groups beat
    assert gateway_result([mark("gateway", STALE), *current], NOW).status == "ok"
    # and back to one process: its `gateway` mark is the newest layout
    back = gateway_result([*current[:1], mark("gateway:4:2-3", STALE), mark("gateway", NOW)], NOW)
    assert back.status == "ok" and back.detail == "connected"
    # the current layout still has to be whole: one of its groups missing is an error
    partial = gateway_result([*old, current[0]], NOW)
    assert partial.status == "error" and partial.detail == "shards of 4: missing 2-3 (no heartbeat)"


def test_a_regrouped_shard_counts_when_any_of_its_marks_is_fresh_and_connected():
    # same count, groups re-cut: the old `0-1` row is stale but shard 0 and 1 beat on their own
    marks = [
        mark("gateway:4:0-1", STALE),
        mark("gateway:4:0"),
        mark("gateway:4:1-3"),
    ]
    assert gateway_result(marks, NOW).status == "ok"


def test_malformed_gateway_keys_are_ignored():
    marks = [mark("gateway:4:9", NOW), mark("gateway:zz:0", NOW), mark("gateway:2:0-1")]
    result = gateway_result(marks, NOW)
    assert result.status == "ok" and result.detail == "connected: shards 0-1 of 2 (1 process)"
