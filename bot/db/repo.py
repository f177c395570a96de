"""Transitional: the queries that moved to bot/db/officials, catalogue, dialogs and audit_log,
under their old names, for the services not yet moved over. Remove once nothing imports it."""

from __future__ import annotations

from bot.db.audit_log import record as audit
from bot.db.catalogue import all_cities, all_topics, city_by_id, city_by_name
from bot.db.dialogs import clear_dialog, get_dialog, put_dialog
from bot.db.officials import official_by_tg, topic_ids_of

__all__ = [
    "all_cities",
    "all_topics",
    "audit",
    "city_by_id",
    "city_by_name",
    "clear_dialog",
    "get_dialog",
    "official_by_tg",
    "put_dialog",
    "topic_ids_of",
]
