"""The exchange log export (each format read back with its standard reader), filters, erased
officials, statistics, the chart and the command line."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import struct
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bot import charts
from bot.db.models import (
    City,
    ExchangeKind,
    ExchangeMessage,
    Official,
    Question,
    QuestionStatus,
    Routing,
    RoutingStatus,
    Topic,
)
from bot.exporters import write_export
from bot.runtime import Deps
from bot.services import reports
from bot.services.erasure import erase
from bot.services.errors import NotAllowed
from handlers.profile_texts import withdrawn_notice
from tests.conftest import ADMIN_TG_ID
from tests.factories import make_city, make_official, make_topic

SAMI = "سامي بن علي"
QUESTION_AR = "كيف تستعدون لموسم الفيضانات؟"
FOLLOW_UP_AR = "شكرا جزيلا! هل لديكم خطة مكتوبة؟"


@dataclass
class History:
    gabes: City
    madrid: City
    nice: City
    potenza: City
    flood: Topic
    warning: Topic
    sami: Official
    lucia: Official
    helene: Official
    marco: Official
    q1: int
    q2: int


def t(day: str, hm: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}:00+00:00")


async def add_question(deps: Deps, asker: Official, topic: Topic, text: str, at: datetime) -> int:
    async with deps.db.transaction() as s:
        q = Question(
            asker_id=asker.id,
            topic_id=topic.id,
            city_id=asker.city_id,
            text=text,
            status=QuestionStatus.OPEN,
            created_at=at,
        )
        s.add(q)
        await s.flush()
        s.add(
            ExchangeMessage(
                question_id=q.id,
                from_official_id=asker.id,
                from_city_id=asker.city_id,
                kind=ExchangeKind.QUESTION,
                text=text,
                created_at=at,
            )
        )
        return q.id


async def add_message(
    deps: Deps,
    qid: int,
    kind: ExchangeKind,
    sender: Official | None,
    to: Official | None,
    text: str | None,
    at: datetime,
) -> None:
    async with deps.db.transaction() as s:
        s.add(
            ExchangeMessage(
                question_id=qid,
                kind=kind,
                text=text,
                created_at=at,
                from_official_id=sender.id if sender else None,
                from_city_id=sender.city_id if sender else None,
                to_official_id=to.id if to else None,
                to_city_id=to.city_id if to else None,
            )
        )
        if kind == ExchangeKind.ROUTING and to is not None:
            assert to.city_id is not None
            s.add(
                Routing(
                    question_id=qid,
                    recipient_id=to.id,
                    city_id=to.city_id,
                    status=RoutingStatus.DELIVERED,
                    created_at=at,
                    delivered_at=at,
                )
            )


async def seed_history(deps: Deps) -> History:
    """Two questions: one from Gabès answered from Madrid (recent), one from Nice answered from
    Potenza by an official who then erased their data (older than 30 days)."""
    db = deps.db
    gabes = await make_city(db, "Gabès", "TN", "Africa/Tunis")
    madrid = await make_city(db, "Madrid", "ES", "Europe/Madrid", ["es"])
    nice = await make_city(db, "Nice", "FR", "Europe/Paris", ["fr"])
    potenza = await make_city(db, "Potenza", "IT", "Europe/Rome", ["it"])
    flood = await make_topic(
        db, "flood-risk", "drr", {"en": "Flood risk", "fr": "Risque d'inondation"}
    )
    warning = await make_topic(db, "early-warning", "alerts", {"en": "Early warning"}, position=1)
    sami = await make_official(db, gabes, name=SAMI, topics=[flood], locale="ar")
    lucia = await make_official(db, madrid, name="Lucía Fernández", topics=[flood], locale="es")
    helene = await make_official(db, nice, name="Hélène Müller", topics=[warning], locale="fr")
    marco = await make_official(db, potenza, name="Marco Rossi", topics=[warning], locale="it")

    q1 = await add_question(deps, sami, flood, QUESTION_AR, t("2026-02-20"))
    await add_message(deps, q1, ExchangeKind.ROUTING, sami, lucia, None, t("2026-02-20", "10:01"))
    await add_message(
        deps,
        q1,
        ExchangeKind.ANSWER,
        lucia,
        sami,
        "Usamos alertas tempranas por SMS, ¿y ustedes?",
        t("2026-02-20", "12:30"),
    )
    await add_message(
        deps, q1, ExchangeKind.FOLLOW_UP, sami, lucia, FOLLOW_UP_AR, t("2026-02-20", "13:00")
    )
    await add_message(deps, q1, ExchangeKind.RESOLVED, sami, None, None, t("2026-02-20", "14:00"))
    await add_message(deps, q1, ExchangeKind.NUDGE, None, lucia, None, t("2026-02-21"))

    q2 = await add_question(
        deps, helene, warning, '=HYPERLINK("x") sirènes, alerte', t("2026-01-10", "08:00")
    )
    await add_message(deps, q2, ExchangeKind.ROUTING, helene, marco, None, t("2026-01-10", "08:01"))
    await add_message(
        deps,
        q2,
        ExchangeKind.DECLINE,
        sami,
        helene,
        "Not my field, sorry",
        t("2026-01-10", "09:00"),
    )
    await add_message(
        deps,
        q2,
        ExchangeKind.ANSWER,
        marco,
        helene,
        "Abbiamo sirene in ogni quartiere",
        t("2026-01-11", "08:00"),
    )
    await erase(deps, marco.tg_user_id, withdrawn_notice)
    return History(gabes, madrid, nice, potenza, flood, warning, sami, lucia, helene, marco, q1, q2)


EXPECTED = [
    # (question, kind, asker, asker city, answerer, answerer city, sent_by, response, text)
    (
        "q2",
        "question",
        "Hélène Müller",
        "Nice",
        None,
        None,
        "asker",
        None,
        '=HYPERLINK("x") sirènes, alerte',
    ),
    ("q2", "routing", "Hélène Müller", "Nice", "(erased)", "Potenza", "asker", None, None),
    (
        "q2",
        "decline",
        "Hélène Müller",
        "Nice",
        SAMI,
        "Gabès",
        "answerer",
        3600,
        "Not my field, sorry",
    ),
    ("q2", "answer", "Hélène Müller", "Nice", "(erased)", "Potenza", "answerer", 86400, None),
    ("q1", "question", SAMI, "Gabès", None, None, "asker", None, QUESTION_AR),
    ("q1", "routing", SAMI, "Gabès", "Lucía Fernández", "Madrid", "asker", None, None),
    (
        "q1",
        "answer",
        SAMI,
        "Gabès",
        "Lucía Fernández",
        "Madrid",
        "answerer",
        9000,
        "Usamos alertas tempranas por SMS, ¿y ustedes?",
    ),
    ("q1", "follow_up", SAMI, "Gabès", "Lucía Fernández", "Madrid", "asker", None, FOLLOW_UP_AR),
    ("q1", "resolved", SAMI, "Gabès", None, None, "asker", None, None),
]


def expected_keys(h: History) -> list[tuple[Any, ...]]:
    ids = {"q1": h.q1, "q2": h.q2}
    return [(ids[q], *rest) for q, *rest in EXPECTED]


def key_of(row: dict[str, Any]) -> tuple[Any, ...]:
    def blank(v: Any) -> Any:
        return None if v in ("", None) else v

    response = blank(row["response_seconds"])
    return (
        int(row["question_id"]),
        row["kind"],
        row["asker_name"],
        row["asker_city"],
        blank(row["answerer_name"]),
        blank(row["answerer_city"]),
        row["sent_by"],
        int(response) if response is not None else None,
        blank(row["text"]),
    )


async def export(
    deps: Deps, fmt: str, directory: Path, flt: reports.ExportFilter | None = None, **kwargs: Any
) -> list[Path]:
    result = await write_export(
        reports.export_rows(deps, flt or reports.ExportFilter(), batch=3),
        fmt,
        directory,
        "exchanges",
        reports.COLUMNS,
        datetime_columns=reports.DATETIME_COLUMNS,
        text_columns=reports.TEXT_COLUMNS,
        **kwargs,
    )
    return [f.path for f in result.files]


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM for Excel"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def unformula(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Undo the quote the CSV puts before text a spreadsheet would run as a formula."""
    for row in rows:
        if isinstance(row["text"], str) and row["text"].startswith("'="):
            row["text"] = row["text"][1:]
    return rows


