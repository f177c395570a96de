"""Organisers route by hand: "Route to a city" under a question nobody covers, the cities to
choose from, and the question sent there (the asker told)."""

from __future__ import annotations

from babel.dates import format_timedelta
from telegram import InlineKeyboardMarkup, Update

from bot.i18n import _, current_locale, ngettext, use_locale
from bot.services.enums import Role
from bot.services.exchange import manual_routing
from handlers.common import answer, esc, guarded, raise_bad, requires, show
from handlers.context import Ctx
from handlers.exchange_buttons import RouteButton, RouteCities, RouteToCity
from handlers.exchange_render import question_words, sent_to_text
from handlers.exchange_send import deliver_question, notify
from handlers.keyboards import paged
from handlers.periods import num
from handlers.user_text import cities_of, city_of, line, shown_city


def track_record(r: manual_routing.TrackRecord) -> str:
    """One city's history on the topic, as routing weighs it (ratings included)."""
    record = ngettext(
        "answered {n} of {asked} similar question",
        "answered {n} of {asked} similar questions",
        r.asked,
    ).format(n=num(r.answered), asked=num(r.asked))
    if r.rated:
        record = _("{record}, {useful} of {rated} rated useful").format(
            record=record, useful=num(r.useful), rated=num(r.rated)
        )
    if r.median_first_answer is not None:
        record = _("{record}; median first answer {duration}").format(
            record=record,
            duration=format_timedelta(
                r.median_first_answer, threshold=1.5, locale=current_locale()
            ),
        )
    return line(
        _("{city}: {record}").format(city=city_of(r.city.name, r.city.names), record=record)
    )


def track_records_text(records: list[manual_routing.TrackRecord]) -> str:
    """Under the cities to choose from: what the likeliest did with similar questions."""
    return "\n".join(
        [_("<b>Their record on this topic</b> (what automatic routing weighs):")]
        + [track_record(r) for r in records]
    )


@requires(Role.ORGANISER)
@guarded
async def on_manual_route(update: Update, context: Ctx) -> None:
    """Organisers: choose a city for a question nobody covers, and send it there."""
    query = update.callback_query
    assert query is not None
    deps, user_id = context.deps, context.who.tg_user_id
    match RouteButton.decode(query.data):
        case RouteCities(question_id, page):
            brief, choices, records = await manual_routing.manual_route_options(
                deps, user_id, question_id
            )
            await answer(query)
            items = [(shown_city(c.name, c.names), RouteToCity(question_id, c.id)) for c in choices]
            body, _page = paged(
                items, page, lambda n: RouteCities(question_id, n), width=2, size=12
            )
            text = _(
                "Question #{id} on {topic} ({question}): choose the city to send it to."
            ).format(
                id=question_id,
                topic=esc(brief.topic.name(current_locale())),
                question=question_words(brief.text, brief.content_type),
            )
            if records:
                text += "\n\n" + track_records_text(records)
            if not choices:
                text = _("No other city has active officials yet.")
            await show(update, text, InlineKeyboardMarkup(body))
        case RouteToCity(question_id, city_id):
            outgoing = await manual_routing.route_by_hand(deps, user_id, question_id, city_id)
            await answer(query)
            cities = await deliver_question(context.bot, context.deps, outgoing)
            if not cities:
                await show(update, _("It could not be delivered to anyone in that city."))
                return
            await show(update, sent_to_text(cities))
            asker, content = outgoing[0].sender, outgoing[0].content
            with use_locale(asker.locale):
                text = _(
                    "An organiser sent your question on {topic} ({question}) to officials in "
                    "{cities}."
                ).format(
                    topic=esc(outgoing[0].topic.name(current_locale())),
                    question=question_words(content.text, content.content_type),
                    cities=cities_of(cities),
                )
            await notify(context.bot, asker, text)
        case _:
            raise_bad()
