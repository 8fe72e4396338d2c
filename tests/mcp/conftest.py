"""MCP test plumbing: a real server on a free port (the REST tests' ``serving``), API keys made in the core,
and the official ``mcp`` client over streamable HTTP and legacy SSE."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from hivebase.config import Settings
from hivebase.core.apps import MAIN
from hivebase.core.identity import api_keys, users
from hivebase.core.principal import Principal
from hivebase.hub import Hub
from tests.rest.conftest import Server, serving

ROOT = Principal.root("test")


def blocking(work: Callable[[], Any]) -> Any:
    """Run set-up that calls ``asyncio.run`` from inside an async test: on a thread of its own."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


def make_key(server: Server, app: str = MAIN, role: str = "admin", username: str = "agent") -> str:
    """A user holding ``role`` (made by root in the core) and an API key acting in it."""

    async def run() -> str:
        async with Hub(server.settings) as hub:
            opened = await hub.apps.open(app)
            user = await users.create_user(opened, ROOT, {"username": username, "password": "s3cret-pass"},
                                           [role])
            _, secret = await api_keys.create(opened, ROOT, user["objectId"], role, name="test")
            return secret

    return blocking(lambda: asyncio.run(run()))


def bmob_headers(server: Server, app: str = MAIN, *, master: bool = False) -> dict[str, str]:
    creds = server.apps[app]
    key = {"X-Bmob-Master-Key": creds["masterKey"]} if master else {"X-Bmob-REST-API-Key": creds["restApiKey"]}
    return {"X-Bmob-Application-Id": creds["applicationId"], **key}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextlib.asynccontextmanager
async def streamable(url: str, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    """An initialised client session over streamable HTTP."""
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http, \
            streamable_http_client(url, http_client=http) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@contextlib.asynccontextmanager
async def legacy(url: str, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    """An initialised client session over legacy HTTP+SSE (GET /mcp, POST /mcp/messages/)."""
    async with sse_client(url, headers=headers, timeout=30) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def payload(result: types.CallToolResult) -> Any:
    """The JSON a tool answered (its one text content)."""
    assert len(result.content) == 1 and result.content[0].type == "text", result
    return json.loads(result.content[0].text)


def ok(result: types.CallToolResult) -> Any:
    assert not result.is_error, result.content
    return payload(result)


def bmob_error(result: types.CallToolResult) -> dict[str, Any]:
    """A Bmob tool's error: ``{"code", "error"}``, never a trace or SQL."""
    assert result.is_error, result
    body = payload(result)
    assert set(body) == {"code", "error"}, body
    _clean(body["error"])
    return dict(body)


def resource_error(result: types.CallToolResult) -> str:
    """A resource tool's error: ``{"errors": [{"message"}]}``; returns the message."""
    assert result.is_error, result
    body = payload(result)
    assert set(body) == {"errors"} and len(body["errors"]) == 1 and set(body["errors"][0]) == {"message"}, body
    _clean(body["errors"][0]["message"])
    return str(body["errors"][0]["message"])


def _clean(text: str) -> None:
    low = text.lower()
    assert "traceback" not in low and "select " not in low and "sqlalchemy" not in low, text


@pytest.fixture
def mcp_server(settings: Settings) -> Iterator[Server]:
    with serving(settings) as running:
        yield running
