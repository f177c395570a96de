"""The single table of handlers. Groups run in order; within a group the first match wins.

group -200  Telegram replies to relayed exchange messages, relayed when the thread lookup (which
            also identifies the writer) finds one; everything else goes on
group -100  identity guard: who is writing, in which language; drops non-private chats
group 0     commands and buttons, one handler each (feature modules); Telegram replies to
            relayed exchange messages (they win over an open dialog step)
group 50    plain messages: the handler of the open dialog step (`dialog_steps`), else a hint
            (group 0 ends with the catch-alls for unknown commands and stale buttons)
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.i18n import _
from bot.services import broadcast_compose as broadcast_steps
from bot.services import library_types as library_steps
from bot.services import onboarding as onboarding_steps
from bot.services import profile_steps as profile_edit_steps
from bot.services.exchange import types as exchange_steps
from handlers import (
    answering,
    asking,
    audit,
    away,
    broadcast_list,
    broadcasts,
    cities,
    common,
    dialog,
    error_alerts,
    exports,
    help,
    invites,
    library,
    manual_routing,
    my_questions,
    onboarding,
    pending,
    privacy,
    profile,
    profile_steps,
    quiet,
    reminders,
    roles,
    search,
    stats,
)
from handlers.admin_buttons import (
    AuditButton,
    CitiesButton,
    ExportButton,
    InviteButton,
    StatsButton,
)
from handlers.exchange_buttons import (
    AskButton,
    DigestButton,
    MyQuestionAction,
    QuestionAction,
    RateAnswer,
    ReplyButton,
    RouteButton,
)
from handlers.library_buttons import FindButton, LibraryButton
from handlers.outreach_buttons import (
    BroadcastButton,
    BroadcastListAction,
    ReminderButton,
    ReminderListAction,
)
from handlers.people_buttons import (
    AwayButton,
    EraseMyData,
    JoinRequestDecision,
    LanguageButton,
    NameLatinButton,
    ProfileButton,
    RegistrationButton,
    TopicButton,
    WorkLanguageButton,
)

COMMANDS_GROUP = 0
MESSAGES_GROUP = 50


def dialog_steps() -> dict[str, dialog.StepHandler]:
    """The handler of a plain message sent at each dialog step: an exact step name, or a prefix
    ending in '.' for every step under it (an exact name wins, then the longest prefix)."""
    ex, reg, prof, bc = exchange_steps, onboarding_steps, profile_edit_steps, broadcast_steps
    lib = library_steps
    return dialog.step_table(
        [
            # joining and the profile
            (reg.STEP_NAME, profile_steps.step_name),
            (prof.STEP_EDIT_NAME, profile_steps.step_name),
            (reg.STEP_NAME_LATIN, profile_steps.step_name_latin),
            (prof.STEP_EDIT_NAME_LATIN, profile_steps.step_name_latin),
            (reg.STEP_POSITION, profile_steps.step_position),
            (prof.STEP_EDIT_POSITION, profile_steps.step_position),
            (reg.STEP_CITY, profile_steps.step_buttons),
            (reg.STEP_PICK_CITY, profile_steps.step_buttons),
            (reg.STEP_TOPICS, profile_steps.step_buttons),
            (prof.STEP_EDIT_TOPICS, profile_steps.step_buttons),
            (reg.STEP_LANGUAGES, profile_steps.step_buttons),
            (prof.STEP_EDIT_LANGUAGES, profile_steps.step_buttons),
            (reg.STEP_PRIVACY, profile_steps.step_buttons),
            # exchange
            (ex.STEP_TOPIC, asking.step_topic),
            (ex.STEP_COMPOSE, asking.step_compose),
            (ex.STEP_PREVIEW, asking.step_compose),
            (ex.STEP_ANSWER, answering.step_answer),
            # absences: the days typed during /away
            ("away.", away.on_typed),
            # the library: an organiser's new title for an entry
            (lib.STEP_TITLE, library.step_title),
            # reminders: every step of /remind
            ("remind.", reminders.on_typed),
            # broadcasts
            (bc.STEP_MESSAGE, broadcasts.step_message),
            (bc.STEP_TARGET, broadcasts.step_target),
            (bc.STEP_WHEN, broadcasts.step_when),
            (bc.STEP_CONFIRM_WHEN, broadcasts.step_when),
            # exports
            (exports.STEP_MENU, exports.step_menu),
            (exports.STEP_DATES, exports.step_dates),
        ]
    )


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    private = filters.ChatType.PRIVATE
    # A reply is relayed when it is sent; an edit of it later is not sent again
    # (dialog.edited_message, first in the commands group, answers every edit).
    new_reply = private & filters.UpdateType.MESSAGE & filters.REPLY & ~filters.COMMAND
    app.add_handler(MessageHandler(new_reply, answering.on_reply_first), group=-200)
    app.add_handler(TypeHandler(Update, common.identify), group=-100)
    app.add_handlers(
        [
            # A message or command edited after it was sent is not acted on: first match in the
            # group, and no later group sees it.
            MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, dialog.edited_message),
            # joining, the profile, privacy, requests to join, roles
            CommandHandler("start", onboarding.cmd_start, filters=private),
            CommandHandler("help", help.cmd_help, filters=private),
            CommandHandler("language", profile.cmd_language, filters=private),
            CommandHandler("profile", profile.cmd_profile, filters=private),
            CommandHandler("privacy", privacy.cmd_privacy, filters=private),
            CommandHandler("deleteme", privacy.cmd_deleteme, filters=private),
            CommandHandler("cancel", onboarding.cmd_cancel, filters=private),
            CommandHandler("pending", pending.cmd_pending, filters=private),
            CommandHandler("promote", roles.cmd_promote, filters=private),
            CommandHandler("demote", roles.cmd_demote, filters=private),
            CallbackQueryHandler(profile.on_language, pattern=LanguageButton.pattern()),
            CallbackQueryHandler(onboarding.on_registration, pattern=RegistrationButton.pattern()),
            CallbackQueryHandler(profile_steps.on_topics, pattern=TopicButton.pattern()),
            CallbackQueryHandler(profile_steps.on_languages, pattern=WorkLanguageButton.pattern()),
            CallbackQueryHandler(profile_steps.on_name_latin, pattern=NameLatinButton.pattern()),
            CallbackQueryHandler(profile.on_profile, pattern=ProfileButton.pattern()),
            CallbackQueryHandler(privacy.on_delete, pattern=EraseMyData.pattern()),
            CallbackQueryHandler(pending.on_pending, pattern=JoinRequestDecision.pattern()),
            ChatMemberHandler(onboarding.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER),
            # exchange: a Telegram reply to a relayed message wins over an open dialog step
            CommandHandler("ask", asking.cmd_ask, filters=private),
            CommandHandler("questions", my_questions.cmd_questions, filters=private),
            CommandHandler("inbox", my_questions.cmd_inbox, filters=private),
            CallbackQueryHandler(asking.on_ask, pattern=AskButton.pattern()),
            CallbackQueryHandler(answering.on_question_action, pattern=QuestionAction.pattern()),
            CallbackQueryHandler(answering.on_reply_button, pattern=ReplyButton.pattern()),
            CallbackQueryHandler(my_questions.on_resolve, pattern=MyQuestionAction.pattern()),
            CallbackQueryHandler(my_questions.on_rate, pattern=RateAnswer.pattern()),
            CallbackQueryHandler(manual_routing.on_manual_route, pattern=RouteButton.pattern()),
            CallbackQueryHandler(answering.on_digest_offer, pattern=DigestButton.pattern()),
            MessageHandler(new_reply, answering.on_reply_message),
            # the library: sharing, reading, withdrawing, organising; search and browsing
            CommandHandler("search", search.cmd_search, filters=private),
            CallbackQueryHandler(library.on_library, pattern=LibraryButton.pattern()),
            CallbackQueryHandler(search.on_find, pattern=FindButton.pattern()),
            # reminders, quiet hours
            CommandHandler("remind", reminders.cmd_remind, filters=private),
            CommandHandler("reminders", reminders.cmd_reminders, filters=private),
            CommandHandler("quiet", quiet.cmd_quiet, filters=private),
            CommandHandler("away", away.cmd_away, filters=private),
            CallbackQueryHandler(away.on_away, pattern=AwayButton.pattern()),
            CallbackQueryHandler(reminders.on_remind, pattern=ReminderButton.pattern()),
            CallbackQueryHandler(reminders.on_list, pattern=ReminderListAction.pattern()),
            # broadcasts
            CommandHandler("broadcast", broadcasts.cmd_broadcast, filters=private),
            CommandHandler("broadcasts", broadcast_list.cmd_broadcasts, filters=private),
            CallbackQueryHandler(broadcasts.on_compose, pattern=BroadcastButton.pattern()),
            CallbackQueryHandler(broadcast_list.on_list, pattern=BroadcastListAction.pattern()),
            # admin: reports and managing the network
            CommandHandler("export", exports.cmd_export, filters=private),
            CommandHandler("stats", stats.cmd_stats, filters=private),
            CommandHandler("cities", cities.cmd_cities, filters=private),
            CommandHandler("invite", invites.cmd_invite, filters=private),
            CommandHandler("audit", audit.cmd_audit, filters=private),
            CallbackQueryHandler(exports.on_export, pattern=ExportButton.pattern()),
            CallbackQueryHandler(stats.on_stats, pattern=StatsButton.pattern()),
            CallbackQueryHandler(cities.on_cities, pattern=CitiesButton.pattern()),
            CallbackQueryHandler(invites.on_invite, pattern=InviteButton.pattern()),
            CallbackQueryHandler(audit.on_audit, pattern=AuditButton.pattern()),
        ],
        group=COMMANDS_GROUP,
    )
    app.add_handler(
        MessageHandler(
            private & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
            dialog.StepRouter(dialog_steps()).route_message,
        ),
        group=MESSAGES_GROUP,
    )
    # Must stay last in group 0: within a group the first match wins, so these only see
    # commands and buttons that no feature claimed.
    app.add_handlers(
        [
            MessageHandler(private & filters.COMMAND, dialog.unknown_command),
            CallbackQueryHandler(stale_button),
        ],
        group=COMMANDS_GROUP,
    )
    app.add_error_handler(error_alerts.on_error)


async def stale_button(update: Update, context: common.Ctx) -> None:
    """A button no feature claimed (old or forged data): say it is no longer active."""
    await common.answer(update.callback_query, _("This button is no longer active."), alert=True)
