"""One MCP call's surroundings: the hub, the app, who is calling and which tool packages they asked for.

The HTTP transports resolve it once per HTTP request (``auth.authenticate``) and leave it in the ASGI
scope, where the tool handlers find it through the SDK's ``ctx.request``; stdio builds one per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hivebase.core.apps import App
from hivebase.core.principal import Principal
from hivebase.hub import Hub

SCOPE_KEY = "hivebase.mcp"


@dataclass(frozen=True, slots=True)
class McpCall:
    hub: Hub
    app: App
    principal: Principal
    base_url: str  # where REST clients reach this server (generate_code prints it)
    defaults: tuple[str, ...]  # the endpoint's default packages
    packages_header: str | None = None  # x-mcp-packages
    timezone: str | None = None  # x-timezone

    async def rest_api_key(self) -> str:
        """The app's REST API key (semi-public: it ships inside client apps) for generated client code."""
        return (await self.hub.apps.credentials(self.app.name)).rest_api_key or "<REST API key>"


def from_scope(scope: Any) -> McpCall | None:
    value = scope.get(SCOPE_KEY) if isinstance(scope, dict) else None
    return value if isinstance(value, McpCall) else None
