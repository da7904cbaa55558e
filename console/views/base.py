"""What every console handler shares: the token (session cookie or bearer token) and its throttle,
the strict headers, the template helpers, and errors as a page or as JSON."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

import tornado.web

from bot import replies
from console.auth import SESSION_COOKIE, bearer, token_matches
from console.views.formatting import decimal, label_name, percent, score
from model import CLASS_NAMES

if TYPE_CHECKING:  # the hub imports every page, and so this module: no import back at run time
    from console.app import Console

log = logging.getLogger("console")
T = TypeVar("T")

WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")
"""ASCII digits only: str.isdigit() also takes "²", which int() refuses."""
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class Throttled(tornado.web.HTTPError):
    """429 to an address that sent too many wrong tokens; its Retry-After says for how long."""

    def __init__(self, seconds: float) -> None:
        self.retry_after = max(1, math.ceil(seconds))
        super().__init__(429, "too many wrong tokens from your address: try again in %d s", self.retry_after)


class ConsoleHandler(tornado.web.RequestHandler):
    """Every route but the login page needs the token: as the session cookie, or as a bearer token."""

    login_required = True
    page = True
    """A page answers a visitor without a session with the login page; an image or action with 401."""

    @property
    def console(self) -> Console:
        return self.settings["console"]

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    @property
    def by_script(self) -> bool:
        """A bearer token came with the request. Any other Authorization (a proxy's Basic, say)
        is ignored: the request goes the browser's way, cookie and XSRF token."""
        return bearer(self.request.headers.get("Authorization", "")) != ""

    def get_current_user(self) -> str | None:
        if self.by_script:
            if token_matches(bearer(self.request.headers["Authorization"]), self.console.token):
                return "script"
            self.wrong_token()
            return None
        value = self.get_signed_cookie(
            SESSION_COOKIE, max_age_days=self.console.session_seconds / 86400 + 1, min_version=2
        )
        try:
            expires = float(value or b"0")
        except ValueError:
            return None
        return "operator" if expires > time.time() else None

    def refuse_if_throttled(self) -> None:
        """Before a token is checked: from an address out of tries it is not, so even the right one
        is refused, and the answer tells a guesser nothing."""
        wait = self.console.throttle.wait(self.request.remote_ip or "")
        if wait > 0:
            raise Throttled(wait)

    def wrong_token(self) -> None:
        if self.console.throttle.failed(self.request.remote_ip or ""):
            log.warning("event=console_throttled remote=%s", self.request.remote_ip)

    def prepare(self) -> None:
        if self.by_script:
            self.refuse_if_throttled()
        if not self.login_required or self.current_user is not None:
            return
        if self.page and not self.by_script and self.request.method in ("GET", "HEAD"):
            self.redirect("/login?" + urlencode({"next": self.request.uri}))
            return
        raise tornado.web.HTTPError(401, "log in, or send the console's token as a bearer token")

    def check_xsrf_cookie(self) -> None:
        # A page on another site cannot make a browser send a bearer token here (that would need
        # CORS, which is not served), so such a request is no forgery; a wrong one gets 401 in prepare().
        if not self.by_script:
            super().check_xsrf_cookie()

    async def blocking(self, work: Callable[..., T], *args: Any) -> T:
        """Database and registry work off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.console.executor, work, *args)

    def integer(self, name: str, default: int, lowest: int, highest: int) -> int:
        raw = self.get_argument(name, str(default))
        if not WHOLE_NUMBER.fullmatch(raw) or not lowest <= int(raw) <= highest:
            raise tornado.web.HTTPError(400, f"{name} must be a whole number from {lowest} to {highest}")
        return int(raw)

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace.update(
            label_name=label_name,
            percent=percent,
            decimal=decimal,
            score=score,
            level_name=lambda level: replies.DRIFT_LEVELS[level],
            class_names=CLASS_NAMES,
            section="",
        )
        return namespace

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exception = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exception, tornado.web.HTTPError) and exception.log_message and status_code < 500:
            reason = exception.log_message % exception.args if exception.args else exception.log_message
        if status_code == 401:  # set here: sending an error clears the headers set before
            self.set_header("WWW-Authenticate", 'Bearer realm="maskbot console"')
        if isinstance(exception, Throttled):
            self.set_header("Retry-After", str(exception.retry_after))
        if self.by_script:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"status": status_code, "error": reason}))
        else:
            self.render("error.html", status_code=status_code, reason=reason)
