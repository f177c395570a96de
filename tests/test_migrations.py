"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, column, insert, inspect, select, table
from sqlalchemy.engine import Connection

from bot.db.base import UTCDateTime
from bot.db.engine import Database
from bot.db.migrate import (
    HEAD_REVISION,
    alembic_config,
    current_revision,
    include_name,
    upgrade_if_needed,
)
from bot.db.models import (
    Base,
    OfficialStatus,
    Question,
    QuestionStatus,
    Routing,
    RoutingStatus,
)
from tests.factories import CREATED, make_city, make_official, make_topic


async def test_models_match_migrations(db: Database) -> None:
    def diff(sync_conn: object) -> list[object]:
        ctx = MigrationContext.configure(
            sync_conn, opts={"compare_type": True, "include_name": include_name}
        )  # type: ignore[arg-type]
        return compare_metadata(ctx, Base.metadata)

    async with db.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == [], f"models and migrations differ: {changes}"


def test_single_head_and_dated_file_names() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, f"several heads: {script.get_heads()}"
    # What the start compares the database with, without importing Alembic (bot/db/migrate.py)
    assert script.get_current_head() == HEAD_REVISION, "set HEAD_REVISION to the new head"
    for rev in script.walk_revisions():
        name = rev.path.rsplit("/", 1)[-1]
        assert name[:4].isdigit() and f"-{rev.revision}_" in name, name


