"""The memory benchmarks' pure helpers: the RSS and CPU readers, the slope, the figures."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import memory_common

STATUS = "Name:\tpython\nVmPeak:\t  900 kB\nVmRSS:\t  2048 kB\nThreads:\t4\n"


def test_vm_rss_is_read_from_the_status_text():
    assert memory_common.vm_rss_kb(STATUS) == 2048
    assert memory_common.vm_rss_kb("Name:\tzombie\n") == 0


def test_cpu_seconds_survive_a_command_name_with_spaces_and_parentheses():
    fields = ["S", *["0"] * 10, "250", "150", *["0"] * 30]
    stat = "42 (dcs (worker) x) " + " ".join(fields)
    assert memory_common.cpu_seconds(stat) == pytest.approx(400 / memory_common.CLOCK_TICKS)


def test_tree_rss_adds_the_children(tmp_path):
    def proc(pid, rss_kb, kids=()):
        task = tmp_path / str(pid) / "task" / str(pid)
        task.mkdir(parents=True)
        (task / "children").write_text(" ".join(map(str, kids)))
        (tmp_path / str(pid) / "status").write_text(f"VmRSS:\t{rss_kb} kB\n")

    proc(10, 1024, kids=(11,))
    proc(11, 2048, kids=(12,))
    proc(12, 1024)
    assert memory_common.children(10, tmp_path) == [11, 12]
    assert memory_common.tree_rss_mb(10, tmp_path) == 4.0


def test_slope_is_the_least_squares_one():
    assert memory_common.slope([(0, 100), (1, 102), (2, 104)]) == pytest.approx(2.0)
    assert memory_common.slope([(0, 0), (1, 1), (2, 1), (3, 2)]) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="two points"):
        memory_common.slope([(1, 1)])
    with pytest.raises(ValueError, match="equal"):
        memory_common.slope([(1, 1), (1, 2)])
