"""Bmob find/aggregate parameters → Select/Aggregate IR, from URL strings and from native JSON values."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hivebase.core.apps import App
from hivebase.core.catalog import Catalog
from hivebase.core.query.bmob_params import parse_aggregate, parse_find
from hivebase.core.query.ir import (
    Aggregate,
    AliasRef,
    Cmp,
    Const,
    Dimension,
    GeoNear,
    Include,
    InList,
    Measure,
    Or,
    Order,
    Path,
    Select,
)
from hivebase.errors import HivebaseError, InvalidQuery, TypeMismatch, UnknownField
from tests.core.test_bmob_where import make_tables

pytestmark = pytest.mark.anyio


@pytest.fixture
async def cat(app: App) -> Catalog:
    return await make_tables(app)


def p(cat: Catalog, name: str, *json: str | int, table: str = "Player") -> Path:
    return Path(cat.get(table).fields[name], json=tuple(json))


def find(cat: Catalog, **params: Any) -> tuple[Select, bool]:
    return parse_find(cat, cat.get("Player"), params)


def agg(cat: Catalog, **params: Any) -> Aggregate | None:
    return parse_aggregate(cat, cat.get("Player"), params)


def ref(alias: str) -> Any:
    return AliasRef(alias)


# -- find -------------------------------------------------------------------------------------------------


async def test_defaults(cat: Catalog) -> None:
    assert find(cat) == (Select("Player", Const(True), [], 100, 0, None, []), False)
    assert find(cat, where="", order="", keys="", include="", limit="", skip="") == find(cat)


@pytest.mark.parametrize(("params", "limit", "skip", "count"), [
    ({"limit": "10", "skip": "5", "count": "1"}, 10, 5, True),
    ({"limit": 10, "skip": 5, "count": True}, 10, 5, True),
    ({"limit": 0, "count": "true"}, 0, 0, True),
    ({"limit": "1000", "skip": "10000000", "count": "0"}, 1000, 10_000_000, False),
    ({"limit": 20.0, "count": 0}, 20, 0, False),
    ({"limit": " 7 ", "count": "FALSE"}, 7, 0, False),
])
async def test_paging_and_count(cat: Catalog, params: dict[str, Any], limit: int, skip: int,
                                count: bool) -> None:
    select, counted = find(cat, **params)
    assert (select.limit, select.offset, counted) == (limit, skip, count)


async def test_where_order_keys_include(cat: Catalog) -> None:
    select, _ = find(cat, where='{"score":{"$gt":1}}', order="score,-name", keys="name,score,name",
                     include="team")
    assert select.where == Cmp(p(cat, "score"), "gt", 1)
    assert select.order == [Order(path=p(cat, "score")), Order(path=p(cat, "name"), desc=True)]
    assert select.keys == ["name", "score"]
    assert select.include == [Include(cat.get("Player").fields["team"])]
    native, _ = find(cat, where={"score": {"$gt": 1}}, order=["score", "-name"], keys=["name", "score"],
                     include=["team"])
    assert native == select


async def test_order_inside_object_and_builtins(cat: Catalog) -> None:
    select, _ = find(cat, order="-createdAt, meta.rank,+objectId")
    assert select.order == [Order(path=p(cat, "createdAt"), desc=True), Order(path=p(cat, "meta", "rank")),
                            Order(path=p(cat, "objectId"))]


async def test_nested_includes_merge(cat: Catalog) -> None:
    team, captain = cat.get("Player").fields["team"], cat.get("Team").fields["captain"]
    select, _ = find(cat, include="team.captain,team,team.captain.team")
    assert select.include == [Include(team, (Include(captain, (Include(team),)),))]


async def test_near_sphere_orders_by_distance_unless_ordered(cat: Catalog) -> None:
    where = {"loc": {"$nearSphere": {"__type": "GeoPoint", "latitude": 1, "longitude": 2}}}
    near = GeoNear(p(cat, "loc"), 1.0, 2.0, 100.0)
    assert find(cat, where=where)[0].order == [Order(near=near)]
    assert find(cat, where=where, order="-score")[0].order == [Order(path=p(cat, "score"), desc=True)]


FIND_ERRORS: list[tuple[str, dict[str, Any], type[HivebaseError], str]] = [
    ("limit-too-big", {"limit": "1001"}, InvalidQuery, "at most 1000"),
    ("limit-too-big-native", {"limit": 5000}, InvalidQuery, "at most 1000"),
    ("limit-negative", {"limit": "-1"}, InvalidQuery, "0 or more"),
    ("limit-text", {"limit": "ten"}, InvalidQuery, "integer"),
    ("limit-fraction", {"limit": 1.5}, InvalidQuery, "integer"),
    ("limit-exponent", {"limit": "1e3"}, InvalidQuery, "integer"),
    ("limit-bool", {"limit": True}, InvalidQuery, "integer"),
    ("skip-negative", {"skip": -5}, InvalidQuery, "0 or more"),
    ("skip-too-big", {"skip": "10000001"}, InvalidQuery, "at most 10000000"),
    ("count-odd", {"count": "maybe"}, InvalidQuery, "1/true or 0/false"),
    ("order-typo", {"order": "-scroe"}, UnknownField, "did you mean `score`"),
    ("order-array", {"order": "tags"}, InvalidQuery, "Array field: it cannot be ordered"),
    ("order-object", {"order": "meta"}, InvalidQuery, "Object field"),
    ("order-geo", {"order": "loc"}, InvalidQuery, "Geo field"),
    ("order-relation", {"order": "friends"}, InvalidQuery, "Relation field"),
    ("order-twice", {"order": "score,-score"}, InvalidQuery, "twice"),
    ("order-pointer-path", {"order": "team.name"}, InvalidQuery, "Pointer field"),
    ("order-injection", {"order": "name; DROP TABLE Player"}, UnknownField, "not a field"),
    ("order-not-names", {"order": 5}, InvalidQuery, "comma-separated"),
    ("keys-typo", {"keys": "name,socre"}, UnknownField, "did you mean `score`"),
    ("keys-path", {"keys": "meta.a"}, InvalidQuery, "is a path"),
    ("include-non-pointer", {"include": "name"}, InvalidQuery, "`Player.name` is a String field"),
    ("include-relation", {"include": "friends"}, InvalidQuery, "not a Pointer"),
    ("include-typo", {"include": "taem"}, UnknownField, "did you mean `team`"),
    ("include-too-deep", {"include": "team.captain.team.captain"}, InvalidQuery, "at most 3 deep"),
    ("include-empty-segment", {"include": "team..captain"}, InvalidQuery, "Pointer fields joined by dots"),
    ("include-nested-typo", {"include": "team.captian"}, UnknownField, "of Team"),
    ("where-bad", {"where": "{"}, InvalidQuery, "not valid JSON"),
    ("where-typo", {"where": {"scroe": 1}}, UnknownField, "did you mean `score`"),
    ("too-many-names", {"keys": ",".join(["name"] * 101)}, InvalidQuery, "at most 100"),
]


@pytest.mark.parametrize(("params", "error", "text"), [c[1:] for c in FIND_ERRORS],
                         ids=[c[0] for c in FIND_ERRORS])
async def test_find_errors(cat: Catalog, params: dict[str, Any], error: type[HivebaseError],
                           text: str) -> None:
    with pytest.raises(error) as info:
        find(cat, **params)
    assert text in info.value.message and len(info.value.message) < 300


# -- aggregate --------------------------------------------------------------------------------------------


async def test_no_aggregation_asked(cat: Catalog) -> None:
    assert agg(cat) is None
    assert agg(cat, where={"score": 1}, order="score", limit=5, groupcount="false", sum="") is None


async def test_groupby_with_measures(cat: Catalog) -> None:
    a = agg(cat, groupby="name,born", groupcount="true", sum="score", average="score", max="score,born",
            min="score", where='{"active":true}', order="-_sumScore,name", limit="10", skip="20")
    score, born = p(cat, "score"), p(cat, "born")
    assert a == Aggregate(
        table="Player", where=Cmp(p(cat, "active"), "eq", True),
        dimensions=[Dimension(p(cat, "name"), "name"), Dimension(born, "born", grain="day")],
        measures=[Measure("count", "_count"), Measure("sum", "_sumScore", score),
                  Measure("avg", "_avgScore", score), Measure("max", "_maxScore", score),
                  Measure("max", "_maxBorn", born), Measure("min", "_minScore", score)],
        order=[Order(alias="_sumScore", desc=True), Order(alias="name")], limit=10, offset=20)


async def test_groupby_alone_lists_distinct_values(cat: Catalog) -> None:
    dimension = Dimension(p(cat, "team"), "team")
    assert agg(cat, groupby=["team"]) == Aggregate(table="Player", dimensions=[dimension], limit=100)


async def test_measures_without_groupby(cat: Catalog) -> None:
    a = agg(cat, sum=["score"], groupcount=True)
    assert a is not None and a.dimensions == []
    assert a.measures == [Measure("count", "_count"), Measure("sum", "_sumScore", p(cat, "score"))]


async def test_having(cat: Catalog) -> None:
    a = agg(cat, groupby="name,born,team", sum="score", groupcount=1,
            having='{"_sumScore":{"$gt":100,"$lte":1000},"name":{"$in":["a",null]},'
                   '"$or":[{"_count":2},{"_count":{"$nin":[0]}}],"born":{"$gte":"2024-01-05 10:00:00"},'
                   '"team":{"__type":"Pointer","className":"Team","objectId":"t1"}}')
    assert a is not None and a.having.items == (  # type: ignore[attr-defined]
        Cmp(ref("_sumScore"), "gt", 100), Cmp(ref("_sumScore"), "lte", 1000),
        Or((InList(ref("name"), ("a",)), Cmp(ref("name"), "eq", None))),
        Or((Cmp(ref("_count"), "eq", 2), InList(ref("_count"), (0,), negate=True))),
        Cmp(ref("born"), "gte", "2024-01-05"),  # a day-grouped Date column holds YYYY-MM-DD text
        Cmp(ref("team"), "eq", "t1"),
    )


async def test_max_of_date_having_takes_dates(cat: Catalog) -> None:
    a = agg(cat, max="born", having={"_maxBorn": {"$lt": {"__type": "Date", "iso": "2024-01-01 00:00:00"}}})
    assert a is not None
    assert a.having == Cmp(ref("_maxBorn"), "lt", dt.datetime(2024, 1, 1, tzinfo=dt.UTC))


AGG_ERRORS: list[tuple[str, dict[str, Any], type[HivebaseError], str]] = [
    ("sum-string", {"sum": "name"}, InvalidQuery, "sum takes Number fields"),
    ("average-date", {"average": "born"}, InvalidQuery, "average takes Number fields"),
    ("max-bool", {"max": "active"}, InvalidQuery, "Number or Date"),
    ("sum-typo", {"sum": "scroe"}, UnknownField, "did you mean `score`"),
    ("groupby-typo", {"groupby": "nmae"}, UnknownField, "did you mean `name`"),
    ("groupby-array", {"groupby": "tags"}, InvalidQuery, "cannot be grouped"),
    ("groupby-twice", {"groupby": "name,name"}, InvalidQuery, "asked twice"),
    ("groupcount-odd", {"groupcount": "yes"}, InvalidQuery, "1/true or 0/false"),
    ("having-unknown", {"sum": "score", "having": {"_sumScroe": 1}}, UnknownField, "mean `_sumScore`"),
    ("having-raw-field", {"sum": "score", "having": {"score": 1}}, UnknownField, "`score`"),
    ("having-type", {"sum": "score", "having": {"_sumScore": {"$gt": "abc"}}}, TypeMismatch, "_sumScore"),
    ("having-op", {"sum": "score", "having": {"_sumScore": {"$regex": "1"}}}, InvalidQuery, "`$regex`"),
    ("having-top-op", {"sum": "score", "having": {"$nor": [{"_sumScore": 1}]}}, InvalidQuery, "`$nor`"),
    ("having-json", {"sum": "score", "having": "{nope"}, InvalidQuery, "`having` is not valid JSON"),
    ("having-list", {"sum": "score", "having": "[]"}, InvalidQuery, "JSON object"),
    ("having-null-gt", {"sum": "score", "having": {"_sumScore": {"$gt": None}}}, InvalidQuery, "not null"),
    ("order-unknown", {"sum": "score", "order": "-score"}, UnknownField, "did you mean `_sumScore`"),
    ("limit", {"groupby": "name", "limit": 1001}, InvalidQuery, "at most 1000"),
]


@pytest.mark.parametrize(("params", "error", "text"), [c[1:] for c in AGG_ERRORS],
                         ids=[c[0] for c in AGG_ERRORS])
async def test_aggregate_errors(cat: Catalog, params: dict[str, Any], error: type[HivebaseError],
                                text: str) -> None:
    with pytest.raises(error) as info:
        agg(cat, **params)
    assert text in info.value.message and len(info.value.message) < 300


async def test_having_depth_is_bounded(cat: Catalog) -> None:
    having: dict[str, Any] = {"_count": 1}
    for _ in range(15):
        having = {"$and": [having]}
    assert agg(cat, groupcount=1, having=having) == agg(cat, groupcount=1, having={"_count": 1})
    with pytest.raises(InvalidQuery, match="16 levels"):
        agg(cat, groupcount=1, having={"$and": [having]})