async def _migrate_to(db: Database, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config(db.url)

    def run(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def _city_before_0113(db: Database, name: str) -> int:
    """A city row as the schema before 0113 holds it (the models have columns it lacks)."""
    city = table("city", column("id"), column("name"), column("country"), column("timezone"))
    city.append_column(column("languages", JSON()))
    city.append_column(column("created_at", UTCDateTime()))
    async with db.transaction() as s:
        values = {"name": name, "country": "FR", "timezone": "Europe/Paris"}
        return int(
            (
                await s.execute(
                    insert(city)
                    .values(**values, languages=["fr"], created_at=CREATED)
                    .returning(city.c.id)
                )
            ).scalar_one()
        )


async def _official_before_0113(db: Database, city_id: int, n: int) -> int:
    names = ("tg_user_id", "chat_id", "name", "city_id", "locale", "locale_chosen", "role")
    official = table("official", *(column(c) for c in (*names, "status", "digest_opt_in")))
    official.append_column(column("languages", JSON()))
    for c in ("created_at", "updated_at"):
        official.append_column(column(c, UTCDateTime()))
    async with db.transaction() as s:
        row = await s.execute(
            insert(official)
            .values(
                tg_user_id=9000 + n,
                chat_id=9000 + n,
                name=f"Official {n}",
                city_id=city_id,
                locale="en",
                locale_chosen=False,
                role="official",
                status="active",
                digest_opt_in=False,
                languages=["en"],
                created_at=CREATED,
                updated_at=CREATED,
            )
            .returning(column("id"))
        )
        return int(row.scalar_one())


async def test_0110_closes_what_resolved_questions_still_waited_for(db: Database) -> None:
    """Rows written before 0110: the waiting routings of resolved questions become closed; an
    open question's, and answered or declined rows, stay as they were; and back again."""
    await _migrate_to(db, "0109", down=True)
    # Rows as 0109 knew them: Core inserts name only the columns that existed then.
    topic = await make_topic(db, "flood-risk")
    city_id = await _city_before_0113(db, "Nice")
    asker_id, *other_ids = [await _official_before_0113(db, city_id, n) for n in range(4)]
    statuses = {}
    async with db.transaction() as s:
        for question_status in (QuestionStatus.RESOLVED, QuestionStatus.OPEN):
            question_id = await s.scalar(
                insert(Question.__table__)
                .values(
                    asker_id=asker_id,
                    topic_id=topic.id,
                    city_id=city_id,
                    text="q",
                    status=question_status,
                    created_at=CREATED,
                )
                .returning(Question.__table__.c.id)
            )
            for o, status in zip(
                other_ids,
                (RoutingStatus.PENDING, RoutingStatus.DELIVERED, RoutingStatus.ANSWERED),
                strict=True,
            ):
                routing_id = await s.scalar(
                    insert(Routing.__table__)
                    .values(
                        question_id=question_id,
                        recipient_id=o,
                        city_id=city_id,
                        status=status,
                        created_at=CREATED,
                        delivered_at=None if status == RoutingStatus.PENDING else CREATED,
                    )
                    .returning(Routing.__table__.c.id)
                )
                assert routing_id is not None
                statuses[routing_id] = (question_status, status)

    async def now() -> dict[int, str]:
        async with db.transaction() as s:
            return dict((await s.execute(select(Routing.id, Routing.status))).all())

    await _migrate_to(db, "head")
    assert await now() == {
        rid: RoutingStatus.CLOSED
        if q == QuestionStatus.RESOLVED and r != RoutingStatus.ANSWERED
        else r
        for rid, (q, r) in statuses.items()
    }
    await _migrate_to(db, "0109", down=True)
    assert await now() == {rid: r for rid, (_q, r) in statuses.items()}
    await _migrate_to(db, "head")


async def test_0120_withdraws_the_open_questions_of_officials_removed_before(
    db: Database,
) -> None:
    """Officials removed before 0120 kept their open questions (nudged, escalated): their open
    and answered questions become withdrawn and the rows still waiting closed; a resolved one
    of theirs, and the questions of active officials, stay as they were."""
    await _migrate_to(db, "0119", down=True)  # 0120 changes rows only: the models fit 0119
    topic = await make_topic(db, "flood-risk")
    nice = await make_city(db, "Nice")
    removed = await make_official(db, nice, status=OfficialStatus.REMOVED)
    active = await make_official(db, nice)
    helper = await make_official(db, nice)
    cases = [
        (removed, QuestionStatus.OPEN, QuestionStatus.WITHDRAWN, RoutingStatus.CLOSED),
        (removed, QuestionStatus.ANSWERED, QuestionStatus.WITHDRAWN, RoutingStatus.CLOSED),
        (removed, QuestionStatus.RESOLVED, QuestionStatus.RESOLVED, RoutingStatus.DELIVERED),
        (active, QuestionStatus.OPEN, QuestionStatus.OPEN, RoutingStatus.DELIVERED),
    ]
    ids = []
    async with db.transaction() as s:
        for asker, before, _q, _r in cases:
            q = Question(
                asker_id=asker.id, topic_id=topic.id, city_id=nice.id, text="q", status=before
            )
            s.add(q)
            await s.flush()
            s.add(
                Routing(
                    question_id=q.id,
                    recipient_id=helper.id,
                    city_id=nice.id,
                    status=RoutingStatus.DELIVERED,
                    created_at=CREATED,
                    delivered_at=CREATED,
                )
            )
            ids.append(q.id)
    await _migrate_to(db, "head")
    async with db.transaction() as s:
        questions = dict((await s.execute(select(Question.id, Question.status))).all())
        routings = dict((await s.execute(select(Routing.question_id, Routing.status))).all())
    assert [questions[i] for i in ids] == [q for _a, _b, q, _r in cases]
    assert [routings[i] for i in ids] == [r for _a, _b, _q, r in cases]


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_the_start_upgrades_a_database_behind_and_leaves_one_at_head(db: Database) -> None:
    assert await current_revision(db) == HEAD_REVISION
    assert await upgrade_if_needed(db) is False
    await _migrate_to(db, "0116", down=True)
    assert "answer_rating" not in await _tables(db)  # made by 0117
    assert await upgrade_if_needed(db) is True
    assert await current_revision(db) == HEAD_REVISION
    assert "answer_rating" in await _tables(db)
    assert await upgrade_if_needed(db) is False


async def test_the_start_builds_a_new_database(tmp_path: Path) -> None:
    new = Database(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
    try:
        assert await current_revision(new) is None
        assert await upgrade_if_needed(new) is True
        assert await current_revision(new) == HEAD_REVISION
        assert {"official", "routing", "answer_rating"} <= await _tables(new)
    finally:
        await new.dispose()
