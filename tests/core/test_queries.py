"""End-to-end queries through the dialect entry points, on real rows, checked against known answers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from hivebase.core import records, schema
from hivebase.core.apps import App
from hivebase.core.bmob_reads import bmob_get, bmob_query
from hivebase.core.principal import Principal
from hivebase.core.query import ir
from hivebase.core.query.compile import Compiler
from hivebase.core.query.where import parse_where
from hivebase.dialects.nocobase.queries import nocobase_get, nocobase_list, nocobase_query
from hivebase.errors import HivebaseError, InvalidQuery, NotFound, UnknownField

pytestmark = pytest.mark.anyio
ROOT = Principal.root()


def ptr(table: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": table, "objectId": oid}


@pytest.fixture
async def league(app: App) -> dict[str, Any]:
    await schema.create_table(app, ROOT, "Team", {"name": {"type": "String"}, "city": {"type": "String"}})
    await schema.create_table(app, ROOT, "Player", {
        "name": {"type": "String"}, "score": {"type": "Number"}, "team": {"type": "Pointer", "targetClass": "Team"},
        "tags": {"type": "Array"}, "born": {"type": "Date"}, "loc": {"type": "Geo"},
        "friends": {"type": "Relation", "targetClass": "Player"},
        "mentor": {"type": "Pointer", "targetClass": "Player"}})
    ids: dict[str, str] = {}
    for name, city in (("Reds", "Paris"), ("Blues", "Lyon"), ("Secret", "Nowhere")):
        ids[name] = (await records.create(app, ROOT, "Team", {"name": name, "city": city}))["objectId"]
    players = [
        ("ann", 10, "Reds", ["a", "b"], "2024-01-01 10:00:00", (48.85, 2.35)),   # Paris
        ("bob", 20, "Reds", ["b"], "2024-01-01 23:00:00", (45.76, 4.84)),        # Lyon
        ("cid", 30, "Blues", [], "2024-01-02 08:00:00", (51.50, -0.12)),         # London
        ("dan", 40, "Secret", ["c"], "2024-01-03 08:00:00", None),
        ("eve", None, None, None, None, None),
    ]
    for name, score, team, tags, born, loc in players:
        data: dict[str, Any] = {"name": name}
        if score is not None:
            data["score"] = score
        if team:
            data["team"] = ptr("Team", ids[team])
        if tags is not None:
            data["tags"] = tags
        if born:
            data["born"] = {"__type": "Date", "iso": born}
        if loc:
            data["loc"] = {"__type": "GeoPoint", "latitude": loc[0], "longitude": loc[1]}
        ids[name] = (await records.create(app, ROOT, "Player", data))["objectId"]
    await records.update(app, ROOT, "Player", ids["ann"], {
        "friends": {"__op": "AddRelation", "objects": [ptr("Player", ids["bob"]), ptr("Player", ids["dan"])]},
        "mentor": ptr("Player", ids["cid"])})
    await records.update(app, ROOT, "Player", ids["cid"], {"mentor": ptr("Player", ids["dan"])})
    return {"app": app, "ids": ids}


async def names(app: App, where: Any, **params: Any) -> list[str]:
    out = await bmob_query(app, ROOT, "Player", {"where": orjson.dumps(where).decode(), **params})
    assert isinstance(out, dict)
    return [r["name"] for r in out["results"]]


async def test_bmob_where_operators(league: dict[str, Any]) -> None:
    app, ids = league["app"], league["ids"]
    assert await names(app, {"score": {"$gte": 20, "$lt": 40}}) == ["bob", "cid"]
    assert await names(app, {"score": {"$ne": 10}}) == ["bob", "cid", "dan", "eve"]  # null counts as "not 10"
    assert await names(app, {"tags": "b"}) == ["ann", "bob"]
    assert await names(app, {"tags": {"$all": ["a", "b"]}}) == ["ann"]
    assert await names(app, {"score": {"$exists": False}}) == ["eve"]
    assert await names(app, {"$or": [{"name": "ann"}, {"score": {"$gt": 35}}]}) == ["ann", "dan"]
    assert await names(app, {"name": {"$regex": "^[ab]"}}) == ["ann", "bob"]
    assert await names(app, {"born": {"$gte": {"__type": "Date", "iso": "2024-01-02 00:00:00"}}}) == ["cid", "dan"]
    assert await names(app, {"team": {"$inQuery": {"where": {"city": "Paris"}, "className": "Team"}}}) == [
        "ann", "bob"]
    assert await names(app, {"team": {"$notInQuery": {"where": {"city": "Paris"}, "className": "Team"}}}) == [
        "cid", "dan", "eve"]
    assert await names(app, {"$relatedTo": {"object": ptr("Player", ids["ann"]), "key": "friends"}}) == [
        "bob", "dan"]
    near = {"loc": {"$nearSphere": {"__type": "GeoPoint", "latitude": 48.0, "longitude": 2.0},
                    "$maxDistanceInKilometers": 200}}
    assert await names(app, near) == ["ann"]  # Paris ≈ 97 km, Lyon ≈ 330 km, London ≈ 420 km
    near["loc"]["$maxDistanceInKilometers"] = 350
    assert await names(app, near) == ["ann", "bob"]
    near["loc"]["$maxDistanceInMiles"] = near["loc"].pop("$maxDistanceInKilometers") and 1000 / 1.609344
    assert await names(app, near) == ["ann", "bob", "cid"]  # nearest first
    box = {"loc": {"$within": {"$box": [{"__type": "GeoPoint", "latitude": 45, "longitude": 0},
                                        {"__type": "GeoPoint", "latitude": 50, "longitude": 5}]}}}
    assert await names(app, box) == ["ann", "bob"]


async def test_self_referencing_sub_queries(league: dict[str, Any]) -> None:
    """A sub-query on the queried table itself is not confused with the outer row."""
    app = league["app"]
    assert await names(app, {"mentor": {"$inQuery": {"where": {"score": {"$gte": 30}}, "className": "Player"}}}
                       ) == ["ann", "cid"]
    assert await names(app, {"name": {"$select": {"query": {"className": "Player", "where": {"score": 10}},
                                                  "key": "name"}}}) == ["ann"]


async def test_paging_order_keys_include_count(league: dict[str, Any]) -> None:
    app = league["app"]
    out = await bmob_query(app, ROOT, "Player", {"order": "-score", "limit": "2", "skip": "1",
                                                         "keys": "name", "include": "team", "count": "1"})
    assert isinstance(out, dict) and out["count"] == 5
    assert [r["name"] for r in out["results"]] == ["cid", "bob"]
    first = out["results"][0]
    assert set(first) == {"objectId", "createdAt", "updatedAt", "name", "team"}
    assert first["team"]["__type"] == "Object" and first["team"]["name"] == "Blues"
    out = await bmob_query(app, ROOT, "Player", {"limit": 0, "count": 1, "where": '{"score":{"$gt":15}}'})
    assert out == {"results": [], "count": 3}
    nested = await bmob_get(app, ROOT, "Player", league["ids"]["ann"], {"include": "mentor.mentor.team"})
    assert nested["mentor"]["mentor"]["team"]["name"] == "Secret"


async def test_bmob_aggregates(league: dict[str, Any]) -> None:
    app = league["app"]
    out = await bmob_query(app, ROOT, "Player", {"groupby": "team", "sum": "score", "groupcount": "true",
                                                         "order": "-_sumScore,_count"})
    assert isinstance(out, list)
    assert [(r["_sumScore"], r["_count"]) for r in out] == [(40, 1), (30, 1), (30, 2), (None, 1)]
    days = await bmob_query(app, ROOT, "Player", {"groupby": "born", "groupcount": "true", "order": "born",
                                                          "where": '{"born":{"$exists":true}}'})
    assert days == [{"born": "2024-01-01", "_count": 2}, {"born": "2024-01-02", "_count": 1},
                    {"born": "2024-01-03", "_count": 1}]
    stats = await bmob_query(app, ROOT, "Player", {"average": "score", "max": "score", "min": "score",
                                                           "having": '{"_avgScore":{"$gt":1}}'})
    assert stats == [{"_avgScore": 25, "_maxScore": 40, "_minScore": 10}]


async def test_nocobase_list_get_query(league: dict[str, Any]) -> None:
    app, ids = league["app"], league["ids"]
    out = await nocobase_list(app, ROOT, "Player", {
        "filter": {"team.city": {"$includes": "par"}}, "sort": ["-score"], "appends": ["team", "friends"],
        "fields": ["name", "score"], "pageSize": 1, "page": 2})
    assert out["meta"] == {"count": 2, "page": 2, "pageSize": 1, "totalPage": 2}
    row = out["data"][0]
    assert row["name"] == "ann" and row["team"]["city"] == "Paris"
    assert sorted(f["name"] for f in row["friends"]) == ["bob", "dan"]
    got = await nocobase_get(app, ROOT, "Player", {"filterByTk": ids["cid"], "appends": ["mentor"]})
    assert got["data"]["mentor"]["name"] == "dan" and got["data"]["born"] == "2024-01-02T08:00:00.000Z"
    with pytest.raises(NotFound):
        await nocobase_get(app, ROOT, "Player", {"filterByTk": "nope"})
    q = await nocobase_query(app, ROOT, "Player", {
        "measures": [{"field": "score", "aggregation": "sum", "alias": "total"},
                     {"field": "objectId", "aggregation": "count", "alias": "n"}],
        "dimensions": [{"field": "born", "format": "YYYY-MM-DD", "alias": "day"}],
        "filter": {"born": {"$notEmpty": True}}, "orders": [{"field": "day", "order": "desc"}],
        "timezone": "+08:00"})
    assert q["data"] == [{"day": "2024-01-03", "total": 40, "n": 1}, {"day": "2024-01-02", "total": 50, "n": 2},
                         {"day": "2024-01-01", "total": 10, "n": 1}]


@pytest.mark.parametrize(("params", "error"), [
    ({"where": '{"scroe": 1}'}, UnknownField),
    ({"where": "{not json"}, InvalidQuery),
    ({"where": '{"name": {"$where": "sleep(1)"}}'}, InvalidQuery),
    ({"where": '{"name\\" OR 1=1 --": 1}'}, UnknownField),
    ({"limit": "1001"}, InvalidQuery),
    ({"limit": "-1"}, InvalidQuery),
    ({"order": "tags"}, InvalidQuery),
    ({"order": "nmae"}, UnknownField),
    ({"include": "name"}, InvalidQuery),
    ({"groupby": "nope"}, UnknownField),
    ({"sum": "name"}, InvalidQuery),
    ({"where": '{"team": {"$inQuery": {"where": {}, "className": "Player"}}}'}, InvalidQuery),
])
async def test_hostile_queries_fail_cleanly(league: dict[str, Any], params: dict[str, Any],
                                            error: type[HivebaseError]) -> None:
    with pytest.raises(error) as info:
        await bmob_query(league["app"], ROOT, "Player", params)
    assert "SELECT" not in info.value.message and len(info.value.message) < 400


async def test_row_scopes_reach_every_table_a_statement_touches(league: dict[str, Any]) -> None:
    """With a scope hiding the Secret team, no join, include, sub-query or relation can reveal it."""
    app, ids = league["app"], league["ids"]
    team_t = app.catalog.get("Team")
    hidden = ir.Cmp(ir.Path(team_t.fields["name"]), "ne", "Secret")

    def scope_for(table: str) -> ir.Pred:
        return hidden if table == "Team" else ir.Const(True)

    compiler = Compiler(app.catalog, app.db.dialect, scope_for)
    player = app.catalog.get("Player")

    async def run(q: ir.Select) -> list[dict[str, Any]]:
        stmt = compiler.rows(q)
        async with app.db.read() as conn:
            return stmt.assemble((await conn.execute(stmt.stmt)).all())

    where = parse_where(app.catalog, player, {"team": {"$inQuery": {"where": {"name": "Secret"},
                                                                    "className": "Team"}}})
    assert await run(ir.Select("Player", where=where)) == []
    by_path = ir.Cmp(ir.Path(team_t.fields["name"], hops=(player.fields["team"],)), "eq", "Secret")
    assert await run(ir.Select("Player", where=by_path)) == []
    rows = await run(ir.Select("Player", where=ir.Cmp(ir.Path(player.fields["name"]), "eq", "dan"),
                               include=[ir.Include(player.fields["team"])]))
    assert rows[0]["team"] == ids["Secret"]  # the pointer stays, the hidden row is not expanded
    teams = await run(ir.Select("Team", where=ir.Const(True)))
    assert sorted(t["name"] for t in teams) == ["Blues", "Reds"]
    async with app.db.read() as conn:
        n = (await conn.execute(compiler.count("Team", ir.Const(True)))).scalar_one()
        agg = (await conn.execute(compiler.aggregate(ir.Aggregate(
            "Team", measures=[ir.Measure("count", "n")])))).all()
    assert n == 2 and agg[0].n == 2
    sub = ir.InSubquery(ir.Path(player.fields["name"]), ir.SubQuery("Team", ir.Const(True),
                                                                     ir.Path(team_t.fields["city"])))
    assert await run(ir.Select("Player", where=sub)) == []  # no player is named after a visible city


async def test_statement_count_is_one_per_request(league: dict[str, Any]) -> None:
    """A query with include, sub-query and count runs two statements (rows + count), whatever the rows."""
    app = league["app"]
    seen: list[str] = []
    engine = app.db.engine.sync_engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "_hb_meta" not in statement:
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        await bmob_query(app, ROOT, "Player", {
            "include": "team,mentor.team", "count": "1",
            "where": '{"team":{"$inQuery":{"where":{"city":"Paris"},"className":"Team"}}}'})
        assert len(seen) == 2
        seen.clear()
        await nocobase_list(app, ROOT, "Player", {"appends": ["friends", "team"], "pageSize": 50})
        assert len(seen) == 3  # rows, count, one batched statement for the Relation
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


async def test_backtracking_regex_answers(league: dict[str, Any]) -> None:
    """A pattern that would backtrack exponentially answers on both databases (neither engine backtracks)."""
    app = league["app"]
    await records.create(app, ROOT, "Player", {"name": "a" * 40 + "!"})
    assert await names(app, {"name": {"$regex": "^(a|aa)+$"}}) == []
    assert await names(app, {"name": {"$regex": "^(a|aa)+!$"}}) == ["a" * 40 + "!"]
    assert await names(app, {"name": {"$regex": "^an"}}) == ["ann"]
