"""MCP over stdio for local clients (``hivebase mcp``): one app, one credential, resolved on every call so
a revoked key stops working at once, as on HTTP."""

from __future__ import annotations

from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.stdio import stdio_server

from hivebase.auth.resolve import resolve
from hivebase.hub import Hub
from hivebase.mcp.context import McpCall
from hivebase.mcp.packages import Registry
from hivebase.mcp.server import Tools, build_server
from hivebase.mcp.transports import BMOB, NOCOBASE

DEFAULTS = {"nocobase": NOCOBASE.defaults, "bmob": BMOB.defaults}


async def caller(hub: Hub, app_name: str, *, api_key: str | None, master_key: str | None, role: str | None,
                 packages: str | None, dialect: str = "nocobase") -> McpCall:
    """The call context for these credentials now; core errors (a wrong or revoked key) propagate."""
    app = await hub.apps.open(app_name)
    principal = await resolve(hub.apps, app, master_key=master_key, api_key=api_key, role=role, via="mcp")
    return McpCall(hub=hub, app=app, principal=principal, base_url=hub.settings.public_url,
                   defaults=DEFAULTS[dialect], packages_header=packages)


async def serve(hub: Hub, registry: Registry, app_name: str, **credentials: Any) -> None:
    """Serve stdin/stdout until the client closes them. Checks the credentials before the first message."""
    await caller(hub, app_name, **credentials)

    async def locate(ctx: ServerRequestContext[Any]) -> McpCall:
        return await caller(hub, app_name, **credentials)

    server = build_server(Tools(registry), locate)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
