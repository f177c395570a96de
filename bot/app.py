"""Assembly: the Application, its lifecycle hooks, and the table of scheduler jobs (the handlers'
table is `handlers.register`)."""

from __future__ import annotations

import asyncio
import gc
import logging
from functools import partial
from pathlib import Path
from typing import Any

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, Defaults
from telegram.request import BaseRequest, HTTPXRequest

import handlers
from bot import health, scheduling
from bot.db import migrate
from bot.i18n import SUPPORTED_LOCALES, _, use_locale
from bot.runtime import Deps
from bot.scheduling import Job
from bot.services import library_semantic, library_translation
from bot.services.seed import seed_if_empty
from bot.telegram_io import outbox_runner, update_once
from bot.telegram_io.pacing import SharedWindow, Timer, pacer_for
from bot.telegram_io.update_order import PerUserUpdateProcessor
from bot.translation import detect
from handlers import away, broadcast_list, common, digest, followups, reminders
from handlers.context import CONTEXT_TYPES

log = logging.getLogger(__name__)

# Edits are asked for only to tell the person they are not acted on (handlers.dialog).
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
]

AnyApp = Application[Any, Any, Any, Any, Any, Any]


def build_application(
    deps: Deps,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    background: bool = True,
    timer: Timer | None = None,
) -> AnyApp:
    """The bot as it runs. Tests pass their own `request` (and a fake `timer` for the pacing of
    replies); `background` starts the sender and the scheduler."""
    s = deps.settings
    token = s.require_token()
    updates = PerUserUpdateProcessor(
        s.concurrent_updates,
        s.max_queued_updates_per_person,
        on_overflow=partial(common.slow_down, deps),
        first_time=update_once.UpdateLedger(deps).first_time,
    )
    # The bot's replies wait out a 429 and, where the outbox runs, share its window (first).
    replies = SharedWindow(
        pacer_for(s),
        timer,
        window=background,
        attempts=s.reply_max_attempts,
        max_wait=s.reply_max_wait_seconds,
    )
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(s.api_base)
        .base_file_url(s.file_base)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .request(request or HTTPXRequest(connection_pool_size=256))
        .get_updates_request(get_updates_request or HTTPXRequest(connection_pool_size=1))
        .context_types(CONTEXT_TYPES)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .concurrent_updates(updates)
        .rate_limiter(replies)
    )
    app = builder.build()
    app.bot_data.deps = deps
    app.bot_data.background = background
    handlers.register(app)
    return app


def scheduled_jobs(app: AnyApp) -> list[Job]:
    """Every periodic job: its name, what it runs (with the bot and dependencies it needs), and
    how often, in seconds."""
    bot, deps = app.bot, app.bot_data.deps
    s = deps.settings
    return [
        Job("outbox", partial(outbox_runner.job, app), s.send_poll_seconds),
        Job("reminders", partial(reminders.reminders_job, deps), s.reminder_job_seconds),
        Job("digest", partial(digest.digest_job, deps), s.digest_job_seconds),
        Job("followups", partial(followups.follow_up, bot, deps), s.followup_job_seconds),
        Job("away-returns", partial(away.returns_job, deps), s.followup_job_seconds),
        Job("broadcast-progress", partial(broadcast_list.progress_job, bot, deps), 1.0),
        Job(
            "library-translation",
            partial(library_translation.job, deps),
            s.library_translation_job_seconds,
        ),
        Job("library-semantic", partial(library_semantic.job, deps), s.semantic_job_seconds),
        Job("handled-updates", partial(update_once.forget_old, deps), 3600.0),
    ]


def command_list() -> list[BotCommand]:
    return [
        BotCommand("ask", _("Ask officials in peer cities a question")),
        BotCommand("questions", _("Your questions and their answers")),
        BotCommand("inbox", _("Questions waiting for your answer")),
        BotCommand("search", _("Search the library of answered exchanges")),
        BotCommand("profile", _("See and edit your profile")),
        BotCommand("language", _("Change the language")),
        BotCommand("help", _("What you can do")),
        BotCommand("privacy", _("What we store about you")),
        BotCommand("cancel", _("Stop what you are doing")),
    ]


async def _post_init(app: AnyApp) -> None:
    deps: Deps = app.bot_data.deps
    if deps.settings.metrics_port:
        app.bot_data.health = await health.start(
            probes(app), deps.settings.metrics_listen, deps.settings.metrics_port
        )
    if await migrate.upgrade_if_needed(deps.db):
        log.info("database migrated url_scheme=%s", deps.db.url.split(":", 1)[0])
    if deps.settings.seed_file:
        seeded = await seed_if_empty(deps, Path(deps.settings.seed_file))
        if seeded and (seeded.cities_added or seeded.topics_added):  # not a replica beaten to it
            log.info(
                "catalogue seeded cities=%s topics=%s", seeded.cities_added, seeded.topics_added
            )
    await set_commands(app)
    if deps.translator is not None:
        await detect.warm_up()
        log.info("machine translation on backend=%s", deps.translator.name)
    await library_semantic.warm_up(deps, searches=app.bot_data.takes_updates)
    if app.bot_data.background:
        await outbox_runner.start(app)
        await scheduling.start(app, scheduled_jobs(app))
    freeze_startup_objects()


async def set_commands(app: AnyApp) -> None:
    """The command menu in each language, the five requests at once (the start waits for them
    before it polls)."""
    menus = []
    for locale in SUPPORTED_LOCALES:
        with use_locale(locale):
            menus.append((command_list(), None if locale == "en" else locale))
    done = await asyncio.gather(
        *(app.bot.set_my_commands(commands, language_code=code) for commands, code in menus),
        return_exceptions=True,
    )
    for outcome in done:
        if isinstance(outcome, TelegramError):
            log.warning("setMyCommands failed error=%s", outcome)
        elif isinstance(outcome, BaseException):
            raise outcome


def probes(app: AnyApp) -> health.Probes:
    """What /healthz asks of this process."""
    processor = app.update_processor
    return health.Probes(
        db=app.bot_data.deps.db,
        clock=app.bot_data.deps.clock,
        sender=partial(outbox_runner.alive, app),
        scheduler=partial(scheduling.alive, app),
        last_update_at=lambda: getattr(processor, "last_update_at", None),
    )


def freeze_startup_objects() -> None:
    """What start-up loaded (modules, catalogues, the schema, the bot) lives as long as the
    process: frozen, it is left out of the garbage collector's full passes, which would
    otherwise walk all of it again and again while updates wait."""
    gc.collect()
    gc.freeze()


async def _post_shutdown(app: AnyApp) -> None:
    # The sender first: its pass would otherwise go on until the outbox is empty; stopped, it
    # gives back the rows it claimed and has not sent.
    await outbox_runner.stop(app)
    await scheduling.stop(app)
    if app.bot_data.health is not None:
        await app.bot_data.health.cleanup()
        app.bot_data.health = None
    deps: Deps = app.bot_data.deps
    if deps.translator is not None:
        await deps.translator.close()
    await deps.db.dispose()
