"""Organisers and admins: /export, /stats, /cities (and removing officials), /invite, /audit."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from babel.dates import format_timedelta
from babel.numbers import format_decimal, format_percent
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot import charts
from bot.db.models import OfficialStatus, Role
from bot.exporters import write_export
from bot.i18n import _, current_locale, format_datetime, ngettext, use_locale
from bot.runtime import Deps
from bot.services import ServiceError, dialog, network, reports
from bot.services.dialog import Step
from bot.services.registration import create_invite
from handlers.common import answer, error_text, esc, guarded, reply, requires, show
from handlers.context import Ctx
from handlers.dialog import on_step
from handlers.keyboards import BadCallback, button, cb, markup, paged, parse, parse_int, rows
from handlers.registration import role_name

log = logging.getLogger(__name__)

STEP_MENU = "export.menu"
STEP_DATES = "export.dates"
FORMAT_LABELS = {"csv": "CSV", "xlsx": "XLSX", "jsonl": "JSON Lines"}
STATS_TOP_CITIES = 20

# Exports run beside the bot; holding the tasks keeps them from being collected mid-way.
_exports: set[asyncio.Task[None]] = set()


async def wait_exports() -> None:
    """Wait until every running export has finished (tests, shutdown)."""
    while _exports:
        await asyncio.gather(*list(_exports), return_exceptions=True)


ERRORS = {
    "dates": lambda **_k: _(
        "Please send two dates like 2026-01-01 2026-03-31 (first and last day)."
    ),
    "dates_order": lambda **_k: _("The last day comes before the first day. Please try again."),
    "already_removed": lambda **_k: _("This official has already been removed."),
    "remove_self": lambda **_k: _("You cannot remove yourself."),
    "configured_admin": lambda **_k: _(
        "This person is an admin by configuration; their role cannot be changed here."
    ),
    "not_found": lambda **_k: _("That no longer exists."),
}


def num(value: int) -> str:
    return format_decimal(value, locale=current_locale())


def raise_bad() -> None:
    raise BadCallback("unexpected value")


# ---- /export ------------------------------------------------------------------------------


def period_text(data: dict[str, Any]) -> str:
    period = data.get("period")
    if period == "range":
        last = datetime.fromisoformat(data["until"]) - timedelta(days=1)
        return _("{first} to {last}").format(
            first=format_datetime(datetime.fromisoformat(data["since"]), "UTC", "yyyy-MM-dd"),
            last=format_datetime(last, "UTC", "yyyy-MM-dd"),
        )
    if period == "all":
        return _("everything")
    days = int(period or 0)
    return ngettext("the last {n} day", "the last {n} days", days).format(n=days)


def period_keyboard(prefix: str, typed: bool) -> InlineKeyboardMarkup:
    buttons = [
        button(_("Last 7 days"), prefix, "7"),
        button(_("Last 30 days"), prefix, "30"),
        button(_("Last 90 days"), prefix, "90"),
        button(_("Everything"), prefix, "all"),
    ]
    extra = [button(_("Type dates"), prefix, "dates")] if typed else []
    return markup(*rows(buttons, 2), extra)


@requires(Role.ADMIN)
@guarded(ERRORS)
async def cmd_export(update: Update, context: Ctx) -> None:
    """Asks for the period of the export with buttons."""
    await reports.filter_choices(context.deps, context.who.tg_user_id, context.who.locale)
    await dialog.put(context.deps, context.who.tg_user_id, STEP_MENU, {})
    await reply(
        update,
        _("<b>Export the exchange log</b>\nWhich period?"),
        period_keyboard("ex:p", typed=True),
    )


async def _export_state(context: Ctx) -> dict[str, Any]:
    state = await dialog.get(context.deps, context.who.tg_user_id)
    if state is None or state.step not in (STEP_MENU, STEP_DATES):
        raise ServiceError("stale")
    return dict(state.data)


def _names(chosen: Sequence[str], choices: Sequence[reports.Choice]) -> str:
    labels = {c.key: c.label for c in choices}
    picked = [esc(labels[k]) for k in chosen if k in labels]
    return ", ".join(picked) if picked else _("all")


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
            button(_("Cities"), "ex", "c", 0),
            button(_("Countries"), "ex", "n", 0),
            button(_("Topics"), "ex", "t", 0),
        ],
        [button(label, "ex", "f", fmt) for fmt, label in FORMAT_LABELS.items()],
        [button(_("Period"), "ex", "period"), button(_("Cancel"), "ex", "x")],
    )
    await show(update, text, keyboard)


def _toggle_keyboard(
    choices: Sequence[reports.Choice], chosen: Sequence[str], kind: str, page: int
) -> InlineKeyboardMarkup:
    items = [
        (("✅ " if c.key in chosen else "▫️ ") + c.label, cb("ex", kind + "t", c.key, page))
        for c in choices
    ]
    body, _page = paged(items, page, f"ex:{kind}", width=2)
    body.append([button(_("Done"), "ex", "m")])
    return InlineKeyboardMarkup(body)


@requires(Role.ADMIN)
@guarded(ERRORS)
async def on_export(update: Update, context: Ctx) -> None:
    """Export buttons: period, filters (cities, countries, topics), format, cancel."""
    query = update.callback_query
    assert query is not None
    parts = parse(query.data, "ex")
    data = await _export_state(context)
    deps, tg_id = context.deps, context.who.tg_user_id
    if parts[0] == "p" and len(parts) == 2:
        await answer(query)
        if parts[1] == "dates":
            await dialog.put(deps, tg_id, STEP_DATES, data)
            await show(
                update,
                _(
                    "Send the first and last day of the period, like 2026-01-01 2026-03-31 "
                    "(dates in UTC)."
                ),
            )
            return
        if parts[1] not in (*reports.PERIOD_DAYS, "all"):
            raise_bad()
        data.update(period=parts[1])
        data.pop("since", None)
        data.pop("until", None)
        await dialog.put(deps, tg_id, STEP_MENU, data)
        await show_export_menu(update, context, data)
        return
    if "period" not in data:
        raise ServiceError("stale")
    if parts == ["period"]:
        await answer(query)
        await show(
            update,
            _("<b>Export the exchange log</b>\nWhich period?"),
            period_keyboard("ex:p", typed=True),
        )
    elif parts == ["m"]:
        await answer(query)
        await show_export_menu(update, context, data)
    elif parts == ["x"]:
        await dialog.clear(deps, tg_id)
        await answer(query)
        await show(update, _("Export cancelled."))
    elif parts[0] in ("c", "n", "t") and len(parts) == 2:
        await answer(query)
        await _show_toggles(update, context, data, parts[0], parse_int(parts[1]))
    elif parts[0] in ("ct", "nt", "tt") and len(parts) == 3:
        kind = parts[0][0]
        choices = await _choices_of(context, kind)
        if parts[1] not in {c.key for c in choices}:
            raise_bad()
        key = {"c": "cities", "n": "countries", "t": "topics"}[kind]
        chosen = list(data.get(key, []))
        chosen = [k for k in chosen if k != parts[1]] if parts[1] in chosen else [*chosen, parts[1]]
        data[key] = chosen
        await dialog.put(deps, tg_id, STEP_MENU, data)
        await answer(query)
        await _show_toggles(update, context, data, kind, parse_int(parts[2]))
    elif parts[0] == "f" and len(parts) == 2 and parts[1] in FORMAT_LABELS:
        await answer(query)
        await _start_export(update, context, data, parts[1])
    else:
        raise_bad()


async def _choices_of(context: Ctx, kind: str) -> list[reports.Choice]:
    choices = await reports.filter_choices(context.deps, context.who.tg_user_id, context.who.locale)
    return {"c": choices.cities, "n": choices.countries, "t": choices.topics}[kind]


async def _show_toggles(
    update: Update, context: Ctx, data: dict[str, Any], kind: str, page: int
) -> None:
    choices = await _choices_of(context, kind)
    key = {"c": "cities", "n": "countries", "t": "topics"}[kind]
    prompt = {
        "c": _("Which cities? Tap to select, then Done. None selected: all cities."),
        "n": _("Which countries? Tap to select, then Done. None selected: all countries."),
        "t": _("Which topics? Tap to select, then Done. None selected: all topics."),
    }[kind]
    await show(update, prompt, _toggle_keyboard(choices, data.get(key, []), kind, page))


@on_step(STEP_DATES)
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
        await reply(update, error_text(exc, ERRORS))
        return
    data = dict(state.data, period="range", since=since.isoformat(), until=until.isoformat())
    await dialog.put(context.deps, context.who.tg_user_id, STEP_MENU, data)
    await show_export_menu(update, context, data)


@on_step(STEP_MENU)
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
        bot: ExtBot[None],
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


# ---- /stats -------------------------------------------------------------------------------


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def cmd_stats(update: Update, context: Ctx) -> None:
    """Asks for the period of the statistics with buttons."""
    await reply(update, _("<b>Statistics</b>\nWhich period?"), period_keyboard("st", typed=False))


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    return format_timedelta(delta, threshold=1.5, locale=current_locale())


def stats_text(s: reports.Stats, period: str) -> str:
    rate = (
        format_percent(s.answer_rate, locale=current_locale()) if s.answer_rate is not None else "—"
    )
    topics = ", ".join(f"{esc(name)} ({num(n)})" for name, n in s.top_topics) or "—"
    helpful = ", ".join(f"{esc(c.city)} ({num(c.count)})" for c in s.helpful_cities) or "—"
    lines = [
        _("<b>Statistics: {period}</b>").format(period=period),
        _("Questions asked: {n}").format(n=num(s.questions)),
        _("Answered: {n} ({rate})").format(n=num(s.answered), rate=rate),
        _("Answers given: {n}").format(n=num(s.answers)),
        _("Median time to first answer: {duration}").format(
            duration=_duration(s.median_first_answer)
        ),
        _("Top topics: {topics}").format(topics=topics),
        _("Most helpful cities: {cities}").format(cities=helpful),
        "",
        _("<b>Active officials per city</b>"),
    ]
    shown = s.active_officials[:STATS_TOP_CITIES]
    lines += [f"{esc(c.city)} ({c.country}): {num(c.count)}" for c in shown] or ["—"]
    more = len(s.active_officials) - len(shown)
    if more > 0:
        lines.append(ngettext("and {n} more city", "and {n} more cities", more).format(n=more))
    return "\n".join(lines)


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def on_stats(update: Update, context: Ctx) -> None:
    """Shows the numbers for the chosen period and sends the weekly chart as a photo."""
    query = update.callback_query
    assert query is not None
    (period,) = parse(query.data, "st", count=1)
    if period not in (*reports.PERIOD_DAYS, "all"):
        raise_bad()
    deps, who = context.deps, context.who
    since, until = reports.period_filter(deps.clock.now(), period)
    s = await reports.stats(deps, who.tg_user_id, since, until, locale=who.locale)
    series = await reports.weekly_series(deps, who.tg_user_id, since, until, locale=who.locale)
    await answer(query)
    label = period_text({"period": period})
    await show(update, stats_text(s, label), period_keyboard("st", typed=False))
    png = await asyncio.to_thread(
        charts.weekly_chart,
        series.weeks,
        series.questions,
        series.answers,
        title=_("Questions and answers per week: {period}").format(period=label),
        questions_label=_("Questions"),
        answers_label=_("Answers"),
        week_label=_("Week starting"),
    )
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(png, caption=_("Questions and answers per week, by topic group"))


# ---- /cities and removing officials -------------------------------------------------------


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def cmd_cities(update: Update, context: Ctx) -> None:
    """Lists the cities as buttons with their number of officials."""
    await show_cities(update, context, 0)


async def show_cities(update: Update, context: Ctx, page: int) -> None:
    cities = await network.cities(context.deps, context.who.tg_user_id)
    if not cities:
        await show(update, _("No cities have been set up yet."))
        return
    items = [
        (f"{c.name} ({c.country}) · {num(c.officials)}", cb("ci", "c", c.id, 0)) for c in cities
    ]
    body, _page = paged(items, page, "ci:p", width=2, size=12)
    text = ngettext(
        "<b>{n} city</b>. Tap one to see its officials.",
        "<b>{n} cities</b>. Tap one to see its officials.",
        len(cities),
    ).format(n=num(len(cities)))
    await show(update, text, InlineKeyboardMarkup(body))


def status_label(status: str) -> str:
    return {
        OfficialStatus.ACTIVE: _("active"),
        OfficialStatus.UNREACHABLE: _("unreachable"),
        OfficialStatus.PENDING: _("waiting for approval"),
    }.get(OfficialStatus(status), status)


async def show_city(update: Update, context: Ctx, city_id: int, page: int) -> None:
    found = await network.city_officials(context.deps, context.who.tg_user_id, city_id)
    city = found.city
    lines = [_("<b>{city} ({country})</b>").format(city=esc(city.name), country=city.country)]
    if not found.officials:
        lines.append(_("No officials yet."))
    size = 8
    start = min(max(page, 0), max(0, (len(found.officials) - 1) // size)) * size
    for o in found.officials[start : start + size]:
        lines.append(
            _("• {name}, {position} — {role}, {status}").format(
                name=esc(o.name or "—"),
                position=esc(o.position or "—"),
                role=role_name(o.role),
                status=status_label(o.status),
            )
        )
    items = [
        (_("Remove {name}").format(name=o.name or "—"), cb("ci", "r", o.id))
        for o in found.officials
    ]
    body, _page = paged(items, page, f"ci:c:{city.id}", size=size)
    body.append([button(_("‹ Cities"), "ci", "p", 0)])
    await show(update, "\n".join(lines), InlineKeyboardMarkup(body))


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def on_cities(update: Update, context: Ctx) -> None:
    """Cities list paging, one city's officials, removing an official after confirmation."""
    query = update.callback_query
    assert query is not None
    parts = parse(query.data, "ci")
    deps, tg_id = context.deps, context.who.tg_user_id
    if parts[0] == "p" and len(parts) == 2:
        await answer(query)
        await show_cities(update, context, parse_int(parts[1]))
    elif parts[0] == "c" and len(parts) == 3:
        await show_city(update, context, parse_int(parts[1]), parse_int(parts[2]))
        await answer(query)
    elif parts[0] == "r" and len(parts) == 2:
        o = await network.official(deps, tg_id, parse_int(parts[1]))
        await answer(query)
        await show(
            update,
            _(
                "Remove {name} ({position}) from City Exchange? They will get no more questions "
                "and can no longer use the bot."
            ).format(name=esc(o.name or "—"), position=esc(o.position or "—")),
            markup(
                [button(_("Yes, remove"), "ci", "ry", o.id)],
                [button(_("No, keep"), "ci", "c", o.city_id or 0, 0)],
            ),
        )
    elif parts[0] == "ry" and len(parts) == 2:
        removed = await network.remove_official(deps, tg_id, parse_int(parts[1]))
        await answer(query)
        await show(
            update,
            _("{name} was removed.").format(name=esc(removed.name or "—")),
            markup([button(_("‹ Back"), "ci", "c", removed.city_id or 0, 0)]),
        )
        with use_locale(removed.locale):
            note = _(
                "An organiser removed you from City Exchange. You will not receive "
                "questions any more. If you think this is a mistake, contact your organiser."
            )
        try:
            await context.bot.send_message(removed.chat_id, note)
        except TelegramError as exc:
            log.info("removal notice failed official_id=%s error=%s", removed.official_id, exc)
    else:
        raise_bad()


