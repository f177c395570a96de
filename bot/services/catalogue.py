"""The catalogue of cities and topics as services and handlers see it, and listing it."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.db import catalogue
from bot.db.catalogue import CityName as CityName  # what handlers name cities by
from bot.db.models import City, Topic
from bot.runtime import Deps


@dataclass(frozen=True)
class CityInfo:
    id: int
    name: str
    country: str
    timezone: str
    languages: list[str]
    names: dict[str, str] = field(default_factory=dict)  # locale -> name, where it differs


@dataclass(frozen=True)
class TopicInfo:
    id: int
    slug: str
    group: str
    names: dict[str, str]
    group_names: dict[str, str]

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names.get("en") or self.slug

    def group_name(self, locale: str) -> str:
        return self.group_names.get(locale) or self.group_names.get("en") or self.group


def city_info(city: City) -> CityInfo:
    return CityInfo(
        city.id,
        city.name,
        city.country,
        city.timezone,
        list(city.languages or []),
        dict(city.names or {}),
    )


def topic_info(topic: Topic) -> TopicInfo:
    return TopicInfo(topic.id, topic.slug, topic.group, dict(topic.names), dict(topic.group_names))


async def list_cities(deps: Deps) -> list[CityInfo]:
    async with deps.db.transaction() as session:
        return [city_info(c) for c in await catalogue.all_cities(session)]


async def list_topics(deps: Deps) -> list[TopicInfo]:
    async with deps.db.transaction() as session:
        return [topic_info(t) for t in await catalogue.all_topics(session)]
