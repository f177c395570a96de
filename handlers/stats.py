"""/stats: the numbers of the exchange for a period, and the weekly chart."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from babel.dates import format_timedelta
from babel.numbers import format_decimal, format_percent
from telegram import Update

from bot import charts
from bot.i18n import _, current_locale, format_list, ngettext
from bot.services import reports
from bot.services.enums import Role
from handlers.admin_buttons import StatsPeriod
from handlers.common import answer, esc, guarded, reply, requires, show
from handlers.context import Ctx
from handlers.periods import num, period_keyboard, period_text
from handlers.user_text import city_of, isolate, line

STATS_TOP_CITIES = 20


@requires(Role.ORGANISER)
@guarded
async def cmd_stats(update: Update, context: Ctx) -> None:
    """Asks for the period of the statistics with buttons."""
    await reply(update, _("<b>Statistics</b>\nWhich period?"), period_keyboard(StatsPeriod))


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    return format_timedelta(delta, threshold=1.5, locale=current_locale())


def _hours(value: float) -> str:
    return format_decimal(round(value, 1), format="#,##0.#", locale=current_locale())


def stats_text(s: reports.Stats, period: str) -> str:
    rate = (
        format_percent(s.answer_rate, locale=current_locale()) if s.answer_rate is not None else "—"
    )
    topics = format_list([f"{esc(name)} ({num(n)})" for name, n in s.top_topics]) or "—"
    helpful = (
        format_list([f"{city_of(c.city, c.names)} ({num(c.count)})" for c in s.helpful_cities])
        or "—"
    )
    lines = [
        _("<b>Statistics: {period}</b>").format(period=period),
        _("Questions asked: {n}").format(n=num(s.questions)),
        _("Answered: {n} ({rate})").format(n=num(s.answered), rate=rate),
        _("Answers given: {n}").format(n=num(s.answers)),
        _("Answered from the library before being sent: {n}").format(n=num(s.from_library)),
        _("Answers rated useful, by city: {cities}").format(
            cities=format_list([f"{isolate(c)} ({num(u)}/{num(n)})" for c, n, u in s.ratings])
            or "—"
        ),
        _("Median time to first answer: {duration}").format(
            duration=_duration(s.median_first_answer)
        ),
        _("Top topics: {topics}").format(topics=topics),
        _("Most helpful cities: {cities}").format(cities=helpful),
        "",
        _("<b>Time to first answer, in each city's working hours (median)</b>"),
    ]
    times = s.answer_times[:STATS_TOP_CITIES]
    lines += [
        line(
            ngettext(
                "{city} ({country}): {hours} h, {n} question answered",
                "{city} ({country}): {hours} h, {n} questions answered",
                t.answered,
            ).format(
                city=isolate(t.city),
                country=t.country,
                hours=_hours(t.median_hours),
                n=num(t.answered),
            )
        )
        for t in times
    ] or ["—"]
    lines += [
        "",
        _("<b>Active officials per city</b>"),
    ]
    shown = s.active_officials[:STATS_TOP_CITIES]
    lines += [line(f"{city_of(c.city, c.names)} ({c.country}): {num(c.count)}") for c in shown] or [
        "—"
    ]
    more = len(s.active_officials) - len(shown)
    if more > 0:
        lines.append(ngettext("and {n} more city", "and {n} more cities", more).format(n=more))
    return "\n".join(lines)


@requires(Role.ORGANISER)
@guarded
async def on_stats(update: Update, context: Ctx) -> None:
    """Shows the numbers for the chosen period and sends the weekly chart as a photo."""
    query = update.callback_query
    assert query is not None
    period = StatsPeriod.decode(query.data).period
    deps, who = context.deps, context.who
    since, until = reports.period_filter(deps.clock.now(), period)
    s = await reports.stats(deps, who.tg_user_id, since, until, locale=who.locale)
    series = await reports.weekly_series(deps, who.tg_user_id, since, until, locale=who.locale)
    await answer(query)
    label = period_text({"period": period})
    await show(update, stats_text(s, label), period_keyboard(StatsPeriod))
    png = await asyncio.to_thread(
        charts.weekly_chart,
        series.weeks,
        series.questions,
        series.answers,
        title=_("Questions and answers per week: {period}").format(period=label),
        questions_label=_("Questions"),
        answers_label=_("Answers"),
        week_label=_("Week starting"),
        answer_hours=[(t.city, t.median_hours) for t in s.answer_times],
        answer_hours_label=_("Working hours to a first answer"),
    )
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(png, caption=_("Questions and answers per week, by topic group"))
