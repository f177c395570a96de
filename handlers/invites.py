"""/invite: organisers create an invite link for a city (admins also for organisers)."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.i18n import _, ngettext
from bot.services import network
from bot.services.enums import Role
from bot.services.invites import create_invite
from handlers.admin_buttons import (
    InviteAs,
    InviteButton,
    InviteCitiesPage,
    InviteCity,
    InviteRole,
    InviteUses,
    InviteUsesChoice,
)
from handlers.common import answer, esc, guarded, raise_bad, requires, show
from handlers.context import Ctx
from handlers.keyboards import button, markup, paged
from handlers.profile_texts import city_button, role_name
from handlers.user_text import city_of


@requires(Role.ORGANISER)
@guarded
async def cmd_invite(update: Update, context: Ctx) -> None:
    """Asks for the city of the new invite link with buttons."""
    await show_invite_cities(update, context, 0)


async def show_invite_cities(update: Update, context: Ctx, page: int) -> None:
    cities = await network.cities(context.deps, context.who.tg_user_id)
    if not cities:
        await show(update, _("No cities have been set up yet."))
        return
    items = [(city_button(c), InviteCity(c.id)) for c in cities]
    body, _page = paged(items, page, InviteCitiesPage, width=2, size=12)
    await show(update, _("<b>New invite link</b>\nFor which city?"), InlineKeyboardMarkup(body))


USES: tuple[InviteUses, ...] = ("1", "5", "20", "unlimited")


@requires(Role.ORGANISER)
@guarded
async def on_invite(update: Update, context: Ctx) -> None:
    """Invite steps: city, role (admins only), number of uses; then the link."""
    query = update.callback_query
    assert query is not None
    pressed = InviteButton.decode(query.data)
    deps, who = context.deps, context.who
    if isinstance(pressed, InviteCitiesPage):
        await answer(query)
        await show_invite_cities(update, context, pressed.page)
        return
    if isinstance(pressed, InviteCity):
        city = await network.city(deps, who.tg_user_id, pressed.city_id)
        await answer(query)
        if who.has_role(Role.ADMIN):
            await show(
                update,
                _("Invite to {city} as:").format(city=city_of(city.name, city.names)),
                markup(
                    [
                        button(role_name(Role.OFFICIAL), InviteAs(city.id, "official")),
                        button(role_name(Role.ORGANISER), InviteAs(city.id, "organiser")),
                    ]
                ),
            )
        else:
            await show_uses(update, city, "official")
        return
    if isinstance(pressed, InviteAs):
        city = await network.city(deps, who.tg_user_id, pressed.city_id)
        await answer(query)
        await show_uses(update, city, pressed.role)
        return
    if isinstance(pressed, InviteUsesChoice):
        city = await network.city(deps, who.tg_user_id, pressed.city_id)
        role = Role(pressed.role)
        uses = None if pressed.uses == "unlimited" else int(pressed.uses)
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
            ).format(
                city=city_of(city.name, city.names),
                role=role_name(role),
                uses=limit,
                link=esc(link),
            ),
        )
        return
    raise_bad()


async def show_uses(update: Update, city: network.CityRow, role: InviteRole) -> None:
    labels = {"1": "1", "5": "5", "20": "20", "unlimited": _("Unlimited")}
    await show(
        update,
        _("How many people may use the link for {city}?").format(
            city=city_of(city.name, city.names)
        ),
        markup([button(labels[u], InviteUsesChoice(city.id, role, u)) for u in USES]),
    )
