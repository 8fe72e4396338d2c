"""What the MCP layer costs next to REST, over real sockets: a ``hivebase serve`` process on a temporary data
dir (SQLite), driven by concurrent clients from this process.

Rows: REST get by id; MCP ``resource_get`` / ``resource_list`` (20 rows, filter) / ``resource_create`` over
stateful streamable HTTP; ``get_single_data`` over legacy SSE. Each row runs ``--concurrency`` clients (one
MCP session each) for ``--seconds``. The client is Python in one process, so the figures bound what one
Python client sees rather than the server's ceiling (the peers' benchmark is issue 7's). Run
``python bench/mcp_http.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from rich.console import Console
from rich.table import Table

from hivebase.config import Settings
from hivebase.core import records, schema
from hivebase.core.apps import MAIN
from hivebase.core.identity import api_keys, users
from hivebase.core.principal import Principal
from hivebase.hub import Hub

ROOT = Principal.root(via="bench")
ROWS = 10_000
TEAMS = 20
console = Console() if sys.stdout.isatty() else Console(width=120)


async def prepare(settings: Settings) -> dict[str, Any]:
    """The main app, a 10,000-row Player table, an admin API key and the app's REST credentials."""
    async with Hub(settings) as hub:
        creds = await hub.init_main()
        assert creds is not None
        app = await hub.apps.open(MAIN)
        await schema.create_table(app, ROOT, "Player", {"name": "String", "team": "String", "score": "Number"})
        ids = []
        for start in range(0, ROWS, 50):
            done = await records.batch(app, ROOT, [records.Op("create", "Player", data={
                "name": f"p{i}", "team": f"t{i % TEAMS}", "score": i % 1000}) for i in range(start, start + 50)])
            ids += [r.ok["objectId"] for r in done if r.ok]
        user = await users.create_user(app, ROOT, {"username": "bench", "password": "bench-pass"}, ["admin"])
        _, key = await api_keys.create(app, ROOT, user["objectId"], "admin")
        return {"ids": ids, "key": key, "appId": creds.application_id, "restKey": creds.rest_api_key}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(data_dir: Path, port: int) -> Any:
    env = {**os.environ, "HIVEBASE_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "hivebase.cli.main", "serve", "--port", str(port), "--json"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


Call = Callable[[random.Random], Awaitable[Any]]
Open = Callable[[], contextlib.AbstractAsyncContextManager[Call]]


async def measure(open_worker: Open, seconds: float, concurrency: int) -> tuple[int, list[float]]:
    latencies: list[float] = []
    ops = 0
    stop = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal ops
        rng = random.Random(n)
        async with open_worker() as call:
            await call(rng)  # warm-up
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                await call(rng)
                latencies.append(time.perf_counter() - t0)
                ops += 1

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return ops, latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``), to tell server cost from client cost."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def checked(result: Any) -> None:
    if getattr(result, "is_error", False):
        raise RuntimeError(result.content[0].text)


def scenarios(url: str, data: dict[str, Any]) -> dict[str, Open]:
    ids, key = data["ids"], data["key"]
    bmob = {"X-Bmob-Application-Id": data["appId"], "X-Bmob-REST-API-Key": data["restKey"]}

    @contextlib.asynccontextmanager
    async def rest_get() -> AsyncIterator[Call]:
        async with httpx.AsyncClient(base_url=url, headers=bmob) as http:
            async def call(rng: random.Random) -> None:
                (await http.get(f"/1/classes/Player/{rng.choice(ids)}")).raise_for_status()
            yield call

    def streamable(tool: str, args: Callable[[random.Random], dict[str, Any]]) -> Open:
        @contextlib.asynccontextmanager
        async def opened() -> AsyncIterator[Call]:
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http, \
                    streamable_http_client(f"{url}/api/mcp", http_client=http) as (r, w), \
                    ClientSession(r, w) as session:
                await session.initialize()

                async def call(rng: random.Random) -> None:
                    checked(await session.call_tool(tool, args(rng)))
                yield call
        return opened

    @contextlib.asynccontextmanager
    async def legacy_get() -> AsyncIterator[Call]:
        async with sse_client(f"{url}/mcp", headers=bmob, timeout=60) as (r, w), ClientSession(r, w) as session:
            await session.initialize()

            async def call(rng: random.Random) -> None:
                checked(await session.call_tool("get_single_data", {"tableName": "Player",
                                                                    "objectId": rng.choice(ids)}))
            yield call

    return {
        "REST GET /1/classes/Player/<id>": rest_get,
        "MCP streamable resource_get": streamable("resource_get", lambda rng: {
            "resource": "Player", "filterByTk": rng.choice(ids)}),
        "MCP streamable resource_list (20, filter)": streamable("resource_list", lambda rng: {
            "resource": "Player", "filter": {"team": f"t{rng.randrange(TEAMS)}", "score": {"$gte": 100}},
            "pageSize": 20}),
        "MCP streamable resource_create": streamable("resource_create", lambda rng: {
            "resource": "Player", "values": {"name": "new", "team": "t0", "score": rng.randrange(1000)}}),
        "MCP legacy SSE get_single_data": legacy_get,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        settings = Settings(data_dir=data_dir)
        data = asyncio.run(prepare(settings))
        with server(data_dir, free_port()) as (url, pid):
            table = Table(title=f"hivebase over HTTP, SQLite, {opts.concurrency} clients × {opts.seconds:g} s "
                                f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                                f"{dt.date.today()})")
            for col in ("operation", "req/s", "p50 ms", "p99 ms", "server CPU ms/req"):
                table.add_column(col, justify="left" if col == "operation" else "right")
            for name, opened in scenarios(url, data).items():
                before = cpu_seconds(pid)
                ops, lat = asyncio.run(measure(opened, opts.seconds, opts.concurrency))
                used = cpu_seconds(pid) - before  # includes the sessions' set-up, spread over the requests
                lat.sort()
                table.add_row(name, f"{ops / opts.seconds:,.0f}", f"{lat[len(lat) // 2] * 1000:.2f}",
                              f"{lat[int(len(lat) * 0.99)] * 1000:.2f}", f"{used / max(ops, 1) * 1000:.2f}")
            console.print(table)


if __name__ == "__main__":
    main()
