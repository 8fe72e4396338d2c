"""The registry as hivebase 0.1 made it with ``create_all``: one row per app.

Revision ID: registry_0001
Revises:
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hivebase.db.migrations import target_schema

revision: str = "registry_0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen here rather than imported: a revision must keep making what it made, whatever db/types.py becomes.
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
DATETIME = sa.DateTime().with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")  # UTCDateTime


def upgrade() -> None:
    op.create_table(
        "_hb_apps",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("application_id", sa.String(64), nullable=False, unique=True),
        sa.Column("rest_key_hash", sa.String(64), nullable=False),
        sa.Column("master_key_hash", sa.String(64), nullable=False),
        sa.Column("rest_key_sealed", sa.Text, nullable=False),
        sa.Column("master_key_sealed", sa.Text, nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        schema=target_schema(),
    )


def downgrade() -> None:
    op.drop_table("_hb_apps", schema=target_schema())