async def test_csv_export_holds_the_history(deps: Deps, tmp_path: Path) -> None:
    h = await seed_history(deps)
    (path,) = await export(deps, "csv", tmp_path)
    assert path.name == "exchanges.csv"
    rows = read_csv(path.read_bytes())
    assert list(rows[0].keys()) == list(reports.COLUMNS)
    assert rows[0]["text"].startswith("'=HYPERLINK")  # a formula stays text in Excel
    assert [key_of(r) for r in unformula(rows)] == expected_keys(h)
    first_q1 = rows[4]
    assert first_q1["time_utc"] == "2026-02-20 10:00:00"
    assert first_q1["time_local"] == "2026-02-20 11:00:00"  # Tunis, UTC+1
    assert first_q1["asker_timezone"] == "Africa/Tunis"
    assert first_q1["asker_country"] == "TN" and rows[5]["answerer_country"] == "ES"
    assert first_q1["topic"] == "Flood risk"
    assert all("Marco" not in value for r in rows for value in r.values())


async def test_xlsx_export_holds_the_history(deps: Deps, tmp_path: Path) -> None:
    h = await seed_history(deps)
    (path,) = await export(deps, "xlsx", tmp_path)
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    header, body = values[0], values[1:]
    assert header == reports.COLUMNS
    rows = [dict(zip(header, v, strict=True)) for v in body]
    assert [key_of(r) for r in rows] == expected_keys(h)
    assert rows[4]["time_utc"] == datetime(2026, 2, 20, 10, 0)
    assert rows[4]["time_local"] == datetime(2026, 2, 20, 11, 0)
    assert rows[4]["text"] == QUESTION_AR


