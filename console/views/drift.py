"""The Drift page and its chart: the last days' totals and daily summaries, from
`storage.stats.recent_stats` as /stats."""

from __future__ import annotations

from bot.charts import stats_chart
from bot.i18n import DEFAULT_LANGUAGE, Translator
from console.views.base import ConsoleHandler
from storage.stats import MAX_DAYS, recent_stats


class DriftHandler(ConsoleHandler):
    async def get(self) -> None:
        days = self.integer("days", 7, 1, MAX_DAYS)
        stats = await self.blocking(recent_stats, self.console.repository.database, days)
        self.render("drift.html", section="drift", stats=stats, days=days)


class DriftChartHandler(ConsoleHandler):
    page = False

    async def get(self) -> None:
        days = self.integer("days", 7, 1, MAX_DAYS)

        def draw() -> bytes:
            return stats_chart(recent_stats(self.console.repository.database, days), Translator(DEFAULT_LANGUAGE))

        self.set_header("Content-Type", "image/png")
        self.finish(await self.blocking(draw))
