"""Bmob ``where`` → IR: every operator of the dialect, null handling, and precise errors for hostile input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hivebase.core import schema
from hivebase.core.apps import App
from hivebase.core.catalog import Catalog
from hivebase.core.principal import Principal
from hivebase.core.query.ir import (
    And,
    ArrayHas,
    Cmp,
    Const,
    GeoBox,
    GeoNear,
    InList,
    InSubquery,
    Not,
    Or,
    Order,
    Path,
    Pred,
    Regex,
    RelatedTo,
    RelationHas,
    SubQuery,
)
from hivebase.core.query.where import nearest_order, parse_where
from hivebase.errors import HivebaseError, InvalidQuery, InvalidValue, NotFound, TypeMismatch, UnknownField

pytestmark = pytest.mark.anyio
ROOT = Principal.root()
UTC = dt.UTC


async def make_tables(app: App) -> Catalog:
    """Team ⇄ Player with one field of each type (and Relations both ways), through the real schema module."""
    await schema.create_table(app, ROOT, "Team", {"name": {"type": "String"}, "city": {"type": "String"}},
                              note="teams")
    await schema.create_table(app, ROOT, "Player", {
        "name": {"type": "String"}, "score": {"type": "Number"}, "tags": {"type": "Array"},
        "team": {"type": "Pointer", "targetClass": "Team"},
        "friends": {"type": "Relation", "targetClass": "Player"},
        "born": {"type": "Date"}, "loc": {"type": "Geo"}, "meta": {"type": "Object"},
        "active": {"type": "Bool"}, "pic": {"type": "File"}, "city": {"type": "String"},
    }, note="players")
    await schema.add_field(app, ROOT, "Team", "members", {"type": "Relation", "targetClass": "Player"})
    await schema.add_field(app, ROOT, "Team", "captain", {"type": "Pointer", "targetClass": "Player"})
    return app.catalog


@pytest.fixture
async def cat(app: App) -> Catalog:
    return await make_tables(app)


def p(cat: Catalog, name: str, *json: str | int, table: str = "Player") -> Path:
    return Path(cat.get(table).fields[name], json=tuple(json))


def w(cat: Catalog, where: Any, table: str = "Player") -> Pred:
    return parse_where(cat, cat.get(table), where)


def ptr(cls: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


def geo(lat: float, lng: float) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


# -- equality and comparisons -----------------------------------------------------------------------------


async def test_empty_and_absent_where_match_everything(cat: Catalog) -> None:
    for where in (None, "", "  ", {}, "{}"):
        assert w(cat, where) == Const(True)


async def test_equality_by_field_type(cat: Catalog) -> None:
    assert w(cat, {"name": "Lily"}) == Cmp(p(cat, "name"), "eq", "Lily")
    assert w(cat, {"score": 3.5, "active": True}) == And((Cmp(p(cat, "score"), "eq", 3.5),
                                                         Cmp(p(cat, "active"), "eq", True)))
    assert w(cat, {"objectId": "abc"}) == Cmp(p(cat, "objectId"), "eq", "abc")
    assert w(cat, {"name": {"$eq": "Lily"}}) == Cmp(p(cat, "name"), "eq", "Lily")


async def test_null_means_missing(cat: Catalog) -> None:
    assert w(cat, {"name": None}) == Cmp(p(cat, "name"), "eq", None)
    assert w(cat, {"name": {"$ne": None}}) == Cmp(p(cat, "name"), "ne", None)
    assert w(cat, {"name": {"$exists": True}}) == Cmp(p(cat, "name"), "ne", None)
    assert w(cat, {"tags": {"$exists": False}}) == Cmp(p(cat, "tags"), "eq", None)
    # $ne keeps rows where the field is missing (Cmp ne is true for nulls), like Bmob/Parse
    assert w(cat, {"name": {"$ne": "x"}}) == Cmp(p(cat, "name"), "ne", "x")


async def test_array_equality_means_contains(cat: Catalog) -> None:
    tags = p(cat, "tags")
    assert w(cat, {"tags": "x"}) == ArrayHas(tags, ("x",), "any")
    assert w(cat, {"tags": ["x", 2]}) == ArrayHas(tags, ("x", 2), "exact")
    assert w(cat, {"tags": {"$ne": "x"}}) == ArrayHas(tags, ("x",), "none")
    assert w(cat, {"tags": {"$in": ["a", "b"]}}) == ArrayHas(tags, ("a", "b"), "any")
    assert w(cat, {"tags": {"$nin": ["a"]}}) == ArrayHas(tags, ("a",), "none")
    assert w(cat, {"tags": {"$all": ["a", "b"]}}) == ArrayHas(tags, ("a", "b"), "all")
    assert w(cat, {"tags.0": "a"}) == Cmp(p(cat, "tags", 0), "eq", "a")


async def test_pointer_accepts_pointer_or_object_id(cat: Catalog) -> None:
    team = p(cat, "team")
    assert w(cat, {"team": ptr("Team", "t1")}) == Cmp(team, "eq", "t1")
    assert w(cat, {"team": "t1"}) == Cmp(team, "eq", "t1")
    assert w(cat, {"team": {"$in": [ptr("Team", "t1"), "t2"]}}) == InList(team, ("t1", "t2"))
    with pytest.raises(InvalidValue, match="points to Team"):
        w(cat, {"team": ptr("Player", "p1")})


async def test_comparisons(cat: Catalog) -> None:
    score = p(cat, "score")
    assert w(cat, {"score": {"$gt": 1, "$lte": 5}}) == And((Cmp(score, "gt", 1), Cmp(score, "lte", 5)))
    assert w(cat, {"score": {"$gte": 0, "$lt": 2.5}}) == And((Cmp(score, "gte", 0), Cmp(score, "lt", 2.5)))
    assert w(cat, {"name": {"$lt": "m"}}) == Cmp(p(cat, "name"), "lt", "m")


async def test_in_and_nin_with_null(cat: Catalog) -> None:
    score = p(cat, "score")
    assert w(cat, {"score": {"$in": [1, 2]}}) == InList(score, (1, 2))
    assert w(cat, {"score": {"$in": [1, None]}}) == Or((InList(score, (1,)), Cmp(score, "eq", None)))
    assert w(cat, {"score": {"$in": []}}) == Const(False)
    assert w(cat, {"score": {"$nin": [1]}}) == InList(score, (1,), negate=True)
    assert w(cat, {"score": {"$nin": [1, None]}}) == And((InList(score, (1,), negate=True),
                                                          Cmp(score, "ne", None)))
    assert w(cat, {"score": {"$nin": []}}) == Const(True)


async def test_dates(cat: Catalog) -> None:
    day = dt.datetime(2011, 8, 21, 18, 2, 52, tzinfo=UTC)
    date = {"__type": "Date", "iso": "2011-08-21 18:02:52"}
    assert w(cat, {"createdAt": {"$gte": date}}) == Cmp(p(cat, "createdAt"), "gte", day)
    assert w(cat, {"updatedAt": {"$lt": "2011-08-21 18:02:52"}}) == Cmp(p(cat, "updatedAt"), "lt", day)
    assert w(cat, {"born": date}) == Cmp(p(cat, "born"), "eq", day)
    with pytest.raises(InvalidValue, match="born"):
        w(cat, {"born": {"$gt": {"__type": "Date", "iso": "yesterday-ish"}}})


async def test_regex(cat: Catalog) -> None:
    name = p(cat, "name")
    assert w(cat, {"name": {"$regex": "^Li"}}) == Regex(name, "^Li")
    assert w(cat, {"name": {"$regex": "^li", "$options": "i"}}) == Regex(name, "^li", case_insensitive=True)
    assert w(cat, {"meta.title": {"$regex": "x"}}) == Regex(p(cat, "meta", "title"), "x")


async def test_logic(cat: Catalog) -> None:
    a, b = Cmp(p(cat, "name"), "eq", "a"), Cmp(p(cat, "score"), "gt", 1)
    assert w(cat, {"$or": [{"name": "a"}, {"score": {"$gt": 1}}]}) == Or((a, b))
    assert w(cat, {"$and": [{"name": "a"}, {"score": {"$gt": 1}}]}) == And((a, b))
    assert w(cat, {"$nor": [{"name": "a"}, {"score": {"$gt": 1}}]}) == Not(Or((a, b)))
    assert w(cat, {"$or": [{"name": "a"}]}) == a
    assert w(cat, {"name": "a", "$or": [{"score": {"$gt": 1}}, {"name": None}]}) == \
        And((a, Or((b, Cmp(p(cat, "name"), "eq", None)))))


async def test_json_text_and_dotted_keys(cat: Catalog) -> None:
    assert w(cat, '{"meta.size": {"$gt": 3}, "meta.a.0": "x"}') == And((
        Cmp(p(cat, "meta", "size"), "gt", 3), Cmp(p(cat, "meta", "a", 0), "eq", "x")))
    assert w(cat, b'{"ACL.*.read": true}') == Cmp(p(cat, "ACL", "*", "read"), "eq", True)
    assert w(cat, {"meta": {"$exists": True}}) == Cmp(p(cat, "meta"), "ne", None)


# -- sub-queries and relations --------------------------------------------------------------------------


async def test_select_and_dont_select(cat: Catalog) -> None:
    city_eq = Cmp(p(cat, "name", table="Team"), "eq", "Reds")
    q = {"query": {"className": "Team", "where": {"name": "Reds"}}, "key": "city"}
    expected = InSubquery(p(cat, "city"), SubQuery("Team", city_eq, p(cat, "city", table="Team")))
    assert w(cat, {"city": {"$select": q}}) == expected
    negated = InSubquery(expected.path, expected.sub, negate=True)
    assert w(cat, {"city": {"$dontSelect": q}}) == negated
    by_id = {"query": {"className": "Team"}, "key": "objectId"}
    assert w(cat, {"team": {"$select": by_id}}) == InSubquery(
        p(cat, "team"), SubQuery("Team", Const(True), p(cat, "objectId", table="Team")))


async def test_in_query(cat: Catalog) -> None:
    sub = Cmp(p(cat, "city", table="Team"), "eq", "Oslo")
    q = {"where": {"city": "Oslo"}, "className": "Team"}
    assert w(cat, {"team": {"$inQuery": q}}) == InSubquery(p(cat, "team"), SubQuery("Team", sub, None))
    assert w(cat, {"team": {"$notInQuery": q}}) == InSubquery(p(cat, "team"), SubQuery("Team", sub, None),
                                                              negate=True)


async def test_related_to(cat: Catalog) -> None:
    members = cat.get("Team").fields["members"]
    assert w(cat, {"$relatedTo": {"object": ptr("Team", "t1"), "key": "members"}}) == \
        RelatedTo("Team", members, "t1")
    friends = cat.get("Player").fields["friends"]
    assert w(cat, {"$relatedTo": {"object": ptr("Player", "p1"), "key": "friends"}}) == \
        RelatedTo("Player", friends, "p1")


async def test_relation_field_conditions(cat: Catalog) -> None:
    friends, oid = cat.get("Player").fields["friends"], p(cat, "objectId")
    assert w(cat, {"friends": ptr("Player", "p1")}) == RelationHas(friends, Cmp(oid, "eq", "p1"))
    assert w(cat, {"friends": {"$in": [ptr("Player", "p1")]}}) == RelationHas(friends, InList(oid, ("p1",)))
    assert w(cat, {"friends": {"$exists": False}}) == RelationHas(friends, Const(True), negate=True)
    assert w(cat, {"friends": {"$inQuery": {"where": {"score": 1}}}}) == \
        RelationHas(friends, Cmp(p(cat, "score"), "eq", 1))


# -- geo --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("extra", "km"), [
    ({}, 100.0),
    ({"$maxDistanceInKilometers": 10}, 10.0),
    ({"$maxDistanceInMiles": 10}, 16.09344),
    ({"$maxDistanceInRadians": 0.5}, 3185.5),
    ({"$maxDistance": 0.5}, 3185.5),
])
async def test_near_sphere_distances(cat: Catalog, extra: dict[str, Any], km: float) -> None:
    pred = w(cat, {"loc": {"$nearSphere": geo(30, 120), **extra}})
    assert isinstance(pred, GeoNear)
    assert (pred.path, pred.latitude, pred.longitude) == (p(cat, "loc"), 30.0, 120.0)
    assert pred.max_km == pytest.approx(km)


async def test_nearest_order(cat: Catalog) -> None:
    near = w(cat, {"loc": {"$nearSphere": geo(1, 2)}, "name": "x"})
    assert nearest_order(near) == Order(near=GeoNear(p(cat, "loc"), 1.0, 2.0, 100.0))
    assert nearest_order(w(cat, {"$or": [{"loc": {"$nearSphere": geo(1, 2)}}, {"name": "x"}]})) is None
    assert nearest_order(w(cat, {"name": "x"})) is None


async def test_within_box(cat: Catalog) -> None:
    box = {"loc": {"$within": {"$box": [geo(10, 20), geo(30, 40)]}}}
    assert w(cat, box) == GeoBox(p(cat, "loc"), 10.0, 20.0, 30.0, 40.0)
    across = {"loc": {"$within": {"$box": [geo(10, 170), geo(30, -170)]}}}  # across the 180th meridian
    assert w(cat, across) == GeoBox(p(cat, "loc"), 10.0, 170.0, 30.0, -170.0)


async def test_depth_limit_boundary(cat: Catalog) -> None:
    assert w(cat, nested(15)) == Cmp(p(cat, "name"), "eq", "x")  # 16 levels: the limit, accepted


# -- hostile input ----------------------------------------------------------------------------------------


def nested(levels: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": "x"}
    for _ in range(levels):
        doc = {"$and": [doc]}
    return doc


def nested_value(levels: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return {"meta": value}


HOSTILE: list[tuple[str, Any, type[HivebaseError], str, dict[str, Any]]] = [
    # (case id, where, error class, text in the message, attributes of the error)
    ("wrong-type-gt", {"score": {"$gt": "abc"}}, TypeMismatch, "`Player.score` expects a number",
     {"field": "score"}),
    ("wrong-type-eq", {"active": "yes"}, TypeMismatch, "boolean", {"field": "active"}),
    ("wrong-type-in", {"score": {"$in": [1, "2"]}}, TypeMismatch, "number", {"field": "score"}),
    ("typo", {"scroe": 1}, UnknownField, "did you mean `score`", {"suggestion": "score"}),
    ("typo-in-or", {"$or": [{"nmae": "x"}]}, UnknownField, "`nmae`", {"suggestion": "name"}),
    ("where-op", {"$where": "this.score > 1"}, InvalidQuery, "`$where`", {}),
    ("unknown-op", {"name": {"$foo": 1}}, InvalidQuery, "`$foo`", {}),
    ("unknown-top-op", {"$foo": []}, InvalidQuery, "`$foo`", {}),
    ("text-op", {"name": {"$text": {"$search": "x"}}}, InvalidQuery, "`$text`", {}),
    ("contained-by", {"tags": {"$containedBy": ["a"]}}, InvalidQuery, "`$containedBy`", {}),
    ("sql-quote", {'name" OR 1=1 --': 1}, UnknownField, "not a field of Player", {}),
    ("sql-semicolon", {"name;DROP TABLE Player": 1}, UnknownField, "not a field of Player", {}),
    ("sql-in-value-is-data", {"name": {"$gt": {"$gt": 1}}}, TypeMismatch, "string", {}),
    ("list", [], InvalidQuery, "JSON object", {}),
    ("number", 5, InvalidQuery, "JSON object", {}),
    ("json-string", '"x"', InvalidQuery, "JSON object", {}),
    ("bad-json", "x", InvalidQuery, "not valid JSON", {"reason": "json"}),
    ("bad-json-2", '{"name":', InvalidQuery, "not valid JSON", {}),
    ("deep-and", nested(100), InvalidQuery, "levels", {"reason": "too_large"}),
    ("deep-17", nested(16), InvalidQuery, "16 levels", {}),
    ("deep-value", nested_value(100), InvalidQuery, "levels", {}),
    ("many-nodes", {"$or": [{"name": str(i)} for i in range(1001)]}, InvalidQuery, "1000 conditions", {}),
    ("long-in", {"score": {"$in": list(range(1001))}}, InvalidQuery, "at most 1000", {}),
    ("in-not-list", {"score": {"$in": 5}}, InvalidQuery, "takes an array", {"operator": "$in"}),
    ("regex-number", {"name": {"$regex": 5}}, InvalidQuery, "$regex takes a string", {"field": "name"}),
    ("regex-invalid", {"name": {"$regex": "(unclosed"}}, InvalidQuery, "not a valid regular", {}),
    ("regex-backreference", {"name": {"$regex": "^(a+)\\1$"}}, InvalidQuery, "backreferences", {}),
    ("regex-lookahead", {"name": {"$regex": "x(?=y)"}}, InvalidQuery, "lookahead", {}),
    ("regex-named-group", {"name": {"$regex": "(?P<x>a)"}}, InvalidQuery, "named groups", {}),
    ("regex-atomic", {"name": {"$regex": "(?>a)b"}}, InvalidQuery, "atomic groups", {}),
    ("regex-possessive", {"name": {"$regex": "a++"}}, InvalidQuery, "possessive", {}),
    ("regex-long", {"name": {"$regex": "a" * 1001}}, InvalidQuery, "1000 characters", {}),
    ("regex-flags", {"name": {"$regex": "a", "$options": "mx"}}, InvalidQuery, "only `i`", {}),
    ("regex-on-number", {"score": {"$regex": "1"}}, InvalidQuery, "String fields", {}),
    ("options-alone", {"name": {"$options": "i"}}, InvalidQuery, "only goes with $regex", {}),
    ("in-query-non-pointer", {"name": {"$inQuery": {"where": {}, "className": "Team"}}}, InvalidQuery,
     "Pointer and Relation fields", {"operator": "$inQuery"}),
    ("in-query-class-mismatch", {"team": {"$inQuery": {"where": {}, "className": "Player"}}}, InvalidQuery,
     "to Team, not to Player", {}),
    ("in-query-bad-where", {"team": {"$inQuery": {"where": {"nmae": 1}, "className": "Team"}}}, UnknownField,
     "of Team", {"suggestion": "name"}),
    ("related-non-relation", {"$relatedTo": {"object": ptr("Team", "t1"), "key": "name"}}, InvalidQuery,
     "`Team.name` is not a Relation", {}),
    ("related-wrong-target", {"$relatedTo": {"object": ptr("Player", "p1"), "key": "friends"}}, None, "", {}),
    ("related-not-pointer", {"$relatedTo": {"object": "t1", "key": "members"}}, InvalidQuery, "Pointer", {}),
    ("related-unknown-key", {"$relatedTo": {"object": ptr("Team", "t1"), "key": "membres"}}, UnknownField,
     "members", {}),
    ("select-unknown-table", {"city": {"$select": {"query": {"className": "Teem"}, "key": "city"}}}, NotFound,
     "did you mean `Team`", {}),
    ("select-mismatched-key", {"team": {"$select": {"query": {"className": "Team"}, "key": "name"}}},
     InvalidQuery, "cannot match `Team.name`", {}),
    ("pointer-path", {"team.name": "x"}, InvalidQuery, "$inQuery", {}),
    ("object-equality", {"meta": {"a": 1}}, InvalidQuery, "compare a key inside it", {}),
    ("mixed-keys", {"score": {"$gt": 1, "a": 2}}, InvalidQuery, "cannot mix", {}),
    ("gt-null", {"score": {"$gt": None}}, InvalidQuery, "not null", {}),
    ("gt-array", {"tags": {"$gt": 1}}, InvalidQuery, "Array field", {}),
    ("exists-string", {"name": {"$exists": "yes"}}, InvalidQuery, "true or false", {}),
    ("all-on-string", {"name": {"$all": ["a"]}}, InvalidQuery, "Array fields", {}),
    ("array-object-element", {"tags": {"$in": [{"a": 1}]}}, TypeMismatch, "array elements", {}),
    ("json-path-object", {"meta.a": {"b": 1}}, TypeMismatch, "string, number, boolean", {}),
    ("near-not-geo", {"name": {"$nearSphere": geo(1, 2)}}, InvalidQuery, "Geo fields", {}),
    ("near-bad-point", {"loc": {"$nearSphere": [1, 2]}}, TypeMismatch, "GeoPoint", {"field": "loc"}),
    ("near-range", {"loc": {"$nearSphere": geo(91, 0)}}, InvalidValue, "±90", {"reason": "geo_range"}),
    ("near-negative", {"loc": {"$nearSphere": geo(1, 2), "$maxDistanceInKilometers": -1}}, InvalidQuery,
     "positive number", {}),
    ("near-two-limits", {"loc": {"$nearSphere": geo(1, 2), "$maxDistance": 1, "$maxDistanceInMiles": 1}},
     InvalidQuery, "only one of", {}),
    ("distance-alone", {"loc": {"$maxDistance": 1}}, InvalidQuery, "only goes with $nearSphere", {}),
    ("box-range", {"loc": {"$within": {"$box": [geo(0, 0), geo(10, 200)]}}}, InvalidValue, "±180",
     {"reason": "geo_range"}),
    ("box-upside-down", {"loc": {"$within": {"$box": [geo(30, 0), geo(10, 10)]}}}, InvalidQuery,
     "south-west corner first", {}),
    ("box-shape", {"loc": {"$within": {"$polygon": []}}}, InvalidQuery, "$box", {}),
    ("or-empty", {"$or": []}, InvalidQuery, "non-empty array", {}),
    ("or-not-list", {"$or": {"name": "x"}}, InvalidQuery, "non-empty array", {}),
    ("relation-gt", {"friends": {"$gt": 1}}, InvalidQuery, "Relation field", {}),
    ("relation-bare-id-wrong-class", {"friends": ptr("Team", "t1")}, InvalidValue, "points to Player", {}),
    ("long-field-name", {"x" * 10_000: 1}, UnknownField, "not a field of Player", {}),
    ("relation-exists-string", {"friends": {"$exists": 1}}, InvalidQuery, "true or false", {}),
    ("huge-text", '{"name":"' + "x" * 1_000_001 + '"}', InvalidQuery, "larger than", {}),
]


@pytest.mark.parametrize(("where", "error", "text", "attrs"), [c[1:] for c in HOSTILE],
                         ids=[c[0] for c in HOSTILE])
async def test_hostile_where(cat: Catalog, where: Any, error: type[HivebaseError] | None, text: str,
                             attrs: dict[str, Any]) -> None:
    if error is None:  # the Relation Player.friends targets Player: fine when querying Player, not Team
        with pytest.raises(InvalidQuery, match="relates to Player, not Team"):
            w(cat, where, table="Team")
        return
    with pytest.raises(error) as info:
        w(cat, where)
    assert text in info.value.message
    for key, value in attrs.items():
        actual = getattr(info.value, key, None) if key in ("field", "reason", "suggestion") else \
            info.value.details.get(key)
        assert actual == value, (key, actual)
    lowered = info.value.message.lower()
    assert len(lowered) < 400 and "sql" not in lowered and "postgres" not in lowered
