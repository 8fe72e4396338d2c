"""Builds the ASGI app: settings, the core (a ``Hub``) and the doors — the only module that wires layers.

Today the only door is ``GET /health``; the REST dialects and MCP endpoints mount here as they land.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hivebase.config import Settings, load_settings
from hivebase.core.hub import Hub


class ORJSONResponse(JSONResponse):
    """JSON rendered by orjson (several times faster than the standard library on large bodies)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


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
            yield
        finally:
            await hub.close()

    app = Starlette(routes=[Route("/health", health, methods=["GET"])], lifespan=lifespan)
    app.state.settings = settings
    return app