async def test_jsonl_export_holds_the_history(deps: Deps, tmp_path: Path) -> None:
    h = await seed_history(deps)
    (path,) = await export(deps, "jsonl", tmp_path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [key_of(r) for r in rows] == expected_keys(h)
    assert rows[4]["time_utc"] == "2026-02-20T10:00:00+00:00"
    assert rows[4]["time_local"] == "2026-02-20T11:00:00+01:00"
    assert rows[3]["answerer_name"] == "(erased)" and rows[3]["text"] is None
    assert SAMI in path.read_text(encoding="utf-8")  # not \u-escaped


async def test_filters(deps: Deps, tmp_path: Path) -> None:
    h = await seed_history(deps)
    now = deps.clock.now()

    async def kinds(flt: reports.ExportFilter) -> list[tuple[int, str]]:
        batches = [b async for b in reports.export_rows(deps, flt)]
        return [(row[4], row[6]) for batch in batches for row in batch]

    since, until = reports.period_filter(now, "30")
    assert {q for q, _k in await kinds(reports.ExportFilter(since, until))} == {h.q1}
    assert await reports.count_rows(deps, reports.ExportFilter(since, until)) == 5
    assert await kinds(reports.ExportFilter(city_ids=(h.potenza.id,))) == [
        (h.q2, "routing"),
        (h.q2, "answer"),
    ]
    assert len(await kinds(reports.ExportFilter(countries=("TN",)))) == 6
    assert {q for q, _k in await kinds(reports.ExportFilter(topic_ids=(h.warning.id,)))} == {h.q2}
    both = reports.ExportFilter(city_ids=(h.madrid.id,), countries=("tn",))
    assert await kinds(both) == [(h.q1, "routing"), (h.q1, "answer"), (h.q1, "follow_up")]
    start, end = reports.parse_dates("2026-01-11 2026-02-20", now)
    assert await kinds(reports.ExportFilter(start, end)) == [
        (h.q2, "answer"),
        (h.q1, "question"),
        (h.q1, "routing"),
        (h.q1, "answer"),
        (h.q1, "follow_up"),
        (h.q1, "resolved"),
    ]


async def test_only_admins_start_an_export(deps: Deps) -> None:
    h = await seed_history(deps)
    with pytest.raises(NotAllowed):
        await reports.start_export(deps, h.sami.tg_user_id, reports.ExportFilter(), "csv")
    started = await reports.start_export(deps, ADMIN_TG_ID, reports.ExportFilter(), "csv")
    assert started.rows == len(EXPECTED)


def test_parse_dates_refuses_garbage() -> None:
    now = datetime(2026, 3, 2, tzinfo=UTC)
    for text in ("soon", "2026-13-01 2026-12-01", "2026-02-01 2026-01-01", "1 2 3"):
        with pytest.raises(reports.InvalidInput):
            reports.parse_dates(text, now)
    assert reports.parse_dates("2026-02-01", now) == (
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 3, 3, tzinfo=UTC),
    )


