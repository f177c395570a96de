"""What every service needs, built once by the assembly and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db.engine import Database


@dataclass
class Deps:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
