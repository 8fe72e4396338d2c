"""Bmob's MCP handshake replayed with curl, as its documentation shows it: ``GET /mcp`` → the ``endpoint``
event → ``initialize`` → ``notifications/initialized`` → ``tools/list`` (answers on the SSE stream)."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.mcp.conftest import bmob_headers
from tests.rest.conftest import Server

pytestmark = pytest.mark.skipif(shutil.which("curl") is None and not IN_CI, reason="curl is not installed")


def _headers(server: Server) -> list[str]:
    return [part for k, v in bmob_headers(server).items() for part in ("-H", f"{k}: {v}")]


def _post(server: Server, path: str, message: dict[str, Any]) -> int:
    done = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                           f"{server.url}{path}", *_headers(server), "-H", "Content-Type: application/json",
                           "-d", json.dumps(message)], capture_output=True, text=True, timeout=30)
    return int(done.stdout)


def test_bmob_handshake_with_curl(mcp_server: Server) -> None:
    stream = subprocess.Popen(["curl", "-sN", f"{mcp_server.url}/mcp", *_headers(mcp_server),
                               "-H", "Accept: text/event-stream"], stdout=subprocess.PIPE, text=True)
    events: queue.Queue[tuple[str, str]] = queue.Queue()

    def read() -> None:
        name = ""
        assert stream.stdout is not None
        for line in stream.stdout:
            line = line.rstrip("\r\n")
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                events.put((name, line[5:].strip()))

    threading.Thread(target=read, daemon=True).start()
    try:
        name, endpoint = events.get(timeout=30)
        assert name == "endpoint" and endpoint.startswith("/mcp/messages/?session_id=")
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2024-11-05", "capabilities": {},
                           "clientInfo": {"name": "curl", "version": "1"}}}
        assert _post(mcp_server, endpoint, init) == 202
        name, data = events.get(timeout=30)
        answer = json.loads(data)
        assert name == "message" and answer["id"] == 1
        assert answer["result"]["protocolVersion"] == "2024-11-05"
        assert answer["result"]["serverInfo"]["name"] == "hivebase"
        assert _post(mcp_server, endpoint, {"jsonrpc": "2.0", "method": "notifications/initialized"}) == 202
        assert _post(mcp_server, endpoint, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}) == 202
        name, data = events.get(timeout=30)
        tools = {t["name"]: t for t in json.loads(data)["result"]["tools"]}
        assert {"get_project_tables", "create_table", "add_single_data", "update_single_data",
                "delete_single_data", "generate_code"} <= set(tools)
        assert tools["delete_single_data"]["annotations"]["destructiveHint"] is True
        call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                "params": {"name": "get_project_tables", "arguments": {}}}
        assert _post(mcp_server, endpoint, call) == 202
        name, data = events.get(timeout=30)
        result = json.loads(data)["result"]
        assert result["isError"] is False and "_User" in json.loads(result["content"][0]["text"])
        assert "_User" in result["structuredContent"]
    finally:
        stream.terminate()
        stream.wait(timeout=10)
