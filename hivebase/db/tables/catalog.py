"""The catalog's system tables, in each app's schema (or SQLite file): what user tables and fields exist."""

from __future__ import annotations

import sqlalchemy as sa

from hivebase.db.types import JSONType, UTCDateTime


def add_catalog_tables(md: sa.MetaData) -> None:
    """The catalog's own tables: user tables, their fields and indexes, auto-increment counters, the schema version."""
    sa.Table("_hb_tables", md,
             sa.Column("name", sa.String(64), primary_key=True),
             sa.Column("note", sa.Text, nullable=False, default=""),
             sa.Column("system", sa.Boolean, nullable=False, default=False),
             sa.Column("created_at", UTCDateTime, nullable=False))
    sa.Table("_hb_fields", md,
             sa.Column("table_name", sa.String(64), primary_key=True),
             sa.Column("name", sa.String(64), primary_key=True),
             sa.Column("type", sa.String(32), nullable=False),
             sa.Column("position", sa.Integer, nullable=False),
             sa.Column("options", JSONType, nullable=False))
    sa.Table("_hb_indexes", md,
             sa.Column("name", sa.String(64), primary_key=True),
             sa.Column("table_name", sa.String(64), nullable=False),
             sa.Column("fields", JSONType, nullable=False),
             sa.Column("is_unique", sa.Boolean, nullable=False))
    sa.Table("_hb_counters", md,
             sa.Column("table_name", sa.String(64), primary_key=True),
             sa.Column("field_name", sa.String(64), primary_key=True),
             sa.Column("next_value", sa.BigInteger, nullable=False))
    sa.Table("_hb_meta", md,
             sa.Column("key", sa.String(64), primary_key=True),
             sa.Column("value", sa.BigInteger, nullable=False))
