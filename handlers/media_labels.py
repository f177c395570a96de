"""How a question without text is named where only a line of it shows (digest, nudges)."""

from __future__ import annotations

from bot.i18n import _


def media_label(content_type: str) -> str:
    return {
        "photo": _("[photo]"),
        "document": _("[document]"),
        "voice": _("[voice message]"),
        "video": _("[video]"),
    }.get(content_type, _("[attachment]"))
