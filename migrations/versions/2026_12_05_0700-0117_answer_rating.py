"""answers rated useful or not by the asker, per answered routing

answer_rating: one row per answered routing (the answers one official gave to one question),
with the answering city and the topic, which routing reads to learn which cities' answers help.

Revision ID: 0117
Revises: 0116
Create Date: 2026-12-05 07:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "0117"
down_revision: str | Sequence[str] | None = "0116"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "answer_rating",
        sa.Column("routing_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("useful", sa.Boolean(), nullable=False),
        sa.Column("rated_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["city_id"], ["city.id"], name=op.f("fk_answer_rating_city_id_city")
        ),
        sa.ForeignKeyConstraint(
            ["routing_id"],
            ["routing.id"],
            name=op.f("fk_answer_rating_routing_id_routing"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("routing_id", name=op.f("pk_answer_rating")),
    )
    op.create_index(
        op.f("ix_answer_rating_rated_at"), "answer_rating", ["rated_at"], unique=False
    )
    op.create_index(
        "ix_answer_rating_topic", "answer_rating", ["topic_id", "city_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_answer_rating_topic", table_name="answer_rating")
    op.drop_index(op.f("ix_answer_rating_rated_at"), table_name="answer_rating")
    op.drop_table("answer_rating")
