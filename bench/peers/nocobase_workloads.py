"""What the NocoBase peer is asked, row by row: its REST actions and MCP tool calls, and a probe that sends one
request of each and checks the answer before any figure is trusted."""

from __future__ import annotations

import random
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from bench import dataset
from bench.load.spec import Request, Workload
from bench.peers.base import PeerUnavailable

REQUESTS = 1000  # per workload, cycled by the load generator
FILTER = {"team": dataset.QUERY_TEAM, "score": {"$gte": dataset.QUERY_MIN_SCORE}}
COUNT = {"measures": [{"field": ["id"], "aggregation": "count", "alias": "count"}], "filter": FILTER}
AGGREGATE = {"measures": [{"field": ["score"], "aggregation": "sum", "alias": "score"}],
             "dimensions": [{"field": ["team"], "alias": "team"}]}
# Tool failures come back as HTTP 200: a tool result flagged isError, or a JSON-RPC error (unknown tool, bad
# arguments). Both byte strings are exactly what NocoBase 2.2.15 writes (no spaces).
MCP_ERRORS = (b'"isError":true', b'"error":{')
MCP_CREATE_OFFSET = 1_000_000  # mcp.create's rows are named apart from rest.create's

NOTES = {
    "rest.get": "GET /api/players:get?filterByTk=<id>, API key of the root role as Bearer. Server: `nocobase start "
                "--launch-mode node` (the plain node process, no pm2) with NocoBase's default logging (info: two "
                "JSON lines per request to stdout and to daily files)",
    "rest.query": "GET /api/players:list?filter=…&pageSize=20: NocoBase also runs a COUNT over the filter for "
                  "meta.count on every page. paginate=false would skip the count but returns every matching row "
                  "(2,482), so it is not used; NocoBase drops the count by itself (simplePaginate) only above "
                  "300,000 estimated rows",
    "rest.count": "POST /api/players:query {measures:[count(id)], filter} (one SELECT count): there is no :count "
                  "action, and players:list?pageSize=1 reading meta.count took ~2x as long (a row query + a count)",
    "rest.create": "POST /api/players:create with bench.dataset.new_row(n) as the body",
    "rest.update": "POST /api/players:update?filterByTk=<id> {level}; answers the updated row",
    "rest.aggregate": "POST /api/players:query {dimensions:[team], measures:[sum(score)]}: the REST action "
                      "behind resource_query",
    "mcp.get": "POST /api/mcp tools/call resource_get. Stateless streamable HTTP: no initialize, no session id; "
               "answers in SSE framing; each call is replayed in-process as POST /api/players:<action> "
               "(light-my-request), so it costs the REST action plus the MCP layer",
    "mcp.list": "resource_list {filter, pageSize:20}: counts the matches too, like rest.query",
    "mcp.create": "resource_create {values: new_row(n)}",
    "mcp.aggregate": "resource_query {dimensions:[team], measures:[sum(score)]}",
}


@dataclass(frozen=True, slots=True)
class Expected:
    """What the loaded rows must answer, computed from bench.dataset in Python."""

    count: int  # rows matching FILTER
    sums: dict[str, int]  # team -> sum(score)


def expected(rows: Sequence[Mapping[str, Any]]) -> Expected:
    sums: dict[str, int] = {}
    for row in rows:
        sums[row["team"]] = sums.get(row["team"], 0) + row["score"]
    count = sum(1 for r in rows if r["team"] == dataset.QUERY_TEAM and r["score"] >= dataset.QUERY_MIN_SCORE)
    return Expected(count, sums)


