"""Inline keyboards and callback-data codecs (Telegram allows 64 bytes of callback data)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

MAX_CALLBACK_BYTES = 64
PAGE_SIZE = 8


class BadCallback(ValueError):
    """Callback data that this bot did not make (forged, truncated or from an old version)."""


def cb(*parts: object) -> str:
    data = ":".join(str(p) for p in parts)
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def parse(data: str | None, prefix: str, *, count: int | None = None) -> list[str]:
    """Split `prefix:a:b` into ['a', 'b']; refuse anything else."""
    if not data or not data.startswith(prefix + ":"):
        raise BadCallback(data)
    parts = data[len(prefix) + 1 :].split(":")
    if count is not None and len(parts) != count:
        raise BadCallback(data)
    return parts


def parse_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadCallback(value) from None
    if not (-(2**62) < number < 2**62):
        raise BadCallback(value)
    return number


def button(text: str, *data: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=cb(*data))


def rows(
    buttons: Sequence[InlineKeyboardButton], width: int = 2
) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]


def markup(*button_rows: Sequence[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(r) for r in button_rows if r])


def paged(
    items: Sequence[tuple[str, str]],
    page: int,
    page_cb: str,
    *,
    prev_label: str = "‹",
    next_label: str = "›",
    width: int = 1,
    size: int = PAGE_SIZE,
) -> tuple[list[list[InlineKeyboardButton]], int]:
    """Rows of (label, callback_data) items for one page, plus a ‹ n/m › row when needed.

    `page_cb` is a prefix; the page number is appended. Returns the rows and the page shown.
    """
    pages = max(1, (len(items) + size - 1) // size)
    page = min(max(page, 0), pages - 1)
    chunk = items[page * size : (page + 1) * size]
    out = rows([InlineKeyboardButton(label, callback_data=data) for label, data in chunk], width)
    if pages > 1:
        nav = [
            InlineKeyboardButton(prev_label, callback_data=cb(page_cb, (page - 1) % pages)),
            InlineKeyboardButton(f"{page + 1}/{pages}", callback_data=cb(page_cb, page)),
            InlineKeyboardButton(next_label, callback_data=cb(page_cb, (page + 1) % pages)),
        ]
        out.append(nav)
    return out, page
