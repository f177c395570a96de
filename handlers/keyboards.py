"""Inline keyboards: buttons carrying typed callback data (handlers/callbacks.py), rows, pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.callbacks import MAX_CALLBACK_BYTES, BadCallback, CallbackData

__all__ = ["BadCallback", "button", "markup", "paged", "parse", "parse_int", "rows"]

PAGE_SIZE = 8

# Button data: typed, or (until handlers/exchange.py, followups.py and digest.py move to the
# families of handlers/exchange_buttons.py) the old colon-joined parts.
Data = CallbackData | str


def _encode(data: Data, legacy: Sequence[object] = ()) -> str:
    if isinstance(data, CallbackData):
        return data.encode()
    text = ":".join(str(p) for p in (data, *legacy))
    if len(text.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data too long: {text!r}")
    return text


def parse(data: str | None, prefix: str, *, count: int | None = None) -> list[str]:
    """Old untyped data (the exchange handlers): split `prefix:a:b` into ['a', 'b']."""
    if not data or not data.startswith(prefix + ":"):
        raise BadCallback(data)
    parts = data[len(prefix) + 1 :].split(":")
    if count is not None and len(parts) != count:
        raise BadCallback(data)
    return parts


def parse_int(value: str) -> int:
    """Old untyped data (the exchange handlers): an id or a page."""
    try:
        number = int(value)
    except ValueError:
        raise BadCallback(value) from None
    if not (-(2**62) < number < 2**62):
        raise BadCallback(value)
    return number


def button(text: str, data: Data, *legacy: object) -> InlineKeyboardButton:
    """A button sending `data` (`legacy` parts only with the old string data)."""
    return InlineKeyboardButton(text, callback_data=_encode(data, legacy))


def rows(
    buttons: Sequence[InlineKeyboardButton], width: int = 2
) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]


def markup(*button_rows: Sequence[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(r) for r in button_rows if r])


def paged(
    items: Sequence[tuple[str, Data]],
    page: int,
    page_data: Callable[[int], CallbackData] | str,
    *,
    prev_label: str = "‹",
    next_label: str = "›",
    width: int = 1,
    size: int = PAGE_SIZE,
) -> tuple[list[list[InlineKeyboardButton]], int]:
    """Rows of (label, data) items for one page, plus a ‹ n/m › row when needed.

    `page_data(n)` is the data of the button showing page n (an old string prefix gets the
    page number appended). Returns the rows and the page shown.
    """
    pages = max(1, (len(items) + size - 1) // size)
    page = min(max(page, 0), pages - 1)
    chunk = items[page * size : (page + 1) * size]
    out = rows([button(label, data) for label, data in chunk], width)

    def to(n: int) -> str:
        return page_data(n).encode() if callable(page_data) else _encode(page_data, (n,))

    if pages > 1:
        nav = [
            InlineKeyboardButton(prev_label, callback_data=to((page - 1) % pages)),
            InlineKeyboardButton(f"{page + 1}/{pages}", callback_data=to(page)),
            InlineKeyboardButton(next_label, callback_data=to((page + 1) % pages)),
        ]
        out.append(nav)
    return out, page
