"""OAuth 2.1 per app: the SDK's handlers for ``/authorize``, ``/token``, ``/register`` and ``/revoke`` under
each app's issuer (``<base>/api`` for main, ``<base>/api/__app/<app>`` for a sub-app), the authorization-
server metadata (RFC 8414, also at the ``openid-configuration`` paths clients try) and the protected-resource
metadata of every MCP endpoint (RFC 9728), at the RFC's path-inserted places and at NocoBase's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mcp.server.auth.handlers.authorize import AuthorizationHandler
from mcp.server.auth.handlers.register import RegistrationHandler
from mcp.server.auth.handlers.token import TokenHandler
from mcp.server.auth.middleware.client_auth import ClientAuthenticator
from mcp.server.auth.routes import build_metadata, cors_middleware
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.server.transport_security import RequestBodyLimitMiddleware
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import Receive, Scope, Send

from hivebase.core import oauth
from hivebase.core.apps import MAIN
from hivebase.errors import NotFound
from hivebase.http import ORJSONResponse, public_base_url
from hivebase.hub import Hub
from hivebase.oauth import pages
from hivebase.oauth.provider import SCOPES, AppContext, Provider, current, use

Handler = Callable[[Request], Awaitable[Response]]
MAX_BODY = 64 * 1024  # OAuth forms and registrations are small
SUB = "/api/__app/{app_name}"


def issuer_path(app: str) -> str:
    return "/api" if app == MAIN else f"/api/__app/{app}"


def mcp_paths(app: str) -> tuple[str, ...]:
    """The app's MCP endpoints; the first is the resource a token is for when a client names none."""
    return ("/api/mcp", "/mcp") if app == MAIN else (f"/api/__app/{app}/mcp",)


async def app_context(request: Request) -> AppContext:
    hub: Hub = request.app.state.hub
    app = await hub.apps.open(str(request.path_params.get("app_name", MAIN)))
    base = public_base_url(hub.settings, request)
    return AppContext(hub=hub, app=app, issuer=base + issuer_path(app.name),
                      resources=tuple(base + p for p in mcp_paths(app.name)))


class InApp:
    """An endpoint run inside its app's ``AppContext`` (an unknown app answers 404)."""

    def __init__(self, handler: Handler, cors: list[str] | None = None) -> None:
        self.app = RequestBodyLimitMiddleware(cors_middleware(handler, cors) if cors else request_response(handler),
                                              MAX_BODY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            context = await app_context(Request(scope, receive))
        except NotFound as exc:
            await ORJSONResponse({"error": "invalid_request", "error_description": exc.message},
                                 status_code=404)(scope, receive, send)
            return
        with use(context):
            await self.app(scope, receive, send)


class OAuthDoor:
    def __init__(self) -> None:
        self.provider = Provider()
        self.registration = ClientRegistrationOptions(enabled=True, valid_scopes=list(SCOPES),
                                                      default_scopes=list(SCOPES))
        self.revocation = RevocationOptions(enabled=True)
        authenticator = ClientAuthenticator(self.provider)
        self.authorize = AuthorizationHandler(self.provider).handle
        self.token = TokenHandler(self.provider, authenticator).handle
        self.register = RegistrationHandler(self.provider, options=self.registration).handle

    async def revoke(self, request: Request) -> Response:
        """RFC 7009 for public clients (the SDK's handler insists on a ``client_secret`` field, which a
        public client does not have): a known ``client_id`` and a ``token``; any outcome answers 200."""
        form = await request.form()
        client_id, token = form.get("client_id"), form.get("token")
        if not isinstance(client_id, str) or await self.provider.get_client(client_id[:200]) is None:
            return ORJSONResponse({"error": "invalid_client", "error_description": "unknown client_id"},
                                  status_code=401)
        if not isinstance(token, str) or not token:
            return ORJSONResponse({"error": "invalid_request", "error_description": "`token` is required"},
                                  status_code=400)
        await oauth.revoke(current().app, token[:500], client_id)
        return ORJSONResponse({})

    async def server_metadata(self, request: Request) -> Response:
        ctx = await app_context(request)
        metadata = build_metadata(AnyHttpUrl(ctx.issuer), None, self.registration, self.revocation)
        metadata.token_endpoint_auth_methods_supported = ["none"]  # public clients with PKCE (see provider)
        metadata.authorization_response_iss_parameter_supported = True  # RFC 9207: the consent page sends iss
        return ORJSONResponse(metadata.model_dump(mode="json", exclude_none=True))

    def resource_metadata(self, which: int | None) -> Handler:
        """RFC 9728 metadata of one of the app's MCP endpoints (``which`` indexes ``mcp_paths``; None: the
        NocoBase form, whose resource is ``<issuer>/mcp``)."""

        async def handle(request: Request) -> Response:
            ctx = await app_context(request)
            resource = ctx.resources[which] if which is not None else ctx.issuer + "/mcp"
            meta = ProtectedResourceMetadata(resource=AnyHttpUrl(resource),
                                             authorization_servers=[AnyHttpUrl(ctx.issuer)],
                                             scopes_supported=list(SCOPES), resource_name=f"hivebase {ctx.app.name}")
            return ORJSONResponse(meta.model_dump(mode="json", exclude_none=True))

        return handle

    def routes(self) -> list[BaseRoute]:
        get = ["GET", "OPTIONS"]
        routes: list[BaseRoute] = [
            Route("/.well-known/oauth-protected-resource", InApp(self.resource_metadata(0), get), methods=get),
            Route("/.well-known/oauth-protected-resource/api/mcp", InApp(self.resource_metadata(0), get),
                  methods=get),
            Route("/.well-known/oauth-protected-resource/mcp", InApp(self.resource_metadata(1), get), methods=get),
            Route("/.well-known/oauth-protected-resource" + SUB + "/mcp", InApp(self.resource_metadata(0), get),
                  methods=get),
        ]
        for prefix in ("/api", SUB):
            routes += [
                Route(f"{prefix}/.well-known/oauth-protected-resource", InApp(self.resource_metadata(None), get),
                      methods=get),
                Route(f"/.well-known/oauth-authorization-server{prefix}", InApp(self.server_metadata, get),
                      methods=get),
                Route(f"/.well-known/openid-configuration{prefix}", InApp(self.server_metadata, get), methods=get),
                Route(f"{prefix}/.well-known/oauth-authorization-server", InApp(self.server_metadata, get),
                      methods=get),
                Route(f"{prefix}/.well-known/openid-configuration", InApp(self.server_metadata, get), methods=get),
                Route(f"{prefix}/authorize", InApp(self.authorize), methods=["GET", "POST"]),
                Route(f"{prefix}/token", InApp(self.token, ["POST", "OPTIONS"]), methods=["POST", "OPTIONS"]),
                Route(f"{prefix}/register", InApp(self.register, ["POST", "OPTIONS"]), methods=["POST", "OPTIONS"]),
                Route(f"{prefix}/revoke", InApp(self.revoke, ["POST", "OPTIONS"]), methods=["POST", "OPTIONS"]),
                Route(f"{prefix}/oauth/consent", InApp(pages.consent), methods=["GET", "POST"]),
            ]
        return routes