def build(base_url: str, key: str, ids: Sequence[int], seed: int = 7) -> dict[str, Workload]:
    """Every row's requests: random existing ids for reads and updates, fresh rows for creates."""
    rng = random.Random(seed)
    auth = {"Authorization": f"Bearer {key}"}
    post = {**auth, "Content-Type": "application/json"}
    mcp = {**post, "Accept": "application/json, text/event-stream"}
    flt = urllib.parse.quote(orjson.dumps(FILTER).decode(), safe="")

    def rest(items: list[Request]) -> Workload:
        return Workload(base_url, items)

    def call(tool: str, args: dict[str, Any], n: int) -> Request:
        rpc = {"jsonrpc": "2.0", "id": n + 1, "method": "tools/call",
               "params": {"name": tool, "arguments": {"resource": "players", **args}}}
        return Request("POST", "/api/mcp", mcp, orjson.dumps(rpc))

    def tool(make: Callable[[int], Request]) -> Workload:
        return Workload(base_url, [make(n) for n in range(REQUESTS)], error_markers=MCP_ERRORS)

    picks = [rng.choice(ids) for _ in range(REQUESTS)]
    levels = [rng.randint(1, 100) for _ in range(REQUESTS)]
    return {
        "rest.get": rest([Request("GET", f"/api/players:get?filterByTk={i}", auth) for i in picks]),
        "rest.query": rest([Request("GET", f"/api/players:list?filter={flt}&pageSize={dataset.PAGE}", auth)]
                           * REQUESTS),
        "rest.count": rest([Request("POST", "/api/players:query", post, orjson.dumps(COUNT))] * REQUESTS),
        "rest.create": rest([Request("POST", "/api/players:create", post, orjson.dumps(dataset.new_row(n)))
                             for n in range(REQUESTS)]),
        "rest.update": rest([Request("POST", f"/api/players:update?filterByTk={i}", post,
                                     orjson.dumps({"level": lv})) for i, lv in zip(picks[::-1], levels, strict=True)]),
        "rest.aggregate": rest([Request("POST", "/api/players:query", post, orjson.dumps(AGGREGATE))] * REQUESTS),
        "mcp.get": tool(lambda n: call("resource_get", {"filterByTk": picks[n]}, n)),
        "mcp.list": tool(lambda n: call("resource_list", {"filter": FILTER, "pageSize": dataset.PAGE}, n)),
        "mcp.create": tool(lambda n: call("resource_create",
                                          {"values": dataset.new_row(MCP_CREATE_OFFSET + n)}, n)),
        "mcp.aggregate": tool(lambda n: call("resource_query", AGGREGATE, n)),
    }


def send(client: httpx.Client, workload: Workload, request: Request) -> httpx.Response:
    return client.request(request.method, workload.base_url + request.path, headers=dict(request.headers),
                          content=request.body)


def tool_data(body: bytes) -> Any:
    """The `data` of a tool result: the JSON-RPC message is the SSE `data:` line, the result its text item."""
    for line in body.splitlines():
        if line.startswith(b"data:"):
            message = orjson.loads(line[5:])
            result = message["result"]
            if result.get("isError"):
                raise ValueError("isError")
            return orjson.loads(result["content"][0]["text"])["data"]
    raise ValueError("no SSE data line")


def probe(workloads: Mapping[str, Workload], want: Expected) -> None:
    """Sends the first request of each workload (reads first, while the data is as loaded) and raises
    PeerUnavailable with the answer when it is not what the bench expects."""
    first = {key: orjson.loads(w.requests[0].body) if w.requests[0].body else {} for key, w in workloads.items()}
    get_id = int(workloads["rest.get"].requests[0].path.rsplit("=", 1)[1])
    mcp_get_id = first["mcp.get"]["params"]["arguments"]["filterByTk"]
    update = first["rest.update"]
    mcp_row = first["mcp.create"]["params"]["arguments"]["values"]

    def groups(data: Any) -> bool:
        return {g["team"]: int(g["score"]) for g in data} == want.sums

    def page(data: Any) -> bool:
        return len(data) == dataset.PAGE and all(
            r["team"] == dataset.QUERY_TEAM and r["score"] >= dataset.QUERY_MIN_SCORE for r in data)

    checks: dict[str, Callable[[Any], bool]] = {
        "rest.get": lambda b: b["data"]["id"] == get_id,
        "rest.query": lambda b: page(b["data"]) and b["meta"]["count"] == want.count,
        "rest.count": lambda b: int(b["data"][0]["count"]) == want.count,
        "rest.aggregate": lambda b: groups(b["data"]),
        "mcp.get": lambda b: tool_data(b)["id"] == mcp_get_id,
        "mcp.list": lambda b: page(tool_data(b)),
        "mcp.aggregate": lambda b: groups(tool_data(b)),
        "rest.update": lambda b: b["data"][0]["level"] == update["level"],
        "rest.create": lambda b: b["data"]["name"] == first["rest.create"]["name"],
        "mcp.create": lambda b: tool_data(b)["name"] == mcp_row["name"],
    }
    with httpx.Client(timeout=60) as client:
        for key, ok in checks.items():
            workload = workloads[key]
            answer = send(client, workload, workload.requests[0])
            body = answer.content
            try:
                good = answer.status_code in workload.ok_status and ok(body if key.startswith("mcp.")
                                                                       else orjson.loads(body))
            except (KeyError, IndexError, TypeError, ValueError):
                good = False
            if not good or any(m in body for m in workload.error_markers):
                raise PeerUnavailable(f"NocoBase {key} probe: {answer.status_code} {body[:500]!r}")
