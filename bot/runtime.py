"""What every service needs, built once by the assembly and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db.engine import Database
from bot.translation import Translator

if TYPE_CHECKING:  # numpy loads only when semantic search is on
    from bot.embedding import Encoder


@dataclass
class Deps:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    # The machine translator the settings chose (the assembly builds it); None: off.
    translator: Translator | None = None
    # The sentence encoder of the library's semantic search (SEMANTIC_SEARCH); None: off.
    encoder: Encoder | None = None