async def rows_of(n: int, text_size: int = 80, seed: int = 7) -> Any:
    rnd = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzسلامéàü     "
    batch: list[tuple[Any, ...]] = []
    for i in range(n):
        text = "".join(rnd.choice(alphabet) for _ in range(text_size))
        when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
        batch.append(
            (
                i,
                when,
                when,
                "UTC",
                i // 3,
                "Flood risk",
                "answer",
                SAMI,
                "Gabès",
                "TN",
                "Lucía",
                "Madrid",
                "ES",
                "answerer",
                60,
                60,
                text,
                "es",
                "ar",
                "translated",
                "[ar] " + text,
                "useful",
            )
        )
        if len(batch) == 100:
            yield batch
            batch = []
    if batch:
        yield batch


async def test_parts_stay_under_the_limit_and_open_alone(tmp_path: Path) -> None:
    for fmt in ("csv", "jsonl", "xlsx"):
        out = tmp_path / fmt
        out.mkdir()
        result = await write_export(
            rows_of(600),
            fmt,
            out,
            "log",
            reports.COLUMNS,
            part_limit=30_000,
            datetime_columns=reports.DATETIME_COLUMNS,
        )
        assert len(result.files) > 1, fmt
        total = 0
        for part in result.files:
            assert part.path.stat().st_size <= 30_000, (fmt, part.path.stat().st_size)
            if fmt == "csv":
                got = read_csv(part.path.read_bytes())
            elif fmt == "jsonl":
                got = [json.loads(x) for x in part.path.read_text(encoding="utf-8").splitlines()]
            else:
                got = list(
                    openpyxl.load_workbook(part.path, read_only=True).active.iter_rows(  # type: ignore[union-attr]
                        min_row=2, values_only=True
                    )
                )
            assert len(got) == part.rows
            total += part.rows
        assert total == 600 == result.rows
        assert [p.path.name for p in result.files][:2] == [f"log.{fmt}", f"log-part2.{fmt}"]


async def test_large_parts_are_zipped_and_stay_under_the_limit(tmp_path: Path) -> None:
    result = await write_export(
        rows_of(3000, text_size=200),
        "csv",
        tmp_path,
        "log",
        reports.COLUMNS,
        part_limit=200_000,
        compress_at=50_000,
    )
    assert len(result.files) > 1
    seen = 0
    for part in result.files:
        assert part.path.suffix == ".zip"
        assert part.path.stat().st_size <= 200_000
        with zipfile.ZipFile(part.path) as zf:
            (name,) = zf.namelist()
            assert name.endswith(".csv")
            got = read_csv(zf.read(name))
        assert len(got) == part.rows
        assert int(got[0]["message_id"]) == seen
        seen += part.rows
    assert seen == 3000
    small = await write_export(
        rows_of(10),
        "jsonl",
        tmp_path,
        "small",
        reports.COLUMNS,
        part_limit=200_000,
        compress_at=50_000,
    )
    assert [f.path.name for f in small.files] == ["small.jsonl"]


async def test_stats(deps: Deps) -> None:
    h = await seed_history(deps)
    everything = await reports.stats(deps, ADMIN_TG_ID, None)
    assert (everything.questions, everything.answered, everything.answers) == (2, 2, 2)
    assert everything.answer_rate == 1.0
    assert everything.median_first_answer == timedelta(seconds=(9000 + 86400) / 2)
    assert everything.top_topics == [("Flood risk", 1), ("Early warning", 1)]
    assert [(c.city, c.count) for c in everything.helpful_cities] == [("Madrid", 1), ("Potenza", 1)]
    assert [(c.city, c.count) for c in everything.active_officials] == [
        ("Madrid", 1),
        ("Nice", 1),
        ("Gabès", 1),
    ]
    recent = await reports.stats(deps, ADMIN_TG_ID, *reports.period_filter(deps.clock.now(), "30"))
    assert (recent.questions, recent.answered) == (1, 1)
    assert recent.median_first_answer == timedelta(hours=2, minutes=30)
    with pytest.raises(NotAllowed):
        await reports.stats(deps, h.sami.tg_user_id, None)
    series = await reports.weekly_series(deps, ADMIN_TG_ID, None)
    assert series.groups == ["ALERTS", "DRR"]
    assert sum(series.questions["DRR"]) == 1 and sum(series.answers["ALERTS"]) == 1
    assert series.weeks[0].isoformat() == "2026-01-05"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_chart_is_a_png_of_the_expected_size(deps: Deps) -> None:
    await seed_history(deps)
    series = await reports.weekly_series(deps, ADMIN_TG_ID, None)
    png = charts.weekly_chart(
        series.weeks,
        series.questions,
        series.answers,
        title="أسئلة",
        questions_label="Questions",
        answers_label="Answers",
        week_label="Week",
    )
    assert png_size(png) == (charts.WIDTH_PX, charts.HEIGHT_PX)
    empty = charts.weekly_chart(
        [], {}, {}, title="t", questions_label="q", answers_label="a", week_label="w"
    )
    assert png_size(empty) == (charts.WIDTH_PX, charts.HEIGHT_PX)


