"""Parse Server 9.10.0 on PostgreSQL: the open-source model of the Bmob REST API hivebase speaks."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import secrets
import shutil
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx
import orjson

from bench import dataset
from bench.load.spec import Request, Workload
from bench.peers import node
from bench.peers.base import PeerUnavailable, Running, free_port

VERSION = "9.10.0"
CLASS = "Player"
DB_NAME = "hivebase_bench_parse"
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"  # HIVEBASE_BENCH_DATABASE_URL overrides (its server)
REQUESTS = 1000
WHERE = {"team": dataset.QUERY_TEAM, "score": {"$gte": dataset.QUERY_MIN_SCORE}}
GROUP = {"_id": "$team", "total": {"$sum": "$score"}}
ID_CHARS = string.ascii_letters + string.digits  # Parse's newObjectId alphabet, 10 characters


def admin_url() -> str:
    return os.environ.get("HIVEBASE_BENCH_DATABASE_URL") or PG_URL


def database_url(name: str) -> str:
    parts = urlsplit(admin_url())
    return urlunsplit(parts._replace(path="/" + name))


async def recreate_database(drop_only: bool = False) -> None:
    conn = await asyncpg.connect(admin_url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await conn.close()


def object_ids(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    ids: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < count:
        oid = "".join(rng.choices(ID_CHARS, k=10))
        if oid not in ids:
            ids.add(oid)
            ordered.append(oid)
    return ordered


async def load_rows(ids: list[str]) -> None:
    """Fills the table Parse created as its own writes would: no ACL given means NULL _rperm/_wperm (public),
    both timestamps the creation time; numbers are double precision."""
    conn = await asyncpg.connect(database_url(DB_NAME))
    try:
        columns = [r["column_name"] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1", CLASS)]
        expected = {"objectId", "createdAt", "updatedAt", "_rperm", "_wperm", *dataset.FIELDS}
        if set(columns) != expected:
            raise PeerUnavailable(f"Parse's {CLASS} table has columns {sorted(columns)}, expected {sorted(expected)}")
        now = dt.datetime.now(dt.UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # Parse keeps milliseconds
        records = [(oid, now, now, None, None, row["name"], row["team"], float(row["score"]), float(row["level"]))
                   for oid, row in zip(ids, dataset.rows(), strict=True)]
        await conn.copy_records_to_table(CLASS, records=records, columns=[
            "objectId", "createdAt", "updatedAt", "_rperm", "_wperm", "name", "team", "score", "level"])
        await conn.execute(f'ANALYZE "{CLASS}"')
    finally:
        await conn.close()


def query(params: dict[str, Any]) -> str:
    return "&".join(f"{k}={quote(v if isinstance(v, str) else orjson.dumps(v).decode(), safe='')}"
                    for k, v in params.items())


def workloads(base: str, headers: dict[str, str], master: dict[str, str], ids: list[str]) -> dict[str, Workload]:
    rng = random.Random(11)
    path = f"/parse/classes/{CLASS}"
    json_headers = {**headers, "Content-Type": "application/json"}
    where = query({"where": WHERE, "limit": str(dataset.PAGE)})
    count = query({"where": WHERE, "count": "1", "limit": "0"})
    return {
        "rest.get": Workload(base, [Request("GET", f"{path}/{rng.choice(ids)}", headers)
                                    for _ in range(REQUESTS)]),
        "rest.query": Workload(base, [Request("GET", f"{path}?{where}", headers)]),
        "rest.count": Workload(base, [Request("GET", f"{path}?{count}", headers)]),
        "rest.create": Workload(base, [Request("POST", path, json_headers, orjson.dumps(dataset.new_row(n)))
                                       for n in range(REQUESTS)]),
        "rest.update": Workload(base, [Request("PUT", f"{path}/{rng.choice(ids)}", json_headers,
                                               orjson.dumps({"level": rng.randrange(1, 101)}))
                                       for _ in range(REQUESTS)]),
        "rest.aggregate": Workload(base, [Request("GET", f"/parse/aggregate/{CLASS}?{query({'$group': GROUP})}",
                                                  {**headers, **master})]),
    }


def probe(running: Running, ids: list[str]) -> None:
    """One request of each workload, checked against the rows computed here, before anything is measured."""
    want = node.expected()
    with httpx.Client(base_url=running.base_url, timeout=60) as client:
        def send(key: str) -> Any:
            r = running.workloads[key].requests[0]
            answer = client.request(r.method, r.path, headers=dict(r.headers), content=r.body)
            node.check(answer, f"Parse {key}")
            return answer.json()

        got = send("rest.get")
        node.require(got.get("objectId") in ids and "name" in got, "Parse rest.get", got)
        results = send("rest.query")["results"]
        node.require(len(results) == dataset.PAGE and all(
            o["team"] == dataset.QUERY_TEAM and o["score"] >= dataset.QUERY_MIN_SCORE for o in results),
            "Parse rest.query", results)
        got = send("rest.count")
        node.require(got.get("count") == want.count, f"Parse rest.count (want {want.count})", got)
        groups = {g["objectId"]: g["total"] for g in send("rest.aggregate")["results"]}
        node.require(groups == want.sums, f"Parse rest.aggregate (want {want.sums})", groups)
        got = send("rest.create")
        node.require("objectId" in got, "Parse rest.create", got)
        got = send("rest.update")
        node.require("updatedAt" in got, "Parse rest.update", got)


class Parse:
    name = f"Parse Server {VERSION}"
    database = "PostgreSQL"

    def install(self, cache: Path, log: Path) -> None:
        folder = cache / "parse"
        if node.installed(folder, VERSION):
            return
        # express 5.2.1 with router 2.3.0 breaks /batch: pin router both as an override and a direct dependency
        node.npm_install(folder, {"name": "hivebase-bench-parse", "private": True,
                                  "dependencies": {"parse-server": VERSION, "router": "2.2.0"},
                                  "overrides": {"router": "2.2.0"}}, cache, log, what="npm install parse-server")
        node.mark_installed(folder, VERSION)

    @contextlib.contextmanager
    def start(self, cache: Path, log: Path) -> Iterator[Running]:
        folder = cache / "parse"
        if not node.installed(folder, VERSION):
            raise PeerUnavailable(f"{self.name} is not installed in {folder}")
        node_bin = shutil.which("node")
        if node_bin is None:
            raise PeerUnavailable("no node on PATH (Parse Server runs on the system's Node 20)")
        tmp = Path(tempfile.mkdtemp(prefix="hivebase-bench-parse-"))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        app_id, rest_key, master_key = (secrets.token_hex(12) for _ in range(3))
        config = {"appId": app_id, "restAPIKey": rest_key, "masterKey": master_key, "port": port,
                  "host": "127.0.0.1", "mountPath": "/parse", "serverURL": f"{base}/parse",
                  "databaseURI": database_url(DB_NAME), "logsFolder": str(tmp / "logs"), "logLevel": "error"}
        (tmp / "config.json").write_bytes(orjson.dumps(config))
        headers = {"X-Parse-Application-Id": app_id, "X-Parse-REST-API-Key": rest_key}
        master = {"X-Parse-Master-Key": master_key}
        try:
            try:
                asyncio.run(recreate_database())
            except (OSError, asyncpg.PostgresError) as exc:
                raise PeerUnavailable(f"PostgreSQL at {admin_url()}: {exc}") from exc
            with node.node_server([node_bin, str(folder / "node_modules" / "parse-server" / "bin" / "parse-server"),
                                   str(tmp / "config.json")], tmp, os.environ, log, f"{base}/parse/health",
                                  self.name) as proc:
                with httpx.Client(base_url=base, timeout=60) as client:
                    node.check(client.post(f"/parse/schemas/{CLASS}", headers={**headers, **master}, json={
                        "className": CLASS, "fields": {k: {"type": v} for k, v in dataset.FIELDS.items()}}),
                        f"Parse create class {CLASS}")
                ids = object_ids(dataset.ROWS)
                asyncio.run(load_rows(ids))
                running = Running(base, proc.pid, workloads(base, headers, master, ids), notes={
                    "rest.aggregate": "GET /parse/aggregate/Player with $group (needs the master key)",
                    "rest.count": "GET /parse/classes/Player?where=…&count=1&limit=0"})
                probe(running, ids)
                yield running
        finally:
            with contextlib.suppress(Exception):
                asyncio.run(recreate_database(drop_only=True))
            shutil.rmtree(tmp, ignore_errors=True)
