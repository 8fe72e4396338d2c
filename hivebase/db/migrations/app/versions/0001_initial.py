"""An app's system tables as hivebase 0.1 made them with ``create_all``: catalog, identity, OAuth, files and
cloud functions (one group per module of hivebase/db/tables/ at the time), and the catalog's schema version.

Index names come from SQLAlchemy's default convention, as ``create_all`` named them: on PostgreSQL they
include the schema (``ix_app_main__hb_sessions_user_id``).

Revision ID: app_0001
Revises:
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hivebase.db.migrations import target_schema

revision: str = "app_0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen here rather than imported: a revision must keep making what it made, whatever db/types.py becomes.
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
DATETIME = sa.DateTime().with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")  # UTCDateTime
ID = sa.String(64)
NAME = sa.String(64)
HASH = sa.String(64)

TABLES = ("_hb_tables", "_hb_fields", "_hb_indexes", "_hb_counters", "_hb_meta",
          "_hb_passwords", "_hb_sessions", "_hb_api_keys", "_hb_roles", "_hb_role_tables", "_hb_user_roles",
          "_hb_sms_codes", "_hb_sms_outbox", "_hb_settings",
          "_hb_oauth_clients", "_hb_oauth_requests", "_hb_oauth_codes", "_hb_oauth_tokens",
          "_hb_files", "_hb_functions")


def _catalog(schema: str | None) -> None:
    op.create_table("_hb_tables",
                    sa.Column("name", NAME, primary_key=True),
                    sa.Column("note", sa.Text, nullable=False),
                    sa.Column("system", sa.Boolean, nullable=False),
                    sa.Column("created_at", DATETIME, nullable=False), schema=schema)
    op.create_table("_hb_fields",
                    sa.Column("table_name", NAME, primary_key=True),
                    sa.Column("name", NAME, primary_key=True),
                    sa.Column("type", sa.String(32), nullable=False),
                    sa.Column("position", sa.Integer, nullable=False),
                    sa.Column("options", JSON, nullable=False), schema=schema)
    op.create_table("_hb_indexes",
                    sa.Column("name", NAME, primary_key=True),
                    sa.Column("table_name", NAME, nullable=False),
                    sa.Column("fields", JSON, nullable=False),
                    sa.Column("is_unique", sa.Boolean, nullable=False), schema=schema)
    op.create_table("_hb_counters",
                    sa.Column("table_name", NAME, primary_key=True),
                    sa.Column("field_name", NAME, primary_key=True),
                    sa.Column("next_value", sa.BigInteger, nullable=False), schema=schema)
    meta = op.create_table("_hb_meta",
                           sa.Column("key", NAME, primary_key=True),
                           sa.Column("value", sa.BigInteger, nullable=False), schema=schema)
    op.bulk_insert(meta, [{"key": "schema_version", "value": 0}])  # the catalog's cache version


def _identity(schema: str | None) -> None:
    op.create_table("_hb_passwords",
                    sa.Column("user_id", ID, primary_key=True),
                    sa.Column("hash", sa.Text, nullable=False),
                    sa.Column("changed_at", DATETIME, nullable=False), schema=schema)
    op.create_table("_hb_sessions",
                    sa.Column("id", ID, primary_key=True),
                    sa.Column("token_hash", HASH, nullable=False, unique=True),
                    sa.Column("user_id", ID, nullable=False, index=True),
                    sa.Column("via", sa.String(32), nullable=False),
                    sa.Column("created_at", DATETIME, nullable=False),
                    sa.Column("expires_at", DATETIME, nullable=False), schema=schema)
    op.create_table("_hb_api_keys",
                    sa.Column("id", ID, primary_key=True),
                    sa.Column("name", sa.String(100), nullable=False),
                    sa.Column("key_hash", HASH, nullable=False, unique=True),
                    sa.Column("user_id", ID, nullable=False, index=True),
                    sa.Column("role", NAME, nullable=False),
                    sa.Column("created_at", DATETIME, nullable=False),
                    sa.Column("expires_at", DATETIME, nullable=True), schema=schema)
    op.create_table("_hb_roles",
                    sa.Column("name", NAME, primary_key=True),
                    sa.Column("title", sa.String(200), nullable=False),
                    sa.Column("description", sa.Text, nullable=False),
                    sa.Column("strategy", JSON, nullable=False),
                    sa.Column("ignore_acl", sa.Boolean, nullable=False),
                    sa.Column("system", sa.Boolean, nullable=False),
                    sa.Column("created_at", DATETIME, nullable=False), schema=schema)
    op.create_table("_hb_role_tables",
                    sa.Column("role", NAME, primary_key=True),
                    sa.Column("table_name", NAME, primary_key=True),
                    sa.Column("actions", JSON, nullable=False), schema=schema)
    op.create_table("_hb_user_roles",
                    sa.Column("user_id", ID, primary_key=True),
                    sa.Column("role", NAME, primary_key=True, index=True),
                    sa.Column("is_default", sa.Boolean, nullable=False), schema=schema)
    op.create_table("_hb_sms_codes",
                    sa.Column("id", ID, primary_key=True),
                    sa.Column("phone", sa.String(32), nullable=False, index=True),
                    sa.Column("code_hash", HASH, nullable=False, index=True),
                    sa.Column("created_at", DATETIME, nullable=False),
                    sa.Column("expires_at", DATETIME, nullable=False),
                    sa.Column("used_at", DATETIME, nullable=True),
                    sa.Column("attempts", sa.Integer, nullable=False), schema=schema)
    op.create_table("_hb_sms_outbox",
                    sa.Column("id", ID, primary_key=True),
                    sa.Column("phone", sa.String(32), nullable=False, index=True),
                    sa.Column("template", NAME, nullable=False),
                    sa.Column("message", sa.Text, nullable=False),
                    sa.Column("code", sa.String(16), nullable=False),
                    sa.Column("created_at", DATETIME, nullable=False), schema=schema)
    op.create_table("_hb_settings",
                    sa.Column("key", NAME, primary_key=True),
                    sa.Column("value", JSON, nullable=True), schema=schema)


def _oauth(schema: str | None) -> None:
    op.create_table("_hb_oauth_clients",
                    sa.Column("client_id", ID, primary_key=True),
                    sa.Column("secret_hash", HASH, nullable=True),
                    sa.Column("name", sa.String(200), nullable=False),
                    sa.Column("meta", JSON, nullable=False),
                    sa.Column("created_at", DATETIME, nullable=False, index=True), schema=schema)
    op.create_table("_hb_oauth_requests",
                    sa.Column("id_hash", HASH, primary_key=True),
                    sa.Column("client_id", ID, nullable=False, index=True),
                    sa.Column("params", JSON, nullable=False),
                    sa.Column("created_at", DATETIME, nullable=False),
                    sa.Column("expires_at", DATETIME, nullable=False, index=True), schema=schema)
    op.create_table("_hb_oauth_codes",
                    sa.Column("code_hash", HASH, primary_key=True),
                    sa.Column("family", ID, nullable=False, index=True),
                    sa.Column("client_id", ID, nullable=False, index=True),
                    sa.Column("user_id", ID, nullable=False, index=True),
                    sa.Column("scopes", JSON, nullable=False),
                    sa.Column("code_challenge", sa.String(128), nullable=False),
                    sa.Column("redirect_uri", sa.Text, nullable=False),
                    sa.Column("redirect_explicit", sa.Boolean, nullable=False),
                    sa.Column("resource", sa.Text, nullable=True),
                    sa.Column("created_at", DATETIME, nullable=False),
                    sa.Column("expires_at", DATETIME, nullable=False, index=True),
                    sa.Column("used_at", DATETIME, nullable=True), schema=schema)
    op.create_table("_hb_oauth_tokens",
                    sa.Column("id", ID, primary_key=True),
                    sa.Column("token_hash", HASH, nullable=False, unique=True),
                    sa.Column("kind", sa.String(8), nullable=False),
                    sa.Column("family", ID, nullable=False, index=True),
                    sa.Column("client_id", ID, nullable=False, index=True),
                    sa.Column("user_id", ID, nullable=False, index=True),
                    sa.Column("scopes", JSON, nullable=False),
                    sa.Column("resource", sa.Text, nullable=True),
                    sa.Column("created_at", DATETIME, nullable=False),
                    sa.Column("expires_at", DATETIME, nullable=False, index=True),
                    sa.Column("revoked_at", DATETIME, nullable=True),
                    sa.Column("rotated_at", DATETIME, nullable=True), schema=schema)


def _files_and_functions(schema: str | None) -> None:
    op.create_table("_hb_files",
                    sa.Column("id", ID, primary_key=True),
                    sa.Column("key", sa.String(255), nullable=False, unique=True),
                    sa.Column("name", sa.String(255), nullable=False),
                    sa.Column("content_type", sa.String(255), nullable=False),
                    sa.Column("size", sa.BigInteger, nullable=False),
                    sa.Column("created_by", ID, nullable=True, index=True),
                    sa.Column("created_at", DATETIME, nullable=False), schema=schema)
    op.create_table("_hb_functions",
                    sa.Column("name", NAME, primary_key=True),
                    sa.Column("source", sa.Text, nullable=False),
                    sa.Column("updated_at", DATETIME, nullable=False),
                    sa.Column("updated_by", NAME, nullable=True), schema=schema)


def upgrade() -> None:
    schema = target_schema()
    for add in (_catalog, _identity, _oauth, _files_and_functions):
        add(schema)


def downgrade() -> None:
    schema = target_schema()
    for name in reversed(TABLES):
        op.drop_table(name, schema=schema)
