"""``hivebase mcp`` over stdio, driven by the official client as a local MCP client would start it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from hivebase.config import Settings
from hivebase.core.apps import MAIN
from hivebase.core.identity import api_keys, users
from hivebase.hub import Hub
from tests.cli import clean_env
from tests.conftest import drop_prefixed_schemas
from tests.mcp.conftest import ROOT, bmob_error, ok, resource_error

pytestmark = pytest.mark.anyio


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = clean_env(HIVEBASE_DATA_DIR=str(settings.data_dir), **extra)
    if settings.database_url:
        env.update(HIVEBASE_DATABASE_URL=settings.database_url, HIVEBASE_SCHEMA_PREFIX=settings.schema_prefix)
    return env


@pytest.fixture
def stored(settings: Settings) -> Iterator[dict[str, Any]]:
    """An initialised data dir with an admin API key and the main app's master key."""

    async def prepare() -> dict[str, Any]:
        async with Hub(settings) as hub:
            creds = await hub.init_main()
            assert creds is not None
            app = await hub.apps.open(MAIN)
            user = await users.create_user(app, ROOT, {"username": "agent", "password": "s3cret-pass"}, ["admin"])
            meta, secret = await api_keys.create(app, ROOT, user["objectId"], "admin")
            return {"key": secret, "keyId": meta["id"], "master": creds.master_key}

    yield asyncio.run(prepare())
    asyncio.run(drop_prefixed_schemas(settings))


def params(settings: Settings, *args: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "hivebase.cli.main", "mcp", *args],
                                 env=env_for(settings, **env))


async def test_stdio_with_api_key_and_master_key(settings: Settings, stored: dict[str, Any]) -> None:
    async with stdio_client(params(settings, "--app", "main", HIVEBASE_API_KEY=stored["key"])) as (r, w), \
            ClientSession(r, w) as session:
        await session.initialize()
        names = {t.name for t in (await session.list_tools()).tools}
        assert "resource_list" in names and "add_single_data" not in names
        users_page = ok(await session.call_tool("resource_list", {"resource": "_User", "fields": ["username"]}))
        assert [u["username"] for u in users_page["data"]] == ["agent"]
        assert "Post" in resource_error(await session.call_tool("resource_list", {"resource": "Post"}))
    async with stdio_client(params(settings, "--dialect", "bmob", "--master-key", stored["master"])) as (r, w), \
            ClientSession(r, w) as session:
        await session.initialize()
        names = {t.name for t in (await session.list_tools()).tools}
        assert "add_single_data" in names and "resource_list" not in names
        ok(await session.call_tool("create_table", {"tableName": "Post", "fields": {"title": {"type": "String"}}}))
        made = ok(await session.call_tool("add_single_data", {"tableName": "Post", "data": '{"title":"hi"}'}))
        assert set(made) == {"objectId", "createdAt"}
        assert bmob_error(await session.call_tool("add_single_data", {"tableName": "Post", "data": "{oops"}))[
            "code"] == 107


async def test_stdio_revoked_key_stops_at_once(settings: Settings, stored: dict[str, Any]) -> None:
    async with stdio_client(params(settings, "--packages", "bmob", HIVEBASE_API_KEY=stored["key"])) as (r, w), \
            ClientSession(r, w) as session:
        await session.initialize()
        assert "_User" in ok(await session.call_tool("get_project_tables", {}))

        async def revoke() -> None:
            async with Hub(settings) as hub:
                await api_keys.revoke(await hub.apps.open(MAIN), ROOT, stored["keyId"])

        await anyio.to_thread.run_sync(lambda: asyncio.run(revoke()))
        with pytest.raises(MCPError):
            await session.call_tool("get_project_tables", {})


def test_stdio_refuses_bad_credentials(settings: Settings, stored: dict[str, Any], tmp_path: Path) -> None:
    import subprocess

    base = [sys.executable, "-m", "hivebase.cli.main", "mcp"]
    for args, env in ((["--app", "main"], {}), (["--api-key", "hbk_wrong"], {}),
                      (["--master-key", "nope"], {}), (["--app", "nope", "--master-key", "x"], {}),
                      (["--dialect", "soap"], {"HIVEBASE_API_KEY": stored["key"]}),
                      (["--api-key", stored["key"], "--master-key", stored["master"]], {})):
        done = subprocess.run(base + args, env=env_for(settings, **env), capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert done.stdout == "" and "Error" in done.stderr and "Traceback" not in done.stderr, done.stderr
        for secret in (stored["key"], stored["master"]):
            assert secret not in done.stderr
