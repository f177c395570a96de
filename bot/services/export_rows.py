"""One exported batch of the exchange log as rows in COLUMNS order (bot/services/reports.py):
who sent each message, the asker's and the peer's city, local time and response delay (in
plain time, and in the answering city's working hours), the original text and the machine
translation its reader got.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.city_calendar import CityCalendar, working_seconds_between
from bot.db.models import ExchangeKind

RESPONSE_KINDS = {ExchangeKind.ANSWER.value, ExchangeKind.DECLINE.value}
Person = tuple[str | None, int | None, bool]  # shown name, home city id, erased
Place = tuple[str | None, str | None, ZoneInfo]  # city name, country, timezone


def zone_named(name: str | None, cache: dict[str, ZoneInfo]) -> ZoneInfo:
    key = name or "UTC"
    zone = cache.get(key)
    if zone is None:
        try:
            zone = ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        cache[key] = zone
    return zone


def shape(
    part: Sequence[Any],
    people: Mapping[int, Person],
    cities: Mapping[int, Place],
    topics: Mapping[int, str],
    utc: ZoneInfo,
    calendars: Mapping[int, CityCalendar],
) -> list[tuple[Any, ...]]:
    """Rows of the log (bot.db.exchange_stats.stream_messages) as export rows; the texts of
    erased officials are left out."""
    nobody: Person = (None, None, False)
    nowhere: Place = (None, None, utc)
    out: list[tuple[Any, ...]] = []
    for (
        mid,
        created,
        qid,
        kind,
        from_id,
        to_id,
        from_city,
        to_city,
        text,
        asker_id,
        topic_id,
        q_city,
        asked_at,
        translation,
        useful,
    ) in part:
        asker_name, asker_home, _asker_erased = people.get(asker_id, nobody)
        asker_city_id = q_city if q_city is not None else asker_home
        asker_city = cities.get(asker_city_id, nowhere) if asker_city_id else nowhere
        if from_id is not None and from_id == asker_id:
            sent_by, peer_id, peer_city_id = "asker", to_id, to_city
        elif from_id is None:
            sent_by, peer_id, peer_city_id = "bot", to_id, to_city
        else:
            sent_by, peer_id, peer_city_id = "answerer", from_id, from_city
        peer_name, peer_home, _ = people.get(peer_id, nobody) if peer_id else nobody
        if peer_city_id is None:
            peer_city_id = peer_home
        peer_city = cities.get(peer_city_id, nowhere) if peer_city_id else nowhere
        if from_id is not None and people.get(from_id, nobody)[2]:
            text = translation = None
        sent_as = translation or {}
        zone = asker_city[2]
        response = (
            int((created - asked_at).total_seconds())
            if kind in RESPONSE_KINDS and asked_at is not None
            else None
        )
        cal = calendars.get(peer_city_id) if peer_city_id else None
        working = (
            int(working_seconds_between(cal, asked_at, created))
            if response is not None and cal is not None and asked_at is not None
            else None
        )
        out.append(
            (
                mid,
                created,
                created.astimezone(zone),
                zone.key,
                qid,
                topics.get(topic_id, ""),
                kind,
                asker_name,
                asker_city[0],
                asker_city[1],
                peer_name,
                peer_city[0],
                peer_city[1],
                sent_by,
                response,
                working,
                text,
                sent_as.get("from"),
                sent_as.get("to"),
                sent_as.get("status"),
                sent_as.get("text"),
                None if useful is None else ("useful" if useful else "not useful"),
            )
        )
    return out
