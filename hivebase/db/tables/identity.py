"""System tables of identity and access, in each app's own schema beside the catalog's.

Users themselves are rows of the ``_User`` catalog table (so they take custom fields like any table);
everything secret or structural about them lives here: password hashes, session and API-key hashes, roles,
role memberships, SMS codes and the development SMS outbox, and the app's access settings.
"""

from __future__ import annotations

import sqlalchemy as sa

from hivebase.db.types import JSONType, UTCDateTime

ID = sa.String(64)


def add_identity_tables(md: sa.MetaData) -> None:
    sa.Table("_hb_passwords", md,
             sa.Column("user_id", ID, primary_key=True),
             sa.Column("hash", sa.Text, nullable=False),
             sa.Column("changed_at", UTCDateTime, nullable=False))
    sa.Table("_hb_sessions", md,
             sa.Column("id", ID, primary_key=True),
             sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
             sa.Column("user_id", ID, nullable=False, index=True),
             sa.Column("via", sa.String(32), nullable=False, default=""),
             sa.Column("created_at", UTCDateTime, nullable=False),
             sa.Column("expires_at", UTCDateTime, nullable=False))
    sa.Table("_hb_api_keys", md,
             sa.Column("id", ID, primary_key=True),
             sa.Column("name", sa.String(100), nullable=False, default=""),
             sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
             sa.Column("user_id", ID, nullable=False, index=True),
             sa.Column("role", sa.String(64), nullable=False),
             sa.Column("created_at", UTCDateTime, nullable=False),
             sa.Column("expires_at", UTCDateTime, nullable=True))
    sa.Table("_hb_roles", md,
             sa.Column("name", sa.String(64), primary_key=True),
             sa.Column("title", sa.String(200), nullable=False, default=""),
             sa.Column("description", sa.Text, nullable=False, default=""),
             sa.Column("strategy", JSONType, nullable=False),
             sa.Column("ignore_acl", sa.Boolean, nullable=False, default=False),
             sa.Column("system", sa.Boolean, nullable=False, default=False),
             sa.Column("created_at", UTCDateTime, nullable=False))
    sa.Table("_hb_role_tables", md,
             sa.Column("role", sa.String(64), primary_key=True),
             sa.Column("table_name", sa.String(64), primary_key=True),
             sa.Column("actions", JSONType, nullable=False))
    sa.Table("_hb_user_roles", md,
             sa.Column("user_id", ID, primary_key=True),
             sa.Column("role", sa.String(64), primary_key=True, index=True),
             sa.Column("is_default", sa.Boolean, nullable=False, default=False))
    sa.Table("_hb_sms_codes", md,
             sa.Column("id", ID, primary_key=True),
             sa.Column("phone", sa.String(32), nullable=False, index=True),
             sa.Column("code_hash", sa.String(64), nullable=False, index=True),
             sa.Column("created_at", UTCDateTime, nullable=False),
             sa.Column("expires_at", UTCDateTime, nullable=False),
             sa.Column("used_at", UTCDateTime, nullable=True),
             sa.Column("attempts", sa.Integer, nullable=False, default=0))
    sa.Table("_hb_sms_outbox", md,
             sa.Column("id", ID, primary_key=True),
             sa.Column("phone", sa.String(32), nullable=False, index=True),
             sa.Column("template", sa.String(64), nullable=False, default=""),
             sa.Column("message", sa.Text, nullable=False),
             sa.Column("code", sa.String(16), nullable=False),
             sa.Column("created_at", UTCDateTime, nullable=False))
    sa.Table("_hb_settings", md,
             sa.Column("key", sa.String(64), primary_key=True),
             sa.Column("value", JSONType, nullable=True))
