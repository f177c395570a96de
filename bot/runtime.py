"""What every service needs, built once by the assembly and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db.engine import Database
from bot.translation import Translator


@dataclass
class Deps:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    # The machine translator the settings chose (the assembly builds it); None: off.
    translator: Translator | None = None
