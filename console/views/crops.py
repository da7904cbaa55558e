"""The Review page's images: a shared crop, and the champion's heat map over it. Both are read
from the database at each request, so a crop is gone once its user used /forget."""

from __future__ import annotations

import tornado.web

from console.heatmaps import NoHeatMap
from console.views.base import ConsoleHandler
from model import CLASS_NAMES
from model.registry import RegistryError


class CropHandler(ConsoleHandler):
    page = False

    async def get(self, feedback_id: str) -> None:
        png = await self.blocking(self.console.repository.shared_crop, int(feedback_id))
        if png is None:
            raise tornado.web.HTTPError(404, "no shared crop with that id")
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "private, no-store")
        self.finish(png)


class HeatMapHandler(ConsoleHandler):
    """A shared crop with the heat map of a class (`label`, else the champion's verdict on it):
    where the current champion finds that class. Like the crop, read at each request."""

    page = False

    async def get(self, feedback_id: str) -> None:
        label = self.get_argument("label", "") or None
        if label is not None and label not in CLASS_NAMES:
            raise tornado.web.HTTPError(400, "label must be one of " + ", ".join(CLASS_NAMES))
        png = await self.blocking(self.console.repository.shared_crop, int(feedback_id))
        if png is None:
            raise tornado.web.HTTPError(404, "no shared crop with that id")
        try:
            picture, shown = await self.blocking(self.console.heat_maps.draw, self.console.model_dir, png, label)
        except (NoHeatMap, RegistryError) as error:
            raise tornado.web.HTTPError(409, str(error)) from None
        self.set_header("Content-Type", "image/jpeg")
        self.set_header("Cache-Control", "private, no-store")
        self.set_header("X-Heat-Map-Label", shown)
        self.finish(picture)
