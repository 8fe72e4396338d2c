"""The comparison's one table: every row grouped by operation, with the MCP layer's cost over REST for
hivebase's MCP rows and hivebase ÷ peer for every peer row."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from bench import dataset
from bench.load.spec import Result

if TYPE_CHECKING:
    from bench.run import Row

OPERATIONS = {
    "get": "get by id",
    "query": f"query {dataset.PAGE} rows, 2-condition where",
    "count": "count, same where",
    "create": "create one row",
    "update": "update one field",
    "aggregate": f"group by team + sum(score), {dataset.ROWS:,} rows",
}
OP_OF = {"rest.get": "get", "mcp.get": "get", "rest.query": "query", "mcp.list": "query", "sse.query": "query",
         "rest.count": "count", "rest.create": "create", "mcp.create": "create", "sse.create": "create",
         "rest.update": "update", "rest.aggregate": "aggregate", "mcp.aggregate": "aggregate"}
DOORS = ["in-process", "REST", "MCP streamable", "MCP stateless", "MCP legacy SSE", "MCP"]
REST_OF = {"mcp.get": "rest.get", "mcp.list": "rest.query", "sse.query": "rest.query", "mcp.create": "rest.create",
           "sse.create": "rest.create", "mcp.aggregate": "rest.aggregate"}
# the hivebase door a peer's row is compared with: the peers' MCP servers keep no session per client
PEER_DOOR = {"REST": "REST", "MCP": "MCP stateless"}


def _find(rows: list[Row], key: str, door: str, database: str) -> Row | None:
    return next((r for r in rows if r.system == "hivebase" and r.key == key and r.door == door
                 and r.database == database and r.result.requests), None)


def _versus(row: Row, rows: list[Row]) -> str:
    """For a hivebase MCP row, its server CPU over the REST row's; for a peer row, hivebase ÷ peer."""
    if row.system == "hivebase":
        rest = _find(rows, REST_OF.get(row.key, ""), "REST", row.database)
        if row.door.startswith("MCP") and rest and rest.server_cpu_ms and row.server_cpu_ms:
            return f"CPU {row.server_cpu_ms / rest.server_cpu_ms - 1:+.0%} vs REST"
        return ""
    ours = _find(rows, row.key, PEER_DOOR.get(row.door, row.door), row.database)
    if ours is None or not row.result.rps:
        return ""
    return f"hivebase ÷ peer {ours.result.rps / row.result.rps:.1f}×"


def _order(row: Row) -> tuple[Any, ...]:
    return (list(OPERATIONS).index(OP_OF.get(row.key, "get")), row.database, row.system != "hivebase",
            row.system, DOORS.index(row.door) if row.door in DOORS else len(DOORS))


def render(console: Console, rows: list[Row], unavailable: dict[str, str], ceiling: dict[str, Result],
           info: dict[str, Any], opts: argparse.Namespace) -> None:
    table = Table(title=f"hivebase and its peers — {opts.connections} connections, {opts.seconds:g} s a row after "
                        f"1 s warm-up; {info['nproc']} CPU ({info['cpu']}), {info['date']}")
    for col in ("operation", "system", "database", "door"):
        table.add_column(col)
    for col in ("req/s", "p50 ms", "p99 ms", "server CPU ms/req", "errors"):
        table.add_column(col, justify="right")
    table.add_column("compared")
    last = None
    for row in sorted(rows, key=_order):
        op = OPERATIONS[OP_OF.get(row.key, "get")]
        if op != last and last is not None:
            table.add_section()
        r = row.result
        failed = not r.requests
        table.add_row(op if op != last else "", row.system, row.database, row.door,
                      "failed" if failed else f"{r.rps:,.0f}", "" if failed else f"{r.p50_ms:.2f}",
                      "" if failed else f"{r.p99_ms:.2f}",
                      "" if row.server_cpu_ms is None else f"{row.server_cpu_ms:.2f}",
                      str(r.errors) if r.errors else "", _versus(row, rows))
        last = op
    console.print(table)
    console.print("Load generators' ceiling against a trivial server: " + ", ".join(
        f"{name}: {r.rps:,.0f} req/s" for name, r in ceiling.items()))
    for row in rows:
        if row.result.first_error:
            console.print(f"[yellow]{row.system} {row.database} {row.door} {row.key}[/]: first error "
                          f"{row.result.first_error[:200]!r}")
        if row.note and row.system != "hivebase":
            console.print(f"{row.system} {row.key}: {row.note}")
    for name, why in unavailable.items():
        console.print(f"[yellow]{name} could not be measured on this machine:[/] {why}")
    console.print(f"Load average {info['loadavg']} before, {info['loadavg_after']} after. In-process rows: the core "
                  "alone, CPU of the benchmark process. PostgreSQL's own CPU is not in any server CPU column.")
