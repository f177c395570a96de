"""The Bot the application runs: python-telegram-bot's ExtBot plus sends that keep only the id.

Most of what the bot sends is never read back: a confirmation, a relayed answer whose id is
logged, one part of a long text. python-telegram-bot turns every sendMessage response into a
`Message` (some 150 attributes, nested objects; ~80 µs each in bench/bench_exchange.py), which
on the relay path cost as much as a database write. `send_text_id` sends the same request
through the same machinery (defaults, rate limiter, request object, errors mapped to
`telegram.error`) and reads only `message_id` from the response; the defaults, fixed for the
bot's life, are turned into JSON once instead of per request.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.ext import ExtBot


class ExchangeBot(ExtBot[None]):
    _text_defaults: dict[str, Any] | None = None

    def _defaults_for_text(self) -> dict[str, Any]:
        """The bot's defaults for sendMessage (parse mode, link previews) as plain JSON values,
        worked out once: what Bot._post would insert into every such request."""
        if self._text_defaults is None:
            defaults: dict[str, Any] = {}
            if self.defaults is not None:
                if self.defaults.parse_mode is not None:
                    defaults["parse_mode"] = self.defaults.parse_mode
                if self.defaults.link_preview_options is not None:
                    defaults["link_preview_options"] = self.defaults.link_preview_options.to_dict()
            self._text_defaults = defaults
        return self._text_defaults

    async def send_text_id(
        self, chat_id: int, text: str, reply_markup: InlineKeyboardMarkup | None = None
    ) -> int:
        """sendMessage with the bot's defaults (parse mode, link previews); the new message's id."""
        data: dict[str, Any] = {"chat_id": chat_id, "text": text, **self._defaults_for_text()}
        if reply_markup is not None:
            data["reply_markup"] = reply_markup.to_dict()
        # Bot._post would resolve the defaults per request (as objects, then turned into JSON
        # again); here they are plain values already, so the request goes straight to
        # ExtBot._do_post: the rate limiter, then the request object.
        result = await self._do_post("sendMessage", data)
        assert isinstance(result, dict)
        return int(result["message_id"])
