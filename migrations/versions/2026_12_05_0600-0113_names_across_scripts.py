"""names across scripts: an official's name in Latin letters, a city's name per language

official.name_latin is how colleagues abroad should write a name not in Latin script (readers
whose language uses Latin letters see it); city.names holds a city's name in each language
from the seed file (Arabic readers see روصو, not Rosso).

Revision ID: 0113
Revises: 0112
Create Date: 2026-12-05 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0113"
down_revision: str | Sequence[str] | None = "0112"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("official", sa.Column("name_latin", sa.String(length=128), nullable=True))
    # A server default fills the rows already there (and lets SQLite add the column in place,
    # without copying the table).
    op.add_column(
        "city", sa.Column("names", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
    )


def downgrade() -> None:
    # In place on SQLite too (3.35+): copying city would trip the officials' foreign keys.
    op.drop_column("city", "names")
    op.drop_column("official", "name_latin")
