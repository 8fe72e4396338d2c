"""The load generators against a real ``hivebase serve`` (SQLite, the 10,000-row table of
``bench.mcp_http``): REST get by id and MCP streamable ``resource_get`` with wrk, legacy-MCP
``get_single_data`` with the SSE loader, each followed by a short run on missing ids that must count every
answer as an error. Run ``python -m bench.load.demo [--seconds 3]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.load.spec import Request, Result, SseWorkload, Workload
from bench.load.sse import measure_sse
from bench.load.wrk import measure_wrk
from bench.mcp_http import cpu_seconds, prepare, server
from bench.peers.base import free_port
from hivebase.config import Settings

CONNECTIONS = 16
VARIANTS = 1000  # distinct requests per workload
MISSING = [f"missing{i:03d}" for i in range(VARIANTS)]
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def mcp_sessions(url: str, key: str, count: int) -> list[str]:
    """``count`` initialized streamable-HTTP sessions (the handshake wrk cannot do), by their ids."""
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {key}"}
    sessions = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for _ in range(count):
            r = http.post("/api/mcp", json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "hivebase-bench", "version": "1"}}})
            r.raise_for_status()
            sid = r.headers["mcp-session-id"]
            http.post("/api/mcp", headers={"mcp-session-id": sid, "mcp-protocol-version": "2025-06-18"},
                      json={"jsonrpc": "2.0", "method": "notifications/initialized"}).raise_for_status()
            sessions.append(sid)
    return sessions


def mcp_workload(url: str, key: str, sessions: list[str], tool: str, args: Callable[[int], dict[str, Any]]) -> Workload:
    """POSTs of ``tools/call`` spread over ``sessions``, one JSON-RPC id per request."""
    requests = []
    for i in range(VARIANTS):
        body = {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {"name": tool, "arguments": args(i)}}
        requests.append(Request("POST", "/api/mcp", {
            **MCP_HEADERS, "Authorization": f"Bearer {key}", "mcp-session-id": sessions[i % len(sessions)],
            "mcp-protocol-version": "2025-06-18"}, json.dumps(body, separators=(",", ":")).encode()))
    return Workload(url, requests, ok_status=frozenset({200}), error_markers=(b'"isError":true',))


def rows(url: str, data: dict[str, Any]) -> dict[str, tuple[Workload | SseWorkload, bool]]:
    """Each row's workload and whether every answer must be an error."""
    ids, key = data["ids"][:VARIANTS], data["key"]
    bmob = {"X-Bmob-Application-Id": data["appId"], "X-Bmob-REST-API-Key": data["restKey"]}
    sessions = mcp_sessions(url, key, CONNECTIONS)

    def rest(objs: list[str]) -> Workload:
        return Workload(url, [Request("GET", f"/1/classes/Player/{o}", bmob) for o in objs], frozenset({200}))

    def mcp(objs: list[str]) -> Workload:
        return mcp_workload(url, key, sessions, "resource_get", lambda i: {"resource": "Player", "filterByTk": objs[i]})

    def sse(objs: list[str]) -> SseWorkload:
        return SseWorkload(url, "/mcp", bmob, [{"name": "get_single_data", "arguments": {
            "tableName": "Player", "objectId": o}} for o in objs])

    return {
        "REST GET /1/classes/Player/<id> (wrk)": (rest(ids), False),
        "  REST, missing ids (all must fail)": (rest(MISSING), True),
        "MCP streamable resource_get (wrk)": (mcp(ids), False),
        "  streamable, missing ids (all must fail)": (mcp(MISSING), True),
        "MCP legacy SSE get_single_data (SSE loader)": (sse(ids), False),
        "  legacy SSE, missing ids (all must fail)": (sse(MISSING), True),
    }


def measure(w: Workload | SseWorkload, seconds: float, pid: int) -> tuple[Result, float, float]:
    """A 1 s warm-up run, then the measured one with its own warm-up off, so that the server's CPU read
    around it is the measured requests' (plus, for SSE, the opening of its sessions). Returns the result, the
    loader's CPU seconds and the server's."""
    def run(secs: float) -> tuple[Result, float]:
        if isinstance(w, SseWorkload):
            return measure_sse(w, connections=CONNECTIONS, seconds=secs, warmup=0)
        return measure_wrk(w, connections=CONNECTIONS, seconds=secs, warmup=0)

    run(1)
    before = cpu_seconds(pid)
    result, loader = run(seconds)
    return result, loader, cpu_seconds(pid) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    seconds = parser.parse_args().seconds
    with tempfile.TemporaryDirectory(prefix="hivebase-load-demo-") as tmp:
        data_dir = Path(tmp) / "data"
        data = asyncio.run(prepare(Settings(data_dir=data_dir)))
        with server(data_dir, free_port()) as (url, pid):
            print(f"hivebase serve (SQLite, 10,000 rows) at {url}; {CONNECTIONS} connections x {seconds:g} s "
                  f"(failure checks {min(seconds, 1):g} s); {os.cpu_count()} CPUs; load average "
                  f"{os.getloadavg()[0]:.2f} at start")
            print(f"{'row':<46} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>8} {'server µs/req':>13} "
                  f"{'loader µs/req':>13}")
            for name, (w, must_fail) in rows(url, data).items():
                r, loader, server_cpu = measure(w, min(seconds, 1) if must_fail else seconds, pid)
                n = max(r.requests, 1)
                verdict = ("ok" if r.ok else "FAILED") if not must_fail else (
                    "ok" if r.requests and r.errors == r.requests else "NOT ALL COUNTED")
                print(f"{name:<46} {r.rps:>8,.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.errors:>8} "
                      f"{server_cpu / n * 1e6:>13,.0f} {loader / n * 1e6:>13.1f}  {verdict}")
                if r.first_error:
                    print(f"    first error: {r.first_error[:160]!r}")
            print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
