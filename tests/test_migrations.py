"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.db.engine import Database
from bot.db.migrate import alembic_config, include_name
from bot.db.models import Base, Question, QuestionStatus, Routing, RoutingStatus
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


async def test_0110_closes_what_resolved_questions_still_waited_for(db: Database) -> None:
    """Rows written before 0110: the waiting routings of resolved questions become closed; an
    open question's, and answered or declined rows, stay as they were; and back again."""
    await _migrate_to(db, "0109", down=True)
    topic = await make_topic(db, "flood-risk")
    city = await make_city(db, "Nice")
    asker = await make_official(db, city, topics=[topic])
    others = [await make_official(db, city, topics=[topic]) for _ in range(3)]
    statuses = {}
    async with db.transaction() as s:
        for question_status in (QuestionStatus.RESOLVED, QuestionStatus.OPEN):
            q = Question(
                asker_id=asker.id,
                topic_id=topic.id,
                city_id=city.id,
                text="q",
                status=question_status,
                created_at=CREATED,
            )
            s.add(q)
            await s.flush()
            for o, status in zip(
                others,
                (RoutingStatus.PENDING, RoutingStatus.DELIVERED, RoutingStatus.ANSWERED),
                strict=True,
            ):
                r = Routing(
                    question_id=q.id,
                    recipient_id=o.id,
                    city_id=city.id,
                    status=status,
                    created_at=CREATED,
                    delivered_at=None if status == RoutingStatus.PENDING else CREATED,
                )
                s.add(r)
                await s.flush()
                statuses[r.id] = (question_status, status)

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
