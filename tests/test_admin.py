"""/export, /stats, /cities (removing officials), /invite and /audit from Telegram."""

from __future__ import annotations

import io
import json
import zipfile

import openpyxl  # type: ignore[import-untyped]
import pytest
from sqlalchemy import func, select

from bot.db.models import AuditLog, Invite, Official, OfficialStatus, Role
from handlers import exports
from tests.conftest import ADMIN_TG_ID
from tests.factories import make_official
from tests.harness.updates import STICKER, Harness, TgUser, tr
from tests.test_reports import SAMI, png_size, read_csv, seed_history

ADMIN = TgUser(ADMIN_TG_ID, "Admin")


def documents(h: Harness, user: TgUser) -> list[tuple[str, bytes, str | None]]:
    out = []
    for call in h.tg.of("sendDocument", user.id):
        filename, data, _mime = call.files["document"]
        out.append((filename, data, call.params.get("caption")))
    return out


async def audits(h: Harness, action: str) -> list[AuditLog]:
    async with h.deps.db.transaction() as s:
        return list(
            (
                await s.scalars(
                    select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
                )
            ).all()
        )


async def test_admin_exports_a_city_as_csv_with_buttons(harness: Harness) -> None:
    h = harness
    await seed_history(h.deps)
    await h.command(ADMIN, "/export")
    assert "Which period?" in h.last_text(ADMIN)
    await h.press(ADMIN, "Everything")
    assert "Period: everything" in h.last_text(ADMIN)
    await h.press(ADMIN, "Cities")
    await h.press(ADMIN, "Madrid")
    assert "✅ Madrid (ES)" in [t for row in h.tg.last(ADMIN.id).buttons for t, _ in row]
    await h.press(ADMIN, "Done")
    assert "Cities: Madrid (ES)" in h.last_text(ADMIN)
    await h.press(ADMIN, "CSV")
    assert "Preparing the export" in "\n".join(h.texts(ADMIN))
    await exports.wait_exports()

    (doc,) = documents(h, ADMIN)
    filename, data, caption = doc
    assert filename.endswith(".csv") and caption == "Exchange log: 3 rows"
    rows = read_csv(data)
    assert [(r["kind"], r["answerer_city"]) for r in rows] == [
        ("routing", "Madrid"),
        ("answer", "Madrid"),
        ("follow_up", "Madrid"),
    ]
    assert rows[0]["asker_name"] == SAMI
    assert h.last_text(ADMIN) == "Export ready: 3 rows. 1 file sent."
    (entry,) = await audits(h, "export.created")
    assert entry.actor_tg_id == ADMIN_TG_ID and entry.details["format"] == "csv"
    assert entry.details["rows"] == 3 and len(entry.details["cities"]) == 1


async def test_typed_dates_and_json_lines(harness: Harness) -> None:
    h = harness
    await seed_history(h.deps)
    await h.command(ADMIN, "/export")
    await h.press(ADMIN, "Type dates")
    await h.send(ADMIN, "soon")
    assert "two dates like 2026-01-01 2026-03-31" in h.last_text(ADMIN)
    await h.send(ADMIN, None, sticker=STICKER)
    assert "two dates" in h.last_text(ADMIN)
    await h.send(ADMIN, "2026-03-01 2026-02-01")
    assert "comes before" in h.last_text(ADMIN)
    await h.send(ADMIN, "2026-02-01 2026-02-28")
    assert "Period: 2026-02-01 to 2026-02-28" in h.last_text(ADMIN)
    await h.send(ADMIN, "hello")
    assert "use the buttons" in h.last_text(ADMIN)
    await h.press(ADMIN, "JSON Lines")
    await exports.wait_exports()
    ((filename, data, _caption),) = documents(h, ADMIN)
    await h.command(ADMIN, "/export")
    await h.press(ADMIN, "Last 7 days")
    await h.press(ADMIN, "CSV")
    await exports.wait_exports()
    assert "No exchange messages match" in h.last_text(ADMIN)
    assert len(documents(h, ADMIN)) == 1
    lines = [json.loads(x) for x in data.decode().splitlines()]
    assert filename.endswith(".jsonl") and len(lines) == 5
    assert {x["question_id"] for x in lines} == {lines[0]["question_id"]}


@pytest.mark.parametrize(
    "settings_overrides", [{"export_upload_limit_bytes": 1500, "export_compress_bytes": 0}]
)
async def test_large_export_is_zipped_and_split(harness: Harness) -> None:
    h = harness
    await seed_history(h.deps)
    await h.command(ADMIN, "/export")
    await h.press(ADMIN, "Everything")
    await h.press(ADMIN, "CSV")
    await exports.wait_exports()
    docs = documents(h, ADMIN)
    assert len(docs) > 1
    total = 0
    for i, (filename, data, caption) in enumerate(docs, start=1):
        assert filename.endswith(".zip") and len(data) <= 1500
        assert caption is not None and f"part {i} of {len(docs)}" in caption
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            (name,) = zf.namelist()
            total += len(read_csv(zf.read(name)))
    assert total == 9
    assert h.last_text(ADMIN) == f"Export ready: 9 rows. {len(docs)} files sent."


