"""Inline keyboards: buttons carrying typed callback data (handlers/callbacks.py), rows, pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.callbacks import CallbackData

__all__ = ["button", "markup", "paged", "rows"]

PAGE_SIZE = 8


def button(text: str, data: CallbackData) -> InlineKeyboardButton:
    """A button sending `data`."""
    return InlineKeyboardButton(text, callback_data=data.encode())


def rows(
    buttons: Sequence[InlineKeyboardButton], width: int = 2
) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]


def markup(*button_rows: Sequence[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(r) for r in button_rows if r])


def paged(
    items: Sequence[tuple[str, CallbackData]],
    page: int,
    page_data: Callable[[int], CallbackData],
    *,
    prev_label: str = "‹",
    next_label: str = "›",
    width: int = 1,
    size: int = PAGE_SIZE,
) -> tuple[list[list[InlineKeyboardButton]], int]:
    """Rows of (label, data) items for one page, plus a ‹ n/m › row when needed.

    `page_data(n)` is the data of the button showing page n. Returns the rows and the page shown.
    """
    pages = max(1, (len(items) + size - 1) // size)
    page = min(max(page, 0), pages - 1)
    chunk = items[page * size : (page + 1) * size]
    out = rows([button(label, data) for label, data in chunk], width)
    if pages > 1:
        nav = [
            button(prev_label, page_data((page - 1) % pages)),
            button(f"{page + 1}/{pages}", page_data(page)),
            button(next_label, page_data((page + 1) % pages)),
        ]
        out.append(nav)
    return out, page
