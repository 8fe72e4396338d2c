"""``make bench``: hivebase against its peers, over real sockets, in one table.

hivebase runs as one ``hivebase serve`` process on a temporary data dir, on SQLite and on PostgreSQL, holding
``bench.dataset`` (100,000 rows). wrk drives REST and MCP streamable HTTP (stateful, then a stateless server);
a separate Python process drives legacy SSE; the same operations also run on the core in-process. The peers
(NocoBase, Directus, Parse Server) are installed into a cache dir outside the repository and driven the same
way; a peer that cannot be installed is reported, not dropped. Run ``python -m bench.run --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import dataset, inprocess, memory, report, target
from bench.core import drop_prefixed_schemas, machine
from bench.load.ceiling import measure_ceiling
from bench.load.spec import Result, SseWorkload, Workload
from bench.load.sse import measure_sse
from bench.load.wrk import measure_wrk
from bench.mcp_http import cpu_seconds
from bench.peers.base import Peer, PeerUnavailable, cache_dir, load_peers
from hivebase.config import Settings

console = Console() if sys.stdout.isatty() else Console(width=160)
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(slots=True)
class Row:
    key: str  # rest.get, mcp.list, sse.create, ...
    door: str  # "REST", "MCP streamable", "MCP stateless", "MCP legacy SSE", "in-process", or the peer's door
    system: str
    database: str
    result: Result
    server_cpu_ms: float | None  # the server process's CPU per request (a database server's is not in it)
    note: str = ""


def measure(w: Workload | SseWorkload, pid: int | None, seconds: float,
            connections: int) -> tuple[Result, float | None]:
    """A 1 s warm-up, then the measured run, with the server's CPU read around the measured run only."""
    def run(secs: float) -> Result:
        if isinstance(w, SseWorkload):
            return measure_sse(w, connections=connections, seconds=secs, warmup=0)[0]
        return measure_wrk(w, connections=connections, seconds=secs, warmup=0)[0]

    run(1)
    before = cpu_seconds(pid) if pid else 0.0
    result = run(seconds)
    used = cpu_seconds(pid) - before if pid else None
    return result, (used / max(result.requests, 1) * 1000 if used is not None else None)


def run_workloads(rows: list[Row], workloads: dict[str, Any], door: str | Callable[[str], str], system: str,
                  database: str, pid: int, opts: argparse.Namespace, notes: dict[str, str] | None = None) -> None:
    for key, w in workloads.items():
        name = door(key) if callable(door) else door
        try:
            result, cpu = measure(w, pid, opts.seconds, opts.connections)
        except Exception as exc:  # one broken row is reported, the run goes on
            result, cpu = Result(0, 0, 0.0, 0.0, 0.0, 0.0, f"{type(exc).__name__}: {exc}"[:300]), None
        rows.append(Row(key, name, system, database, result, cpu, (notes or {}).get(key, "")))
        shown = f"{result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms" + (f", {result.errors} errors"
                                                                          if result.errors else "")
        console.print(f"  {name} {key}: {shown}")


def hivebase_rows(label: str, settings: Settings, opts: argparse.Namespace, log: Path) -> list[Row]:
    rows: list[Row] = []
    console.print(f"[bold]hivebase on {label}[/]: loading {opts.rows:,} rows")
    t0 = time.perf_counter()
    p = asyncio.run(target.prepare(settings, opts.rows))
    console.print(f"  loaded in {time.perf_counter() - t0:.1f} s (not measured)")
    with target.serve(settings, log) as (url, pid):
        run_workloads(rows, target.rest_workloads(url, p), "REST", "hivebase", label, pid, opts)
        run_workloads(rows, target.mcp_workloads(url, p, stateful=True, connections=opts.connections),
                      "MCP streamable", "hivebase", label, pid, opts)
        run_workloads(rows, target.sse_workloads(url, p), "MCP legacy SSE", "hivebase", label, pid, opts)
    with target.serve(settings, log, mcp_stateless=True) as (url, pid):
        run_workloads(rows, target.mcp_workloads(url, p, stateful=False, connections=opts.connections),
                      "MCP stateless", "hivebase", label, pid, opts)
    core = asyncio.run(inprocess.run(settings, p, opts.seconds, opts.connections))
    for key, r in core.items():
        result = Result(r.ops, 0, r.seconds, r.ops_per_s, r.p50_ms, r.p99_ms)
        rows.append(Row(key, "in-process", "hivebase", label, result, r.cpu_ms, "core only, no HTTP"))
    return rows


