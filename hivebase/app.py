"""Builds the ASGI app: settings, the core (a ``Hub``) and the doors — the only module that wires layers.

Doors: ``GET /health``; the Bmob REST API at ``/1`` (and Parse's ``/parse``), files at ``/2``; the MCP
endpoints (``/api/mcp``, ``/api/__app/<app>/mcp``, ``/mcp``) and each app's OAuth authorization server.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount, Route

from hivebase.config import Settings, load_settings
from hivebase.http import ORJSONResponse
from hivebase.hub import Hub
from hivebase.mcp import stdio
from hivebase.mcp.tools import registry
from hivebase.mcp.transports import McpDoor
from hivebase.oauth.routes import OAuthDoor
from hivebase.rest.bmob import files as bmob_files
from hivebase.rest.bmob import routes as bmob_routes


async def health(request: Request) -> ORJSONResponse:
    return ORJSONResponse({"status": "ok"})


def build_app(settings: Settings | None = None) -> Starlette:
    """The server for ``settings`` (default: the environment's); its lifespan owns one ``Hub``."""
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub = Hub(settings)
        try:
            await hub.start()
            app.state.hub = hub
            async with mcp.run():
                yield
        finally:
            await hub.close()

    bmob = bmob_routes.api_routes()
    mcp = McpDoor(settings, registry())
    app = Starlette(routes=[Route("/health", health, methods=["GET"]),
                            *mcp.routes(),
                            *OAuthDoor().routes(),
                            Mount("/1", routes=bmob_routes.with_openapi(bmob, "/1")),
                            Mount("/parse", routes=bmob),
                            Mount("/2", routes=bmob_files.routes())], lifespan=lifespan)
    app.state.settings = settings
    return app


#: the default tool sets ``hivebase mcp --dialect`` may pick
STDIO_DIALECTS = tuple(stdio.DEFAULTS)


async def serve_stdio(hub: Hub, app: str, *, api_key: str | None, master_key: str | None, role: str | None,
                      packages: str | None, dialect: str) -> None:
    """The MCP door on stdin/stdout for ``hivebase mcp`` (the CLI reaches doors only through this module)."""
    await stdio.serve(hub, registry(), app, api_key=api_key, master_key=master_key, role=role,
                      packages=packages, dialect=dialect)
