"""A camera's live chart: people counted per minute over the last half hour, stacked by verdict.

Drawn with Pillow in the colours of the bot's chart (`bot.charts`), so a verdict has one colour
on every page; written in English, as the rest of the console.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from PIL import Image, ImageDraw

from bot import charts, drawing
from bot.drawing import font
from console.views.formatting import verdict_name
from model import CLASS_NAMES

WIDTH, HEIGHT = 720, 260
LEFT, TOP, BOTTOM = 44, 30, 28
"""The plot's margins, for the y axis's numbers, the title and the x axis's times; the legend
takes the right-hand side, as wide as its longest label."""
LABEL_EVERY = 5
"""A time under every fifth minute's bar."""


def colour(label: str) -> str:
    """The bot chart's colour of a verdict; the annotated photos' colour of "unsure" and any other
    label a watcher counts by; grey for one neither knows."""
    if label in charts.COLOURS:
        return charts.COLOURS[label]
    red, green, blue = drawing.COLOURS.get(label, (120, 120, 120))
    return f"#{red:02x}{green:02x}{blue:02x}"


def ordered(labels: set[str]) -> list[str]:
    """The model's classes in their usual order, then whatever else was counted, by name."""
    return [name for name in CLASS_NAMES if name in labels] + sorted(labels - set(CLASS_NAMES))


def minutes_chart(counts: dict[datetime, dict[str, int]], last: datetime, span: int) -> bytes:
    """A PNG of `counts` ({minute: {label: people}}) for the `span` minutes ending with `last`."""
    slots = [last - timedelta(minutes=span - 1 - index) for index in range(span)]
    labels = ordered({label for by_label in counts.values() for label in by_label})
    tallest = max((sum(counts.get(minute, {}).values()) for minute in slots), default=0) or 1
    step = charts.tick_step(tallest)
    top = -(-tallest // step) * step

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    small = font(11)
    legend_width = round(max((draw.textlength(verdict_name(label), font=small) for label in labels), default=0)) + 30
    right = WIDTH - 10 - legend_width - 10
    plot_width, plot_height = right - LEFT, HEIGHT - TOP - BOTTOM

    def y_of(value: float) -> float:
        return TOP + plot_height * (1 - value / top)

    for value in range(0, top + 1, step):
        draw.line([(LEFT, y_of(value)), (right, y_of(value))], fill=charts.GRID)
        draw.text((LEFT - 6, y_of(value)), str(value), font=small, fill=charts.TEXT, anchor="rm")
    slot = plot_width / span
    width = max(slot * 0.8, 1)
    for index, minute in enumerate(slots):
        left = LEFT + slot * index + (slot - width) / 2
        stacked = 0
        for label in labels:
            people = counts.get(minute, {}).get(label, 0)
            if people:
                draw.rectangle([left, y_of(stacked + people), left + width, y_of(stacked)], fill=colour(label))
                stacked += people
        if minute.minute % LABEL_EVERY == 0:
            centre = left + width / 2
            draw.line([(centre, HEIGHT - BOTTOM), (centre, HEIGHT - BOTTOM + 4)], fill=charts.AXIS)
            draw.text((centre, HEIGHT - BOTTOM + 6), f"{minute:%H:%M}", font=small, fill=charts.TEXT, anchor="mt")
    draw.line([(LEFT, TOP), (LEFT, HEIGHT - BOTTOM), (right, HEIGHT - BOTTOM)], fill=charts.AXIS)
    title = f"People per minute, last {span} minutes (UTC)"
    draw.text((LEFT + plot_width / 2, TOP / 2), title, font=font(13), fill=charts.TEXT, anchor="mm")
    for number, label in enumerate(labels):
        middle = TOP + 8 + 16 * number
        draw.rectangle([right + 17, middle - 5, right + 27, middle + 5], fill=colour(label))
        draw.text((right + 34, middle), verdict_name(label), font=small, fill=charts.TEXT, anchor="lm")
    if not labels:
        draw.text(
            (LEFT + plot_width / 2, TOP + plot_height / 2), "nobody counted", font=small, fill=charts.AXIS, anchor="mm"
        )
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
