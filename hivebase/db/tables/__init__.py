"""Every system table, defined once and by family (one module each); the migrations create and upgrade them.

An app's schema (or SQLite file) holds ``app_tables``: the catalog's, identity's, OAuth's, files' and cloud
functions' tables. The registry holds ``registry_tables``. User tables are not here: the catalog emits their DDL.
"""

from __future__ import annotations

import sqlalchemy as sa

from hivebase.db.tables.catalog import add_catalog_tables
from hivebase.db.tables.files import add_file_tables
from hivebase.db.tables.functions import add_function_tables
from hivebase.db.tables.identity import add_identity_tables
from hivebase.db.tables.oauth import add_oauth_tables
from hivebase.db.tables.registry import registry_tables


def app_tables(schema: str | None) -> sa.MetaData:
    """The system tables of one app, in its schema (None: its SQLite file)."""
    md = sa.MetaData(schema=schema)
    for add in (add_catalog_tables, add_identity_tables, add_oauth_tables, add_file_tables, add_function_tables):
        add(md)
    return md


__all__ = ["app_tables", "registry_tables"]
