"""Texts and keyboards about people, shared by the joining, profile, privacy, pending and
admin handlers: roles, profiles, the help, the privacy notice, requests to join."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.i18n import _, current_locale, language_name
from bot.services.catalogue import CityInfo
from bot.services.enums import Role
from bot.services.profile import Profile
from handlers.common import esc
from handlers.keyboards import button, markup
from handlers.people_buttons import JoinRequestDecision, ProfileDigest, ProfileEdit


def role_name(role: Role | str) -> str:
    return {
        Role.OFFICIAL: _("official"),
        Role.ORGANISER: _("organiser"),
        Role.ADMIN: _("admin"),
    }[Role(role)]


def city_label(city: CityInfo | None) -> str:
    return f"{esc(city.name)} ({city.country})" if city else "—"


def profile_text(p: Profile) -> str:
    topics = ", ".join(esc(t.name(current_locale())) for t in p.topics) or "—"
    languages = ", ".join(language_name(x) for x in p.languages) or "—"
    digest = _("on") if p.digest_opt_in else _("off")
    return _(
        "<b>Your profile</b>\n"
        "Name: {name}\n"
        "Position: {position}\n"
        "City: {city}\n"
        "Topics: {topics}\n"
        "Languages: {languages}\n"
        "Role: {role}\n"
        "Weekly digest: {digest}"
    ).format(
        name=esc(p.name or "—"),
        position=esc(p.position or "—"),
        city=city_label(p.city),
        topics=topics,
        languages=languages,
        role=role_name(p.role),
        digest=digest,
    )


def profile_keyboard(p: Profile) -> InlineKeyboardMarkup:
    return markup(
        [
            button(_("Edit name"), ProfileEdit("name")),
            button(_("Edit position"), ProfileEdit("position")),
        ],
        [
            button(_("Topics"), ProfileEdit("topics")),
            button(_("Languages"), ProfileEdit("languages")),
        ],
        [
            button(
                _("Weekly digest: turn off") if p.digest_opt_in else _("Weekly digest: turn on"),
                ProfileDigest("off" if p.digest_opt_in else "on"),
            )
        ],
    )


def help_text(role: Role) -> str:
    lines = [
        _("<b>What you can do</b>"),
        _("/ask — ask officials in peer cities a question"),
        _("/questions — your questions and their answers"),
        _("/inbox — questions waiting for your answer"),
        _("/search — search the library of answered exchanges"),
        _("/profile — see and edit your profile"),
        _("/language — change the language"),
        _("/quiet — hours when reminders and the digest wait"),
        _("/privacy — what we store about you"),
        _("/deleteme — erase your data"),
        _("/cancel — stop what you are doing"),
    ]
    if role in (Role.ORGANISER, Role.ADMIN):
        lines += [
            "",
            _("<b>Organisers</b>"),
            _("/pending — approve or reject requests to join"),
            _("/invite — create an invite link for a city"),
            _("/broadcast — send a message to many officials"),
            _("/broadcasts — sent and scheduled broadcasts"),
            _("/remind — schedule a reminder"),
            _("/reminders — scheduled reminders"),
            _("/stats — numbers and a chart of the exchange"),
            _("/cities — cities and their officials"),
            _("/audit — the audit log"),
        ]
    if role == Role.ADMIN:
        lines += [
            "",
            _("<b>Admins</b>"),
            _("/promote — make an official an organiser"),
            _("/demote — make an organiser an official again"),
            _("/export — download the exchange log"),
        ]
    return "\n".join(lines)


def privacy_notice() -> str:
    return (
        _(
            "<b>Privacy</b>\n"
            "City Exchange stores your Telegram id, name, position, city, topics and languages, "
            "so that colleagues in other cities know who is asking or answering, and it keeps the "
            "questions and answers you exchange. Organisers can see this information and admins "
            "can export the exchange log for reports. Nothing is shared outside the network.\n"
            "You can see your data with /privacy and erase it with /deleteme at any time."
        )
        + "\n"
        + _(
            "When a question is resolved, its asker may add the exchange to the network's library, "
            "where every official can find it with /search; the names, cities and words in it are "
            "shown. Anyone whose words are in an entry can withdraw them at any time; /deleteme "
            "takes them out too, and then names you only as an official of your city."
        )
    )


def pending_text(p: Profile) -> str:
    return _("<b>Request to join</b>\n{name}, {position}\nCity: {city}").format(
        name=esc(p.name or "—"), position=esc(p.position or "—"), city=city_label(p.city)
    )


def pending_keyboard(p: Profile) -> InlineKeyboardMarkup:
    return markup(
        [
            button(_("Approve"), JoinRequestDecision("approve", p.official_id)),
            button(_("Reject"), JoinRequestDecision("reject", p.official_id)),
        ]
    )
