"""The ``_hb_files`` system table: one row per uploaded file, in the app's own schema."""

from __future__ import annotations

import sqlalchemy as sa

from hivebase.db.types import UTCDateTime

ID = sa.String(64)


def add_file_tables(md: sa.MetaData) -> None:
    sa.Table("_hb_files", md,
             sa.Column("id", ID, primary_key=True),  # the 128-bit random token of the public URL
             sa.Column("key", sa.String(255), nullable=False, unique=True),  # the backend's key, app-relative
             sa.Column("name", sa.String(255), nullable=False),  # the uploader's file name, for display only
             sa.Column("content_type", sa.String(255), nullable=False),
             sa.Column("size", sa.BigInteger, nullable=False),
             sa.Column("created_by", ID, nullable=True, index=True),  # user id; None for master/REST key
             sa.Column("created_at", UTCDateTime, nullable=False))
