"""Typed context: the services' dependencies and the person behind the update."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.runtime import Deps
from bot.services.identity import Me
from bot.telegram_io.pacing import ReplySpacing
from handlers.error_alerts import AlertThrottle


class BotData:
    """Application-wide data: the dependencies, and the admins' error alerts' throttle (kept
    in memory: it must work when the database fails). Every other state lives in the
    database."""

    def __init__(self) -> None:
        self.deps: Deps | None = None
        self.background: bool = True
        self.takes_updates: bool = True  # False: a worker started with --no-updates
        self.scheduler: Any = None
        self.outbox: Any = None  # bot.telegram_io.outbox_runner.Outbox while the sender runs
        self.health: Any = None  # the /healthz and /metrics server (METRICS_PORT)
        self.alerts = AlertThrottle()


class Ctx(CallbackContext[ExtBot[ReplySpacing], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every callback gets; `me` is set by the identity guard for each update."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.me: Me | None = None

    @property
    def deps(self) -> Deps:
        deps = self.bot_data.deps
        assert deps is not None, "Deps not attached to the application"
        return deps

    @property
    def who(self) -> Me:
        assert self.me is not None, "identity guard did not run"
        return self.me


CONTEXT_TYPES = ContextTypes(context=Ctx, bot_data=BotData)
