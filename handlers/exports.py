"""/export: admins choose a period, filters and a format; the files are written beside the
bot, with a progress message, and sent."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot.exporters import write_export
from bot.i18n import _, ngettext, use_locale
from bot.runtime import Deps
from bot.services import dialog, reports
from bot.services.dialog import Step
from bot.services.enums import Role
from bot.services.errors import ErrorCode, ServiceError
from handlers.admin_buttons import (
    ExportButton,
    ExportCancel,
    ExportChangePeriod,
    ExportChoices,
    ExportFileFormat,
    ExportFilterKind,
    ExportFormat,
    ExportMenu,
    ExportPeriod,
    ExportToggle,
    ExportTypeDates,
)
from handlers.common import answer, guarded, raise_bad, reply, requires, show
from handlers.context import Ctx
from handlers.error_texts import error_text
from handlers.keyboards import button, markup, paged
from handlers.periods import num, period_keyboard, period_text
from handlers.user_text import isolate_all

log = logging.getLogger(__name__)


STEP_MENU = "export.menu"


STEP_DATES = "export.dates"


FORMAT_LABELS: dict[ExportFileFormat, str] = {"csv": "CSV", "xlsx": "XLSX", "jsonl": "JSON Lines"}


# Exports run beside the bot; holding the tasks keeps them from being collected mid-way.
_exports: set[asyncio.Task[None]] = set()


async def wait_exports() -> None:
    """Wait until every running export has finished (tests, shutdown)."""
    while _exports:
        await asyncio.gather(*list(_exports), return_exceptions=True)


@requires(Role.ADMIN)
@guarded
async def cmd_export(update: Update, context: Ctx) -> None:
    """Asks for the period of the export with buttons."""
    await reports.filter_choices(context.deps, context.who.tg_user_id, context.who.locale)
    await dialog.put(context.deps, context.who.tg_user_id, STEP_MENU, {})
    await reply(
        update,
        _("<b>Export the exchange log</b>\nWhich period?"),
        period_keyboard(ExportPeriod, ExportTypeDates()),
    )


async def _export_state(context: Ctx) -> dict[str, Any]:
    state = await dialog.get(context.deps, context.who.tg_user_id)
    if state is None or state.step not in (STEP_MENU, STEP_DATES):
        raise ServiceError(ErrorCode.STALE)
    return dict(state.data)


def _names(chosen: Sequence[str], choices: Sequence[reports.Choice]) -> str:
    labels = {c.key: c.label for c in choices}
    picked = [labels[k] for k in chosen if k in labels]
    return isolate_all(picked) if picked else _("all")


async def show_export_menu(update: Update, context: Ctx, data: dict[str, Any]) -> None:
    choices = await reports.filter_choices(context.deps, context.who.tg_user_id, context.who.locale)
    text = _(
        "<b>Export the exchange log</b>\n"
        "Period: {period}\n"
        "Cities: {cities}\n"
        "Countries: {countries}\n"
        "Topics: {topics}\n\n"
        "Narrow it down, or choose a format to start."
    ).format(
        period=period_text(data),
        cities=_names(data.get("cities", []), choices.cities),
        countries=_names(data.get("countries", []), choices.countries),
        topics=_names(data.get("topics", []), choices.topics),
    )
    keyboard = markup(
        [
            button(_("Cities"), ExportChoices("cities", 0)),
            button(_("Countries"), ExportChoices("countries", 0)),
            button(_("Topics"), ExportChoices("topics", 0)),
        ],
        [button(label, ExportFormat(fmt)) for fmt, label in FORMAT_LABELS.items()],
        [button(_("Period"), ExportChangePeriod()), button(_("Cancel"), ExportCancel())],
    )
    await show(update, text, keyboard)


def _toggle_keyboard(
    choices: Sequence[reports.Choice], chosen: Sequence[str], kind: ExportFilterKind, page: int
) -> InlineKeyboardMarkup:
    items = [
        (("✅ " if c.key in chosen else "▫️ ") + c.label, ExportToggle(kind, c.key, page))
        for c in choices
    ]
    body, _page = paged(items, page, lambda n: ExportChoices(kind, n), width=2)
    body.append([button(_("Done"), ExportMenu())])
    return InlineKeyboardMarkup(body)


@requires(Role.ADMIN)
@guarded
async def on_export(update: Update, context: Ctx) -> None:
    """Export buttons: period, filters (cities, countries, topics), format, cancel."""
    query = update.callback_query
    assert query is not None
    pressed = ExportButton.decode(query.data)
    data = await _export_state(context)
    deps, tg_id = context.deps, context.who.tg_user_id
    if isinstance(pressed, ExportTypeDates):
        await answer(query)
        await dialog.put(deps, tg_id, STEP_DATES, data)
        await show(
            update,
            _(
                "Send the first and last day of the period, like 2026-01-01 2026-03-31 "
                "(dates in UTC)."
            ),
        )
        return
    if isinstance(pressed, ExportPeriod):
        await answer(query)
        data.update(period=pressed.period)
        data.pop("since", None)
        data.pop("until", None)
        await dialog.put(deps, tg_id, STEP_MENU, data)
        await show_export_menu(update, context, data)
        return
    if "period" not in data:
        raise ServiceError(ErrorCode.STALE)
    match pressed:
        case ExportChangePeriod():
            await answer(query)
            await show(
                update,
                _("<b>Export the exchange log</b>\nWhich period?"),
                period_keyboard(ExportPeriod, ExportTypeDates()),
            )
        case ExportMenu():
            await answer(query)
            await show_export_menu(update, context, data)
        case ExportCancel():
            await dialog.clear(deps, tg_id)
            await answer(query)
            await show(update, _("Export cancelled."))
        case ExportChoices(kind, page):
            await answer(query)
            await _show_toggles(update, context, data, kind, page)
        case ExportToggle(kind, choice, page):
            choices = await _choices_of(context, kind)
            if choice not in {c.key for c in choices}:
                if kind == "cities":
                    raise ServiceError(ErrorCode.CITY)
                raise_bad()
            chosen = list(data.get(kind, []))
            chosen = [k for k in chosen if k != choice] if choice in chosen else [*chosen, choice]
            data[kind] = chosen
            await dialog.put(deps, tg_id, STEP_MENU, data)
            await answer(query)
            await _show_toggles(update, context, data, kind, page)
        case ExportFormat(fmt):
            await answer(query)
            await _start_export(update, context, data, fmt)
        case _:
            raise_bad()


async def _choices_of(context: Ctx, kind: ExportFilterKind) -> list[reports.Choice]:
    choices = await reports.filter_choices(context.deps, context.who.tg_user_id, context.who.locale)
    by_kind = {"cities": choices.cities, "countries": choices.countries, "topics": choices.topics}
    return by_kind[kind]


async def _show_toggles(
    update: Update, context: Ctx, data: dict[str, Any], kind: ExportFilterKind, page: int
) -> None:
    choices = await _choices_of(context, kind)
    prompt = {
        "cities": _("Which cities? Tap to select, then Done. None selected: all cities."),
        "countries": _("Which countries? Tap to select, then Done. None selected: all countries."),
        "topics": _("Which topics? Tap to select, then Done. None selected: all topics."),
    }[kind]
    await show(update, prompt, _toggle_keyboard(choices, data.get(kind, []), kind, page))


async def step_dates(update: Update, context: Ctx, state: Step) -> None:
    """Takes the typed period of the export, or says how to type it."""
    text = update.effective_message.text if update.effective_message else None
    if not context.who.has_role(Role.ADMIN):
        await dialog.clear(context.deps, context.who.tg_user_id)
        await reply(update, _("You are not allowed to do that."))
        return
    try:
        since, until = reports.parse_dates((text or "")[:100], context.deps.clock.now())
    except ServiceError as exc:
        await reply(update, error_text(exc))
        return
    data = dict(state.data, period="range", since=since.isoformat(), until=until.isoformat())
    await dialog.put(context.deps, context.who.tg_user_id, STEP_MENU, data)
    await show_export_menu(update, context, data)


async def step_menu(update: Update, context: Ctx, state: Step) -> None:
    """A message while the export menu is open: point to the buttons."""
    await reply(update, _("Please use the buttons above, or send /cancel."))


def _filter_of(data: dict[str, Any], now: datetime) -> reports.ExportFilter:
    if data.get("period") == "range":
        since: datetime | None = datetime.fromisoformat(data["since"])
        until: datetime | None = datetime.fromisoformat(data["until"])
    else:
        since, until = reports.period_filter(now, str(data.get("period")))
    return reports.ExportFilter(
        since=since,
        until=until,
        city_ids=tuple(int(c) for c in data.get("cities", [])),
        countries=tuple(data.get("countries", [])),
        topic_ids=tuple(int(t) for t in data.get("topics", [])),
    )


def progress_text(done: int, total: int) -> str:
    return _("Preparing the export… {done} of {total} rows").format(
        done=num(done), total=num(total)
    )


async def _start_export(update: Update, context: Ctx, data: dict[str, Any], fmt: str) -> None:
    deps, who = context.deps, context.who
    flt = _filter_of(data, deps.clock.now())
    started = await reports.start_export(deps, who.tg_user_id, flt, fmt)
    await dialog.clear(deps, who.tg_user_id)
    if started.rows == 0:
        await show(
            update, _("No exchange messages match these filters. Send /export to try other ones.")
        )
        return
    chat = update.effective_chat
    assert chat is not None
    query = update.callback_query
    message = query.message if query is not None else None
    if message is not None:
        await show(update, progress_text(0, started.rows))
        message_id = message.message_id
    else:
        sent_id = await reply(update, progress_text(0, started.rows))
        assert sent_id is not None
        message_id = sent_id
    job = ExportJob(deps, context.bot, chat.id, message_id, who.locale, flt, fmt, started)
    task = asyncio.create_task(job.run())
    _exports.add(task)
    task.add_done_callback(_exports.discard)
    log.info(
        "export started audit_id=%s user_id=%s rows=%s format=%s",
        started.audit_id,
        who.tg_user_id,
        started.rows,
        fmt,
    )


class ExportJob:
    """Writes the export to temporary files, edits the progress message, sends the files."""

    def __init__(
        self,
        deps: Deps,
        bot: ExtBot[Any],
        chat_id: int,
        message_id: int,
        locale: str,
        flt: reports.ExportFilter,
        fmt: str,
        started: reports.ExportStarted,
    ) -> None:
        self.deps, self.bot, self.chat_id, self.message_id = deps, bot, chat_id, message_id
        self.locale, self.flt, self.fmt, self.started = locale, flt, fmt, started
        self._last_edit = deps.clock.now()

    async def _edit(self, text: str) -> None:
        try:
            await self.bot.edit_message_text(text, chat_id=self.chat_id, message_id=self.message_id)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.info(
                    "export progress edit failed audit_id=%s error=%s", self.started.audit_id, exc
                )
        except TelegramError as exc:
            log.info("export progress edit failed audit_id=%s error=%s", self.started.audit_id, exc)

    async def _progress(self, done: int) -> None:
        now = self.deps.clock.now()
        if (now - self._last_edit).total_seconds() < self.deps.settings.export_progress_seconds:
            return
        self._last_edit = now
        with use_locale(self.locale):
            text = progress_text(done, max(done, self.started.rows))
        await self._edit(text)

    async def run(self) -> None:
        settings = self.deps.settings
        stamp = self.deps.clock.now().strftime("%Y%m%d-%H%M")
        tmp = Path(tempfile.mkdtemp(prefix="export-"))
        try:
            result = await write_export(
                reports.export_rows(self.deps, self.flt, self.locale),
                self.fmt,
                tmp,
                f"exchanges-{stamp}",
                reports.COLUMNS,
                part_limit=settings.export_upload_limit_bytes,
                compress_at=settings.export_compress_bytes,
                datetime_columns=reports.DATETIME_COLUMNS,
                text_columns=reports.TEXT_COLUMNS,
                progress=self._progress,
            )
            count = len(result.files)
            for i, part in enumerate(result.files, start=1):
                with use_locale(self.locale):
                    caption = (
                        ngettext(
                            "Exchange log: {rows} row", "Exchange log: {rows} rows", part.rows
                        ).format(rows=num(part.rows))
                        if count == 1
                        else _("Exchange log, part {part} of {parts}: {rows} rows").format(
                            part=i, parts=count, rows=num(part.rows)
                        )
                    )
                with part.path.open("rb") as fh:
                    await self.bot.send_document(
                        self.chat_id,
                        fh,
                        filename=part.path.name,
                        caption=caption,
                        write_timeout=300,
                    )
            with use_locale(self.locale):
                done = (
                    ngettext(
                        "Export ready: {rows} row.", "Export ready: {rows} rows.", result.rows
                    ).format(rows=num(result.rows))
                    + " "
                    + ngettext("{files} file sent.", "{files} files sent.", count).format(
                        files=count
                    )
                )
            await self._edit(done)
            log.info(
                "export sent audit_id=%s rows=%s files=%s",
                self.started.audit_id,
                result.rows,
                count,
            )
        except Exception:
            log.exception("export failed audit_id=%s", self.started.audit_id)
            with use_locale(self.locale):
                await self._edit(_("Sorry, the export failed. Please try again later."))
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, True)
