"""Load cities, topic groups and topics from a TOML or JSON file (idempotent upsert)."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import IntegrityError

from bot import city_calendar
from bot.city_calendar import CalendarError
from bot.db import catalogue
from bot.i18n import SUPPORTED_LOCALES
from bot.runtime import Deps
from bot.services.errors import ErrorCode, InvalidInput

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class SeedResult:
    cities_added: int
    cities_updated: int
    topics_added: int
    topics_updated: int


def read_seed_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            ErrorCode.SEED_FILE, reason=f"cannot read {path}: {exc.strerror}"
        ) from None
    try:
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(ErrorCode.SEED_FILE, reason=f"{path}: {exc}") from None
    validate_seed(data)
    return data


def validate_seed(data: dict[str, Any]) -> None:
    def fail(reason: str) -> None:
        raise InvalidInput(ErrorCode.SEED_FILE, reason=reason)

    groups = {g.get("slug"): g for g in data.get("group", [])}
    for city in data.get("city", []):
        for key in ("name", "country", "timezone"):
            if not isinstance(city.get(key), str) or not city[key].strip():
                fail(f"city {city!r}: '{key}' is required")
        if not re.fullmatch(r"[A-Z]{2}", city["country"]):
            fail(f"city {city['name']}: country must be an ISO code like TN")
        try:
            ZoneInfo(city["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            fail(f"city {city['name']}: unknown timezone {city['timezone']}")
        bad = [x for x in city.get("languages", []) if x not in SUPPORTED_LOCALES]
        if bad:
            fail(f"city {city['name']}: unsupported languages {bad}")
        try:
            city_calendar.normalise_overrides(city["country"], city.get("calendar"))
        except CalendarError as exc:
            fail(f"city {city['name']}: calendar: {exc}")
        names = city.get("names", {})
        if not isinstance(names, dict) or not all(
            loc in SUPPORTED_LOCALES and isinstance(n, str) and 0 < len(n.strip()) <= 40
            for loc, n in names.items()
        ):
            fail(
                f"city {city['name']}: names must map languages "
                f"({', '.join(SUPPORTED_LOCALES)}) to names of at most 40 characters"
            )
    for topic in data.get("topic", []):
        slug = topic.get("slug")
        if not isinstance(slug, str) or not SLUG_RE.match(slug):
            fail(f"topic {topic!r}: slug must be lowercase letters, digits and hyphens")
        if topic.get("group") not in groups:
            fail(f"topic {slug}: unknown group {topic.get('group')!r}")
        if not isinstance(topic.get("names"), dict) or "en" not in topic["names"]:
            fail(f"topic {slug}: names must include at least 'en'")


async def seed(deps: Deps, data: dict[str, Any]) -> SeedResult:
    validate_seed(data)
    now = deps.clock.now()
    groups = {g["slug"]: dict(g.get("names", {})) for g in data.get("group", [])}
    ca = cu = ta = tu = 0
    async with deps.db.transaction() as session:
        existing_cities = await catalogue.cities_by_name(session)
        for entry in data.get("city", []):
            city = existing_cities.get(entry["name"])
            langs = list(dict.fromkeys(entry.get("languages", [])))
            overrides = (
                city_calendar.normalise_overrides(entry["country"], entry.get("calendar")) or None
            )
            names = {loc: n.strip() for loc, n in entry.get("names", {}).items()}
            if city is None:
                catalogue.add_city(
                    session,
                    name=entry["name"],
                    country=entry["country"],
                    timezone=entry["timezone"],
                    languages=langs,
                    names=names,
                    now=now,
                    calendar=overrides,
                )
                ca += 1
            else:
                city.country, city.timezone, city.languages, city.names = (
                    entry["country"],
                    entry["timezone"],
                    langs,
                    names,
                )
                city.calendar = overrides
                cu += 1
        existing_topics = await catalogue.topics_by_slug(session)
        for position, entry in enumerate(data.get("topic", [])):
            topic = existing_topics.get(entry["slug"])
            names = dict(entry["names"])
            group_names = groups.get(entry["group"], {})
            if topic is None:
                catalogue.add_topic(
                    session,
                    slug=entry["slug"],
                    group=entry["group"],
                    names=names,
                    group_names=group_names,
                    position=position,
                )
                ta += 1
            else:
                topic.group, topic.names, topic.group_names = entry["group"], names, group_names
                topic.position = position
                tu += 1
    return SeedResult(ca, cu, ta, tu)


async def seed_if_empty(deps: Deps, path: Path) -> SeedResult | None:
    """First start: load the catalogue from the seed file when there are no cities and no
    topics yet. The file is read (and its calendars checked, which loads the `holidays`
    package) only then, not at every start."""
    async with deps.db.transaction() as session:
        cities = await catalogue.count_cities(session)
        topics = await catalogue.count_topics(session)
    if cities or topics:
        return None
    try:
        return await seed(deps, read_seed_file(path))
    except IntegrityError:
        # Replicas started together on an empty database: another one seeded the catalogue
        # first (this transaction waited for it, then found its cities); its rows stand.
        async with deps.db.read() as session:
            if await catalogue.count_cities(session):
                return None
        raise
