"""The single table of handlers. Groups run in order; within a group the first match wins.

group -100  identity guard: who is writing, in which language; drops non-private chats
group 0     commands and buttons, one handler each (feature modules); Telegram replies to
            relayed exchange messages (they win over an open dialog step)
group 50    plain messages: the open dialog step, else fallbacks (e.g. a reply to a question)
group 100   unknown commands (must stay last: it matches every command)
"""

from __future__ import annotations

import re
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
from handlers import common, dialog, exchange, registration

COMMANDS_GROUP = 0
MESSAGES_GROUP = 50
LAST_GROUP = 100


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    private = filters.ChatType.PRIVATE
    app.add_handler(TypeHandler(Update, common.identify), group=-100)
    app.add_handlers(
        [
            CommandHandler("start", registration.cmd_start, filters=private),
            CommandHandler("help", registration.cmd_help, filters=private),
            CommandHandler("language", registration.cmd_language, filters=private),
            CommandHandler("profile", registration.cmd_profile, filters=private),
            CommandHandler("privacy", registration.cmd_privacy, filters=private),
            CommandHandler("deleteme", registration.cmd_deleteme, filters=private),
            CommandHandler("cancel", registration.cmd_cancel, filters=private),
            CommandHandler("pending", registration.cmd_pending, filters=private),
            CommandHandler("promote", registration.cmd_promote, filters=private),
            CommandHandler("demote", registration.cmd_demote, filters=private),
            CallbackQueryHandler(registration.on_language, pattern=r"^lang:"),
            CallbackQueryHandler(registration.on_registration, pattern=r"^reg:"),
            CallbackQueryHandler(registration.on_topics, pattern=r"^tp:"),
            CallbackQueryHandler(registration.on_languages, pattern=r"^lg:"),
            CallbackQueryHandler(registration.on_profile, pattern=r"^prof:"),
            CallbackQueryHandler(registration.on_delete, pattern=r"^del:"),
            CallbackQueryHandler(registration.on_pending, pattern=r"^pend:"),
            ChatMemberHandler(registration.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER),
            # exchange: a Telegram reply to a relayed message wins over an open dialog step
            CommandHandler("ask", exchange.cmd_ask, filters=private),
            CommandHandler("questions", exchange.cmd_questions, filters=private),
            CommandHandler("inbox", exchange.cmd_inbox, filters=private),
            CallbackQueryHandler(exchange.on_ask, pattern=r"^ask:"),
            CallbackQueryHandler(exchange.on_question_action, pattern=r"^qa:"),
            CallbackQueryHandler(exchange.on_reply_button, pattern=r"^qr:"),
            CallbackQueryHandler(exchange.on_resolve, pattern=r"^qs:"),
            CallbackQueryHandler(exchange.on_manual_route, pattern=r"^qm:"),
            MessageHandler(private & filters.REPLY & ~filters.COMMAND, exchange.on_reply_message),
        ],
        group=COMMANDS_GROUP,
    )
    app.add_handler(
        MessageHandler(private & ~filters.COMMAND & ~filters.StatusUpdate.ALL, dialog.route_message),
        group=MESSAGES_GROUP,
    )
    known = sorted(
        cmd
        for group in app.handlers.values()
        for handler in group
        if isinstance(handler, CommandHandler)
        for cmd in handler.commands
    )
    known_re = filters.Regex(rf"^/({'|'.join(known)})(@\w+)?(\s|$)")
    # Every group runs, so the catch-all must skip data a feature already handled.
    claimed = [
        handler.pattern
        for group in app.handlers.values()
        for handler in group
        if isinstance(handler, CallbackQueryHandler) and isinstance(handler.pattern, re.Pattern)
    ]

    def unclaimed(data: object) -> bool:
        return not (isinstance(data, str) and any(p.match(data) for p in claimed))

    app.add_handlers(
        [
            MessageHandler(private & filters.COMMAND & ~known_re, dialog.unknown_command),
            CallbackQueryHandler(stale_button, pattern=unclaimed),
        ],
        group=LAST_GROUP,
    )
    app.add_error_handler(common.on_error)


async def stale_button(update: Update, context: common.Ctx) -> None:
    """A button no feature claimed (old or forged data): say it is no longer active."""
    await common.answer(update.callback_query, _("This button is no longer active."), alert=True)