def peer_rows(peer: Peer, opts: argparse.Namespace, log: Path) -> tuple[list[Row], str | None]:
    rows: list[Row] = []
    cache = cache_dir()
    console.print(f"[bold]{peer.name}[/] on {peer.database}: installing into {cache} (cached after the first run)")
    try:
        t0 = time.perf_counter()
        peer.install(cache, log)
        console.print(f"  installed ({time.perf_counter() - t0:.0f} s); starting and loading {dataset.ROWS:,} rows")
        with peer.start(cache, log) as running:
            def door(key: str) -> str:
                return "REST" if key.startswith("rest.") else "MCP"
            run_workloads(rows, running.workloads, door, peer.name, peer.database, running.pid, opts, running.notes)
    except PeerUnavailable as exc:
        console.print(f"  [yellow]unavailable: {exc}[/]")
        return rows, str(exc)
    except Exception as exc:  # a peer that breaks mid-run is reported with what it measured
        console.print(f"  [red]failed: {type(exc).__name__}: {exc}[/]")
        return rows, f"failed while running: {type(exc).__name__}: {str(exc)[:300]}"
    return rows, None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per row (after 1 s warm-up)")
    p.add_argument("--connections", type=int, default=16, help="concurrent connections (sessions) per row")
    p.add_argument("--rows", type=int, default=dataset.ROWS, help="rows in hivebase's table")
    p.add_argument("--databases", default="sqlite,postgres", help="hivebase's databases: sqlite,postgres")
    p.add_argument("--peers", default="nocobase,directus,parse", help="peers to run, or 'none'")
    p.add_argument("--sessions", type=int, default=1000, help="open MCP sessions for the memory figures (0: skip)")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    opts = p.parse_args(argv)
    opts.databases = [d for d in opts.databases.split(",") if d]
    opts.peers = [] if opts.peers == "none" else [x for x in opts.peers.split(",") if x]
    if set(opts.databases) - {"sqlite", "postgres"} or set(opts.peers) - {"nocobase", "directus", "parse"}:
        p.error("unknown database or peer")
    if opts.seconds < 1 or opts.connections < 1 or opts.rows < 1000:
        p.error("need --seconds >= 1, --connections >= 1 and --rows >= 1000")
    return opts


def main(opts: argparse.Namespace) -> int:
    info = machine()
    console.print(f"Machine: {info['nproc']} CPU ({info['cpu']}), Python {info['python']}, "
                  f"{info['platform']}, load average {info['loadavg']}; {info['date']}")
    ceiling = measure_ceiling()
    console.print("Load generators against a trivial server: " + ", ".join(
        f"{name} {r.rps:,.0f} req/s (p50 {r.p50_ms:.2f} ms)" for name, r in ceiling.items()))
    rows: list[Row] = []
    unavailable: dict[str, str] = {}
    pg_url = os.environ.get("HIVEBASE_BENCH_DATABASE_URL") or PG_URL
    with tempfile.TemporaryDirectory(prefix="hivebase-bench-") as tmp:
        log = Path(tmp) / "servers.log"
        for db in opts.databases:
            label = "SQLite" if db == "sqlite" else "PostgreSQL"
            settings = Settings(data_dir=Path(tmp) / db, database_url=None if db == "sqlite" else pg_url,
                                schema_prefix="" if db == "sqlite" else f"bench{secrets.token_hex(3)}_")
            try:
                rows += hivebase_rows(label, settings, opts, log)
            finally:
                with contextlib.suppress(Exception):
                    asyncio.run(drop_prefixed_schemas(settings))
        rss: dict[str, float] = {}
        if opts.sessions:
            console.print(f"[bold]Memory[/]: one server process, idle and with {opts.sessions:,} MCP sessions")
            settings = Settings(data_dir=Path(tmp) / "memory")
            rss = memory.measure(settings, asyncio.run(target.prepare(settings, 10_000)), log, opts.sessions)
        for peer in load_peers(opts.peers):
            peer_log = cache_dir() / f"{peer.name.split()[0].lower()}.log"
            got, why = peer_rows(peer, opts, peer_log)
            rows += got
            if why:
                unavailable[peer.name] = why
    info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    report.render(console, rows, unavailable, ceiling, info, opts)
    if rss:
        console.print("Resident memory of one hivebase process (SQLite): " + ", ".join(
            f"{stage} {mb:,.0f} MB" for stage, mb in rss.items()))
    if opts.json:
        opts.json.write_text(json.dumps({"machine": info, "seconds": opts.seconds, "connections": opts.connections,
                                         "ceiling": {k: asdict(v) for k, v in ceiling.items()},
                                         "unavailable": unavailable, "memory_mb": rss,
                                         "rows": [{**asdict(r), "result": asdict(r.result)} for r in rows]},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
