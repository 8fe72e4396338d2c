"""The MCP endpoints over HTTP: streamable HTTP at ``/api/mcp``, ``/api/__app/<app>/mcp`` and ``POST /mcp``;
legacy HTTP+SSE (2024-11-05) at ``GET /mcp`` + ``POST /mcp/messages/?session_id=…``.

Each request is authenticated first (``auth.authenticate``); the resulting ``McpCall`` rides in the ASGI
scope to the tool handlers, and the credential's fingerprint in ``scope["user"]``, which is how the SDK's
transports bind a session to the credential that opened it (another credential gets 404, as for an
unknown session). One session manager serves every streamable route, so sessions are also bound to their
app through the fingerprint. Host and Origin are checked against DNS rebinding by the SDK's transports.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import version
from urllib.parse import urlsplit

from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from hivebase.config import Settings
from hivebase.hub import Hub
from hivebase.mcp.auth import Endpoint, Refused, authenticate
from hivebase.mcp.context import SCOPE_KEY
from hivebase.mcp.packages import Registry
from hivebase.mcp.server import Tools, build_server, locate_in_request

log = logging.getLogger("hivebase.mcp")

MESSAGES = "/mcp/messages/"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
NOCOBASE = Endpoint("nocobase", ("@hivebase/resources",))
BMOB = Endpoint("bmob", ("@hivebase/bmob",))


def security(settings: Settings) -> TransportSecuritySettings:
    """Loopback names, the public URL's host and the configured extras; ``*`` switches the check off."""
    if "*" in settings.mcp_allowed_hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    public = urlsplit(settings.public_url)
    hosts = [h for name in LOOPBACK for h in (name, f"{name}:*")]
    origins = [f"{scheme}://{h}" for scheme in ("http", "https") for h in hosts]
    if public.netloc:
        hosts.append(public.netloc)
        origins.append(f"{public.scheme}://{public.netloc}")
    if settings.host not in ("0.0.0.0", "::", ""):
        hosts += [settings.host, f"{settings.host}:{settings.port}"]
    return TransportSecuritySettings(allowed_hosts=[*hosts, *settings.mcp_allowed_hosts],
                                     allowed_origins=[*origins, *settings.mcp_allowed_origins])


class McpDoor:
    """The MCP server with its transports; ``run()`` belongs in the app's lifespan."""

    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.tools = Tools(registry)
        self.server = build_server(self.tools, locate_in_request, version=version("hivebase"))
        guard = security(settings)
        self.manager = StreamableHTTPSessionManager(
            app=self.server, json_response=settings.mcp_json_response, stateless=settings.mcp_stateless,
            security_settings=guard, session_idle_timeout=settings.mcp_session_idle_seconds,
            max_request_body_size=settings.max_body_bytes, max_sessions=settings.mcp_max_sessions)
        self.sse = SseServerTransport(MESSAGES, security_settings=guard,
                                      max_request_body_size=settings.max_body_bytes)

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield

    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "POST", "DELETE"]
        return [Route("/api/mcp", _Entry(self, NOCOBASE), methods=methods),
                Route("/api/__app/{app_name}/mcp", _Entry(self, NOCOBASE), methods=methods),
                Route("/mcp", _Entry(self, BMOB, legacy=True), methods=methods),
                Mount(MESSAGES, app=_Entry(self, BMOB, messages=True))]

    async def legacy_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with self.sse.connect_sse(scope, receive, send) as (read, write):
                await self.server.run(read, write, self.server.create_initialization_options())
        except ValueError:  # refused by the Host/Origin check, which has already answered
            return


class _Entry:
    """An MCP endpoint: authenticate, then hand the request to the right transport."""

    def __init__(self, door: McpDoor, endpoint: Endpoint, *, legacy: bool = False, messages: bool = False) -> None:
        self.door, self.endpoint, self.legacy, self.messages = door, endpoint, legacy, messages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        hub: Hub = scope["app"].state.hub
        try:
            scope[SCOPE_KEY] = await authenticate(hub, request, self.endpoint)
        except Refused as refused:
            await refused.response(scope, receive, send)
            return
        if self.messages:
            await self.door.sse.handle_post_message(scope, receive, send)
        elif self.legacy and request.method == "GET" and "mcp-session-id" not in request.headers:
            await self.door.legacy_stream(scope, receive, send)
        else:
            await self.door.manager.handle_request(scope, receive, send)