# ---- /invite ------------------------------------------------------------------------------


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def cmd_invite(update: Update, context: Ctx) -> None:
    """Asks for the city of the new invite link with buttons."""
    await show_invite_cities(update, context, 0)


async def show_invite_cities(update: Update, context: Ctx, page: int) -> None:
    cities = await network.cities(context.deps, context.who.tg_user_id)
    if not cities:
        await show(update, _("No cities have been set up yet."))
        return
    items = [(f"{c.name} ({c.country})", cb("iv", "c", c.id)) for c in cities]
    body, _page = paged(items, page, "iv:p", width=2, size=12)
    await show(update, _("<b>New invite link</b>\nFor which city?"), InlineKeyboardMarkup(body))


USES = ("1", "5", "20", "0")  # 0: unlimited


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def on_invite(update: Update, context: Ctx) -> None:
    """Invite steps: city, role (admins only), number of uses; then the link."""
    query = update.callback_query
    assert query is not None
    parts = parse(query.data, "iv")
    deps, who = context.deps, context.who
    if parts[0] == "p" and len(parts) == 2:
        await answer(query)
        await show_invite_cities(update, context, parse_int(parts[1]))
        return
    if parts[0] == "c" and len(parts) == 2:
        city = await network.city(deps, who.tg_user_id, parse_int(parts[1]))
        await answer(query)
        if who.has_role(Role.ADMIN):
            await show(
                update,
                _("Invite to {city} as:").format(city=esc(city.name)),
                markup(
                    [
                        button(role_name(Role.OFFICIAL), "iv", "r", city.id, "o"),
                        button(role_name(Role.ORGANISER), "iv", "r", city.id, "g"),
                    ]
                ),
            )
        else:
            await show_uses(update, city, "o")
        return
    if parts[0] == "r" and len(parts) == 3 and parts[2] in ("o", "g"):
        city = await network.city(deps, who.tg_user_id, parse_int(parts[1]))
        await answer(query)
        await show_uses(update, city, parts[2])
        return
    if parts[0] == "u" and len(parts) == 4 and parts[2] in ("o", "g") and parts[3] in USES:
        city = await network.city(deps, who.tg_user_id, parse_int(parts[1]))
        role = Role.ORGANISER if parts[2] == "g" else Role.OFFICIAL
        uses = int(parts[3]) or None
        created = await create_invite(
            deps, city.name, role=role, uses=uses, actor_tg_id=who.tg_user_id
        )
        await answer(query)
        link = f"https://t.me/{context.bot.username}?start={created.code}"
        limit = (
            ngettext("{n} person", "{n} people", uses).format(n=uses)
            if uses
            else _("any number of people")
        )
        await show(
            update,
            _(
                "<b>Invite link for {city}</b>\nRole: {role}\nCan be used by: {uses}\n\n{link}\n\n"
                "Send it to the officials of {city}; they open it to register."
            ).format(city=esc(city.name), role=role_name(role), uses=limit, link=esc(link)),
        )
        return
    raise_bad()


