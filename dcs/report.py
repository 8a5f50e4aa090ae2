"""`dcs report --server ID [--week 2026-W49 | --end DATE] --out report.png`: a weekly PNG report.

The figures come from `storage.analytics.server_stats`, the same function the stats endpoint
answers from (day buckets: whole-day totals, or the hourly rows of days not rolled up yet), and
are drawn with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ai_cost import usd
from domain.analytics import (
    ACTIONS_PREFIX,
    AI_CALLS,
    AI_COST_MICRO_USD,
    EVENT_ATTENDANCE,
    FAQ_HITS,
    JOINS,
    LEAVES,
    MESSAGES,
    TICKETS_CLOSED,
    TICKETS_OPENED,
    VIOLATIONS_PREFIX,
    Series,
    day_start,
    iso_week_label,
    iso_week_range,
    stats_range,
    week_ending,
)
from storage.analytics import server_stats
from storage.models import Server

WIDTH_IN, HEIGHT_IN, DPI = 14.0, 10.0, 100
"""The report is 1400 x 1000 pixels."""


@dataclass(frozen=True)
class WeeklyReport:
    """Everything the report draws: the server, the seven days, and their series."""

    guild_id: int
    server_name: str
    first_day: date
    days: list[date]
    series: Series

    @property
    def week_label(self) -> str:
        """'2026-W49' when the days are an ISO week, else 'first .. last'."""
        if self.first_day.weekday() == 0:
            return iso_week_label(self.first_day)
        return f"{self.first_day.isoformat()} .. {self.days[-1].isoformat()}"

    def daily(self, metric: str) -> list[int]:
        """The metric per day (zeros where nothing happened)."""
        return self.series.values.get(metric, [0] * len(self.days))

    @property
    def mean_resolution_hours(self) -> list[float | None]:
        """Mean ticket resolution time per day, in hours (None on days nothing was closed)."""
        return [
            None if s is None else s / 3600
            for s in self.series.averages()["ticket_resolution_avg_seconds"]
        ]


def report_days(week: str | None, end: date | None, today: date) -> tuple[date, date]:
    """(first day, day after the last): an ISO week, the seven days ending `end`, or last week."""
    if week is not None:
        return iso_week_range(week)
    if end is not None:
        return week_ending(end)
    this_monday = today - timedelta(days=today.weekday())
    return this_monday - timedelta(weeks=1), this_monday


async def weekly_report_data(
    session: AsyncSession, guild_id: int, first: date, stop: date
) -> WeeklyReport:
    """The report's figures for the days [first, stop), in day buckets."""
    rng = stats_range(day_start(first), day_start(stop), "day", now=day_start(stop))
    series = await server_stats(session, guild_id, rng)
    name = await session.scalar(select(Server.name).where(Server.id == guild_id))
    days = [b.date() for b in rng.buckets]
    return WeeklyReport(guild_id, name or "", first, days, series)


