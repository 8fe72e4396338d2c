"""Hostile arguments for every MCP tool over real sockets: wrong shapes and types, bad JSON text, hostile
names, injection in filters, other apps' ids, paging extremes, bad aggregations, generate_code misuse and
permission refusals. Each refusal is an ``isError`` result in the tool's dialect (the conftest helpers also
reject traces and SQL text) that names what was wrong, and every table of every app, system tables
included, is unchanged afterwards. Raw JSON-RPC is used where the official client would refuse to send."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from jsonschema import Draft202012Validator
from mcp import ClientSession

from hivebase.core import records, roles, schema
from hivebase.core.apps import MAIN, App
from hivebase.core.identity import api_keys, users
from hivebase.db.engine import Database
from hivebase.hub import Hub
from tests.mcp.conftest import ROOT, blocking, bmob_error, bmob_headers, ok, payload, resource_error, streamable
from tests.mcp.test_transports import ACCEPT, INIT, rpc_body
from tests.rest.conftest import Server

pytestmark = pytest.mark.anyio

RESOURCE_TOOLS = {"resource_list", "resource_get", "resource_create", "resource_update", "resource_destroy",
                  "resource_query"}
BMOB = {"x-mcp-packages": "bmob"}
PLAYER = {"name": {"type": "String", "unique": True}, "score": {"type": "Number"}, "tags": {"type": "Array"},
          "meta": {"type": "Object"}, "team": {"type": "Pointer", "targetClass": "Team"}}
SLOW = "a" * 40 + "!"  # the classic input for catastrophic backtracking
FAKE = "zZ9zZ9zZ9z"  # a well-formed objectId no app has
NOTHING = ({"data": []}, {"data": {"count": 0}}, {"data": [], "meta": {"count": 0}},
           {"data": [], "meta": {"count": 0, "page": 1, "pageSize": 20, "totalPage": 0}})
SUM = [{"field": "score", "aggregation": "sum", "alias": "total"}]


# -- set-up, snapshots and calls -----------------------------------------------------------------------------


def seed(server: Server) -> dict[str, str]:
    """Team and Player in both apps; in main a Player row, one only alice may see and one only she may write;
    users alice and mallory (member) and admin, each with an API key (``<name>_key``)."""

    async def add(app: App, table: str, data: dict[str, Any]) -> str:
        return str((await records.create(app, ROOT, table, data))["objectId"])

    async def run() -> dict[str, str]:
        async with Hub(server.settings) as hub:
            main, other = await hub.apps.open(MAIN), await hub.apps.open("other")
            for app in (main, other):
                await schema.create_table(app, ROOT, "Team", {"title": {"type": "String"}})
                await schema.create_table(app, ROOT, "Player", PLAYER)
            ids: dict[str, str] = {}
            for name, role in (("alice", "member"), ("mallory", "member"), ("admin", "admin")):
                user = await users.create_user(main, ROOT, {"username": name, "password": "s3cret-pass"}, [role])
                ids[name] = user["objectId"]
                ids[f"{name}_key"] = (await api_keys.create(main, ROOT, user["objectId"], role, name="test"))[1]
            ids["team"], ids["other_team"] = await add(main, "Team", {"title": "r"}), await add(other, "Team", {})
            team = {"__type": "Pointer", "className": "Team", "objectId": ids["team"]}
            ids["player"] = await add(main, "Player", {"name": SLOW, "score": 5, "tags": ["x"], "team": team})
            alice = {ids["alice"]: {"read": True, "write": True}}
            ids["hidden"] = await add(main, "Player", {"name": "hidden", "ACL": alice})
            ids["readonly"] = await add(main, "Player", {"name": "ro", "ACL": {"*": {"read": True}, **alice}})
            return ids

    return dict(blocking(lambda: asyncio.run(run())))


async def _dump(db: Database) -> dict[str, list[str]]:
    """Every row of every table of one database (an app's or the registry's), in a stable order."""
    async with db.read() as conn:
        md = sa.MetaData()
        await conn.run_sync(lambda c: md.reflect(c, schema=db.schema))
        return {t.name: sorted(repr(tuple(r)) for r in (await conn.execute(sa.select(t))).all())
                for t in md.sorted_tables}


def snapshot(server: Server) -> dict[str, Any]:
    """Every row of both apps and of the registry, system tables (catalog, keys, roles, settings) included."""

    async def run() -> dict[str, Any]:
        async with Hub(server.settings) as hub:
            dbs = {"registry": hub.engines.system(), **{n: (await hub.apps.open(n)).db for n in (MAIN, "other")}}
            return {name: await _dump(db) for name, db in dbs.items()}

    return dict(blocking(lambda: asyncio.run(run())))


@contextlib.asynccontextmanager
async def unchanged(server: Server, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    """A session on /api/mcp; every row of every app must be the same when it closes."""
    before = snapshot(server)
    async with streamable(f"{server.url}/api/mcp", headers) as session:
        yield session
    assert snapshot(server) == before


def both(key: str) -> dict[str, str]:
    """Resource tools and Bmob tools in one session on /api/mcp."""
    return {"Authorization": f"Bearer {key}", **BMOB}


def fill(args: dict[str, Any], oid: str) -> dict[str, Any]:
    """``args`` with every value ``"@"`` replaced by ``oid``."""
    return dict(json.loads(json.dumps(args).replace('"@"', json.dumps(oid))))


async def refused(session: ClientSession, tool: str, args: dict[str, Any]) -> tuple[int | None, str]:
    """The refusal of a call, in the tool's dialect: (Bmob code or None, message)."""
    result = await session.call_tool(tool, args)
    if tool in RESOURCE_TOOLS:
        return None, resource_error(result)
    body = bmob_error(result)
    return int(body["code"]), str(body["error"])