async def test_xlsx_from_the_bot(harness: Harness) -> None:
    h = harness
    await seed_history(h.deps)
    await h.command(ADMIN, "/export")
    await h.press(ADMIN, "Last 90 days")
    await h.press(ADMIN, "Topics")
    await h.press(ADMIN, "Early warning")
    await h.press(ADMIN, "Early warning")  # off again
    await h.press(ADMIN, "Flood risk")
    await h.press(ADMIN, "Done")
    await h.press(ADMIN, "XLSX")
    await exports.wait_exports()
    ((filename, data, _caption),) = documents(h, ADMIN)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    body = list(sheet.iter_rows(min_row=2, values_only=True))
    assert filename.endswith(".xlsx") and len(body) == 5
    assert {r[5] for r in body} == {"Flood risk"}


async def test_only_the_right_roles_get_in(harness: Harness) -> None:
    h = harness
    history = await seed_history(h.deps)
    plain = await make_official(h.deps.db, history.gabes, name="Youssef")
    official = TgUser(plain.tg_user_id, "Youssef")
    for cmd in ("/export", "/stats", "/audit", "/cities", "/invite"):
        await h.command(official, cmd)
        assert h.last_text(official) == "You are not allowed to do that."
    for data in (
        "export:format:csv",
        "stats:period:all",
        f"cities:confirm-removal:{history.lucia.id}",
        "invite:uses:1:official:unlimited",
        "audit:page:0",
    ):
        await h.callback(official, data)
        assert h.tg.alerts()[-1] == "You are not allowed to do that."
    organiser_row = await make_official(h.deps.db, history.nice, name="Org", role=Role.ORGANISER)
    organiser = TgUser(organiser_row.tg_user_id, "Org")
    await h.command(organiser, "/export")
    assert h.last_text(organiser) == "You are not allowed to do that."
    await h.command(organiser, "/stats")
    assert "Which period?" in h.last_text(organiser)
    assert len(await audits(h, "access.denied")) == 11
    async with h.deps.db.transaction() as s:
        lucia = await s.get(Official, history.lucia.id)
        assert lucia is not None and lucia.status == OfficialStatus.ACTIVE
        assert await s.scalar(select(func.count()).select_from(Invite)) == 0
    assert not h.tg.of("sendDocument")
    # stale or forged export buttons for an admin change nothing
    await h.callback(ADMIN, "export:format:csv")
    assert "no longer active" in h.tg.alerts()[-1]
    await h.command(ADMIN, "/export")
    await h.callback(ADMIN, "export:period:365")
    await h.callback(ADMIN, "export:period:all")
    await h.callback(ADMIN, "export:toggle:cities:99999:0")
    await h.callback(ADMIN, "export:format:pdf")
    assert "no longer active" in h.tg.last_alert()
    assert not await audits(h, "export.created")


async def test_stats_with_chart(harness: Harness) -> None:
    h = harness
    history = await seed_history(h.deps)
    organiser_row = await make_official(h.deps.db, history.gabes, name="Org", role=Role.ORGANISER)
    organiser = TgUser(organiser_row.tg_user_id, "Org")
    await h.command(organiser, "/stats")
    await h.press(organiser, "Everything")
    text = "\n".join(h.texts(organiser))
    assert "Questions asked: 2" in text
    assert "Answered: 2 (100%)" in text
    assert "Median time to first answer: 13 hours" in text
    assert "Most helpful cities: Madrid (1) and Potenza (1)" in text
    assert "Gabès (TN): 2" in text
    (photo,) = h.tg.of("sendPhoto", organiser.id)
    _name, png, _mime = photo.files["photo"]
    assert png_size(png) == (1200, 800)
    await h.press(organiser, "Last 7 days")
    assert "Questions asked: 0" in "\n".join(h.texts(organiser))
    assert len(h.tg.of("sendPhoto", organiser.id)) == 2


