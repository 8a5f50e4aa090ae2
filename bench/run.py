"""Run the benchmarks and merge their figures into bench/results/latest.json.

Usage: ``bench/run.py [NAME ...] [--list] [--strict]``. Every ``bench/bench_<name>.py``
exposes ``run() -> dict[str, dict]`` mapping figure keys to ``{"value", "unit", ...}``;
extra keys (samples, method, an optional ``"min"`` target) only go to
``bench/results/<name>.json``. ``latest.json`` keeps figures this run did not produce.
A module may set ``SINGLE_CORE = False``; otherwise it runs pinned to one CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
LATEST = RESULTS_DIR / "latest.json"
PREFIX = "bench_"

Figures = dict[str, dict[str, Any]]


def discover() -> dict[str, Path]:
    """Benchmark name -> module path, for every ``bench_<name>.py`` next to this file."""
    return {
        path.stem.removeprefix(PREFIX): path for path in sorted(BENCH_DIR.glob(f"{PREFIX}*.py"))
    }


def load(name: str, path: Path) -> ModuleType:
    """Import a benchmark module by path (bench/ is a scripts folder, not a package)."""
    for folder in (BENCH_DIR, BENCH_DIR.parent):  # helpers next to it, and the project
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"{PREFIX}{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, falling back to what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """What a figure was measured on, so numbers from different machines are not mixed up."""
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


@contextmanager
def pinned_to_one_core(enabled: bool) -> Iterator[int | None]:
    """Pin this process to one CPU while a single-core benchmark runs, then restore."""
    if not enabled or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    previous = os.sched_getaffinity(0)
    cpu = max(previous)  # the last CPU is the one least likely to be busy with interrupts
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, previous)


def validate(name: str, figures: object) -> Figures:
    """Reject malformed results before they can pollute latest.json."""
    if not isinstance(figures, dict) or not figures:
        raise TypeError(f"{name}.run() must return a non-empty dict of figures")
    for key, figure in figures.items():
        if not isinstance(figure, dict):
            raise TypeError(f"{name}: figure {key!r} is not a dict")
        value, unit = figure.get("value"), figure.get("unit")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not isinstance(unit, str)
        ):
            raise TypeError(f"{name}: figure {key!r} needs a numeric 'value' and a str 'unit'")
    return figures


def write_json_atomic(path: Path, data: object) -> None:
    """Write pretty, key-sorted JSON via a temp file and rename, so readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, ensure_ascii=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_latest() -> dict[str, Any]:
    """Current latest.json (empty if absent); a corrupt file is an error, not a reset."""
    if not LATEST.exists():
        return {}
    data = json.loads(LATEST.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{LATEST} does not hold a JSON object")
    return data


def merge_latest(figures: Figures) -> None:
    """Update latest.json with these figures' value and unit, keeping every other key."""
    latest = read_latest()
    latest.update({key: {"value": f["value"], "unit": f["unit"]} for key, f in figures.items()})
    write_json_atomic(LATEST, latest)


def run_one(name: str, path: Path) -> Figures:
    """Run one benchmark, write its details file and merge its figures."""
    module = load(name, path)
    single_core = bool(getattr(module, "SINGLE_CORE", True))
    started_at = datetime.now(UTC)
    with pinned_to_one_core(single_core) as cpu:
        started = time.perf_counter()
        figures = validate(name, module.run())
        duration = time.perf_counter() - started
    details = {
        "bench": name,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(duration, 2),
        "single_core": single_core,
        "pinned_cpu": cpu,
        "machine": machine_info(),
        "figures": figures,
    }
    write_json_atomic(RESULTS_DIR / f"{name}.json", details)
    merge_latest(figures)
    return figures


def describe(key: str, figure: dict[str, Any]) -> tuple[str, bool]:
    """One summary line, and whether the figure meets its optional ``min`` target."""
    target = figure.get("min")
    met = target is None or figure["value"] >= target
    goal = "" if target is None else f"  (target >= {target:,}: {'ok' if met else 'BELOW'})"
    return f"  {key:32s} {figure['value']:>14,} {figure['unit']}{goal}", met


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line: which benchmarks, list only, or fail on missed targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list benchmarks and exit")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``make bench``."""
    args = parse_args(argv)
    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    unknown = [name for name in args.names if name not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(available)}")
        return 2
    failed, missed = [], []
    for name in args.names or list(available):
        print(f"[{name}] running…", flush=True)
        try:
            figures = run_one(name, available[name])
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        for key, figure in sorted(figures.items()):
            line, met = describe(key, figure)
            print(line)
            if not met:
                missed.append(key)
    print(f"merged into {LATEST.relative_to(BENCH_DIR.parent)}")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