async def refused_or_nothing(session: ClientSession, tool: str, args: dict[str, Any]) -> None:
    """A clean refusal, or (a filter or list of keys matching no row) an answer with nothing in it."""
    result = await session.call_tool(tool, args)
    if tool not in RESOURCE_TOOLS:
        assert bmob_error(result)["code"] in (101, 102, 106, 111), (tool, str(args)[:80])
    elif result.is_error:
        resource_error(result)
    else:
        assert payload(result) in NOTHING, (tool, str(args)[:80], payload(result))


async def same_as_missing(session: ClientSession, tool: str, args: dict[str, Any], real: str) -> str:
    """``tool`` on row ``real`` answers byte for byte as on a row that never existed (ids swapped): refused
    alike, or both found nothing. Returns the Bmob code or NocoBase message of the refusal ("" if none)."""
    answers = [await session.call_tool(tool, fill(args, i)) for i in (real, FAKE)]
    texts = [a.content[0].text.replace(i, "<id>") for a, i in zip(answers, (real, FAKE), strict=True)]
    assert texts[0] == texts[1] and answers[0].is_error == answers[1].is_error, (tool, texts)
    if not answers[0].is_error:
        return ""
    return resource_error(answers[0]) if tool in RESOURCE_TOOLS else str(bmob_error(answers[0])["code"])


def names_it(message: str, *what: str) -> bool:
    """Whether ``message`` names one of ``what`` (an argument or the offending value, maybe cut or escaped)."""
    shown = [s for w in what for s in (w[:12], repr(w[:12])[1:-1], w.split(".")[0]) if s]  # a.b: its first step
    return len(message) < 2000 and any(s in message for s in shown)


# -- 1. the input schemas: missing, unknown and mistyped arguments ---------------------------------------------

BASE: dict[str, dict[str, Any]] = {
    "resource_list": {"resource": "Player"}, "resource_get": {"resource": "Player"},
    "resource_create": {"resource": "Player", "values": {}}, "resource_update": {"resource": "Player", "values": {}},
    "resource_destroy": {"resource": "Player"}, "resource_query": {"resource": "Player"},
    "get_project_tables": {}, "create_table": {"tableName": "Fresh"}, "query_data": {"tableName": "Player"},
    "add_single_data": {"tableName": "Player", "data": {}},
    "update_single_data": {"tableName": "Player", "objectId": FAKE, "data": {}},
    "delete_single_data": {"tableName": "Player", "objectId": FAKE},
    "get_single_data": {"tableName": "Player", "objectId": FAKE}, "generate_code": {"type": "add"},
    "invoke_cloud_function": {"funcName": "nope"}, "deploy_cloud_function": {"funcName": "nope", "code": "x"}}
SAMPLES: tuple[Any, ...] = (1.5, 7, "text", {"k": 1}, [1], None, True)
NESTED = [  # resource_query's item schemas: (arguments, what the message must say)
    ({"measures": [{"field": "score", "aggregation": "median"}]}, "`measures.0.aggregation` must be one of"),
    ({"measures": [{"field": "score", "sql": "1"}]}, "unknown argument `sql`"), ({"measures": [{}]}, "`field` is"),
    ({"measures": {"field": "score"}}, "`measures` must be array"),
    ({"dimensions": [{"field": ["name", 1]}]}, "`dimensions.0.field.1` must be string"),
    ({"orders": [{"field": "score", "order": "sideways"}]}, "`orders.0.order` must be one of"),
    ({"orders": [{"field": "score", "nulls": None}]}, "`orders.0.nulls`")]


def wrong_values(spec: dict[str, Any]) -> list[Any]:
    """A value of every JSON type ``spec`` refuses, a bad item for typed arrays, a bad choice for enums."""
    return [v for v in (*SAMPLES, [None], "no-such-choice") if not Draft202012Validator(spec).is_valid(v)]


