"""The model enums the handlers need (roles, statuses), so that handlers never import bot.db."""

from __future__ import annotations

from bot.db.models import OfficialStatus, Role

__all__ = ["OfficialStatus", "Role"]
