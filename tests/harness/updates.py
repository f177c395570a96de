"""Builders for the updates a person's phone would send, and a harness that drives the bot."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application

from tests.harness.bot_api_core import BOT_USER
from tests.harness.telegram import RecordingRequest

_update_ids = itertools.count(1)


@dataclass(frozen=True)
class TgUser:
    id: int
    first_name: str = "Amina"
    language_code: str | None = "en"
    last_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            d["language_code"] = self.language_code
        if self.last_name:
            d["last_name"] = self.last_name
        return d

    def chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}


class Harness:
    """Drives a real Application with updates; `tg` records what it sent."""

    def __init__(
        self, app: Application[Any, Any, Any, Any, Any, Any], tg: RecordingRequest
    ) -> None:
        self.app = app
        self.tg = tg

    @property
    def deps(self) -> Any:
        return self.app.bot_data.deps

    # ---- building ---------------------------------------------------------------------
    def message_dict(
        self, user: TgUser, text: str | None = None, *, reply_to: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        """The Message JSON of what the user sends (the fake keeps it, so the bot can copy it)."""
        if reply_to is not None:
            original = self.tg.core.find(user.id, reply_to)
            fields["reply_to_message"] = (
                original.raw
                if original is not None
                else {
                    "message_id": reply_to,
                    "date": int(time.time()),
                    "chat": user.chat(),
                    "from": BOT_USER,
                }
            )
        return self.tg.core.user_message(user.to_dict(), user.chat(), text, **fields)

    def update(self, payload: dict[str, Any]) -> Update:
        payload = dict(payload, update_id=next(_update_ids))
        return Update.de_json(payload, self.app.bot)

    # ---- driving ----------------------------------------------------------------------
    async def process(self, payload: dict[str, Any]) -> Update:
        update = self.update(payload)
        await self.app.process_update(update)
        return update

    async def send(
        self, user: TgUser, text: str | None = None, *, reply_to: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        """The user sends a message (text, or media given as fields, e.g. photo=[...])."""
        msg = self.message_dict(user, text, reply_to=reply_to, **fields)
        await self.process({"message": msg})
        return msg

    async def command(self, user: TgUser, command: str) -> dict[str, Any]:
        return await self.send(user, command)

    async def callback(self, user: TgUser, data: str, message_id: int | None = None) -> None:
        """The user taps a button with this callback data (forged data too)."""
        query = self.tg.core.callback_query(user.to_dict(), user.chat(), data, message_id)
        await self.process({"callback_query": query})

    async def inline_callback(self, user: TgUser, data: str) -> None:
        """The user taps a button on a message sent in inline mode (no message, no chat)."""
        await self.process(
            {"callback_query": self.tg.core.inline_callback_query(user.to_dict(), data)}
        )

    async def press(self, user: TgUser, label: str) -> None:
        """The user taps the newest button whose text contains `label`."""
        message_id, data = self.tg.find_button(user.id, label)
        await self.callback(user, data, message_id)

    async def block(self, user: TgUser) -> None:
        """The user blocks the bot: Telegram answers 403 and sends my_chat_member 'kicked'."""
        self.tg.block(user.id)
        await self.process(
            {
                "my_chat_member": {
                    "chat": user.chat(),
                    "from": user.to_dict(),
                    "date": int(time.time()),
                    "old_chat_member": {"status": "member", "user": BOT_USER},
                    "new_chat_member": {"status": "kicked", "user": BOT_USER, "until_date": 0},
                }
            }
        )

    # ---- reading ----------------------------------------------------------------------
    def texts(self, user: TgUser | int) -> list[str]:
        return self.tg.texts(user if isinstance(user, int) else user.id)

    def last_text(self, user: TgUser | int) -> str:
        return self.tg.last_text(user if isinstance(user, int) else user.id)

    def transcript(self) -> str:
        return self.tg.transcript()


PHOTO = [
    {
        "file_id": "photo-in-1",
        "file_unique_id": "pin1",
        "width": 640,
        "height": 480,
        "file_size": 2048,
    }
]
DOCUMENT = {
    "file_id": "doc-in-1",
    "file_unique_id": "din1",
    "file_name": "plan.pdf",
    "mime_type": "application/pdf",
}
VOICE = {"file_id": "voice-in-1", "file_unique_id": "vin1", "duration": 4, "mime_type": "audio/ogg"}
STICKER = {
    "file_id": "sticker-1",
    "file_unique_id": "st1",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}
LOCATION = {"latitude": 33.8815, "longitude": 10.0982}


def tr(locale: str, msgid: str) -> str:
    """What a person with this locale reads for `msgid` (tests press buttons by their label)."""
    from bot.i18n import _, use_locale

    with use_locale(locale):
        return _(msgid)
