"""Button data of the library: sharing a resolved question, reading an entry, withdrawing
one's words, the organisers' pin / title / remove, and browsing by topic
(handlers/callbacks.py). The "Asked before?" buttons are /ask's (exchange_buttons)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.callbacks import CallbackData


class LibraryButton(CallbackData, prefix="lib"):
    """Every button of the library."""


@dataclass(frozen=True)
class LibShare(LibraryButton, action="share"):
    question_id: int


@dataclass(frozen=True)
class LibPrivate(LibraryButton, action="private"):
    question_id: int


@dataclass(frozen=True)
class LibRead(LibraryButton, action="read"):
    entry_id: int


@dataclass(frozen=True)
class LibWithdraw(LibraryButton, action="withdraw"):
    entry_id: int


@dataclass(frozen=True)
class LibPin(LibraryButton, action="pin"):
    entry_id: int


@dataclass(frozen=True)
class LibTitle(LibraryButton, action="title"):
    entry_id: int


@dataclass(frozen=True)
class LibRemove(LibraryButton, action="remove"):
    entry_id: int


class FindButton(CallbackData, prefix="find"):
    """Browsing the library by topic (/search without words)."""


@dataclass(frozen=True)
class FindTopics(FindButton, action="topics"):
    page: int


@dataclass(frozen=True)
class FindTopic(FindButton, action="topic"):
    topic_id: int
    page: int
