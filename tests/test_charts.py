"""The admins' chart, drawn with Pillow (bot/charts.py)."""

from __future__ import annotations

import io
from datetime import date, timedelta

import numpy as np
import pytest
from PIL import Image, ImageColor

from bot.charts import HEIGHT, LEVEL_COLOURS, WIDTH, stats_chart, tick_step
from bot.i18n import translator
from storage.stats import DaySummary, Stats

START = date(2026, 11, 1)


def week(drift_day: int | None = None) -> Stats:
    rows = [
        DaySummary(
            START + timedelta(days=i),
            "3",
            30 + i,
            {"with_mask": 20, "without_mask": 10 + i, "mask_weared_incorrect": 0},
            0.1,
            "drift" if i == drift_day else "none",
            0.1,
            "trailing",
        )
        for i in range(7)
    ]
    return Stats(START, START + timedelta(days=6), per_day=rows)


def pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", (WIDTH, HEIGHT))
    return np.asarray(image.convert("RGB"))


def shows(picture: np.ndarray, colour: str) -> int:
    return int(np.all(picture == ImageColor.getrgb(colour), axis=-1).sum())


@pytest.mark.parametrize(
    ("highest", "step"), [(1, 1), (8, 1), (9, 2), (40, 5), (41, 10), (1300, 200), (7e6, 1_000_000)]
)
def test_the_y_axis_gets_a_round_step_and_at_most_eight_lines(highest, step):
    assert tick_step(highest) == step


def test_a_drift_day_is_marked_and_the_legend_names_it():
    plain, drifted = pixels(stats_chart(week(), translator("en"))), pixels(stats_chart(week(3), translator("en")))
    assert shows(plain, LEVEL_COLOURS["drift"]) == 0
    # A triangle above the day's bar and one in the legend, each about 10 px wide.
    assert shows(drifted, LEVEL_COLOURS["drift"]) > 2 * 30


@pytest.mark.parametrize("language", ["es", "pt"])
def test_the_chart_speaks_the_admins_language(language):
    assert stats_chart(week(), translator("en")) != stats_chart(week(), translator(language))


def test_a_year_without_predictions_still_draws():
    pixels(stats_chart(Stats(START - timedelta(days=364), START), translator("es")))
