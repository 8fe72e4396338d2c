"""An agent's day in each dialect, over real sockets with the official client, on SQLite and PostgreSQL:
create a table, load rows, update, query, aggregate, delete — and each dialect sees what the other wrote."""

from __future__ import annotations

import json

import pytest

from tests.mcp.conftest import bearer, bmob_error, bmob_headers, legacy, make_key, ok, resource_error, streamable
from tests.rest.conftest import Server

pytestmark = pytest.mark.anyio

TEAMS = ("red", "blue", "green")


async def test_bmob_agent_day_then_nocobase_sees_it(mcp_server: Server) -> None:
    async with legacy(f"{mcp_server.url}/mcp", bmob_headers(mcp_server)) as bmob:
        assert "Player" not in ok(await bmob.call_tool("get_project_tables", {}))
        fields = {"nickname": {"type": "String", "unique": True, "note": "nick"},
                  "score": {"type": "Number", "isAutoIncre": True, "autoIncreInit": 1000},
                  "team": {"type": "String"}, "level": {"type": "Number", "default": 1}}
        ok(await bmob.call_tool("create_table", {"tableName": "Player", "classNote": "players",
                                                 "fields": json.dumps(fields)}))
        listed = ok(await bmob.call_tool("get_project_tables", {}))["Player"]
        assert listed["note"] == "players" and listed["fields"]["team"] == "String"
        assert listed["fields"]["score"] == {"type": "Number", "isAutoIncre": True, "autoIncreInit": 1000}
        ids = []
        for i in range(30):
            made = ok(await bmob.call_tool("add_single_data", {
                "tableName": "Player", "data": json.dumps({"nickname": f"p{i}", "team": TEAMS[i % 3]})}))
            ids.append(made["objectId"])
        dup = bmob_error(await bmob.call_tool("add_single_data", {"tableName": "Player", "data": {"nickname": "p0"}}))
        assert dup["code"] == 401 and "nickname" in dup["error"]
        typo = bmob_error(await bmob.call_tool("add_single_data", {"tableName": "Player", "data": {"scroe": 1}}))
        assert typo["code"] == 105 and "did you mean `score`" in typo["error"]
        done = ok(await bmob.call_tool("update_single_data", {"tableName": "Player", "objectId": ids[0],
                                                              "data": {"level": {"__op": "Increment", "amount": 4}}}))
        assert "updatedAt" in done and done["level"] == 5
        one = ok(await bmob.call_tool("get_single_data", {"tableName": "Player", "objectId": ids[0],
                                                          "keys": "nickname,score,level"}))
        assert (one["nickname"], one["score"], one["level"]) == ("p0", 1000, 5)
        found = ok(await bmob.call_tool("query_data", {"tableName": "Player", "where": '{"score":{"$gte":1020}}',
                                                       "order": "-score", "limit": 5, "count": True}))
        assert found["count"] == 10 and [r["score"] for r in found["results"]] == [1029, 1028, 1027, 1026, 1025]
        groups = ok(await bmob.call_tool("query_data", {"tableName": "Player", "groupby": "team",
                                                        "groupcount": True, "average": "score", "order": "team"}))
        by_team = {g["team"]: g for g in groups["results"]}
        assert by_team["red"]["_count"] == 10 and by_team["red"]["_avgScore"] == 1013.5
        assert ok(await bmob.call_tool("delete_single_data", {"tableName": "Player", "objectId": ids[1]})) == \
            {"msg": "ok"}
        gone = bmob_error(await bmob.call_tool("get_single_data", {"tableName": "Player", "objectId": ids[1]}))
        assert gone["code"] == 101

    key = make_key(mcp_server)
    async with streamable(f"{mcp_server.url}/api/mcp", bearer(key)) as noco:
        page = ok(await noco.call_tool("resource_list", {"resource": "Player", "filter": {"team": "red"},
                                                         "sort": ["score"], "pageSize": 3,
                                                         "fields": ["nickname", "score"]}))
        assert page["meta"] == {"count": 10, "page": 1, "pageSize": 3, "totalPage": 4}
        assert [r["nickname"] for r in page["data"]] == ["p0", "p3", "p6"]
        got = ok(await noco.call_tool("resource_get", {"resource": "Player", "filterByTk": ids[0]}))
        assert got["data"]["level"] == 5


