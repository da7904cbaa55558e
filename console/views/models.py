"""The Models page: every registry version with its scores and gate, and the confirmations that
promote a version or roll back, through `Registry.promote` and `rollback` as the CLI."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import tornado.web

from console.views.base import ConsoleHandler
from model.registry import Registry, RegistryError, VersionInfo

log = logging.getLogger("console")
T = TypeVar("T")

MAX_REASON = 200


def score_sets(versions: list[VersionInfo]) -> list[str]:
    """The evaluation sets any version was scored on, in the order they first appear."""
    names: dict[str, None] = {}
    for info in versions:
        names.update(dict.fromkeys(info.metadata.get("metrics", {})))
    return list(names)


class ModelsHandler(ConsoleHandler):
    async def get(self) -> None:
        def read():
            registry = self.console.registry()
            try:
                rollback_to: str | None = registry.rollback_target()
            except RegistryError:
                rollback_to = None
            return registry.versions(), registry.history(), rollback_to

        try:
            versions, history, rollback_to = await self.blocking(read)
        except RegistryError as error:
            self.render("models.html", section="models", error=str(error), done=None)
            return
        # After a promotion or rollback, say what happened, from the history itself: a link
        # cannot put words on this page.
        champion = next((info.name for info in versions if info.status == "champion"), None)
        latest = history[-1] if history and self.get_argument("changed", "") else None
        if latest is not None and (latest["action"] not in ("promote", "rollback") or latest["version"] != champion):
            latest = None
        self.render(
            "models.html",
            section="models",
            error=None,
            versions=versions,
            history=list(reversed(history)),
            sets=score_sets(versions),
            rollback_to=rollback_to,
            done=None if latest is None else changed_note(latest),
        )


def changed_note(entry: dict) -> str:
    verb = "is the champion again" if entry.get("action") == "rollback" else "is the champion now"
    return (
        f"{entry.get('version')} {verb} (was {entry.get('previous') or '-'}); "
        "bots switch to it on /reload or at the daily job."
    )


class RegistryActionHandler(ConsoleHandler):
    """Promote and roll back: a GET shows what would change and why; only the POST changes it."""

    async def registry_work(self, work: Callable[[Registry], T]) -> T:
        """`work` on the registry; a registry that cannot be changed (one model folder, no earlier
        champion, a champion pointer naming no version) answers 409 with the reason."""
        try:
            return await self.blocking(lambda: work(self.console.registry()))
        except RegistryError as error:
            raise tornado.web.HTTPError(409, str(error)) from None

    def expected_champion(self) -> str | None:
        """The champion the confirmation page showed; scripts may leave it out."""
        return self.get_body_argument("champion", None)

    def reason(self, default: str = "operator's decision") -> str:
        return " ".join(self.get_body_argument("reason", "").split())[:MAX_REASON] or default

    def done(self, entry: dict) -> None:
        log.info("event=console_%s version=%s previous=%s", entry["action"], entry["version"], entry["previous"])
        if self.by_script:
            self.finish({"champion": entry["version"], "previous": entry["previous"]})
        else:
            self.redirect("/models?changed=1", status=303)


def champion_of(versions: dict[str, VersionInfo]) -> VersionInfo | None:
    """None in a registry whose champion pointer is gone (promoting sets one again)."""
    return next((info for info in versions.values() if info.status == "champion"), None)


class PromoteHandler(RegistryActionHandler):
    def chosen(self, registry: Registry) -> tuple[VersionInfo, VersionInfo | None]:
        """The version asked for and the champion."""
        versions = {info.name: info for info in registry.versions()}
        name = self.get_argument("version", "")
        if name not in versions:
            raise tornado.web.HTTPError(404, "no such model version")
        return versions[name], champion_of(versions)

    async def get(self) -> None:
        chosen, champion = await self.registry_work(self.chosen)
        compared = [chosen] if champion is None else [champion, chosen]
        self.render(
            "promote.html",
            section="models",
            chosen=chosen,
            champion=champion,
            compared=compared,
            sets=score_sets(compared),
        )

    async def post(self) -> None:
        reason, expected = self.reason(), self.expected_champion()

        def promote(registry: Registry) -> dict:
            chosen, champion = self.chosen(registry)
            if champion is not None and chosen.name == champion.name:
                raise tornado.web.HTTPError(409, f"{chosen.name} is the champion already")
            registry.promote(chosen.name, f"promoted in the console: {reason}", forced=True, expected_champion=expected)
            return registry.history()[-1]

        self.done(await self.registry_work(promote))


class RollbackHandler(RegistryActionHandler):
    @staticmethod
    def target(registry: Registry) -> tuple[VersionInfo, VersionInfo]:
        """The champion before the current one, and the current one."""
        name, current = registry.rollback_target(), registry.champion()
        versions = {info.name: info for info in registry.versions()}
        if name not in versions:
            raise RegistryError(f"{name}, the champion before, is no longer in the registry")
        return versions[name], versions[current]

    async def get(self) -> None:
        target, champion = await self.registry_work(self.target)
        self.render(
            "rollback.html", section="models", target=target, champion=champion, sets=score_sets([champion, target])
        )

    async def post(self) -> None:
        reason, expected = self.reason(), self.expected_champion()

        def roll_back(registry: Registry) -> dict:
            self.target(registry)
            registry.rollback(f"rolled back in the console: {reason}", expected_champion=expected)
            return registry.history()[-1]

        self.done(await self.registry_work(roll_back))
