"""The Bot API call one outbox row becomes: a copy of a message (with a machine-translated
caption in place of its own when the row carries one), or an HTML text."""

from __future__ import annotations

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, MessageId
from telegram.constants import ParseMode

from bot.telegram_io.send_outcomes import Job


async def send_job(bot: Bot, job: Job) -> Message | MessageId:
    markup = InlineKeyboardMarkup.de_json(job.reply_markup, bot) if job.reply_markup else None
    if job.method == "copy":
        assert job.from_chat_id is not None and job.message_id is not None
        return await bot.copy_message(
            job.chat_id,
            job.from_chat_id,
            job.message_id,
            caption=job.text,  # None: the message's own caption
            parse_mode=ParseMode.HTML if job.text is not None else None,
            reply_markup=markup,
        )
    return await bot.send_message(
        job.chat_id,
        job.text or "",
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
