"""/cities: the cities and their officials, and organisers removing an official."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot.i18n import _, country_name, ngettext, use_locale
from bot.services import network
from bot.services.enums import OfficialStatus, Role
from handlers.admin_buttons import (
    CitiesButton,
    CitiesPage,
    CityOfficials,
    ConfirmRemoval,
    RemoveOfficial,
)
from handlers.common import answer, esc, guarded, raise_bad, requires, show
from handlers.context import Ctx
from handlers.keyboards import button, markup, paged
from handlers.periods import num
from handlers.profile_texts import city_button, role_name, withdrawn_notice
from handlers.user_text import city_of, isolate, isolate_plain, name_of, shown_name

log = logging.getLogger(__name__)


@requires(Role.ORGANISER)
@guarded
async def cmd_cities(update: Update, context: Ctx) -> None:
    """Lists the cities as buttons with their number of officials."""
    await show_cities(update, context, 0)


async def show_cities(update: Update, context: Ctx, page: int) -> None:
    cities = await network.cities(context.deps, context.who.tg_user_id)
    if not cities:
        await show(update, _("No cities have been set up yet."))
        return
    items = [(f"{city_button(c)} · {num(c.officials)}", CityOfficials(c.id, 0)) for c in cities]
    body, _page = paged(items, page, CitiesPage, width=2, size=12)
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
    lines = [
        _("<b>{city} ({country})</b>").format(
            city=city_of(city.name, city.names), country=esc(country_name(city.country))
        )
    ]
    if not found.officials:
        lines.append(_("No officials yet."))
    size = 8
    start = min(max(page, 0), max(0, (len(found.officials) - 1) // size)) * size
    for o in found.officials[start : start + size]:
        lines.append(
            _("• {name}, {position} — {role}, {status}").format(
                name=name_of(o.name, o.name_latin) if o.name else "—",
                position=isolate(o.position) if o.position else "—",
                role=role_name(o.role),
                status=status_label(o.status),
            )
        )
    items = [
        (
            _("Remove {name}").format(name=isolate_plain(shown_name(o.name or "—", o.name_latin))),
            RemoveOfficial(o.id),
        )
        for o in found.officials
    ]
    body, _page = paged(items, page, lambda n: CityOfficials(city.id, n), size=size)
    body.append([button(_("‹ Cities"), CitiesPage(0))])
    await show(update, "\n".join(lines), InlineKeyboardMarkup(body))


@requires(Role.ORGANISER)
@guarded
async def on_cities(update: Update, context: Ctx) -> None:
    """Cities list paging, one city's officials, removing an official after confirmation."""
    query = update.callback_query
    assert query is not None
    pressed = CitiesButton.decode(query.data)
    deps, tg_id = context.deps, context.who.tg_user_id
    if isinstance(pressed, CitiesPage):
        await answer(query)
        await show_cities(update, context, pressed.page)
    elif isinstance(pressed, CityOfficials):
        await show_city(update, context, pressed.city_id, pressed.page)
        await answer(query)
    elif isinstance(pressed, RemoveOfficial):
        o = await network.official(deps, tg_id, pressed.official_id)
        await answer(query)
        await show(
            update,
            _(
                "Remove {name} ({position}) from City Exchange? They will get no more questions "
                "and can no longer use the bot, and their open questions are withdrawn."
            ).format(
                name=name_of(o.name, o.name_latin) if o.name else "—",
                position=isolate(o.position) if o.position else "—",
            ),
            markup(
                [button(_("Yes, remove"), ConfirmRemoval(o.id))],
                [button(_("No, keep"), CityOfficials(o.city_id or 0, 0))],
            ),
        )
    elif isinstance(pressed, ConfirmRemoval):
        removed = await network.remove_official(deps, tg_id, pressed.official_id, withdrawn_notice)
        await answer(query)
        await show(
            update,
            _("{name} was removed.").format(name=isolate(removed.name or "—")),
            markup([button(_("‹ Back"), CityOfficials(removed.city_id or 0, 0))]),
        )
        with use_locale(removed.locale):
            note = _(
                "An organiser removed you from City Exchange. You will not receive "
                "questions any more, and your open questions were withdrawn. If you think this "
                "is a mistake, contact your organiser."
            )
        try:
            await context.bot.send_message(removed.chat_id, note)
        except TelegramError as exc:
            log.info("removal notice failed official_id=%s error=%s", removed.official_id, exc)
    else:
        raise_bad()
