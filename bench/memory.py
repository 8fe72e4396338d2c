"""Resident memory of one ``hivebase serve`` process: idle, with 1,000 open legacy-SSE MCP sessions, and with
1,000 stateful streamable-HTTP sessions (each initialized, as a client leaves it). Run
``python -m bench.memory [--sessions N]``; ``bench.run`` calls it too."""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from bench import target
from hivebase.config import Settings

INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "hivebase-bench", "version": "1"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def _legacy(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
    """An initialized legacy session whose stream stays open (the caller closes it)."""
    stream = await http.get(f"{url}/mcp", headers={**headers, "Accept": "text/event-stream"})
    endpoint = None
    async for raw in stream.content:
        line = raw.decode().strip()
        if line.startswith("data:"):
            endpoint = line[5:].strip()
            break
    assert endpoint, "no endpoint event"
    for message in (INIT, INITIALIZED):
        async with http.post(f"{url}{endpoint}", json=message, headers=headers) as r:
            assert r.status in (200, 202), r.status
    return stream


async def _streamable(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> None:
    h = {**headers, **target.MCP_HEADERS}
    init = {**INIT, "params": {**INIT["params"], "protocolVersion": target.PROTOCOL}}
    async with http.post(f"{url}/api/mcp", json=init, headers=h) as r:
        assert r.status == 200, r.status
        sid = r.headers["mcp-session-id"]
        await r.read()
    async with http.post(f"{url}/api/mcp", json=INITIALIZED,
                         headers={**h, "mcp-session-id": sid, "mcp-protocol-version": target.PROTOCOL}) as r:
        assert r.status in (200, 202), r.status


async def _open_many(sessions: int, opener, *args) -> list:  # type: ignore[no-untyped-def]
    gate = asyncio.Semaphore(50)

    async def one():  # type: ignore[no-untyped-def]
        async with gate:
            return await opener(*args)

    return await asyncio.gather(*(one() for _ in range(sessions)))


async def _measure(url: str, pid: int, p: target.Prepared, sessions: int, legacy: bool) -> float:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as http:
        if legacy:
            streams = await _open_many(sessions, _legacy, http, url, p.bmob)
        else:
            await _open_many(sessions, _streamable, http, url, {"Authorization": f"Bearer {p.api_key}"})
        await asyncio.sleep(1)
        mb = rss_mb(pid)
        for s in streams if legacy else []:
            s.close()
    return mb


def measure(settings: Settings, p: target.Prepared, log: Path, sessions: int = 1000) -> dict[str, float]:
    """RSS in MB of one server process: idle (after a request), then on a fresh server each, with ``sessions``
    legacy-SSE sessions open and with ``sessions`` stateful streamable sessions."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * sessions:  # the server inherits it: one socket per session on each side
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8 * sessions), hard))
    out = {}
    for legacy in (True, False):
        with target.serve(settings, log) as (url, pid):
            httpx.get(f"{url}/1/classes/{target.TABLE}/{p.ids[0]}", headers=p.bmob).raise_for_status()
            time.sleep(1)
            out["idle"] = min(out.get("idle", 1e9), rss_mb(pid))
            mb = asyncio.run(_measure(url, pid, p, sessions, legacy))
            out[f"{sessions:,} {'legacy SSE' if legacy else 'stateful streamable'} sessions"] = mb
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hivebase-memory-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        p = asyncio.run(target.prepare(settings, 10_000))
        for stage, mb in measure(settings, p, Path(tmp) / "server.log", opts.sessions).items():
            print(f"{stage:32} {mb:8.1f} MB")


if __name__ == "__main__":
    main()
