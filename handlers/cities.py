"""/cities: the cities and their officials, and organisers removing an official."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot.i18n import _, ngettext, use_locale
from bot.services import network
from bot.services.enums import OfficialStatus, Role
from handlers.common import answer, esc, guarded, raise_bad, requires, show
from handlers.context import Ctx
from handlers.keyboards import button, cb, markup, paged, parse, parse_int
from handlers.periods import num
from handlers.profile_texts import role_name

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
@guarded
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
