"""The MCP endpoints over real sockets with the official client: streamable HTTP (stateful, stateless, JSON),
legacy HTTP+SSE, credentials and their refusals, session binding, protocol versions, Host/Origin checks."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from hivebase.config import Settings
from tests.mcp.conftest import bearer, blocking, bmob_error, bmob_headers, legacy, make_key, ok, streamable
from tests.rest.conftest import Server, serving

pytestmark = pytest.mark.anyio

RESOURCE_TOOLS = {"resource_list", "resource_get", "resource_create", "resource_update", "resource_destroy",
                  "resource_query"}
BMOB_TOOLS = {"get_project_tables", "create_table", "add_single_data", "update_single_data", "delete_single_data",
              "generate_code", "get_single_data", "query_data", "invoke_cloud_function", "deploy_cloud_function"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def rpc_body(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC message of a streamable-HTTP answer (plain JSON or one SSE ``message`` event)."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return dict(response.json())
    for line in response.text.splitlines():
        if line.startswith("data:") and line[5:].strip():
            return dict(json.loads(line[5:]))
    raise AssertionError(response.text)


async def test_streamable_api_key_lists_resource_tools_and_packages(mcp_server: Server) -> None:
    key = make_key(mcp_server)
    async with streamable(f"{mcp_server.url}/api/mcp", bearer(key)) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == RESOURCE_TOOLS
        for tool in tools.values():
            assert tool.input_schema["additionalProperties"] is False
            assert "resource" in tool.input_schema["required"]
            assert tool.annotations is not None and tool.description
        assert tools["resource_list"].annotations.read_only_hint is True
        assert tools["resource_destroy"].annotations.destructive_hint is True
    # x-mcp-packages adds the Bmob tools: bare name, full name, wildcard, NocoBase alias
    for header in ("bmob", "@hivebase/bmob", "bm*", "@nocobase/bmob", "bmob , bmob ,nope"):
        async with streamable(f"{mcp_server.url}/api/mcp", {**bearer(key), "x-mcp-packages": header}) as session:
            names = {t.name for t in (await session.list_tools()).tools}
            assert names == RESOURCE_TOOLS | BMOB_TOOLS, header
            tables = ok(await session.call_tool("get_project_tables", {}))
            assert "_User" in tables


async def test_streamable_bmob_headers_on_every_endpoint(mcp_server: Server) -> None:
    for path in ("/api/mcp", "/mcp"):
        async with streamable(f"{mcp_server.url}{path}", bmob_headers(mcp_server, master=True)) as session:
            names = {t.name for t in (await session.list_tools()).tools}
            assert names == (RESOURCE_TOOLS if path == "/api/mcp" else BMOB_TOOLS)
    async with streamable(f"{mcp_server.url}/api/__app/other/mcp", bmob_headers(mcp_server, "other")) as session:
        assert {t.name for t in (await session.list_tools()).tools} == RESOURCE_TOOLS


async def test_legacy_sse_session_with_bmob_headers(mcp_server: Server) -> None:
    async with legacy(f"{mcp_server.url}/mcp", bmob_headers(mcp_server)) as session:
        assert {t.name for t in (await session.list_tools()).tools} == BMOB_TOOLS
        made = ok(await session.call_tool("create_table", {
            "tableName": "Player", "classNote": "players",
            "fields": json.dumps({"nickname": {"type": "String", "unique": True}, "score": {"type": "Number"}})}))
        assert made["tableName"] == "Player" and made["fields"]["score"] == "Number"
        row = ok(await session.call_tool("add_single_data", {"tableName": "Player", "data": {"nickname": "li"}}))
        assert set(row) == {"objectId", "createdAt"}
        err = bmob_error(await session.call_tool("add_single_data", {"tableName": "Player",
                                                                    "data": {"nickame": "x"}}))
        assert err["code"] == 105 and "nickname" in err["error"]


@pytest.mark.parametrize("changes", [{"mcp_stateless": True}, {"mcp_json_response": False},
                                     {"mcp_stateless": True, "mcp_json_response": False}])
def test_stateless_and_json_modes(settings: Settings, changes: dict[str, bool]) -> None:
    with serving(settings, **changes) as server:
        key = make_key(server)

        async def check() -> None:
            async with streamable(f"{server.url}/api/mcp", {**bearer(key), "x-mcp-packages": "bmob"}) as session:
                assert "resource_list" in {t.name for t in (await session.list_tools()).tools}
                assert "_User" in ok(await session.call_tool("get_project_tables", {}))
            async with httpx.AsyncClient(base_url=server.url, headers={**bearer(key), **ACCEPT}) as http:
                r = await http.post("/api/mcp", json=INIT)
                assert r.status_code == 200
                assert ("mcp-session-id" in r.headers) is not changes.get("mcp_stateless", False)
                framing = "application/json" if changes.get("mcp_json_response", True) else "text/event-stream"
                assert r.headers["content-type"].startswith(framing)

        anyio.run(check)


async def test_protocol_versions_are_answered_in_kind(mcp_server: Server) -> None:
    headers = {**bmob_headers(mcp_server), **ACCEPT}
    async with httpx.AsyncClient(base_url=mcp_server.url, headers=headers) as http:
        for version in ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"):
            body = {**INIT, "params": {**INIT["params"], "protocolVersion": version}}
            r = await http.post("/mcp", json=body)
            assert r.status_code == 200, r.text
            assert rpc_body(r)["result"]["protocolVersion"] == version


async def test_missing_and_wrong_credentials(mcp_server: Server) -> None:
    key = make_key(mcp_server)
    other = bmob_headers(mcp_server, "other")
    async with httpx.AsyncClient(base_url=mcp_server.url, headers=ACCEPT) as http:
        r = await http.post("/mcp", json=INIT)
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
        assert "/.well-known/oauth-protected-resource/mcp" in r.headers["www-authenticate"]
        r = await http.get("/mcp", headers={"Accept": "text/event-stream"})
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
        for path in ("/api/mcp", "/api/__app/other/mcp"):
            r = await http.post(path, json=INIT)
            assert r.status_code == 401
            challenge = r.headers["www-authenticate"]
            assert challenge.startswith('Bearer resource_metadata="') and "/.well-known/oauth-protected-resource" \
                in challenge and 'scope="mcp offline_access"' in challenge
            assert list(r.json()) == ["errors"]
        bad = [bearer("hbk_" + "0" * 43), bearer("x" * 5000), {"Authorization": "Basic Zm9vOmJhcg=="},
               {**bmob_headers(mcp_server), "X-Bmob-REST-API-Key": "wrong"},
               {"X-Bmob-Application-Id": "nope", "X-Bmob-REST-API-Key": "nope"},
               {**bmob_headers(mcp_server), "X-Bmob-Session-Token": "not-a-session"}]
        for headers in bad:
            for path in ("/mcp", "/api/mcp"):
                r = await http.post(path, json=INIT, headers=headers)
                assert r.status_code == 401, (path, headers, r.text)
        # one app's credentials never open another app
        r = await http.post("/api/__app/other/mcp", json=INIT, headers=bearer(key))
        assert r.status_code == 401
        r = await http.post("/api/mcp", json=INIT, headers=other)
        assert r.status_code == 401
        r = await http.post("/api/__app/nope/mcp", json=INIT, headers=bearer(key))
        assert r.status_code == 404 and list(r.json()) == ["errors"]
        # an x-role the key's user does not hold
        r = await http.post("/api/mcp", json=INIT, headers={**bmob_headers(mcp_server), "x-role": "admin"})
        assert r.status_code == 403


async def test_a_session_belongs_to_its_credential(mcp_server: Server) -> None:
    key_a, key_b = make_key(mcp_server, username="a"), make_key(mcp_server, username="b")
    async with httpx.AsyncClient(base_url=mcp_server.url, headers=ACCEPT) as http:
        r = await http.post("/api/mcp", json=INIT, headers=bearer(key_a))
        sid = r.headers["mcp-session-id"]
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await http.post("/api/mcp", json=note, headers={**bearer(key_a), "mcp-session-id": sid})
                ).status_code == 202
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        for headers in (bearer(key_b), bmob_headers(mcp_server, master=True)):
            r = await http.post("/api/mcp", json=listing, headers={**headers, "mcp-session-id": sid})
            assert r.status_code == 404, r.text
        r = await http.post("/api/mcp", json=listing, headers={**bearer(key_a), "mcp-session-id": sid})
        assert r.status_code == 200 and {t["name"] for t in rpc_body(r)["result"]["tools"]} == RESOURCE_TOOLS


async def test_legacy_sse_raw_handshake_and_binding(mcp_server: Server) -> None:
    """Bmob's handshake replayed by hand: GET /mcp → endpoint event → initialize → initialized → tools/list."""
    headers = bmob_headers(mcp_server)
    async with httpx.AsyncClient(base_url=mcp_server.url, headers=headers, timeout=30) as http, \
            http.stream("GET", "/mcp", headers={"Accept": "text/event-stream"}) as stream:
        assert stream.status_code == 200
        lines = stream.aiter_lines()

        async def event() -> tuple[str, str]:
            name, data = "", ""
            async for line in lines:
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif not line and name:
                    return name, data
            raise AssertionError("stream ended")

        name, endpoint = await event()
        assert name == "endpoint" and endpoint.startswith("/mcp/messages/?session_id=")
        early = await http.post(endpoint, json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"})
        assert early.status_code == 202
        name, data = await event()
        assert json.loads(data)["error"]["code"] == -32602
        assert (await http.post(endpoint, json={**INIT, "params": {**INIT["params"],
                                                                   "protocolVersion": "2024-11-05"}})
                ).status_code == 202
        name, data = await event()
        assert json.loads(data)["result"]["protocolVersion"] == "2024-11-05"
        assert (await http.post(endpoint, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
                ).status_code == 202
        # other credentials, or none, cannot post into this session
        assert (await http.post(endpoint, json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
                                headers=bmob_headers(mcp_server, master=True))).status_code == 404
        bare = httpx.AsyncClient(base_url=mcp_server.url)
        async with bare:
            r = await bare.post(endpoint, json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
            assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
        assert (await http.post(endpoint, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
                ).status_code == 202
        name, data = await event()
        assert {t["name"] for t in json.loads(data)["result"]["tools"]} == BMOB_TOOLS


async def test_host_origin_and_size_limits(mcp_server: Server) -> None:
    headers = {**bmob_headers(mcp_server), **ACCEPT}
    async with httpx.AsyncClient(base_url=mcp_server.url, headers=headers) as http:
        r = await http.post("/mcp", json=INIT, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        r = await http.post("/mcp", json=INIT, headers={"Host": "evil.example"})
        assert r.status_code == 421
        r = await http.post("/mcp", json=INIT, headers={"Origin": mcp_server.url})
        assert r.status_code == 200
        huge = {**INIT, "params": {**INIT["params"], "pad": "x" * (mcp_server.settings.max_body_bytes + 10)}}
        r = await http.post("/mcp", json=huge)
        assert r.status_code == 413


async def test_sub_apps_are_isolated(mcp_server: Server) -> None:
    blocking(lambda: mcp_server.make_table("Secret", {"v": {"type": "String"}}))
    other_key = make_key(mcp_server, "other")
    async with streamable(f"{mcp_server.url}/api/__app/other/mcp", {**bearer(other_key), "x-mcp-packages": "bmob"}
                          ) as session:
        assert "Secret" not in ok(await session.call_tool("get_project_tables", {}))
    async with legacy(f"{mcp_server.url}/mcp", bmob_headers(mcp_server, "other")) as session:
        assert "Secret" not in ok(await session.call_tool("get_project_tables", {}))
        err = bmob_error(await session.call_tool("add_single_data", {"tableName": "Secret", "data": {"v": "x"}}))
        assert err["code"] == 101
    async with legacy(f"{mcp_server.url}/mcp", bmob_headers(mcp_server)) as session:
        assert "Secret" in ok(await session.call_tool("get_project_tables", {}))


async def test_unknown_tool_is_a_protocol_error(mcp_server: Server) -> None:
    from mcp.shared.exceptions import MCPError

    async with legacy(f"{mcp_server.url}/mcp", bmob_headers(mcp_server)) as session:
        with pytest.raises(MCPError) as info:
            await session.call_tool("resource_list", {"resource": "_User"})  # not in this endpoint's packages
        assert "unknown tool" in str(info.value)
        with anyio.fail_after(30):
            assert "_User" in ok(await session.call_tool("get_project_tables", {}))


def test_idle_sessions_expire_and_vanished_clients_cost_nothing(settings: Settings) -> None:
    with serving(settings, mcp_session_idle_seconds=1) as server:
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

        async def check() -> None:
            headers = bmob_headers(server)
            async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as http:
                r = await http.post("/mcp", json=INIT, headers=ACCEPT)
                sid = r.headers["mcp-session-id"]
                await anyio.sleep(2.5)
                r = await http.post("/mcp", json=listing, headers={**ACCEPT, "mcp-session-id": sid})
                assert r.status_code == 404  # closed for idleness
                async with http.stream("GET", "/mcp", headers={"Accept": "text/event-stream"}) as stream:
                    async for line in stream.aiter_lines():
                        if line.startswith("data:"):
                            endpoint = line[5:].strip()
                            break
                # the client vanished mid-stream: its session is gone soon after
                with anyio.fail_after(20):
                    while (await http.post(endpoint, json=listing)).status_code != 404:
                        await anyio.sleep(0.2)

        anyio.run(check)


async def test_handshake_free_protocol_and_auto_mode(mcp_server: Server) -> None:
    """The SDK's ``Client`` in every mode: ``auto`` probes ``server/discover`` (2026-07-28), a pinned modern
    version skips the handshake, ``legacy`` initializes; credentials are checked on each request alike."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    for mode in ("auto", "2026-07-28", "legacy"):
        async with httpx2.AsyncClient(headers=bmob_headers(mcp_server), timeout=30) as http, \
                Client(streamable_http_client(f"{mcp_server.url}/mcp", http_client=http), mode=mode) as client:
            assert {t.name for t in (await client.list_tools()).tools} == BMOB_TOOLS
            assert "_User" in ok(await client.call_tool("get_project_tables", {}))
        async with httpx2.AsyncClient(timeout=30) as http:
            with pytest.raises(Exception):  # noqa: B017 - the transport's own error type for a 401
                async with Client(streamable_http_client(f"{mcp_server.url}/mcp", http_client=http),
                                  mode=mode) as client:
                    await client.list_tools()


async def test_unknown_packages_are_logged_not_listed(mcp_server: Server, caplog: pytest.LogCaptureFixture) -> None:
    key = make_key(mcp_server)
    with caplog.at_level("WARNING", logger="hivebase.mcp"):
        async with streamable(f"{mcp_server.url}/api/mcp", {**bearer(key), "x-mcp-packages": "nope,@x/y*"}) as s:
            assert {t.name for t in (await s.list_tools()).tools} == RESOURCE_TOOLS
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "hivebase.mcp")
    assert "@hivebase/nope" in logged and "@x/y*" in logged
