"""The admins' chart: daily predictions per class, stacked, with the drift level marked."""

from __future__ import annotations

import io
from datetime import date, timedelta

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bot.i18n import Translator
from bot.replies import DRIFT_LEVELS, VERDICT
from storage.repository import CLASS_NAMES
from storage.stats import Stats

COLOURS = {"with_mask": "#2e7d32", "without_mask": "#c62828", "mask_weared_incorrect": "#f9a825"}
LEVEL_COLOURS = {"watch": "#ef6c00", "drift": "#b71c1c"}


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
    figure, axis = plt.subplots(figsize=(8, 3.6))
    bottom = [0] * len(days)
    for name in CLASS_NAMES:
        heights = [per_day[day][name] for day in days]
        # matplotlib converts dates itself (matplotlib.dates), which its type hints leave out.
        axis.bar(days, heights, bottom=bottom, color=COLOURS[name], label=t(VERDICT[name][1]))  # type: ignore[arg-type]
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    top = max(bottom, default=0) or 1
    for name in ("watch", "drift"):
        marked = [day for day, level_name in level.items() if level_name == name]
        if marked:
            axis.scatter(
                marked,  # type: ignore[arg-type]  # dates, as in bar() above
                [sum(per_day[day].values()) + top * 0.06 for day in marked],
                marker="v",
                s=60,
                color=LEVEL_COLOURS[name],
                label=t("drift level: {level}").format(level=t(DRIFT_LEVELS[name])),
                zorder=3,
            )
    axis.set_ylim(0, top * 1.25)
    axis.set_title(t("Faces judged per day, {start} to {end}").format(start=t.date(stats.start), end=t.date(stats.end)))
    axis.set_ylabel(t("faces"))
    axis.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()
