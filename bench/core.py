"""In-process benchmark of the data core: records and reads on a 100,000-row table, SQLite and PostgreSQL.

Run ``make bench`` or ``python bench/core.py --help``. PostgreSQL runs when HIVEBASE_BENCH_DATABASE_URL (or
HIVEBASE_TEST_DATABASE_URL) is set; it uses a throw-away schema prefix and drops its schemas at the end.
Each measured row runs ``--concurrency`` asyncio tasks in a loop for ``--seconds`` and reports throughput
and latency percentiles. No HTTP, no JSON encoding: this is the core alone (records, reads, compiler, DB).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import os
import platform
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from hivebase.config import Settings
from hivebase.core import reads, records, roles, schema
from hivebase.core.apps import App
from hivebase.core.model import TableDef
from hivebase.core.principal import Principal
from hivebase.core.query import ir
from hivebase.core.secrets import random_id
from hivebase.db.engine import drop_schemas
from hivebase.hub import Hub

TABLE = "Player"
FIELDS: dict[str, Any] = {"name": "String", "team": "String", "score": "Number", "level": "Number",
                          "born": "Date", "tags": "Array"}
TEAMS = 20
WHERE: dict[str, Any] = {"team": "t7", "score": {"$gte": 500}}
LOAD_CHUNK = 1000
BATCH = records.MAX_BATCH
ROOT = Principal.root(via="bench")
console = Console() if sys.stdout.isatty() else Console(width=120)

Op = Callable[[random.Random], Awaitable[Any]]


@dataclass(slots=True)
class Result:
    name: str
    ops: int
    seconds: float
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # this process's CPU time per op (all threads; a PostgreSQL server's own CPU is not in it)
    note: str = ""


# -- data -------------------------------------------------------------------------------------------------


def player(rng: random.Random, i: int) -> dict[str, Any]:
    """A Player as a caller sends it (through records): Date as a Bmob Date object."""
    born = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randrange(1_000_000_000))
    return {"name": f"player{i}", "team": f"t{rng.randrange(TEAMS)}", "score": rng.randrange(1000),
            "level": rng.randrange(1, 101),
            "born": {"__type": "Date", "iso": born.strftime("%Y-%m-%d %H:%M:%S")},
            "tags": rng.sample(["a", "b", "c", "d", "e"], rng.randrange(4))}


def stored_player(rng: random.Random, i: int, stamp: dt.datetime) -> dict[str, Any]:
    """The same row in its stored form, for the bulk load that bypasses records. Each row gets its own
    createdAt (1 µs apart), as if created one by one: find's default order (createdAt, objectId) stays as
    selective as on real data instead of tying on one timestamp."""
    row = player(rng, i)
    row["born"] = dt.datetime.strptime(row["born"]["iso"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    return {"objectId": random_id(), "createdAt": stamp, "updatedAt": stamp, "createdBy": None,
            "updatedBy": None, **row}


async def bulk_load(app: App, tdef: TableDef, start: int, count: int, rng: random.Random) -> list[str]:
    """Loading, not measured: executemany INSERTs straight into the table, LOAD_CHUNK rows a transaction."""
    ids: list[str] = []
    first = dt.datetime.now(dt.UTC)
    for lo in range(start, start + count, LOAD_CHUNK):
        rows = [stored_player(rng, i, first + dt.timedelta(microseconds=i - start))
                for i in range(lo, min(lo + LOAD_CHUNK, start + count))]
        async with app.db.write() as conn:
            await conn.execute(sa.insert(tdef.table), rows)
        ids.extend(r["objectId"] for r in rows)
    async with app.db.write() as conn:  # fresh planner statistics, as autovacuum would give PostgreSQL soon
        name = f'"{app.db.schema}"."{TABLE}"' if app.db.schema else f'"{TABLE}"'
        await conn.exec_driver_sql(f"ANALYZE {name}")
    return ids


# -- the Bmob parsers, when present ----------------------------------------------------------------------


def _parser(module: str, name: str) -> Callable[..., Any] | None:
    try:
        return getattr(importlib.import_module(f"hivebase.core.query.{module}"), name, None)
    except ImportError:
        return None


def where_pred(app: App, tdef: TableDef) -> tuple[ir.Pred, str]:
    parse_where = _parser("where", "parse_where")
    if parse_where is not None:
        try:
            return parse_where(app.catalog, tdef, WHERE), "parse_where"
        except Exception as exc:  # a parser still being written: say so and measure the IR instead
            console.print(f"[yellow]parse_where failed ({type(exc).__name__}: {exc}); using the IR[/]")
    f = tdef.fields
    return ir.And((ir.Cmp(ir.Path(f["team"]), "eq", "t7"), ir.Cmp(ir.Path(f["score"]), "gte", 500.0))), "IR"


def find_select(app: App, tdef: TableDef, where: ir.Pred) -> tuple[ir.Select, str]:
    parse_find = _parser("bmob_params", "parse_find")
    if parse_find is not None:
        try:
            select, _ = parse_find(app.catalog, tdef, {"where": WHERE, "limit": 20})
        except Exception as exc:
            console.print(f"[yellow]parse_find failed ({type(exc).__name__}: {exc}); using the IR[/]")
        else:
            return select, "parse_find"
    return ir.Select(TABLE, where=where, limit=20), "IR"


def group_sum(app: App, tdef: TableDef) -> tuple[ir.Aggregate, str]:
    parse_aggregate = _parser("bmob_params", "parse_aggregate")
    if parse_aggregate is not None:
        try:
            agg = parse_aggregate(app.catalog, tdef, {"groupby": "team", "sum": "score"})
        except Exception as exc:
            console.print(f"[yellow]parse_aggregate failed ({type(exc).__name__}: {exc}); using the IR[/]")
        else:
            if isinstance(agg, ir.Aggregate):
                return agg, "parse_aggregate"
            console.print(f"[yellow]parse_aggregate returned a {type(agg).__name__}; using the IR[/]")
    f = tdef.fields
    return ir.Aggregate(TABLE, dimensions=[ir.Dimension(ir.Path(f["team"]), "team")],
                        measures=[ir.Measure("sum", "_sumScore", ir.Path(f["score"]))]), "IR"


# -- measuring --------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def measure(name: str, op: Op, seconds: float, concurrency: int, *, max_ops: int | None = None,
                  note: str = "") -> Result:
    """``concurrency`` tasks run ``op`` back to back until the deadline (or ``max_ops``); a short warm-up
    (one op per task) is not counted."""
    await asyncio.gather(*(op(random.Random(-1 - w)) for w in range(concurrency)))
    latencies: list[float] = []
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(seed: int) -> None:
        nonlocal done
        rng = random.Random(seed)
        while time.perf_counter() < deadline and (max_ops is None or done < max_ops):
            done += 1
            t0 = time.perf_counter()
            await op(rng)
            latencies.append(time.perf_counter() - t0)

    start, cpu_start = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    latencies.sort()
    p50, p99 = (round(percentile(latencies, q) * 1000, 2) for q in (0.50, 0.99))
    n = len(latencies)
    result = Result(name, n, round(elapsed, 3), round(n / elapsed, 1), p50, p99, round(cpu / n * 1000, 3),
                    note)
    console.print(f"  {name}: {result.ops_per_s:,.1f} ops/s, p50 {result.p50_ms} ms, p99 {result.p99_ms} ms, "
                  f"CPU {result.cpu_ms} ms/op")
    return result


async def run_backend(label: str, settings: Settings, args: argparse.Namespace) -> tuple[list[Result], str]:
    hub = Hub(settings)
    await hub.start()
    await hub.init_main()
    try:
        app = await hub.apps.open("main")
        tdef = await schema.create_table(app, ROOT, TABLE, FIELDS)
        if args.index:  # before loading, so every write below maintains it
            await schema.add_index(app, ROOT, TABLE, ["team", "score"])
            tdef = app.catalog.get(TABLE)
        version = await server_version(app)
        indexed = " with an index on (team, score)" if args.index else ""
        console.print(f"[bold]{label}[/] ({version}): loading {args.rows:,} rows{indexed}")
        rng = random.Random(42)
        ids: list[str] = []
        results: list[Result] = []
        counter = iter(range(10**9))

        async def create_batch(r: random.Random) -> None:
            ops = [records.Op("create", TABLE, data=player(r, next(counter))) for _ in range(BATCH)]
            ids.extend(res.ok["objectId"] for res in await records.batch(app, ROOT, ops) if res.ok)

        max_batches = max(1, args.rows // BATCH // 2) - args.concurrency  # leave the warm-up its share
        res = await measure("create (batch of 50)", create_batch, args.seconds, args.concurrency,
                            max_ops=max(1, max_batches))
        res.note = f"{res.ops_per_s * BATCH:,.0f} rows/s"
        results.append(res)
        t0 = time.perf_counter()
        loaded = max(0, args.rows - len(ids))
        ids.extend(await bulk_load(app, tdef, len(ids), loaded, rng))
        took = time.perf_counter() - t0
        console.print(f"  (loading: {loaded:,} rows bulk-inserted + ANALYZE in {took:.1f} s, not measured)")

        where, where_src = where_pred(app, tdef)
        agg, agg_src = group_sum(app, tdef)
        select, find_src = find_select(app, tdef, where)
        matching = await reads.count(app, ROOT, TABLE, where)
        groups = await reads.aggregate(app, ROOT, agg)
        assert len(groups) == TEAMS, groups
        total = await reads.count(app, ROOT, TABLE)
        console.print(f"  {total:,} rows; the where matches {matching:,}; built by {where_src}, "
                      f"{find_src} and {agg_src}")

        async def create_one(r: random.Random) -> None:
            await records.create(app, ROOT, TABLE, player(r, next(counter)))

        async def get_one(r: random.Random) -> None:
            await reads.get(app, ROOT, TABLE, ids[r.randrange(len(ids))])

        async def query(r: random.Random) -> None:
            rows, _ = await reads.find(app, ROOT, select)
            assert len(rows) == 20

        async def count(r: random.Random) -> None:
            await reads.count(app, ROOT, TABLE, where)

        async def update(r: random.Random) -> None:
            await records.update(app, ROOT, TABLE, ids[r.randrange(len(ids))], {"level": r.randrange(1, 101)})

        async def aggregate(r: random.Random) -> None:
            await reads.aggregate(app, ROOT, agg)

        member = await scoped_member(app)
        member_select = ir.Select(TABLE, where=select.where, order=select.order, limit=20)

        async def member_query(r: random.Random) -> None:
            rows, _ = await reads.find(app, member, member_select)
            assert rows and "born" not in rows[0]

        async def member_get(r: random.Random) -> None:
            await reads.get(app, member, TABLE, ids[r.randrange(len(ids))])

        for name, op, note in (("create (single)", create_one, ""), ("get by id", get_one, ""),
                               ("query 20 rows, 2-condition where", query, f"{matching:,} rows match"),
                               ("count, same where", count, ""),
                               ("update (set a field)", update, ""),
                               (f"group by team + sum(score), {total:,} rows", aggregate, f"{TEAMS} groups"),
                               ("get by id, scoped role", member_get, "ACL + scope + field list"),
                               ("query 20 rows, scoped role", member_query, "ACL + scope + field list")):
            results.append(await measure(name, op, args.seconds, args.concurrency, note=note))
        return results, version
    finally:
        await hub.close()


async def scoped_member(app: App) -> Principal:
    """A user in a role that sees four fields of rows with level >= 1, through object ACLs: what every
    non-root read pays for access control."""
    await roles.create_role(app, ROOT, "reader", strategy=["list", "get", "query"])
    rule = {"fields": ["name", "team", "score", "level"], "scope": {"level": {"$gte": 1}}}
    await roles.set_table_permissions(app, ROOT, "reader", TABLE, {"list": rule, "get": rule})
    return Principal("user", app=app.name, user_id="benchuser1", role="reader", roles=("reader",), via="bench")


async def server_version(app: App) -> str:
    if app.db.dialect == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    async with app.db.read() as conn:
        return "PostgreSQL " + str(await conn.scalar(sa.text("SHOW server_version"))).split()[0]


async def drop_prefixed_schemas(settings: Settings) -> None:
    if settings.database_url and settings.schema_prefix:
        await drop_schemas(settings.database_url, settings.schema_prefix)


# -- reporting --------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"nproc": nproc, "cpu": cpu, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(), "loadavg": [round(x, 2) for x in os.getloadavg()],
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}


def render(label: str, version: str, results: list[Result], args: argparse.Namespace) -> None:
    indexed = ", index on (team, score)" if args.index else ""
    table = Table(title=f"{label} — {version}, {args.rows:,} rows{indexed}, concurrency {args.concurrency}, "
                        f"{args.seconds:g} s per row")
    table.add_column("operation")
    for col in ("ops", "ops/s", "p50 ms", "p99 ms", "CPU ms/op"):
        table.add_column(col, justify="right")
    table.add_column("note")
    for r in results:
        table.add_row(r.name, f"{r.ops:,}", f"{r.ops_per_s:,.1f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}",
                      f"{r.cpu_ms:.2f}", r.note)
    console.print(table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000, help="rows in the table before measuring")
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each measured row")
    p.add_argument("--concurrency", type=int, default=8, help="concurrent asyncio tasks per row")
    p.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both",
                   help="both: SQLite, plus PostgreSQL when a database URL is set")
    p.add_argument("--index", action="store_true", help="add an index on (team, score) before measuring")
    p.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = p.parse_args(argv)
    if args.rows < 1000 or args.seconds <= 0 or args.concurrency < 1:
        p.error("need --rows >= 1000, --seconds > 0 and --concurrency >= 1")
    return args


async def main(args: argparse.Namespace) -> int:
    pg_url = os.environ.get("HIVEBASE_BENCH_DATABASE_URL") or os.environ.get("HIVEBASE_TEST_DATABASE_URL")
    if args.backend == "postgres" and not pg_url:
        console.print("[red]--backend postgres needs HIVEBASE_BENCH_DATABASE_URL[/]")
        return 2
    info = machine()
    console.print(f"Machine: {info['nproc']} CPU ({info['cpu']}), Python {info['python']}, "
                  f"SQLite {info['sqlite']}, {info['platform']}, load average {info['loadavg']}; "
                  f"{info['date']}")
    report: dict[str, Any] = {"machine": info, "rows": args.rows, "seconds": args.seconds,
                              "concurrency": args.concurrency, "index": args.index, "backends": {}}
    runs: list[tuple[str, Settings]] = []
    with tempfile.TemporaryDirectory(prefix="hivebase-bench-") as tmp:
        if args.backend in ("sqlite", "both"):
            runs.append(("SQLite", Settings(data_dir=Path(tmp) / "sqlite", database_url=None)))
        if args.backend in ("postgres", "both") and pg_url:
            runs.append(("PostgreSQL", Settings(data_dir=Path(tmp) / "pg", database_url=pg_url,
                                                schema_prefix=f"bench{secrets.token_hex(3)}_")))
        tables: list[tuple[str, str, list[Result]]] = []
        for label, settings in runs:
            try:
                results, version = await run_backend(label, settings, args)
            finally:
                await drop_prefixed_schemas(settings)
            tables.append((label, version, results))
            report["backends"][label] = {"version": version, "results": [asdict(r) for r in results]}
    info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    console.print(f"\nMachine: {info['nproc']} CPU ({info['cpu']}), Python {info['python']}, "
                  f"SQLite {info['sqlite']}; load average {info['loadavg']} before, {info['loadavg_after']} "
                  f"after; {info['date']}")
    for label, version, results in tables:
        render(label, version, results, args)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
