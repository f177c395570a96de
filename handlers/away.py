"""/away: the first and last day away (buttons, or typed), an optional deputy chosen among
colleagues of the same city, coming back early; an organiser may set it for someone else. And
the job that sends each official one summary when an absence ends."""

from __future__ import annotations

from datetime import date, timedelta

from telegram import InlineKeyboardButton, Update

from bot.i18n import _
from bot.runtime import Deps
from bot.services import absence_returns, absences
from bot.services.absences import AwayPrompt
from bot.services.dialog import Step
from handlers.away_texts import day_label, return_summary_text, view_text
from handlers.common import answer, guarded, reply, show
from handlers.context import Ctx
from handlers.keyboards import button, markup, paged, rows
from handlers.people_buttons import (
    AwayBack,
    AwayButton,
    AwayCancel,
    AwayCities,
    AwayCity,
    AwayDeputy,
    AwayFrom,
    AwayPerson,
    AwayUntil,
)
from handlers.user_text import isolate

SHORT_DAY = "EEE d MMM"


def _cancel() -> InlineKeyboardButton:
    return button(_("Cancel"), AwayCancel())


async def prompt(update: Update, p: AwayPrompt) -> None:
    """The next choice of the dialog, with its buttons."""
    if p.step == absences.STEP_FROM:
        text = view_text(p.current) + "\n\n" if p.current else ""
        if p.for_self:
            text += _("From which day will you be away? Choose, or type a date like 20/04/2026.")
        else:
            text += _(
                "From which day will {name} be away? Choose, or type a date like 20/04/2026."
            ).format(name=isolate(p.name))
        monday = p.today + timedelta(days=7 - p.today.weekday())
        days = [
            (_("Today"), p.today),
            (_("Tomorrow"), p.today + timedelta(days=1)),
            (day_label(monday, SHORT_DAY), monday),
        ]
        body = rows([button(label, AwayFrom(d.toordinal())) for label, d in days], 3)
        if p.current:
            back = _("I am back") if p.for_self else _("Back now")
            body.append([button(back, AwayBack(p.official_id))])
        if p.can_set_for_others:
            body.append([button(_("For someone else"), AwayCities(0))])
        body.append([_cancel()])
        await show(update, text, markup(*body))
        return
    assert p.first_day is not None
    if p.step == absences.STEP_UNTIL:
        text = _(
            "Away from {first}. What is the last day away? Choose, or type a date like 30/04/2026."
        ).format(first=day_label(p.first_day))
        ends = [p.first_day + timedelta(days=n) for n in (0, 6, 13, 20)]
        body = rows([button(day_label(d, SHORT_DAY), AwayUntil(d.toordinal())) for d in ends], 2)
        await show(update, text, markup(*body, [_cancel()]))
        return
    assert p.last_day is not None
    text = _(
        "Away from {first} to {last}. Who answers questions meanwhile? Choose a colleague of "
        "the same city, or no one: the city's other officials on the topics get them."
    ).format(first=day_label(p.first_day), last=day_label(p.last_day))
    body = rows([button(c.name, AwayDeputy(c.official_id)) for c in p.colleagues], 2)
    await show(update, text, markup(*body, [button(_("No one"), AwayDeputy(0))], [_cancel()]))


@guarded
async def cmd_away(update: Update, context: Ctx) -> None:
    """Shows the absence under way or planned, and asks from which day they will be away."""
    await prompt(update, await absences.start(context.deps, context.who.tg_user_id))


@guarded
async def on_typed(update: Update, context: Ctx, state: Step) -> None:
    """A date typed during /away (the first or the last day)."""
    message = update.effective_message
    assert message is not None
    typed, user_id = message.text, context.who.tg_user_id
    if typed is None or state.step not in (absences.STEP_FROM, absences.STEP_UNTIL):
        await reply(update, _("Please use the buttons above, or send /cancel to stop."))
        return
    if state.step == absences.STEP_FROM:
        p = await absences.set_first_day(context.deps, user_id, typed)
    else:
        p = await absences.set_last_day(context.deps, user_id, typed)
    await prompt(update, p)


@guarded
async def on_away(update: Update, context: Ctx) -> None:
    """A button of /away: a day, the deputy, back now, whom it is for, or cancel."""
    query = update.callback_query
    assert query is not None
    pressed = AwayButton.decode(query.data)
    deps, user_id = context.deps, context.who.tg_user_id
    match pressed:
        case AwayFrom(day=day):
            await prompt(update, await absences.set_first_day(deps, user_id, None, _day(day)))
        case AwayUntil(day=day):
            await prompt(update, await absences.set_last_day(deps, user_id, None, _day(day)))
        case AwayDeputy(official_id=deputy):
            view = await absences.set_deputy(deps, user_id, deputy or None)
            await show(update, view_text(view))
        case AwayBack(official_id=official_id):
            ended = await absences.come_back(deps, user_id, official_id)
            if ended is None:
                await show(update, _("There is no absence to end."))
            elif ended.for_self:
                await show(update, _("Welcome back: questions reach you again."))
            else:
                await show(
                    update,
                    _("{name} is back: questions reach them again.").format(
                        name=isolate(ended.name)
                    ),
                )
        case AwayCities(page=page):
            _people, cities = await absences.people(deps, user_id, None)
            items = [(name, AwayCity(city_id)) for city_id, name in cities]
            body, _page = paged(items, page, AwayCities, width=2)
            await show(update, _("Whose absence? Choose their city:"), markup(*body, [_cancel()]))
        case AwayCity(city_id=city_id):
            found, _cities = await absences.people(deps, user_id, city_id)
            body = rows([button(c.name, AwayPerson(c.official_id)) for c in found], 2)
            await show(update, _("Whose absence? Choose the person:"), markup(*body, [_cancel()]))
        case AwayPerson(official_id=official_id):
            await prompt(update, await absences.for_someone(deps, user_id, official_id))
        case AwayCancel():
            await absences.cancel(deps, user_id)
            await show(update, _("Cancelled. Nothing was changed."))
    await answer(query)  # after the service: a refusal answers it with an alert instead


def _day(ordinal: int) -> date:
    return date.fromordinal(max(1, min(ordinal, date.max.toordinal())))


async def returns_job(deps: Deps) -> None:
    """Scheduler job: one summary to each official whose absence ended."""
    await absence_returns.run_returns(deps, deps.clock.now(), return_summary_text)