async def show_uses(update: Update, city: network.CityRow, role_code: str) -> None:
    labels = {"1": "1", "5": "5", "20": "20", "0": _("Unlimited")}
    await show(
        update,
        _("How many people may use the link for {city}?").format(city=esc(city.name)),
        markup([button(labels[u], "iv", "u", city.id, role_code, u) for u in USES]),
    )


# ---- /audit -------------------------------------------------------------------------------


def action_label(action: str) -> str:
    labels = {
        "access.denied": _("access refused"),
        "role.granted": _("role granted"),
        "role.revoked": _("role taken away"),
        "official.removed": _("official removed"),
        "official.registered": _("official registered"),
        "official.approved": _("request approved"),
        "official.rejected": _("request rejected"),
        "official.erased": _("data erased"),
        "invite.created": _("invite created"),
        "export.created": _("export"),
    }
    return labels.get(action, action)


def audit_line(item: network.AuditItem, tz: str) -> str:
    actor = item.actor_name or (str(item.actor_tg_id) if item.actor_tg_id else _("system"))
    line = _("{time} · <b>{action}</b> · by {actor}").format(
        time=format_datetime(item.created_at, tz, "short"),
        action=esc(action_label(item.action)),
        actor=esc(actor),
    )
    if item.target_type == "official":
        line += " → " + esc(item.target_name or f"#{item.target_id}")
    details = {k: v for k, v in item.details.items() if v not in (None, [], "")}
    if details:
        line += "\n   " + esc(", ".join(f"{k}={v}" for k, v in sorted(details.items()))[:200])
    return line


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def cmd_audit(update: Update, context: Ctx) -> None:
    """Shows the newest page of the audit log."""
    await show_audit(update, context, 0)


async def show_audit(update: Update, context: Ctx, page: int) -> None:
    deps, tg_id = context.deps, context.who.tg_user_id
    result = await network.audit_page(deps, tg_id, page)
    tz = await network.actor_timezone(deps, tg_id)
    if not result.items:
        await show(update, _("The audit log is empty."))
        return
    head = _("<b>Audit log</b> (page {page} of {pages})").format(
        page=result.page + 1, pages=result.pages
    )
    text = "\n".join([head, *(audit_line(i, tz) for i in result.items)])
    nav: list[InlineKeyboardButton] = []
    if result.page > 0:
        nav.append(button(_("‹ Newer"), "au", "p", result.page - 1))
    if result.page + 1 < result.pages:
        nav.append(button(_("Older ›"), "au", "p", result.page + 1))
    await show(update, text, markup(nav))


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def on_audit(update: Update, context: Ctx) -> None:
    """Audit log paging."""
    query = update.callback_query
    assert query is not None
    (page,) = parse(query.data, "au:p", count=1)
    await answer(query)
    await show_audit(update, context, parse_int(page))
