"""The answers that are no page of their own: the home redirect, the health check, and the
refusals of unknown paths and oversized bodies, each with the console's headers."""

from __future__ import annotations

import tornado.web

from console.views.base import ConsoleHandler


class HomeHandler(ConsoleHandler):
    def get(self) -> None:
        self.redirect("/review")


class HealthHandler(ConsoleHandler):
    """For the container's health check, like the bot's: answers, and says nothing else."""

    login_required = False

    def get(self) -> None:
        self.finish("ok")


@tornado.web.stream_request_body
class BodyTooLargeHandler(ConsoleHandler):
    """413 from the headers, with the console's headers (web.BodyLimitedApplication)."""

    login_required = False

    def prepare(self) -> None:
        raise tornado.web.HTTPError(413, "a request body here is at most %d bytes", self.settings["max_body_size"])

    def check_xsrf_cookie(self) -> None:
        # Runs before prepare; the token would be in the body, which is never read. Nothing is
        # changed by a refusal, so there is nothing to forge.
        pass


class NotFoundHandler(ConsoleHandler):
    """Unknown paths: 404, with the console's headers like every other answer."""

    login_required = False

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, "no such page")
