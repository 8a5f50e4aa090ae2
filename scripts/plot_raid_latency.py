"""Draw docs/images/raid-latency.png from bench/results/raid.json (run after `make bench`)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "bench" / "results" / "raid.json"
TARGET = ROOT / "docs" / "images" / "raid-latency.png"
WIDTH, ROW, LEFT, TOP = 900, 70, 330, 70
COLOURS = ("#2e86de", "#27ae60", "#c0392b")


def bars() -> list[tuple[str, float]]:
    """(label, milliseconds) for each bar, from the last raid bench."""
    figures = json.loads(SOURCE.read_text())["figures"]
    quiet = figures["raid_detect_latency_ms"]["value"]
    backlog = figures["raid_detect_latency_with_backlog_ms"]
    return [
        ("quiet server", quiet),
        ("flood + reactions, priority on", backlog["value"]),
        ("flood + reactions, priority off", backlog["without_priority_dispatch_ms"]),
    ]


def main() -> None:
    """Render the chart."""
    data = bars()
    height = TOP + ROW * len(data) + 60
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=18)
    title = "Raid: join that crosses the threshold -> first lockdown call (ms)"
    draw.text((20, 20), title, fill="black", font=font)
    top = max(ms for _, ms in data)
    scale = (WIDTH - LEFT - 120) / top
    for i, ((label, ms), colour) in enumerate(zip(data, COLOURS, strict=True)):
        y = TOP + i * ROW
        draw.text((20, y + 14), label, fill="black", font=font)
        draw.rectangle((LEFT, y + 8, LEFT + max(2, ms * scale), y + 44), fill=colour)
        draw.text((LEFT + ms * scale + 10, y + 14), f"{ms:,.0f}", fill="black", font=font)
    limit = LEFT + 5000 * scale
    draw.line((limit, TOP, limit, TOP + ROW * len(data)), fill="#7f8c8d", width=2)
    draw.text((limit - 40, TOP + ROW * len(data) + 8), "5 s target", fill="#7f8c8d", font=font)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    image.save(TARGET)


if __name__ == "__main__":
    main()