async def test_arguments_outside_each_tools_schema(mcp_server: Server) -> None:
    ids = seed(mcp_server)
    async with unchanged(mcp_server, both(ids["admin_key"])) as session:
        listed = {t.name: t.input_schema for t in (await session.list_tools()).tools}
        assert set(listed) == set(BASE)
        for tool, spec in listed.items():
            base = BASE[tool]
            for name in spec["required"]:
                code, msg = await refused(session, tool, {k: v for k, v in base.items() if k != name})
                assert msg == f"{tool}: `{name}` is required" and code in (None, 102), msg
            code, msg = await refused(session, tool, {**base, "zzz_extra": 1})
            assert msg.startswith(f"{tool}: unknown argument `zzz_extra`") and code in (None, 102), msg
            for prop, prop_spec in spec["properties"].items():
                for value in wrong_values(prop_spec):
                    code, msg = await refused(session, tool, {**base, prop: value})
                    assert msg.startswith(f"{tool}: `{prop}") and code in (None, 102), (tool, prop, value, msg)
        for args, expected in NESTED:
            assert expected in (await refused(session, "resource_query", {"resource": "Player", **args}))[1]


# -- 2. JSON text, deep nesting, huge bodies -------------------------------------------------------------------

BAD_TEXT = ["{", "[1,2]", "3", '"text"', "null", "NaN", '{"a":1} trailing', "{'a': 1}", "\u0000",
            "[" * 2000 + "]" * 2000, '{"a":' * 2000 + "1" + "}" * 2000]
JSON_ARGS = [("create_table", {"tableName": "Fresh"}, "fields"), ("add_single_data", {"tableName": "Player"}, "data"),
             ("update_single_data", {"tableName": "Player", "objectId": "@"}, "data"),
             ("query_data", {"tableName": "Player"}, "where"),
             ("query_data", {"tableName": "Player", "groupby": "name", "groupcount": True}, "having"),
             ("generate_code", {"type": "add", "tableName": "Player"}, "data"),
             ("generate_code", {"type": "query", "tableName": "Player"}, "where")]
RAW = [("add_single_data", '{"tableName":"Player","data":{"meta":@}}'),  # @: a deep, nested or huge value
       ("resource_create", '{"resource":"Player","values":{"meta":@}}'),
       ("resource_update", '{"resource":"Player","filter":{"meta":@},"values":{"score":1}}'),
       ("resource_destroy", '{"resource":"Player","filter":{"meta":@}}'),
       ("resource_list", '{"resource":"Player","filter":{"$and":[@]}}'),
       ("query_data", '{"tableName":"Player","where":{"meta":@}}'),
       ("query_data", '{"tableName":"Player","groupby":"name","having":{"_count":@}}'),
       ("resource_query", '{"resource":"Player","measures":[{"field":"score"}],"having":@}')]


def rpc(tool: str, arguments: str) -> str:
    return '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"' + tool + '","arguments":' + \
        arguments + "}}"


