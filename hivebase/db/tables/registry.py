"""The app registry's system tables, in the registry database (SQLite ``hivebase.sqlite3``, PostgreSQL schema
``hivebase``): which apps exist, their key hashes and sealed keys, their settings."""

from __future__ import annotations

import sqlalchemy as sa

from hivebase.db.types import JSONType, UTCDateTime

APPS_TABLE = "_hb_apps"


def registry_tables(schema: str | None) -> sa.MetaData:
    """The registry's tables (``hivebase.sqlite3`` or the ``hivebase`` schema): one row per app."""
    md = sa.MetaData(schema=schema)
    sa.Table(
        APPS_TABLE, md,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("application_id", sa.String(64), nullable=False, unique=True),
        sa.Column("rest_key_hash", sa.String(64), nullable=False),
        sa.Column("master_key_hash", sa.String(64), nullable=False),
        sa.Column("rest_key_sealed", sa.Text, nullable=False),
        sa.Column("master_key_sealed", sa.Text, nullable=False),
        sa.Column("settings", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    return md


def apps_table(schema: str | None) -> sa.Table:
    return registry_tables(schema).tables[f"{schema}.{APPS_TABLE}" if schema else APPS_TABLE]
