"""Logging in with the console's token (a signed session cookie) and out."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from console.auth import SESSION_COOKIE, token_matches
from console.views.base import ConsoleHandler

log = logging.getLogger("console")


def local_path(target: str) -> str:
    """Where to go after logging in: a path on this site, never another site (`//evil`, `https:`),
    and nothing a header cannot carry (control characters)."""
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(character) < 0x20 or ord(character) == 0x7F for character in target)
    ):
        return "/"
    return target


class LoginHandler(ConsoleHandler):
    login_required = False

    def get(self) -> None:
        if self.current_user is not None:
            self.redirect(local_path(self.get_argument("next", "/")))
            return
        self.render("login.html", error=None, next=local_path(self.get_argument("next", "/")))

    def post(self) -> None:
        self.refuse_if_throttled()
        target = local_path(self.get_body_argument("next", "/"))
        if not token_matches(self.get_body_argument("token", ""), self.console.token):
            self.wrong_token()
            log.warning("event=console_login_refused remote=%s", self.request.remote_ip)
            self.set_status(401)
            self.render("login.html", error="That is not the console's token.", next=target)
            return
        self.set_signed_cookie(
            SESSION_COOKIE,
            str(time.time() + self.console.session_seconds),
            expires_days=None,
            max_age=self.console.session_seconds,
            httponly=True,
            samesite="Strict",
            secure=self.request.protocol == "https",
        )
        log.info("event=console_login remote=%s", self.request.remote_ip)
        self.redirect(target, status=303)


class LogoutHandler(ConsoleHandler):
    login_required = False

    def post(self) -> None:
        self.clear_cookie(SESSION_COOKIE)
        self.redirect("/login", status=303)