@contextlib.asynccontextmanager
async def raw(server: Server, headers: dict[str, str]) -> AsyncIterator[Callable[[str], Awaitable[httpx.Response]]]:
    """An initialised streamable-HTTP session driven by hand: posts any JSON-RPC text."""
    async with httpx.AsyncClient(base_url=server.url, headers={**headers, **ACCEPT}, timeout=60) as http:
        r = await http.post("/api/mcp", json=INIT)
        session = {"mcp-session-id": r.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
        await http.post("/api/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)

        async def post(text: str) -> httpx.Response:
            return await http.post("/api/mcp", content=text, headers=session)

        yield post


def clean_refusal(r: httpx.Response) -> None:
    """A JSON-RPC error (HTTP 400 for a parse error, else 200) or an ``isError`` tool result; never a 5xx."""
    assert r.status_code in (200, 400), (r.status_code, r.text[:300])
    body = rpc_body(r)
    if "error" in body:
        assert body["error"]["code"] in (-32700, -32600, -32602), body
    else:
        assert body["result"]["isError"] is True, body
        text = body["result"]["content"][0]["text"].lower()
        assert "traceback" not in text and "select " not in text, text


async def test_json_text_arguments_deep_and_huge(mcp_server: Server) -> None:
    ids = seed(mcp_server)
    deep, nested = '{"a":' * 2000 + "1" + "}" * 2000, '{"a":' * 100 + "1" + "}" * 100  # nested: parses, too deep
    huge = json.dumps("x" * (mcp_server.settings.max_body_bytes + 10))
    many_or, unknown = json.dumps({"$or": [{"name": "x"}] * 40000}), json.dumps({f"f{i}": 1 for i in range(40000)})
    calls = [(tool, template.replace("@", value)) for value in (deep, nested, huge) for tool, template in RAW
             if not (value == nested and tool in ("add_single_data", "resource_create"))]  # deep Object: data
    calls += [(tool, template.replace("@", value)) for tool, template, value in (
        ("query_data", '{"tableName":"Player","where":@}', many_or),
        ("resource_list", '{"resource":"Player","filter":@}', many_or),
        ("resource_destroy", '{"resource":"Player","filter":@}', many_or),
        ("add_single_data", '{"tableName":"Player","data":@}', json.dumps(unknown)),
        ("resource_create", '{"resource":"Player","values":@}', unknown),
        ("create_table", '{"tableName":"Wide","fields":@}', json.dumps(json.dumps(
            {f"f{i}": {"type": "Number"} for i in range(20000)}))),
        ("resource_list", "@", "[1]"), ("resource_list", "@", '"resource"'))]
    async with unchanged(mcp_server, both(ids["admin_key"])) as session, \
            raw(mcp_server, both(ids["admin_key"])) as post:
        for tool, base, arg in JSON_ARGS:
            for text in BAD_TEXT:
                if (tool, arg, text) != ("generate_code", "where", "null"):  # optional: null means "not given"
                    code, msg = await refused(session, tool, {**fill(base, ids["player"]), arg: text})
                    assert code in (107, 111, 118, 402) and arg in msg, (tool, arg, text[:20], msg)
        for tool, arguments in calls:
            r = await post(rpc(tool, arguments))
            if len(arguments) > mcp_server.settings.max_body_bytes:
                assert r.status_code == 413, (tool, r.status_code)
            else:
                clean_refusal(r)


# -- 3. hostile table and field names, hostile values ----------------------------------------------------------

NAMES = ["x" * 10_000, "Player; DROP TABLE Team", '"', "'", "\u0000", "../", "..", "Player/../Team", "玩家",
         "_hb_tables", "_hb_keys", "_hb_rel_Player_x", "pg_catalog.pg_class", "Player'--", "$where"]
HOSTILE_DATA = [{"objectId": "mine"}, {"createdAt": "2020-01-01 00:00:00"}, {"updatedAt": 1}, {"ACL": "public"},
                {"ACL": {"*": {"read": "yes"}}}, {"score": "12"}, {"score": {"__op": "Increment", "amount": "1; --"}},
                {"score": {"__op": "Bogus"}}, {"tags": {"__op": "Add", "objects": "x"}}, {"team": "not-a-pointer"},
                {"team": {"__type": "Pointer", "className": "_User", "objectId": FAKE}}, {"meta": "text"},
                {"tags": {"a": 1}}, {"name": 5}, {"name": None, "nope": 1}, {"team": {"__type": "Date", "iso": "x"}}]


def name_calls(n: str, oid: str) -> list[tuple[str, dict[str, Any], str]]:
    """(tool, arguments, the argument at fault) for a hostile name ``n`` in every place a name goes: every
    tool's table, then each field name, class name and data source argument."""
    p, q = {"tableName": "Player"}, {"resource": "Player"}
    tables = [(tool, {**base, arg: n, **({"measures": SUM} if tool == "resource_query" else {})}, arg)
              for tool, base in BASE.items() for arg in ("tableName", "resource") if arg in base]
    return [*tables, ("generate_code", {"type": "get", "tableName": n, "objectId": oid}, "tableName"),
            ("create_table", {"tableName": "Fresh", "fields": {n: {"type": "String"}}}, "fields"),
            ("create_table", {"tableName": "Fresh", "fields": {"p": {"type": "Pointer", "targetClass": n}}}, "p"),
            ("add_single_data", {**p, "data": {n: 1}}, "data"),
            ("update_single_data", {**p, "objectId": oid, "data": {n: 1}}, "data"),
            ("update_single_data", {**p, "objectId": oid, "data": {"team": {"__type": "Pointer", "className": n,
                                                                            "objectId": oid}}}, "team"),
            *[("get_single_data", {**p, "objectId": oid, arg: n}, arg) for arg in ("keys", "include")],
            *[("query_data", {**p, arg: n}, arg) for arg in ("order", "keys", "include", "groupby", "sum", "max")],
            ("query_data", {**p, "where": {n: 1}}, "where"),
            ("query_data", {**p, "where": {"team": {"$inQuery": {"className": n, "where": {}}}}}, "where"),
            ("query_data", {**p, "where": {"name": {"$select": {"query": {"className": n}, "key": "x"}}}}, "where"),
            *[("resource_list", {**q, arg: [n]}, arg) for arg in ("fields", "sort", "appends", "except")],
            ("resource_list", {**q, "filter": {n: 1}}, "filter"),
            ("resource_list", {**q, "dataSource": n}, "dataSource"),
            ("resource_create", {**q, "values": {n: 1}}, "values"),
            ("resource_create", {**q, "values": {}, "whitelist": [n]}, "whitelist"),
            ("resource_update", {**q, "filterByTk": oid, "values": {n: 1}}, "values"),
            ("resource_update", {**q, "filter": {n: 1}, "values": {"score": 1}}, "filter"),
            ("resource_destroy", {**q, "filter": {n: {"$ne": 1}}}, "filter"),
            ("resource_query", {**q, "measures": [{"field": n, "aggregation": "sum"}]}, "measures"),
            ("resource_query", {**q, "measures": SUM, "dimensions": [{"field": n}]}, "dimensions")]


async def test_hostile_names_and_values_everywhere(mcp_server: Server) -> None:
    ids = seed(mcp_server)
    oid, p, q = ids["player"], {"tableName": "Player"}, {"resource": "Player"}
    async with unchanged(mcp_server, both(ids["admin_key"])) as session:
        for n in NAMES:
            for tool, args, arg in name_calls(n, oid):
                code, msg = await refused(session, tool, args)
                assert code is None or code in (101, 102, 103, 105, 106, 111, 10064, 10065), (tool, n[:20], msg)
                # a written key of dots is named wrongly: see test_core_name_bugs
                assert names_it(msg, n, arg) or (arg in ("data", "values") and n.startswith(".")), (tool, n[:20], msg)
        for n in ("sqlite_master", "sqlite_stat1", "SQLITE_MASTER"):  # fine field names, reserved table names
            assert (await refused(session, "create_table", {"tableName": n}))[0] == 103
        for data in HOSTILE_DATA:  # built-ins, wrong types, bad operators: refused whole, in every write tool
            for tool, args in (("add_single_data", {**p, "data": data}),
                               ("update_single_data", {**p, "objectId": oid, "data": data}),
                               ("resource_create", {**q, "values": data}),
                               ("resource_update", {**q, "filterByTk": oid, "values": data}),
                               ("resource_update", {**q, "filter": {"score": {"$gte": 0}}, "values": data})):
                assert names_it((await refused(session, tool, args))[1], *data), (tool, data)


# -- 4. filters and where: injection, unknown operators, catastrophic patterns -----------------------------------

INJECTED_KEYS = ["a' OR 1=1 --", 'name" OR "1"="1', "name; DROP TABLE Player", "$where", "name.$gt", "$foo"]
REFUSED_WHERE = [{"$where": "this.score > 1"}, {"name": {"$foo": 1}}, {"score": {"$in": 3}},
                 {"score": {"$gt": "x"}}, {"name": {"$regex": 5}}, {"name": {"$exists": "yes"}}, {"$or": {}},
                 {"$or": "x"}, {"$and": [1]}, {"name": {"$regex": "(a+)\\1"}}, {"name": {"$regex": "["}},
                 {"team": {"$inQuery": {"className": "_hb_keys", "where": {}}}}, {"createdAt": {"$gte": "nope"}},
                 {"name": {"$regex": "a", "$options": "zz"}}, {"tags": {"$all": "x"}}]
REFUSED_FILTER = [{"name": {"$bogus": 1}}, {"score": {"$in": 3}}, {"score": {"$between": [1]}}, {"$or": [1]},
                  {"$and": "x"}, {"createdAt": {"$dateOn": "not a date"}}, {"score": {"$gt": {"$lt": 1}}},
                  {"team.secret": 1}, {"name": {"$in": [{"a": 1}]}}, {"score": {"$gt": "x"}}]
HARMLESS_VALUES = ["x' OR '1'='1", "'; touch pwned; --", '" OR ""="', "\u0000", "%", "_", "*", "\\"]
SLOW_PATTERNS = ["^(a|a)*$", "(a|aa)+$", "^(a?){25}a{25}$", "(a*)*b", "(x+x+)+y"]  # none matches a stored name


async def test_filters_and_where_injection(mcp_server: Server) -> None:
    ids = seed(mcp_server)
    p, q = {"tableName": "Player"}, {"resource": "Player"}
    async with unchanged(mcp_server, both(ids["admin_key"])) as session:
        for key in INJECTED_KEYS:
            for tool, args in (("query_data", {**p, "where": {key: 1}}), ("resource_list", {**q, "filter": {key: 1}}),
                               ("resource_update", {**q, "filter": {key: 1}, "values": {"score": 0}}),
                               ("resource_destroy", {**q, "filter": {key: 1}}),
                               ("resource_query", {**q, "measures": SUM, "filter": {key: 1}}),
                               ("resource_query", {**q, "measures": SUM, "having": {key: 1}})):
                assert names_it((await refused(session, tool, args))[1], key), (tool, key)
        for where in REFUSED_WHERE:
            assert (await refused(session, "query_data", {**p, "where": where}))[0] in (101, 102, 105, 107, 111, 142)
            await refused(session, "query_data", {**p, "where": {"$or": [where]}})
        for flt in REFUSED_FILTER:
            for tool, extra in (("resource_list", {}), ("resource_update", {"values": {"score": 0}}),
                                ("resource_destroy", {})):
                await refused(session, tool, {**q, "filter": flt, **extra})
        for value in HARMLESS_VALUES:  # data, never SQL or wildcards: they match nothing (NUL may be refused)
            for tool, args, empty in (
                    ("query_data", {**p, "where": {"name": value}}, {"results": []}),
                    ("resource_list", {**q, "filter": {"name": {"$includes": value}}, "paginate": False}, {"data": []}),
                    ("resource_update", {**q, "filter": {"name": value}, "values": {"score": 0}},
                     {"data": [], "meta": {"count": 0}}),
                    ("resource_destroy", {**q, "filter": {"name": value}}, {"data": {"count": 0}})):
                result = await session.call_tool(tool, args)
                if value == "\u0000" and result.is_error:
                    assert "NUL" in (resource_error(result) if tool in RESOURCE_TOOLS else bmob_error(result)["error"])
                else:
                    assert ok(result) == empty, (tool, value, payload(result))
        for pattern in SLOW_PATTERNS:  # answered (refused, or run safely), never a hang
            result = await session.call_tool("query_data", {**p, "where": {"name": {"$regex": pattern}}})
            assert bmob_error(result)["code"] == 102 if result.is_error else payload(result)["results"] == []


# -- 5. objectIds: another app's, missing, oversized, too many -------------------------------------------------

ID_CALLS = [("get_single_data", {"tableName": "Player", "objectId": "@"}),
            ("update_single_data", {"tableName": "Player", "objectId": "@", "data": {"score": 1}}),
            ("delete_single_data", {"tableName": "Player", "objectId": "@"}),
            ("resource_get", {"resource": "Player", "filterByTk": "@"}),
            ("resource_update", {"resource": "Player", "filterByTk": "@", "values": {"score": 1}}),
            ("resource_destroy", {"resource": "Player", "filterByTk": "@"}),
            ("resource_destroy", {"resource": "Player", "filter": {"objectId": "@"}}),
            ("resource_list", {"resource": "Player.team", "sourceId": "@"}),
            ("add_single_data", {"tableName": "Player", "data": {"team": {"__type": "Pointer", "className": "Team",
                                                                          "objectId": "@"}}}),
            ("resource_create", {"resource": "Player", "values": {"team": "@"}})]
BAD_IDS = ["x" * 10_000, "", "../x", "\u0000", "*", "%", "' OR '1'='1"]


async def test_object_ids_from_elsewhere(mcp_server: Server) -> None:
    ids = seed(mcp_server)
    async with streamable(f"{mcp_server.url}/api/__app/other/mcp", {**bmob_headers(mcp_server, "other"), **BMOB}
                          ) as session:  # a row of the other app, made with its own credentials
        made = ok(await session.call_tool("add_single_data", {"tableName": "Player", "data": {"name": "x"}}))
    foreign = str(made["objectId"])
    async with unchanged(mcp_server, both(ids["admin_key"])) as session:
        for tool, args in ID_CALLS:
            for theirs in (foreign, ids["other_team"]):  # another app's row is answered as one that never existed
                await same_as_missing(session, tool, args, theirs)
            for bad in BAD_IDS:
                await refused_or_nothing(session, tool, fill(args, bad))
        for tool in ("resource_get", "resource_update", "resource_destroy"):
            for keys in (["a"] * 100_000, [foreign] * 2, [{"x": 1}], [None], [ids["player"], ["nested"]]):
                values = {"values": {"score": 9}} if tool == "resource_update" else {}
                await refused_or_nothing(session, tool, {"resource": "Player", "filterByTk": keys, **values})


# -- 6. paging extremes, 7. resource_query's measures and dimensions ------------------------------------------

PAGING = [*[("resource_list", {"page": v}, "page") for v in (0, -1, 10**12, 10**30)],
          *[("resource_list", {"pageSize": v}, "pageSize") for v in (0, -5, 10**9)],
          *[("query_data", {"limit": v}, "limit") for v in (-1, 10**9, 10**30, "lots", 1.5)],
          *[("query_data", {"skip": v}, "skip") for v in (-1, 10**15)],
          *[("resource_query", {"measures": SUM, arg: v}, arg) for arg in ("limit", "offset") for v in (-1, 10**15)],
          *[("generate_code", {"type": "query", "tableName": "Player", arg: v}, arg)
            for arg, v in (("limit", -1), ("skip", 10**15), ("limit", 10**9))]]
MEASURES = [([{"field": "score", "aggregation": "sum", "alias": 'x"; DROP TABLE Team; --'}], "alias"),
            ([{"field": "score", "aggregation": "sum", "alias": "a`b"}], "alias"),
            ([{"field": "score", "aggregation": "sum", "alias": "x" * 10_000}], "alias"),
            ([{"field": "score", "aggregation": "sum", "alias": f"m{i}"} for i in range(1000)], "measures"),
            ([{"field": "score", "aggregation": "sum", "alias": "d"}] * 2, "d"),
            ([{"field": "name", "aggregation": "sum"}], "name"), ([{"field": "meta", "aggregation": "avg"}], "meta"),
            ([{"field": ["team", "nope"], "aggregation": "max"}], "nope"), ([], "measure")]
QUERY_EXTRAS = [({"dimensions": [{"field": "createdAt", "format": "%Y'; DROP TABLE x; --"}]}, "format"),
                ({"orders": [{"field": "nope"}]}, "nope"), ({"having": {"missing": {"$gt": 1}}}, "missing"),
                ({"having": {"total": {"$regex": "(a+)+$"}}}, "total"), ({"timezone": "Mars/Olympus"}, "timezone"),
                ({"timezone": "+99:00"}, "timezone"), ({"dimensions": [{"field": f"f{i}"} for i in range(1000)]},
                                                       "dimensions")]


async def test_paging_extremes_and_bad_aggregations(mcp_server: Server) -> None:
    ids = seed(mcp_server)
    q = {"resource": "Player"}
    async with unchanged(mcp_server, both(ids["admin_key"])) as session:
        for tool, extra, arg in PAGING:
            code, msg = await refused(session, tool, {**(q if tool in RESOURCE_TOOLS else {"tableName": "Player"}),
                                                      **extra})
            assert f"`{arg}`" in msg and code in (None, 102, 111), (extra, msg)
        for measures, named in MEASURES:
            assert named in (await refused(session, "resource_query", {**q, "measures": measures}))[1], measures[:1]
        for extra, named in QUERY_EXTRAS:
            assert named in (await refused(session, "resource_query", {**q, "measures": SUM, **extra}))[1], extra


# -- 8. generate_code ------------------------------------------------------------------------------------------

FULL = {"tableName": "Player", "objectId": FAKE, "data": {"name": "'; touch pwned; '"}, "username": "u",
        "password": "p$(touch pwned)", "mobilePhoneNumber": "13800000000", "smsCode": "123456",
        "sessionToken": "tok", "funcName": "hello", "fileName": "a.txt", "where": {"name": "`touch pwned`"}}
NEEDS = {"add": ("tableName", "data"), "delete": ("tableName", "objectId"), "get": ("tableName", "objectId"),
         "update": ("tableName", "objectId", "data"), "query": ("tableName",), "signup": ("username", "password"),
         "login": ("username", "password"), "sms_login": ("mobilePhoneNumber", "smsCode"),
         "update_user": ("sessionToken", "objectId", "data"), "request_sms_code": ("mobilePhoneNumber",),
         "verify_sms_code": ("mobilePhoneNumber", "smsCode"), "call_function": ("funcName",),
         "upload_file": ("fileName",)}
HOSTILE_CODE = [("get", "tableName", "Player; touch pwned"), ("get", "tableName", "../../1/users"),
                ("get", "tableName", "_hb_keys"), ("get", "objectId", "x" * 10_000), ("get", "objectId", ".."),
                ("get", "objectId", "a\u0000b"), ("get", "language", "bash"),
                ("upload_file", "fileName", "../../etc/passwd"), ("upload_file", "fileName", "a\nb.txt"),
                ("upload_file", "fileName", "x" * 10_000), ("upload_file", "content_Type", "text/plain\r\nX: y"),
                ("call_function", "funcName", "a;touch pwned"),
                ("update_user", "sessionToken", "a\r\nX-Bmob-Master-Key: x")]
ENCODED = [("get", "objectId", "../../etc/passwd", "/Player/..%2F..%2Fetc%2Fpasswd"),  # data, kept data
           ("get", "objectId", "a b'", "/Player/a%20b%27"),
           ("upload_file", "fileName", "$(touch pwned).txt", "'@$(touch pwned).txt'")]


def ok_text(result: Any) -> str:
    assert not result.is_error, result
    return str(result.content[0].text)


async def test_generate_code_refusals_and_no_master_key(mcp_server: Server) -> None:
    seed(mcp_server)
    master = mcp_server.apps[MAIN]["masterKey"]
    async with unchanged(mcp_server, {**bmob_headers(mcp_server, master=True), **BMOB}) as session:
        for kind, needs in NEEDS.items():
            code, msg = await refused(session, "generate_code", {"type": kind})
            assert code == 118 and all(n in msg for n in needs) and master not in msg, msg
            for language in ("curl", "python", "javascript"):  # the caller's master key is never printed
                text = ok_text(await session.call_tool("generate_code", {"type": kind, "language": language, **FULL}))
                assert master not in text and "Master" not in text, (kind, language)
                assert language != "curl" or "touch" not in shlex.split(text.replace("\\\n", " ")), text
        for bad in ("nope", "DROP TABLE", "添加 ; rm", "x" * 10_000, ""):
            code, msg = await refused(session, "generate_code", {"type": bad, **FULL})
            assert code == 102 and "unknown generate_code type" in msg and len(msg) < 2000
        for kind, arg, value in HOSTILE_CODE:
            code, msg = await refused(session, "generate_code", {"type": kind, **FULL, arg: value})
            assert names_it(msg, arg, value) and master not in msg, (arg, msg)
        for kind, arg, value, shown in ENCODED:  # percent-encoded into one path segment, or single-quoted
            assert shown in ok_text(await session.call_tool("generate_code", {"type": kind, **FULL, arg: value}))


# -- 9. permission refusals that never tell hidden rows from missing ones ----------------------------------------

PROBES = [("get_single_data", {"tableName": "Player", "objectId": "@"}, "hidden"),
          ("resource_get", {"resource": "Player", "filterByTk": "@"}, "hidden"),
          ("update_single_data", {"tableName": "Player", "objectId": "@", "data": {"score": 1}}, "hidden"),
          ("update_single_data", {"tableName": "Player", "objectId": "@", "data": {"score": 1}}, "readonly"),
          ("delete_single_data", {"tableName": "Player", "objectId": "@"}, "readonly"),
          ("resource_update", {"resource": "Player", "filterByTk": "@", "values": {"score": 1}}, "readonly"),
          ("resource_destroy", {"resource": "Player", "filterByTk": "@"}, "readonly"),
          ("resource_destroy", {"resource": "Player", "filter": {"objectId": "@"}}, "hidden"),
          ("update_single_data", {"tableName": "_User", "objectId": "@", "data": {"username": "x"}}, "alice"),
          ("delete_single_data", {"tableName": "_User", "objectId": "@"}, "alice"),
          ("resource_update", {"resource": "_User", "filterByTk": "@", "values": {"email": "m@x.io"}}, "alice"),
          ("resource_destroy", {"resource": "_User", "filterByTk": "@"}, "alice")]
VERIFIED = [("update_single_data", {"tableName": "_User", "objectId": "@", "data": {"emailVerified": True}}),
            ("resource_update", {"resource": "_User", "filterByTk": "@", "values": {"mobilePhoneVerified": True}}),
            ("add_single_data", {"tableName": "_User", "data": {"username": "m2", "password": "pw12345",
                                                                "emailVerified": True}}),
            ("resource_create", {"resource": "_User", "values": {"username": "m3", "password": "pw12345",
                                                                 "emailVerified": True}})]


async def test_permission_refusals_do_not_leak(mcp_server: Server) -> None:
    ids = seed(mcp_server)

    async def switch_off() -> None:
        async with Hub(mcp_server.settings) as hub:
            await roles.set_setting(await hub.apps.open(MAIN), ROOT, "clientSchemaChanges", False)

    blocking(lambda: asyncio.run(switch_off()))
    new_table = {"tableName": "Sneaky", "fields": {"x": {"type": "String"}}}
    async with unchanged(mcp_server, both(ids["mallory_key"])) as session, \
            streamable(f"{mcp_server.url}/api/mcp", {**bmob_headers(mcp_server), **BMOB}) as client:
        assert (await refused(client, "create_table", new_table))[0] == 10040  # the REST API key: a client
        code, msg = await refused(session, "create_table", new_table)
        assert code == 122 and "createTable" in msg
        for tool, args, target in PROBES:  # alice's rows: hidden from mallory, or only readable
            assert await same_as_missing(session, tool, args, ids[target]) != "122", (tool, target)
        found = ok(await session.call_tool("query_data", {"tableName": "Player", "count": 1,
                                                          "where": {"objectId": ids["hidden"]}}))
        assert found == {"results": [], "count": 0}
        for tool, args in VERIFIED:  # set by the server only, even on one's own row
            code, msg = await refused(session, tool, fill(args, ids["mallory"]))
            assert code in (None, 138) and "Verified" in msg, msg


# -- inputs that once got past the core ----------------------------------------------------------------------


@pytest.mark.parametrize(("tool", "args", "named"), [
    ("create_table", {"tableName": "Fresh\n"}, "Fresh"),  # `$` used to accept a trailing newline
    ("create_table", {"tableName": "Fresh", "fields": {"x\n": {"type": "String"}}}, "x"),
    ("add_single_data", {"tableName": "Player", "data": {"../": 1}}, "`../`")])  # was named as the field ``
async def test_names_the_core_once_let_through(mcp_server: Server, tool: str, args: dict[str, Any],
                                               named: str) -> None:
    ids = seed(mcp_server)
    async with unchanged(mcp_server, both(ids["admin_key"])) as session:
        assert named in (await refused(session, tool, args))[1]


async def test_a_deep_object_value_cannot_poison_reads(mcp_server: Server) -> None:
    """A value nested past the JSON types' depth limit is refused whole, by create and by dotted-path update,
    so no stored row can break the reads of its table."""
    ids = seed(mcp_server)
    async with unchanged(mcp_server, both(ids["admin_key"])) as session:
        for depth in (33, 250, 254):
            deep = '{"name":"deep","meta":' + '{"a":' * depth + "1" + "}" * (depth + 1)
            code, msg = await refused(session, "add_single_data", {"tableName": "Player", "data": deep})
            assert code == 102 and "`meta`" in msg and "levels" in msg
        row = ok(await session.call_tool("query_data", {"tableName": "Player", "limit": 1}))["results"][0]
        nested = '{"meta.a":' + '{"a":' * 40 + "1" + "}" * 41
        code, msg = await refused(session, "update_single_data", {"tableName": "Player",
                                                                  "objectId": row["objectId"], "data": nested})
        assert "meta" in msg
        ok(await session.call_tool("query_data", {"tableName": "Player"}))
        ok(await session.call_tool("resource_list", {"resource": "Player"}))