async def test_cities_and_removing_an_official(harness: Harness) -> None:
    h = harness
    history = await seed_history(h.deps)
    organiser_row = await make_official(h.deps.db, history.nice, name="Org", role=Role.ORGANISER)
    organiser = TgUser(organiser_row.tg_user_id, "Org")
    other_org = await make_official(h.deps.db, history.gabes, name="Karim <b>", role=Role.ORGANISER)
    youssef = await make_official(h.deps.db, history.gabes, name="Youssef Trabelsi")
    await h.command(organiser, "/cities")
    assert "4 cities" in h.last_text(organiser)
    await h.press(organiser, "Gabès")
    text = h.last_text(organiser)
    assert SAMI in text and "Karim &lt;b&gt;" in text
    await h.press(organiser, "Remove Youssef")
    assert "no more questions" in h.last_text(organiser)
    await h.press(organiser, "Yes, remove")
    assert "Youssef Trabelsi was removed." in h.last_text(organiser)
    assert "removed you" in h.last_text(youssef.chat_id)  # told in their language
    async with h.deps.db.transaction() as s:
        removed = await s.get(Official, youssef.id)
        assert removed is not None and removed.status == OfficialStatus.REMOVED
    (entry,) = await audits(h, "official.removed")
    assert entry.target_id == youssef.id and entry.actor_id == organiser_row.id
    # the same button again, an organiser by an organiser, forged ids
    await h.callback(organiser, f"cities:confirm-removal:{youssef.id}")
    assert "already been removed" in h.tg.alerts()[-1]
    await h.callback(organiser, f"cities:confirm-removal:{other_org.id}")
    assert "not allowed" in h.tg.alerts()[-1]
    await h.callback(organiser, "cities:confirm-removal:abc")
    await h.callback(organiser, "cities:city:424242:0")
    assert "no longer" in h.tg.alerts()[-1]
    await h.callback(ADMIN, f"cities:confirm-removal:{other_org.id}")
    assert "was removed" in h.last_text(ADMIN)
    assert len(await audits(h, "official.removed")) == 2
    # a removed official can no longer use organiser commands
    await h.command(TgUser(other_org.tg_user_id), "/cities")
    assert h.last_text(other_org.tg_user_id) == "You are not allowed to do that."


async def test_invite_links_from_telegram(harness: Harness) -> None:
    h = harness
    history = await seed_history(h.deps)
    organiser_row = await make_official(h.deps.db, history.nice, name="Org", role=Role.ORGANISER)
    organiser = TgUser(organiser_row.tg_user_id, "Org")
    await h.command(organiser, "/invite")
    await h.press(organiser, "Potenza")
    assert "How many people" in h.last_text(organiser)  # organisers invite officials only
    await h.press(organiser, "5")
    text = h.last_text(organiser)
    assert "https://t.me/CityExchangeTestBot?start=" in text and "5 people" in text
    forged = f"invite:uses:{history.potenza.id}:organiser:unlimited"  # organisers invite officials
    await h.callback(organiser, forged)
    assert "not allowed" in h.tg.alerts()[-1]

    await h.command(ADMIN, "/invite")
    await h.press(ADMIN, "Madrid")
    await h.press(ADMIN, "organiser")
    await h.press(ADMIN, "Unlimited")
    assert "any number of people" in h.last_text(ADMIN)
    async with h.deps.db.transaction() as s:
        invites = (await s.scalars(select(Invite).order_by(Invite.id))).all()
    assert [(i.city_id, i.role, i.uses_left) for i in invites] == [
        (history.potenza.id, Role.OFFICIAL, 5),
        (history.madrid.id, Role.ORGANISER, None),
    ]
    assert invites[0].code in text
    assert len(await audits(h, "invite.created")) == 2


async def test_audit_log_pages(harness: Harness) -> None:
    h = harness
    history = await seed_history(h.deps)
    official = TgUser(history.lucia.tg_user_id)
    for _ in range(11):  # an hour apart: each is a row of its own (within an hour, counted)
        await h.command(official, "/export")
        h.deps.clock.advance(minutes=61)
    await h.command(ADMIN, f"/promote {history.helene.tg_user_id}")
    await h.command(ADMIN, "/audit")
    text = h.last_text(ADMIN)
    assert "page 1 of 2" in text
    assert "role granted" in text and "Hélène Müller" in text
    assert "access refused" in text and "Lucía Fernández" in text
    await h.press(ADMIN, "Older")
    text = h.last_text(ADMIN)
    assert "page 2 of 2" in text and "data erased" in text
    await h.callback(ADMIN, "audit:page:x")
    assert "no longer active" in h.tg.alerts()[-1]
    helene = TgUser(history.helene.tg_user_id)
    await h.command(helene, "/audit")  # an organiser now, who reads French
    assert h.last_text(helene).startswith(
        tr("fr", "<b>Audit log</b> (page {page} of {pages})").format(page=1, pages=2)
    )


def test_every_audit_action_the_services_record_has_a_label() -> None:
    """/audit shows each action in the reader's language, never its key ("official.requested"
    reached French organisers as is)."""
    import re

    from handlers.audit import action_label
    from tests import PROJECT_ROOT

    action = re.compile(
        r'"((?:absence|access|broadcast|export|invite|library|official|question|reminder|role'
        r'|setting)\.[a-z_]+)"'
    )
    found = {
        name
        for path in (PROJECT_ROOT / "bot" / "services").rglob("*.py")
        for name in action.findall(path.read_text())
        if not name.endswith(".id")
    }
    assert len(found) > 25
    assert sorted(a for a in found if action_label(a) == a) == []
