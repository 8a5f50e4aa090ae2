"""Issue #4's "done when", scaled down, through separate processes: `dcs gateway` and `dcs worker`
against the Temporal dev server and the simulator (bench/bench_raid.py's drill). A spam flood is
deleted in full; a raid is locked down within 5 s; the worker is killed with SIGKILL mid-lockdown
and replaced; the removal is approved and carried out; a raid during a flood and a reaction storm
is locked down within 5 s too; every lift restores the server exactly; no regular is touched."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench_raid import Scale, run_drill

pytestmark = pytest.mark.slow

SMALL = Scale(
    spam_messages=1_000,
    joins=120,
    join_seconds=6.0,
    backlog_reactions=3_000,
    settle_seconds=3.0,
    compare_fifo=False,
)


async def test_raid_and_flood_drill_through_separate_processes(tmp_path):
    out = await run_drill(tmp_path, SMALL)
    assert out["flood"]["posted"] == SMALL.spam_messages  # and every one was deleted
    assert out["latency"]["total"] < 5_000
    assert out["backlog_latency"]["total"] < 5_000
    assert out["flood_during_raid"]["posted"] == SMALL.spam_messages
    assert out["removed"] >= 0.8 * SMALL.joins
    assert out["restored_exactly"] and out["restored_exactly_2"]
    assert out["false_positive_members"] == 0
    assert out["lost_regular_messages"] == 0
