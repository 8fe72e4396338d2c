"""hivebase as a system under test: its data (``bench.dataset``), its server process, and the workloads of
every row of the comparison, over REST, MCP streamable HTTP (stateful or stateless) and legacy SSE."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import sqlalchemy as sa

from bench import dataset
from bench.load.spec import Request, SseWorkload, Workload
from bench.peers.base import free_port
from hivebase.config import Settings
from hivebase.core import schema
from hivebase.core.apps import MAIN
from hivebase.core.identity import api_keys, users
from hivebase.core.principal import Principal
from hivebase.core.secrets import random_id
from hivebase.hub import Hub

TABLE = "Player"
VARIANTS = 1000  # distinct requests per workload
LOAD_CHUNK = 2000
ROOT = Principal.root(via="bench")
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
MCP_ERRORS = (b'"isError":true', b'"error":{')
PROTOCOL = "2025-06-18"


@dataclass(frozen=True, slots=True)
class Prepared:
    ids: list[str]  # a sample of existing objectIds
    api_key: str  # an admin user's API key (what NocoBase-style agents use)
    app_id: str
    rest_key: str

    @property
    def bmob(self) -> dict[str, str]:
        return {"X-Bmob-Application-Id": self.app_id, "X-Bmob-REST-API-Key": self.rest_key}


async def prepare(settings: Settings, count: int = dataset.ROWS) -> Prepared:
    """The main app with the ``Player`` table holding the dataset (inserted straight into the table, not
    measured), an admin API key and the app's REST credentials."""
    async with Hub(settings) as hub:
        creds = await hub.init_main()
        assert creds is not None and creds.rest_api_key is not None
        app = await hub.apps.open(MAIN)
        tdef = await schema.create_table(app, ROOT, TABLE, dataset.FIELDS)
        ids: list[str] = []
        stamp = dt.datetime.now(dt.UTC)
        batch: list[dict[str, Any]] = []
        for i, row in enumerate(dataset.rows(count)):
            at = stamp + dt.timedelta(microseconds=i)  # distinct createdAt, as rows created one by one
            batch.append({"objectId": random_id(), "createdAt": at, "updatedAt": at, "createdBy": None,
                          "updatedBy": None, **row})
            if len(batch) == LOAD_CHUNK or i == count - 1:
                async with app.db.write() as conn:
                    await conn.execute(sa.insert(tdef.table), batch)
                ids.extend(r["objectId"] for r in batch[:: max(1, count // VARIANTS // 2)])
                batch = []
        async with app.db.write() as conn:
            name = f'"{app.db.schema}"."{TABLE}"' if app.db.schema else f'"{TABLE}"'
            await conn.exec_driver_sql(f"ANALYZE {name}")
        user = await users.create_user(app, ROOT, {"username": "bench", "password": "bench-pass"}, ["admin"])
        _, key = await api_keys.create(app, ROOT, user["objectId"], "admin")
        return Prepared(ids[:VARIANTS], key, creds.application_id, creds.rest_api_key)


def env_of(settings: Settings, **extra: Any) -> dict[str, str]:
    env = {**os.environ, "HIVEBASE_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env.update(HIVEBASE_DATABASE_URL=settings.database_url, HIVEBASE_SCHEMA_PREFIX=settings.schema_prefix)
    env.update({f"HIVEBASE_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in extra.items()})
    return env


@contextlib.contextmanager
def serve(settings: Settings, log: Path, **extra: Any) -> Iterator[tuple[str, int]]:
    """``hivebase serve`` (one process) on a free port: its URL and pid. ``extra`` are settings."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hivebase.cli.main", "serve", "--port", str(port), "--json"],
                                env=env_of(settings, **extra), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"hivebase serve did not start; see {log}")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _where() -> dict[str, Any]:
    return {"team": dataset.QUERY_TEAM, "score": {"$gte": dataset.QUERY_MIN_SCORE}}


def _q(value: Any) -> str:
    return quote(json.dumps(value, separators=(",", ":")), safe="")


def rest_workloads(url: str, p: Prepared) -> dict[str, Workload]:
    """The Bmob REST rows, with the app's REST API key (the credential Bmob clients use)."""
    json_headers = {**p.bmob, "Content-Type": "application/json"}
    where = _q(_where())

    def get(path: str) -> Workload:
        return Workload(url, [Request("GET", path, p.bmob)])

    return {
        "rest.get": Workload(url, [Request("GET", f"/1/classes/{TABLE}/{i}", p.bmob) for i in p.ids]),
        "rest.query": get(f"/1/classes/{TABLE}?where={where}&limit={dataset.PAGE}"),
        "rest.count": get(f"/1/classes/{TABLE}?where={where}&count=1&limit=0"),
        "rest.create": Workload(url, [Request("POST", f"/1/classes/{TABLE}", json_headers,
                                              json.dumps(dataset.new_row(n)).encode()) for n in range(VARIANTS)]),
        "rest.update": Workload(url, [Request("PUT", f"/1/classes/{TABLE}/{i}", json_headers,
                                              json.dumps({"level": 1 + n % 100}).encode())
                                      for n, i in enumerate(p.ids)]),
        "rest.aggregate": get(f"/1/classes/{TABLE}?groupby=team&sum=score&limit=1000"),
    }


def mcp_sessions(url: str, path: str, headers: dict[str, str], count: int) -> list[str]:
    """``count`` initialized streamable-HTTP sessions (the handshake wrk cannot do), by their ids."""
    sessions = []
    with httpx.Client(base_url=url, headers={**MCP_HEADERS, **headers}, timeout=30) as http:
        for _ in range(count):
            r = http.post(path, json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "hivebase-bench",
                                                                                "version": "1"}}})
            r.raise_for_status()
            sid = r.headers["mcp-session-id"]
            http.post(path, headers={"mcp-session-id": sid, "mcp-protocol-version": PROTOCOL},
                      json={"jsonrpc": "2.0", "method": "notifications/initialized"}).raise_for_status()
            sessions.append(sid)
    return sessions


def tool_calls(url: str, path: str, headers: dict[str, str], sessions: list[str], tool: str,
               args: Callable[[int], dict[str, Any]]) -> Workload:
    """POSTs of ``tools/call`` (spread over ``sessions`` when stateful), one JSON-RPC id per request."""
    requests = []
    for n in range(VARIANTS):
        body = {"jsonrpc": "2.0", "id": n + 1, "method": "tools/call", "params": {"name": tool,
                                                                                  "arguments": args(n)}}
        h = {**MCP_HEADERS, **headers, "mcp-protocol-version": PROTOCOL}
        if sessions:
            h["mcp-session-id"] = sessions[n % len(sessions)]
        requests.append(Request("POST", path, h, json.dumps(body, separators=(",", ":")).encode()))
    return Workload(url, requests, ok_status=frozenset({200}), error_markers=MCP_ERRORS)


def resource_args(p: Prepared) -> dict[str, Callable[[int], dict[str, Any]]]:
    """The NocoBase ``resource_*`` tool arguments of each MCP row (NocoBase's peer asks the same)."""
    nb_filter = {"team": dataset.QUERY_TEAM, "score": {"$gte": dataset.QUERY_MIN_SCORE}}
    return {
        "mcp.get": lambda n: {"resource": TABLE, "filterByTk": p.ids[n % len(p.ids)]},
        "mcp.list": lambda n: {"resource": TABLE, "filter": nb_filter, "pageSize": dataset.PAGE},
        "mcp.create": lambda n: {"resource": TABLE, "values": dataset.new_row(n)},
        "mcp.aggregate": lambda n: {"resource": TABLE, "dimensions": [{"field": "team"}],
                                    "measures": [{"field": "score", "aggregation": "sum", "alias": "total"}]},
    }


def mcp_workloads(url: str, p: Prepared, *, stateful: bool, connections: int) -> dict[str, Workload]:
    """The ``resource_*`` rows over streamable HTTP at ``/api/mcp`` with the admin API key."""
    headers = {"Authorization": f"Bearer {p.api_key}"}
    sessions = mcp_sessions(url, "/api/mcp", headers, connections) if stateful else []
    tools = {"mcp.get": "resource_get", "mcp.list": "resource_list", "mcp.create": "resource_create",
             "mcp.aggregate": "resource_query"}
    return {row: tool_calls(url, "/api/mcp", headers, sessions, tools[row], args)
            for row, args in resource_args(p).items()}


def sse_workloads(url: str, p: Prepared) -> dict[str, SseWorkload]:
    """Bmob's legacy-SSE rows at ``/mcp`` with the app's REST key: ``add_single_data`` and a query."""
    return {
        "sse.create": SseWorkload(url, "/mcp", p.bmob, [
            {"name": "add_single_data", "arguments": {"tableName": TABLE, "data": dataset.new_row(n)}}
            for n in range(VARIANTS)]),
        "sse.query": SseWorkload(url, "/mcp", p.bmob, [
            {"name": "query_data", "arguments": {"tableName": TABLE, "where": _where(), "limit": dataset.PAGE}}]),
    }
