"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hivebase.db.migrations import target_schema

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | None = None
depends_on: str | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
DATETIME = sa.DateTime().with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")  # UTCDateTime


def upgrade() -> None:
    schema = target_schema()  # noqa: F841 (used by most revisions)
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    schema = target_schema()  # noqa: F841 (used by most revisions)
    ${downgrades if downgrades else "pass"}
