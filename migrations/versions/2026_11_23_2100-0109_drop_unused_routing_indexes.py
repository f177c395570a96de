"""routing: drop two indexes nothing reads any more (each answer wrote to both)

ix_routing_status is a prefix of ix_routing_waiting, which serves every query on status.
ix_routing_topic_history served routing's history query, which reads city_topic_stats since
0107; the rebuild of that table scans all of routing either way.

Revision ID: 0109
Revises: 0108
Create Date: 2026-11-23 21:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0109"
down_revision: str | Sequence[str] | None = "0108"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("routing") as batch:
        batch.drop_index("ix_routing_status")
        batch.drop_index("ix_routing_topic_history")


def downgrade() -> None:
    with op.batch_alter_table("routing") as batch:
        batch.create_index("ix_routing_topic_history",
                           ["topic_id", "city_id", "question_id", "answered_at", "delivered_at"])
        batch.create_index("ix_routing_status", ["status"])
