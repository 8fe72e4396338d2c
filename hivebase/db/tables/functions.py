"""The ``_hb_functions`` system table: each app's deployed cloud functions (one row per name)."""

from __future__ import annotations

import sqlalchemy as sa

from hivebase.db.types import UTCDateTime

TABLE = "_hb_functions"


def add_function_tables(md: sa.MetaData) -> None:
    """``updated_by``: the user id of a root-role user, else what proved root (``master``, ``internal``)."""
    sa.Table(TABLE, md,
             sa.Column("name", sa.String(64), primary_key=True),
             sa.Column("source", sa.Text, nullable=False),
             sa.Column("updated_at", UTCDateTime, nullable=False),
             sa.Column("updated_by", sa.String(64), nullable=True))