async def test_cli_export_and_stats(
    deps: Deps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.__main__ import main

    h = await seed_history(deps)
    monkeypatch.setenv("DATABASE_URL", deps.settings.database_url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    target = tmp_path / "out" / "exchanges.xlsx"
    code = await asyncio.to_thread(
        main, ["export", "--since", "2026-01-01", "--format", "xlsx", "-o", str(target)]
    )
    assert code == 0
    body = list(
        openpyxl.load_workbook(target, read_only=True).active.iter_rows(  # type: ignore[union-attr]
            min_row=2, values_only=True
        )
    )
    assert len(body) == len(EXPECTED)
    assert "exported 9 rows" in capsys.readouterr().err

    jsonl = tmp_path / "tn.jsonl"
    code = await asyncio.to_thread(
        main,
        [
            "export",
            "--country",
            "TN",
            "--topic",
            "flood-risk",
            "--until",
            "2026-02-20",
            "-o",
            str(jsonl),
            "--no-progress",
        ],
    )
    assert code == 0
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 5
    # Only the Tunisian question on flood risk, and its text as Sami wrote it.
    assert {row["question_id"] for row in rows} == {h.q1}
    assert [row["text"] for row in rows if row["kind"] == "question"] == [QUESTION_AR]
    code = await asyncio.to_thread(main, ["export", "--city", "Atlantis", "-o", str(jsonl)])
    assert code == 1
    assert "city" in capsys.readouterr().err

    code = await asyncio.to_thread(main, ["stats"])
    assert code == 0
    out = capsys.readouterr().out
    assert "questions asked: 2" in out and "answered: 2 (100%)" in out
    assert "Gabès (TN): 1" in out


async def test_xlsx_cells_read_back_as_written(tmp_path: Path) -> None:
    """Opened with a reader library (openpyxl), as Excel or LibreOffice would open it: text
    stays text (no formula, no link, nothing turned into a number), control characters XML
    cannot hold are gone, times are dates shown to the second, and the header stays in view."""

    async def rows() -> AsyncIterator[list[tuple[Any, ...]]]:
        yield [
            (
                1,
                datetime(2026, 2, 20, 10, 0, 5, tzinfo=UTC),
                '=HYPERLINK("http://evil.example")',
                "https://example.org/a",
                "a\x01b\x0bc\td",
                "-5",
                None,
                42,
            ),
            (2, None, "+1", "٣ أيام", "", "0012", "x", 7.5),
        ]

    columns = ["id", "time_utc", "formula", "url", "control", "number_text", "empty", "n"]
    result = await write_export(
        rows(), "xlsx", tmp_path, "cells", columns, datetime_columns=frozenset({1})
    )
    (part,) = result.files
    assert (part.path.name, part.rows, result.rows) == ("cells.xlsx", 2, 2)
    sheet = openpyxl.load_workbook(part.path).active
    assert sheet is not None
    assert list(sheet.iter_rows(values_only=True)) == [
        tuple(columns),
        (
            1,
            datetime(2026, 2, 20, 10, 0, 5),
            '=HYPERLINK("http://evil.example")',
            "https://example.org/a",
            "abc\td",
            "-5",
            None,
            42,
        ),
        (2, None, "+1", "٣ أيام", "", "0012", "x", 7.5),
    ]
    assert sheet["C2"].data_type == "s" and sheet["D2"].hyperlink is None
    assert sheet["B2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet.freeze_panes == "A2"
