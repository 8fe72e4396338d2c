"""hivebase as an OAuth 2.1 authorization server for MCP clients: storage and grant logic, no HTTP.

The door (``hivebase/oauth/``) adapts the SDK's ``OAuthAuthorizationServerProvider`` onto these functions,
exchanging plain dicts. The pieces live in ``oauth_clients`` (registration, client secrets),
``oauth_grants`` (pending requests, consent, codes) and ``oauth_tokens`` (access and refresh tokens,
rotation, revocation); import them from here.

Token kinds are told apart by prefix: ``hbo_`` access, ``hbr_`` refresh, ``hbc_`` code (API keys are
``hbk_``). Failures: ``Unauthorized(reason="invalid_grant")`` for a bad code or refresh token,
``InvalidValue`` with an OAuth error code as reason (``invalid_scope``, ``invalid_redirect_uri``,
``invalid_client_metadata``, ``invalid_request``, ``invalid_target``), ``PermissionDenied(reason=
"registration_closed")``, ``NotFound`` (``oauth_client``, ``oauth_request``, ``oauth_token``, ``user``) and
``Unauthorized(reason="oauth_token")`` from ``check_access``.
"""

from __future__ import annotations

from hivebase.core.oauth.clients import (
    SCOPES,
    check_client_secret,
    delete_client,
    get_client,
    list_clients,
    register_client,
)
from hivebase.core.oauth.grants import (
    approve,
    deny,
    exchange_code,
    load_code,
    pending_authorization,
    start_authorization,
)
from hivebase.core.oauth.tokens import (
    ACCESS,
    ACCESS_INVALID,
    CODE,
    REFRESH,
    AccessGrant,
    check_access,
    exchange_refresh,
    forget_user,
    grant_of,
    list_tokens,
    live_access,
    load_refresh,
    revoke,
    revoke_token_id,
)

__all__ = [
    "ACCESS", "ACCESS_INVALID", "CODE", "REFRESH", "SCOPES", "AccessGrant", "approve", "check_access",
    "check_client_secret", "delete_client", "deny", "exchange_code", "exchange_refresh", "forget_user",
    "get_client", "grant_of", "list_clients", "list_tokens", "live_access", "load_code", "load_refresh",
    "pending_authorization", "register_client", "revoke", "revoke_token_id", "start_authorization",
]
