"""System tables of the OAuth 2.1 authorization server, in each app's own schema (so another app's client,
code or token is simply unknown here).

Every secret is stored as its SHA-256 only: client secrets, pending-request ids, authorization codes,
access and refresh tokens. ``family`` ties every token issued from one approval together, so a replayed
code or a reused refresh token can revoke all of them at once.
"""

from __future__ import annotations

import sqlalchemy as sa

from hivebase.db.types import JSONType, UTCDateTime

ID = sa.String(64)
HASH = sa.String(64)


def add_oauth_tables(md: sa.MetaData) -> None:
    sa.Table("_hb_oauth_clients", md,
             sa.Column("client_id", ID, primary_key=True),
             sa.Column("secret_hash", HASH, nullable=True),  # None: a public client (PKCE only)
             sa.Column("name", sa.String(200), nullable=False, default=""),
             sa.Column("meta", JSONType, nullable=False),  # RFC 7591 metadata, never the secret
             sa.Column("created_at", UTCDateTime, nullable=False, index=True))
    sa.Table("_hb_oauth_requests", md,
             sa.Column("id_hash", HASH, primary_key=True),
             sa.Column("client_id", ID, nullable=False, index=True),
             sa.Column("params", JSONType, nullable=False),
             sa.Column("created_at", UTCDateTime, nullable=False),
             sa.Column("expires_at", UTCDateTime, nullable=False, index=True))
    sa.Table("_hb_oauth_codes", md,
             sa.Column("code_hash", HASH, primary_key=True),
             sa.Column("family", ID, nullable=False, index=True),
             sa.Column("client_id", ID, nullable=False, index=True),
             sa.Column("user_id", ID, nullable=False, index=True),
             sa.Column("scopes", JSONType, nullable=False),
             sa.Column("code_challenge", sa.String(128), nullable=False),
             sa.Column("redirect_uri", sa.Text, nullable=False),
             sa.Column("redirect_explicit", sa.Boolean, nullable=False),
             sa.Column("resource", sa.Text, nullable=True),
             sa.Column("created_at", UTCDateTime, nullable=False),
             sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
             sa.Column("used_at", UTCDateTime, nullable=True))
    sa.Table("_hb_oauth_tokens", md,
             sa.Column("id", ID, primary_key=True),
             sa.Column("token_hash", HASH, nullable=False, unique=True),
             sa.Column("kind", sa.String(8), nullable=False),  # "access" or "refresh"
             sa.Column("family", ID, nullable=False, index=True),
             sa.Column("client_id", ID, nullable=False, index=True),
             sa.Column("user_id", ID, nullable=False, index=True),
             sa.Column("scopes", JSONType, nullable=False),
             sa.Column("resource", sa.Text, nullable=True),
             sa.Column("created_at", UTCDateTime, nullable=False),
             sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
             sa.Column("revoked_at", UTCDateTime, nullable=True),
             sa.Column("rotated_at", UTCDateTime, nullable=True))  # refresh tokens: replaced by a newer one
