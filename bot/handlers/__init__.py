"""Handlers grouped by concern; `register` wires them into an Application in priority order."""

from __future__ import annotations

from telegram.ext import Application

from bot.handlers import account, admin, errors, feedback, photos


def register(application: Application, admin_ids: frozenset[int]) -> None:
    account.register(application)
    admin.register(application, admin_ids)
    feedback.register(application)
    photos.register(application)
    account.register_fallbacks(application)
    application.add_error_handler(errors.on_error)
