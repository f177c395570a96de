"""The Bot the application runs: python-telegram-bot's ExtBot plus sends that keep only the id.

Most of what the bot sends is never read back: a confirmation, a relayed answer whose id is
logged, one part of a long text. python-telegram-bot turns every sendMessage response into a
`Message` (some 150 attributes, nested objects; ~80 µs each in bench/bench_exchange.py), which
on the relay path cost as much as a database write. `send_text_id` sends the same request
through the same machinery (defaults, rate limiter, request object, errors mapped to
`telegram.error`) and reads only `message_id` from the response.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.ext import ExtBot


class ExchangeBot(ExtBot[None]):
    async def send_text_id(self, chat_id: int, text: str,
                           reply_markup: InlineKeyboardMarkup | None = None) -> int:
        """sendMessage with the bot's defaults (parse mode, link previews); the new message's id."""
        data: dict[str, Any] = {"chat_id": chat_id, "text": text, "reply_markup": reply_markup}
        if self.defaults is not None:
            data["parse_mode"] = self.defaults.parse_mode
            data["link_preview_options"] = self.defaults.link_preview_options
        # Bot._post is the one path every Bot method takes: it drops None values, applies the
        # defaults and goes through ExtBot._do_post (the rate limiter) to the request object.
        result = await self._post("sendMessage", data)
        return int(result["message_id"])