def render_report(report: WeeklyReport, out: Path) -> None:
    """Draw the report as a PNG at `out` (WIDTH_IN x HEIGHT_IN inches at DPI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [d.strftime("%a %d") for d in report.days]
    x = list(range(len(labels)))
    fig, axes = plt.subplots(3, 2, figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    server = report.server_name or "server"
    fig.suptitle(
        f"{server} ({report.guild_id}) - weekly report {report.week_label} "
        f"({report.days[0].isoformat()} to {report.days[-1].isoformat()}, UTC)",
        fontsize=15,
        fontweight="bold",
    )

    ax = axes[0][0]
    ax.bar(x, report.daily(MESSAGES), label="messages", color="#A5ADF7")
    ax.set_title("Messages, joins and leaves per day")
    ax.set_xticks(x, labels)
    ax.set_ylabel("messages")
    twin = ax.twinx()
    twin.plot(x, report.daily(JOINS), marker="o", label="joins", color="#3BA55D")
    twin.plot(x, report.daily(LEAVES), marker="o", label="leaves", color="#ED4245")
    twin.set_ylim(bottom=0)
    twin.set_ylabel("members")
    _legend(ax, twin)
    width = 0.35

    _bars_by_name(axes[0][1], report.series.with_prefix(VIOLATIONS_PREFIX), "Violations by rule")
    _bars_by_name(axes[1][0], report.series.with_prefix(ACTIONS_PREFIX), "Moderation actions")

    ax = axes[1][1]
    ax.bar([i - width / 2 for i in x], report.daily(TICKETS_OPENED), width, label="opened")
    ax.bar([i + width / 2 for i in x], report.daily(TICKETS_CLOSED), width, label="closed")
    ax.set_title("Tickets and mean resolution time")
    ax.set_xticks(x, labels)
    twin = ax.twinx()
    hours = report.mean_resolution_hours
    points = [(i, h) for i, h in zip(x, hours, strict=True) if h is not None]
    if points:
        twin.plot(*zip(*points, strict=True), marker="D", color="#FAA61A", label="mean hours")
    twin.set_ylim(bottom=0)
    twin.set_ylabel("mean hours to resolve")
    _legend(ax, twin)

    ax = axes[2][0]
    ax.bar(x, report.daily(AI_CALLS), color="#9B59B6", label="AI calls")
    week_cost = usd(report.series.total(AI_COST_MICRO_USD))
    ax.set_title(f"AI calls and cost (week: {report.series.total(AI_CALLS)}, ${week_cost})")
    ax.set_xticks(x, labels)
    ax.set_ylabel("calls")
    twin = ax.twinx()
    cost = [micro / 1_000_000 for micro in report.daily(AI_COST_MICRO_USD)]
    twin.plot(x, cost, marker="s", color="#2C3E50", label="cost (USD)")
    twin.set_ylim(bottom=0)
    twin.set_ylabel("USD")
    _legend(ax, twin)

    ax = axes[2][1]
    ax.bar([i - width / 2 for i in x], report.daily(FAQ_HITS), width, label="FAQ answers")
    ax.bar(
        [i + width / 2 for i in x], report.daily(EVENT_ATTENDANCE), width, label="event attendance"
    )
    ax.set_title("FAQ answers and event attendance")
    ax.set_xticks(x, labels)
    ax.legend(loc="upper left", fontsize=8)

    for row in axes:
        for a in row:
            a.grid(axis="y", alpha=0.3)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI)
    plt.close(fig)


def _legend(ax: Any, twin: Any) -> None:
    lines, names = ax.get_legend_handles_labels()
    more, more_names = twin.get_legend_handles_labels()
    ax.legend(lines + more, names + more_names, loc="upper left", fontsize=8)


def _bars_by_name(ax: Any, totals: dict[str, int], title: str) -> None:
    """Horizontal bars of the week's totals, largest on top; a note when there were none."""
    ax.set_title(f"{title} (week: {sum(totals.values())})")
    if not totals:
        ax.text(0.5, 0.5, "none this week", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        return
    names = list(totals)[:10][::-1]
    ax.barh(names, [totals[n] for n in names], color="#ED4245")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The `report` subcommand."""
    report = sub.add_parser("report", help="render a server's weekly analytics report as a PNG")
    report.add_argument("--server", type=int, required=True, help="guild id")
    when = report.add_mutually_exclusive_group()
    when.add_argument("--week", help="ISO week, e.g. 2026-W49 (default: last complete week)")
    when.add_argument(
        "--end", type=date.fromisoformat, help="last day (YYYY-MM-DD) of the seven to report"
    )
    report.add_argument("--out", type=Path, default=Path("report.png"), help="PNG file to write")
    return report


async def _gather(database_url: str, guild_id: int, first: date, stop: date) -> WeeklyReport:
    from storage.engine import create_engine, make_sessionmaker

    engine = create_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await weekly_report_data(session, guild_id, first, stop)
    finally:
        await engine.dispose()


def run(args: argparse.Namespace, database_url: str) -> int:
    """Gather the week's figures, draw them, and print where the PNG went."""
    try:
        first, stop = report_days(args.week, args.end, datetime.now(UTC).date())
    except ValueError as exc:
        print(f"dcs report: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(_gather(database_url, args.server, first, stop))
    render_report(report, args.out)
    totals = report.series.totals()
    print(
        f"{args.out}: {report.week_label} for {report.server_name or args.server}: "
        f"{totals.get(MESSAGES, 0)} messages, {totals.get(JOINS, 0)} joins, "
        f"{totals.get(TICKETS_OPENED, 0)} tickets opened"
    )
    return 0
