"""Settings validation, locale negotiation, the seed file and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.__main__ import SAMPLE_SEED, main
from bot.config import ConfigError, load_settings
from bot.db.engine import Database
from bot.db.models import City, Invite, Topic
from bot.i18n import SUPPORTED_LOCALES, negotiate
from bot.runtime import Deps
from bot.services.errors import InvalidInput
from bot.services.seed import read_seed_file, seed, seed_if_empty


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "DATABASE_URL",
        "ADMIN_IDS",
        "DEFAULT_LOCALE",
        "TELEGRAM_API_BASE_URL",
        "BOT_USERNAME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_settings_parse_and_normalise() -> None:
    s = load_settings(
        admin_ids="11, 22 33",
        database_url="postgres://u@h/db",
        telegram_api_base_url="http://127.0.0.1:8081/",
    )
    assert s.admin_ids == frozenset({11, 22, 33})
    assert s.database_url == "postgresql+asyncpg://u@h/db"
    assert s.api_base == "http://127.0.0.1:8081/bot"
    assert s.file_base == "http://127.0.0.1:8081/file/bot"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"admin_ids": "12,abc"}, "ADMIN_IDS"),
        ({"database_url": "mysql://x"}, "DATABASE_URL"),
        ({"database_url": "postgresql://u@127.0.0.1:notaport/db"}, "DATABASE_URL"),
        ({"telegram_api_base_url": "api.telegram.org"}, "TELEGRAM_API_BASE_URL"),
        ({"default_locale": "de"}, "DEFAULT_LOCALE"),
    ],
)
def test_bad_settings_give_one_line(overrides: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(**overrides)
    assert str(err.value).startswith(fragment) and "\n" not in str(err.value)


@pytest.mark.parametrize("token", [None, "", "abc", "123:short"])
def test_missing_or_malformed_token(token: str | None) -> None:
    settings = load_settings(telegram_bot_token=token)
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        settings.require_token()


def test_run_without_token_exits_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("configuration error: TELEGRAM_BOT_TOKEN") and "\n" not in err


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("fr-FR", "fr"),
        ("ar", "ar"),
        ("es-419", "es"),
        ("it-IT", "it"),
        ("en-GB", "en"),
        ("pt-BR", "en"),
        (None, "en"),
        ("", "en"),
    ],
)
def test_negotiate_locale(code: str | None, expected: str) -> None:
    assert negotiate(code) == expected


def test_sample_seed_has_every_city_and_translated_topics() -> None:
    data = read_seed_file(SAMPLE_SEED)
    names = {c["name"] for c in data["city"]}
    assert {
        "Potenza",
        "Rosso",
        "Kaédi",
        "Tevragh Zeina",
        "Boghé",
        "Tintane",
        "Gabès",
        "Mateur",
        "Bou Salem",
        "Kasserine",
        "Siliana",
        "Tataouine",
        "Aïn Draham",
        "Nice",
        "Madrid",
        "Torino",
    } == names
    arabic = {c["name"]: c["names"]["ar"] for c in data["city"]}
    assert arabic["Rosso"] == "روصو" and arabic["Gabès"] == "قابس" and arabic["Nice"] == "نيس"
    assert all(set(name) & set("ابتثجحخدذرزسشصضطظعغفقكلمنهوي") for name in arabic.values())
    assert [c["names"]["it"] for c in data["city"] if c["name"] == "Nice"] == ["Nizza"]
    assert 20 <= len(data["topic"]) <= 40
    for topic in data["topic"]:
        assert set(topic["names"]) == set(SUPPORTED_LOCALES)
        assert len({topic["names"][loc] for loc in ("en", "fr", "ar")}) == 3  # really translated


async def test_seed_is_idempotent(deps) -> None:  # type: ignore[no-untyped-def]
    data = read_seed_file(SAMPLE_SEED)
    first = await seed(deps, data)
    second = await seed(deps, data)
    assert first.cities_added == 16 and second.cities_added == 0 and second.cities_updated == 16
    async with deps.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(City)) == 16
        assert await s.scalar(select(func.count()).select_from(Topic)) == len(data["topic"])
        rosso = await s.scalar(select(City).where(City.name == "Rosso"))
        assert rosso is not None and rosso.names == {"ar": "روصو"}


def test_bad_seed_file_is_explained(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[city]]\nname = "X"\ncountry = "Tunisia"\ntimezone = "Africa/Tunis"\n')
    with pytest.raises(InvalidInput) as err:
        read_seed_file(bad)
    assert "ISO code" in str(err.value.details["reason"])
    bad.write_text('[[city]]\nname = "X"\ncountry = "TN"\ntimezone = "Mars/Base"\n')
    with pytest.raises(InvalidInput) as err:
        read_seed_file(bad)
    assert "timezone" in str(err.value.details["reason"])
    bad.write_text(
        '[[city]]\nname = "X"\ncountry = "TN"\ntimezone = "Africa/Tunis"\nnames = { de = "Y" }\n'
    )
    with pytest.raises(InvalidInput) as err:
        read_seed_file(bad)
    assert "names must map languages" in str(err.value.details["reason"])


@pytest.mark.sqlite_only
def test_cli_seed_and_invite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("BOT_USERNAME", "CityExchangeBot")
    assert main(["seed"]) == 0
    assert "cities: 16 added" in capsys.readouterr().out
    assert (
        main(
            ["invite", "--city", "gabès", "--role", "organiser", "--uses", "2", "--expires", "14d"]
        )
        == 0
    )
    out = capsys.readouterr()
    link = out.out.strip()
    assert link.startswith("https://t.me/CityExchangeBot?start=")
    assert "city=Gabès role=organiser uses=2" in out.err
    assert main(["invite", "--city", "Atlantis"]) == 1
    assert "Atlantis" in capsys.readouterr().err

    async def check() -> None:
        db = Database(url)
        async with db.transaction() as s:
            invite = await s.scalar(select(Invite))
            assert (
                invite is not None
                and invite.code == link.rsplit("=", 1)[1]
                and invite.uses_left == 2
            )
        await db.dispose()

    import asyncio

    asyncio.run(check())


async def test_the_start_seeds_an_empty_catalogue_and_reads_no_seed_file_after(
    deps: Deps, tmp_path: Path
) -> None:
    assert await seed_if_empty(deps, SAMPLE_SEED) is not None
    async with deps.db.transaction() as s:
        cities = await s.scalar(select(func.count()).select_from(City))
    assert cities == len(read_seed_file(SAMPLE_SEED)["city"])
    # Seeded: later starts do not even open the file (a broken one would stop them).
    broken = tmp_path / "seed.toml"
    broken.write_text("[[city]\n", encoding="utf-8")
    assert await seed_if_empty(deps, broken) is None
