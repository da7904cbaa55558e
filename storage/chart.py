"""The admins' chart: daily predictions per class, stacked, with the drift level marked."""

from __future__ import annotations

import io
from datetime import date, timedelta

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from storage.repository import CLASS_NAMES, Stats  # noqa: E402

COLOURS = {"with_mask": "#2e7d32", "without_mask": "#c62828", "mask_weared_incorrect": "#f9a825"}
LEVEL_COLOURS = {"watch": "#ffcc80", "drift": "#ef9a9a"}


def stats_chart(stats: Stats) -> bytes:
    """A PNG of `stats.per_day` (the daily summaries), one bar per day."""
    days = [stats.start + timedelta(days=i) for i in range((stats.end - stats.start).days + 1)]
    per_day: dict[date, dict[str, int]] = {day: dict.fromkeys(CLASS_NAMES, 0) for day in days}
    level: dict[date, str] = {}
    for row in stats.per_day:
        day = date.fromisoformat(row["day"])
        for name in CLASS_NAMES:
            per_day[day][name] += row[name]
        if row["drift_level"] != "none" and level.get(day) != "drift":
            level[day] = row["drift_level"]
    figure, axis = plt.subplots(figsize=(8, 3.6))
    bottom = [0] * len(days)
    for name in CLASS_NAMES:
        heights = [per_day[day][name] for day in days]
        axis.bar(days, heights, bottom=bottom, color=COLOURS[name], label=name.replace("_", " "))
        bottom = [b + h for b, h in zip(bottom, heights)]
    for day, name in level.items():
        axis.axvspan(day - timedelta(hours=12), day + timedelta(hours=12), color=LEVEL_COLOURS[name], alpha=0.5, zorder=0)
    axis.set_title(f"Predictions per day, {stats.start.isoformat()} to {stats.end.isoformat()} "
                   "(shaded: drift watch / drift)")
    axis.set_ylabel("photos")
    axis.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()
