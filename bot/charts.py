"""The admins' chart: daily predictions per class, stacked, with the drift level marked.

Drawn with Pillow, which the bot already has for photos: matplotlib, for this one chart, cost
the serving install 75 MB and each replica's start its import (docs/measurements.md).
"""

from __future__ import annotations

import io
import math
from datetime import date, timedelta

from PIL import Image, ImageDraw

from bot.drawing import font
from bot.i18n import Translator
from bot.replies import DRIFT_LEVELS, VERDICT
from model import CLASS_NAMES
from storage.stats import Stats

COLOURS = {"with_mask": "#2e7d32", "without_mask": "#c62828", "mask_weared_incorrect": "#f9a825"}
LEVEL_COLOURS = {"watch": "#ef6c00", "drift": "#b71c1c"}
WIDTH, HEIGHT = 720, 324
"""As matplotlib drew it (8 x 3.6 inches at 90 dpi): Telegram shows it whole on a phone."""
LEFT, TOP, BOTTOM = 64, 34, 30
"""The plot's margins, for the y axis's label and numbers, the title and the x axis's dates; the
legend takes the right-hand side, as wide as its longest label."""
AXIS, GRID, TEXT = "#444444", "#e6e6e6", "#222222"
MOST_DATE_LABELS = 8
"""Dates under the bars, at most: a year of days gets one label a month or so."""


def stats_chart(stats: Stats, t: Translator) -> bytes:
    """A PNG of `stats.per_day` (the daily summaries): a stacked bar per day, triangles on drift days."""
    days = [stats.start + timedelta(days=i) for i in range((stats.end - stats.start).days + 1)]
    per_day: dict[date, dict[str, int]] = {day: dict.fromkeys(CLASS_NAMES, 0) for day in days}
    level: dict[date, str] = {}
    for row in stats.per_day:
        for name in CLASS_NAMES:
            per_day[row.day][name] += row.per_class[name]
        if row.drift_level != "none" and level.get(row.day) != "drift":
            level[row.day] = row.drift_level
    tallest = max((sum(counts.values()) for counts in per_day.values()), default=0) or 1
    # Room above the tallest bar for its drift triangle.
    step = tick_step(tallest * 1.1)
    top = math.ceil(tallest * 1.1 / step) * step

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    small = font(11)
    entries = [(t(VERDICT[name][1]), COLOURS[name], False) for name in CLASS_NAMES]
    entries += [
        (t("drift level: {level}").format(level=t(DRIFT_LEVELS[name])), LEVEL_COLOURS[name], True)
        for name in ("watch", "drift")
        if name in level.values()
    ]
    legend_width = round(max(draw.textlength(label, font=small) for label, _, _ in entries)) + 30
    right = WIDTH - 10 - legend_width - 10
    plot_width, plot_height = right - LEFT, HEIGHT - TOP - BOTTOM

    def y_of(value: float) -> float:
        return TOP + plot_height * (1 - value / top)

    for value in range(0, top + 1, step):
        draw.line([(LEFT, y_of(value)), (right, y_of(value))], fill=GRID)
        draw.text((LEFT - 6, y_of(value)), t.number(value), font=small, fill=TEXT, anchor="rm")
    slot = plot_width / len(days)
    width = max(slot * 0.8, 1)
    every = math.ceil(len(days) / MOST_DATE_LABELS)
    for index, day in enumerate(days):
        left = LEFT + slot * index + (slot - width) / 2
        centre, stacked = left + width / 2, 0
        for name in CLASS_NAMES:
            if per_day[day][name]:
                upper = stacked + per_day[day][name]
                draw.rectangle([left, y_of(upper), left + width, y_of(stacked)], fill=COLOURS[name])
                stacked = upper
        if day in level:
            _triangle(draw, centre, y_of(stacked + top * 0.03), LEVEL_COLOURS[level[day]])
        if index % every == 0:
            draw.line([(centre, HEIGHT - BOTTOM), (centre, HEIGHT - BOTTOM + 4)], fill=AXIS)
            draw.text((centre, HEIGHT - BOTTOM + 6), t.short_date(day), font=small, fill=TEXT, anchor="mt")
    draw.line([(LEFT, TOP), (LEFT, HEIGHT - BOTTOM), (right, HEIGHT - BOTTOM)], fill=AXIS)
    title = t("Faces judged per day, {start} to {end}").format(start=t.date(stats.start), end=t.date(stats.end))
    draw.text((WIDTH / 2, TOP / 2), title, font=font(13), fill=TEXT, anchor="mm")
    _vertical_text(image, t("faces"), (14, TOP + plot_height // 2))
    _legend(draw, entries, (right + 10, TOP))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def tick_step(highest: float) -> int:
    """A round step (1, 2 or 5 times a power of ten) that gives the y axis four to eight lines."""
    for power in range(10):
        for factor in (1, 2, 5):
            step = factor * 10**power
            if highest / step <= 8:
                return step
    raise ValueError(f"{highest} is beyond any count a chart shows")


def _triangle(draw: ImageDraw.ImageDraw, x: float, tip: float, colour: str, side: float = 10) -> None:
    """A downward triangle whose tip is at (x, tip): a day's drift level, above its bar."""
    draw.polygon([(x - side / 2, tip - side), (x + side / 2, tip - side), (x, tip)], fill=colour)


def _legend(draw: ImageDraw.ImageDraw, entries: list[tuple[str, str, bool]], corner: tuple[float, float]) -> None:
    """One line per entry: its label, beside its colour as a square (a class) or a triangle (a drift level)."""
    small, line = font(11), 16
    x, y = corner
    for number, (label, colour, triangle) in enumerate(entries):
        middle = y + 3 + line * number + line / 2
        if triangle:
            _triangle(draw, x + 12, middle + 5, colour)
        else:
            draw.rectangle([x + 7, middle - 5, x + 17, middle + 5], fill=colour)
        draw.text((x + 24, middle), label, font=small, fill=TEXT, anchor="lm")


def _vertical_text(image: Image.Image, text: str, centre: tuple[int, int]) -> None:
    """`text` written bottom to top, centred on `centre`: the y axis's label."""
    small = font(11)
    left, top, right, bottom = (round(edge) for edge in small.getbbox(text))
    label = Image.new("RGB", (right - left + 2, bottom - top + 2), "white")
    ImageDraw.Draw(label).text((1 - left, 1 - top), text, font=small, fill=TEXT)
    label = label.rotate(90, expand=True)
    image.paste(label, (centre[0] - label.width // 2, centre[1] - label.height // 2))
