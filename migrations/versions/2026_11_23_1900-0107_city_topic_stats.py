"""city_topic_stats: routing history per city and topic, read by the ranking

Revision ID: 0107
Revises: 0104
Create Date: 2026-11-23 19:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0107"
down_revision: str | Sequence[str] | None = "0104"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECONDS = {
    "postgresql": "extract(epoch from answered_at - delivered_at)",
    "sqlite": "(julianday(answered_at) - julianday(delivered_at)) * 86400.0",
}


def upgrade() -> None:
    op.create_table(
        "city_topic_stats",
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("asked", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("answer_seconds", sa.Float(), nullable=False),
        sa.Column("answer_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["city_id"], ["city.id"], name=op.f("fk_city_topic_stats_city_id_city")),
        sa.PrimaryKeyConstraint("topic_id", "city_id", name=op.f("pk_city_topic_stats")),
    )
    # Backfill: the same aggregates the ranking used to compute from `routing` per question.
    seconds = SECONDS.get(op.get_bind().dialect.name, SECONDS["sqlite"])
    answered = "answered_at IS NOT NULL AND delivered_at IS NOT NULL"
    op.execute(
        "INSERT INTO city_topic_stats (topic_id, city_id, asked, answered, answer_seconds, answer_count) "
        "SELECT topic_id, city_id, count(DISTINCT question_id), "
        "count(DISTINCT CASE WHEN answered_at IS NOT NULL THEN question_id END), "
        f"coalesce(sum(CASE WHEN {answered} THEN {seconds} END), 0.0), "
        f"count(CASE WHEN {answered} THEN 1 END) "
        "FROM routing WHERE topic_id IS NOT NULL GROUP BY topic_id, city_id"
    )


def downgrade() -> None:
    op.drop_table("city_topic_stats")