async def test_nocobase_agent_day_then_bmob_sees_it(mcp_server: Server) -> None:
    key = make_key(mcp_server)
    headers = {**bearer(key), "x-mcp-packages": "bmob"}
    async with streamable(f"{mcp_server.url}/api/mcp", headers) as noco:
        ok(await noco.call_tool("create_table", {"tableName": "orders", "fields": {
            "title": {"type": "String", "required": True}, "amount": {"type": "Number"},
            "status": {"type": "String", "default": "open"}}}))
        created = []
        for i in range(12):
            row = ok(await noco.call_tool("resource_create", {"resource": "orders", "values": {
                "title": f"order {i}", "amount": i * 10}}))["data"]
            assert row["status"] == "open" and row["title"] == f"order {i}"
            created.append(row["objectId"])
        missing = resource_error(await noco.call_tool("resource_create", {"resource": "orders",
                                                                         "values": {"amount": 1}}))
        assert "title" in missing
        unknown = resource_error(await noco.call_tool("resource_create", {"resource": "orders",
                                                                         "values": {"title": "x", "amunt": 1}}))
        assert "amount" in unknown
        paid = ok(await noco.call_tool("resource_update", {"resource": "orders", "filter": {"amount": {"$gte": 60}},
                                                           "values": {"status": "paid"}}))
        assert len(paid["data"]) == 6
        one = ok(await noco.call_tool("resource_update", {"resource": "orders", "filterByTk": created[0],
                                                          "values": {"status": "void"}}))
        assert one["data"]["status"] == "void"
        totals = ok(await noco.call_tool("resource_query", {
            "resource": "orders",
            "measures": [{"field": "amount", "aggregation": "sum", "alias": "total"},
                         {"field": "objectId", "aggregation": "count", "alias": "n"}],
            "dimensions": [{"field": "status"}], "orders": [{"field": "status"}]}))
        assert {r["status"]: (r["total"], r["n"]) for r in totals["data"]} == {
            "open": (150, 5), "paid": (510, 6), "void": (0, 1)}
        gone = ok(await noco.call_tool("resource_destroy", {"resource": "orders", "filter": {"status": "void"}}))
        assert gone["data"] == {"count": 1}
        again = resource_error(await noco.call_tool("resource_destroy", {"resource": "orders",
                                                                          "filterByTk": created[0]}))
        assert created[0] in again
        listed = ok(await noco.call_tool("resource_list", {"resource": "orders", "paginate": False}))
        assert len(listed["data"]) == 11

    async with legacy(f"{mcp_server.url}/mcp", bmob_headers(mcp_server)) as bmob:
        found = ok(await bmob.call_tool("query_data", {"tableName": "orders", "where": {"status": "paid"},
                                                       "count": 1, "limit": 0}))
        assert found == {"results": [], "count": 6}


async def test_cloud_functions_through_mcp(mcp_server: Server) -> None:
    code = "def main(ctx):\n    return {'hi': ctx.params.get('name'), 'user': ctx.user is not None}\n"
    async with legacy(f"{mcp_server.url}/mcp", bmob_headers(mcp_server)) as client:
        refused = bmob_error(await client.call_tool("deploy_cloud_function", {"funcName": "hello", "code": code}))
        assert refused["code"] in (122, 206)
        assert bmob_error(await client.call_tool("invoke_cloud_function", {"funcName": "hello"}))["code"] == 311
    async with legacy(f"{mcp_server.url}/mcp", bmob_headers(mcp_server, master=True)) as root:
        deployed = ok(await root.call_tool("deploy_cloud_function", {"funcName": "hello", "code": code}))
        assert deployed["msg"] == "ok"
        broken = bmob_error(await root.call_tool("deploy_cloud_function", {"funcName": "bad", "code": "def ("}))
        assert broken["code"] == 314
    async with legacy(f"{mcp_server.url}/mcp", bmob_headers(mcp_server)) as client:
        assert ok(await client.call_tool("invoke_cloud_function", {"funcName": "hello", "params": '{"name":"li"}'})
                  ) == {"hi": "li", "user": False}
        assert bmob_error(await client.call_tool("invoke_cloud_function", {"funcName": "hello", "params": "[1]"})
                          )["code"] == 107
