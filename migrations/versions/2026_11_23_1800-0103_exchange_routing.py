"""exchange: routing failure reason and topic, indexes for ranking peer cities

Revision ID: 0103
Revises: 0001
Create Date: 2026-11-23 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0103"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("routing", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("topic_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE routing SET topic_id = (SELECT question.topic_id FROM question "
        "WHERE question.id = routing.question_id)"
    )
    with op.batch_alter_table("routing", schema=None) as batch_op:
        batch_op.create_index(
            "ix_routing_topic_history",
            ["topic_id", "city_id", "question_id", "answered_at", "delivered_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_routing_waiting", ["status", "created_at", "city_id", "question_id"], unique=False
        )
    with op.batch_alter_table("official_topic", schema=None) as batch_op:
        batch_op.create_index("ix_official_topic_topic", ["topic_id", "official_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("official_topic", schema=None) as batch_op:
        batch_op.drop_index("ix_official_topic_topic")
    with op.batch_alter_table("routing", schema=None) as batch_op:
        batch_op.drop_index("ix_routing_waiting")
        batch_op.drop_index("ix_routing_topic_history")
        batch_op.drop_column("topic_id")
        batch_op.drop_column("last_error")
