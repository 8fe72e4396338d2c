"""Who is calling an MCP endpoint, from the HTTP request's credentials, resolved once per HTTP request.

Every endpoint takes ``Authorization: Bearer <API key>`` and Bmob's headers (``X-Bmob-Application-Id`` with
the REST API key or the master key, optionally ``X-Bmob-Session-Token``; Parse's ``X-Parse-*`` too).
``/api/mcp`` serves the main app and ``/api/__app/<app>/mcp`` that app; ``/mcp`` serves the app its
application id names (the main app for a bare API key). Refusals are in the endpoint's dialect: ``/mcp``
answers ``401 {"error":"unauthorized"}`` as Bmob does; ``/api/…`` answers NocoBase's error body with the
``WWW-Authenticate`` challenge that leads an OAuth-capable client to the protected-resource metadata.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.requests import Request
from starlette.responses import Response

from hivebase.auth.credentials import Credentials, app_by_id
from hivebase.auth.resolve import resolve_credentials
from hivebase.core.apps import MAIN, App
from hivebase.dialects.bmob import errors as bmob
from hivebase.dialects.nocobase import errors as nocobase
from hivebase.errors import HivebaseError, NotFound, PermissionDenied, Unauthorized
from hivebase.http import ORJSONResponse, public_base_url
from hivebase.hub import Hub
from hivebase.mcp.context import McpCall

SCOPES = "mcp offline_access"
MESSAGES_RESOURCE = "/mcp"  # legacy SSE messages belong to the /mcp resource


@dataclass(frozen=True, slots=True)
class Endpoint:
    kind: Literal["nocobase", "bmob"]
    defaults: tuple[str, ...]


class Refused(Exception):
    """The request ends here, with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _challenge(hub: Hub, request: Request, endpoint: Endpoint, error: str = "") -> Response:
    """401 with the challenge that leads an OAuth client to this endpoint's protected-resource metadata."""
    path = MESSAGES_RESOURCE if request.url.path.startswith("/mcp/") else request.url.path
    metadata = f"{public_base_url(hub.settings, request)}/.well-known/oauth-protected-resource{path}"
    extra = f', error="{error}"' if error else ""
    headers = {"WWW-Authenticate": f'Bearer resource_metadata="{metadata}", scope="{SCOPES}"{extra}'}
    if endpoint.kind == "bmob":
        return ORJSONResponse(bmob.UNAUTHORIZED, status_code=401, headers=headers)
    return ORJSONResponse({"errors": [{"message": "unauthorized: send `Authorization: Bearer <API key or access "
                                                  "token>` or the app's Bmob headers"}]},
                          status_code=401, headers=headers)


def _refusal(exc: HivebaseError, endpoint: Endpoint) -> Response:
    if endpoint.kind == "bmob":
        return ORJSONResponse(bmob.error_body(exc), status_code=bmob.status_of(exc))
    return ORJSONResponse(nocobase.error_body(exc), status_code=nocobase.status_of(exc))


def fingerprint(app: App, *secrets: str | None) -> str:
    """Identifies the credential that opened a session, so another credential cannot use it."""
    h = hashlib.sha256(app.name.encode())
    for s in secrets:
        h.update(b"\0" + (s or "").encode())
    return h.hexdigest()


async def _app(hub: Hub, request: Request, endpoint: Endpoint, creds: Credentials) -> App:
    if endpoint.kind == "nocobase":
        app = await hub.apps.open(str(request.path_params.get("app_name", MAIN)))
        if creds.application_id is not None and creds.application_id != app.application_id:
            raise Unauthorized("the application id is not this app's", reason="application_id")
        return app
    if creds.application_id is None:  # /mcp with a bare API key or access token: the main app
        return await hub.apps.open(MAIN)
    return await app_by_id(hub.apps, creds.application_id)


async def authenticate(hub: Hub, request: Request, endpoint: Endpoint) -> McpCall:
    """The call's context, with ``scope["user"]`` set to the credential's fingerprint (the SDK binds
    sessions to it); raises ``Refused`` with the dialect's answer when the credentials do not hold."""
    creds = Credentials.from_headers(request.headers)
    if creds.oversized() or (creds.bearer is None and not creds.has_app_key):
        raise Refused(_challenge(hub, request, endpoint))
    try:
        app = await _app(hub, request, endpoint, creds)
        principal = await resolve_credentials(hub.apps, app, creds, via="mcp", oauth_scope="mcp")
    except Unauthorized:
        raise Refused(_challenge(hub, request, endpoint, "invalid_token" if creds.bearer else "")) from None
    except NotFound as exc:  # an app named in the path that does not exist
        raise Refused(_refusal(exc, endpoint)) from None
    except PermissionDenied as exc:  # e.g. an x-role the user does not hold, a token without `mcp`
        refusal = _refusal(exc, endpoint)
        if exc.reason == "insufficient_scope":
            refusal.headers["WWW-Authenticate"] = f'Bearer error="insufficient_scope", scope="{SCOPES}"'
        raise Refused(refusal) from None
    if principal.kind == "nobody":
        raise Refused(_challenge(hub, request, endpoint))
    binding = creds.binding(principal.user_id)
    token = AccessToken(token="-", client_id=fingerprint(app, *binding), scopes=[], subject=principal.user_id)
    request.scope["user"] = AuthenticatedUser(token)
    return McpCall(hub=hub, app=app, principal=principal, base_url=public_base_url(hub.settings, request),
                   defaults=endpoint.defaults, packages_header=request.headers.get("x-mcp-packages"),
                   timezone=request.headers.get("x-timezone"))
