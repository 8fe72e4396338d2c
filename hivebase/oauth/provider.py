"""The SDK's authorization-server provider protocol, over the core's OAuth grants (``core/oauth``).

One provider serves every app: the OAuth routes run inside ``AppContext.use(...)``, which says which app
(and issuer) the request belongs to. The core stores and checks everything (hashed secrets, single-use
codes, rotation, reuse detection); this module only converts between the SDK's models and the core's dicts.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from hivebase.core import oauth
from hivebase.core.apps import App
from hivebase.errors import HivebaseError, Unauthorized
from hivebase.hub import Hub

SCOPES = ["mcp", "offline_access"]


@dataclass(frozen=True, slots=True)
class AppContext:
    hub: Hub
    app: App
    issuer: str  # <base>/api or <base>/api/__app/<app>
    resources: tuple[str, ...]  # this app's MCP endpoint URLs (RFC 8707 resource indicators)


_current: contextvars.ContextVar[AppContext] = contextvars.ContextVar("hivebase_oauth_app")


@contextlib.contextmanager
def use(context: AppContext) -> Iterator[None]:
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> AppContext:
    return _current.get()


class Provider:
    """``OAuthAuthorizationServerProvider`` for whichever app the request is about."""

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        stored = await oauth.get_client(current().app, client_id)
        return None if stored is None else OAuthClientInformationFull.model_validate(stored)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        # Every client is public and proves itself with PKCE (what MCP clients register as): the server
        # assigns `none` (RFC 7591 §3.2.1 lets it), so no client secret exists to be stored or leaked.
        client_info.token_endpoint_auth_method = "none"
        client_info.client_secret = None
        client_info.client_secret_expires_at = None
        try:
            await oauth.register_client(current().app, client_info.model_dump(mode="json", exclude_none=True))
        except HivebaseError as exc:
            raise RegistrationError(error="invalid_client_metadata", error_description=exc.message) from None

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        ctx = current()
        resource = params.resource or ctx.resources[0]  # some clients (Codex) omit it
        if resource.rstrip("/") not in ctx.resources:
            raise AuthorizeError(error="invalid_request",
                                 error_description="`resource` is not an MCP endpoint of this app")
        request_id = await oauth.start_authorization(ctx.app, str(client.client_id), {
            "scopes": params.scopes or list(SCOPES), "code_challenge": params.code_challenge,
            "redirect_uri": str(params.redirect_uri),
            "redirect_uri_provided_explicitly": params.redirect_uri_provided_explicitly,
            "state": params.state, "resource": resource.rstrip("/")})
        return f"{ctx.issuer}/oauth/consent?request={request_id}"

    async def load_authorization_code(self, client: OAuthClientInformationFull,
                                      authorization_code: str) -> AuthorizationCode | None:
        found = await oauth.load_code(current().app, str(client.client_id), authorization_code)
        return None if found is None else AuthorizationCode.model_validate(found)

    async def exchange_authorization_code(self, client: OAuthClientInformationFull,
                                          authorization_code: AuthorizationCode) -> OAuthToken:
        try:
            return OAuthToken.model_validate(
                await oauth.exchange_code(current().app, str(client.client_id), authorization_code.code))
        except HivebaseError as exc:
            raise TokenError(error="invalid_grant", error_description=exc.message) from None

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        found = await oauth.load_refresh(current().app, str(client.client_id), refresh_token)
        return None if found is None else RefreshToken.model_validate(found)

    async def exchange_refresh_token(self, client: OAuthClientInformationFull, refresh_token: RefreshToken,
                                     scopes: list[str]) -> OAuthToken:
        try:
            return OAuthToken.model_validate(
                await oauth.exchange_refresh(current().app, str(client.client_id), refresh_token.token, scopes))
        except HivebaseError as exc:
            raise TokenError(error="invalid_grant", error_description=exc.message) from None

    async def load_access_token(self, token: str) -> AccessToken | None:
        try:
            grant = await oauth.check_access(current().app, token)
        except Unauthorized:
            return None
        return AccessToken(token=token, client_id=grant.client_id, scopes=list(grant.scopes),
                           expires_at=int(grant.expires_at) if grant.expires_at else None,
                           resource=grant.resource, subject=grant.user_id)

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        await oauth.revoke(current().app, token.token)

    async def exchange_identity_assertion(self, *args: Any, **kwargs: Any) -> OAuthToken:
        raise TokenError(error="unsupported_grant_type", error_description="identity assertions are not supported")
