"""NocoBase ``filter`` → IR: each operator's mapping, null and date semantics, refusal of hostile input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from hivebase.core import schema
from hivebase.core.apps import App
from hivebase.core.catalog import Catalog
from hivebase.core.model import TableDef
from hivebase.core.principal import Principal
from hivebase.core.query.filter import parse_filter
from hivebase.core.query.ir import (
    And,
    ArrayEmpty,
    ArrayHas,
    Cmp,
    Const,
    InList,
    InSubquery,
    Not,
    Or,
    Path,
    Pred,
    RelationHas,
    SubQuery,
    Text,
)
from hivebase.errors import InvalidQuery, InvalidValue, TypeMismatch, UnknownField

pytestmark = pytest.mark.anyio
ROOT = Principal.root()
UTC = dt.UTC


async def make_tables(app: App) -> Catalog:
    """Team ← Author (Pointer team, Relation badges → Label) ← Post (every field type that filters)."""
    await schema.create_table(app, ROOT, "Team", {"name": {"type": "String"}}, note="teams")
    await schema.create_table(app, ROOT, "Label", {"name": {"type": "String"}, "color": {"type": "String"}},
                              note="labels")
    await schema.create_table(app, ROOT, "Author", {
        "name": {"type": "String"}, "age": {"type": "Number"},
        "team": {"type": "Pointer", "targetClass": "Team"},
        "badges": {"type": "Relation", "targetClass": "Label"},
    }, note="authors")
    await schema.create_table(app, ROOT, "Post", {
        "title": {"type": "String"}, "views": {"type": "Number"}, "tags": {"type": "Array"},
        "author": {"type": "Pointer", "targetClass": "Author"},
        "labels": {"type": "Relation", "targetClass": "Label"},
        "published": {"type": "Date"}, "draft": {"type": "Bool"}, "meta": {"type": "Object"},
    }, note="posts")
    return app.catalog


@pytest.fixture
async def cat(app: App) -> Catalog:
    return await make_tables(app)


def post(cat: Catalog) -> TableDef:
    return cat.get("Post")


def p(cat: Catalog, name: str) -> Path:
    return Path(post(cat).fields[name])


def parse(cat: Catalog, f: Any, **kw: Any) -> Pred:
    return parse_filter(cat, post(cat), f, **kw)


# -- structure ---------------------------------------------------------------------------------------------

async def test_bare_values_mean_eq_and_keys_are_anded(cat: Catalog) -> None:
    assert parse(cat, {"title": "x"}) == Cmp(p(cat, "title"), "eq", "x")
    assert parse(cat, {"title": None}) == Cmp(p(cat, "title"), "eq", None)
    assert parse(cat, {"title": ["a", "b"]}) == InList(p(cat, "title"), ("a", "b"))
    assert parse(cat, {"title": "x", "views": 3}) == And((Cmp(p(cat, "title"), "eq", "x"),
                                                          Cmp(p(cat, "views"), "eq", 3)))
    assert parse(cat, {"views": {"$gt": 1, "$lt": 9}}) == And((Cmp(p(cat, "views"), "gt", 1),
                                                               Cmp(p(cat, "views"), "lt", 9)))


async def test_and_or_nesting(cat: Catalog) -> None:
    t, v = p(cat, "title"), p(cat, "views")
    f = {"$or": [{"title": "a"}, {"$and": [{"views": {"$gte": 2}}, {"views": {"$lte": 5}}]}]}
    assert parse(cat, f) == Or((Cmp(t, "eq", "a"), And((Cmp(v, "gte", 2), Cmp(v, "lte", 5)))))
    assert parse(cat, {"$or": {"title": "a", "views": 1}}) == Or((Cmp(t, "eq", "a"), Cmp(v, "eq", 1)))
    assert parse(cat, {"views": {"$or": [1, {"$gt": 9}]}}) == Or((Cmp(v, "eq", 1), Cmp(v, "gt", 9)))
    assert parse(cat, {"$and": []}) == Const(True)
    assert parse(cat, {"$or": []}) == Const(False)
    assert parse(cat, {}) == Const(True)


async def test_filter_may_be_json_text_or_absent(cat: Catalog) -> None:
    assert parse(cat, '{"title": "x"}') == Cmp(p(cat, "title"), "eq", "x")
    assert parse(cat, None) == Const(True)
    assert parse(cat, "") == Const(True)
    with pytest.raises(InvalidQuery, match="not valid JSON"):
        parse(cat, '{"title": ')
    for bad in ([{"title": "x"}], 5, "[1]", '"x"', True):
        with pytest.raises(InvalidQuery, match="must be a JSON object"):
            parse(cat, bad)


async def test_pointer_paths_join_and_nested_objects_are_paths(cat: Catalog) -> None:
    author = post(cat).fields["author"]
    a = cat.get("Author")
    name = Path(a.fields["name"], (author,))
    assert parse(cat, {"author.name": {"$includes": "li"}}) == Text(name, "contains", "li", True)
    assert parse(cat, {"author": {"name": "li"}}) == Cmp(name, "eq", "li")
    team_name = Path(cat.get("Team").fields["name"], (author, a.fields["team"]))
    assert parse(cat, {"author.team.name": "t"}) == parse(cat, {"author": {"team": {"name": "t"}}})
    assert parse(cat, {"author.team.name": "t"}) == Cmp(team_name, "eq", "t")
    # the Pointer itself compares its objectId
    assert parse(cat, {"author": "a1"}) == Cmp(p(cat, "author"), "eq", "a1")
    assert parse(cat, {"author": {"$in": ["a1", {"objectId": "a2"}]}}) == InList(
        p(cat, "author"), ("a1", "a2"))
    size = Path(post(cat).fields["meta"], (), ("size",))
    assert parse(cat, {"meta.size": {"$gt": 3}}) == Cmp(size, "gt", 3)
    assert parse(cat, {"meta": {"size": 3}}) == Cmp(size, "eq", 3)


async def test_id_means_objectid(cat: Catalog) -> None:
    oid = Path(post(cat).fields["objectId"])
    assert parse(cat, {"id": "abc"}) == Cmp(oid, "eq", "abc")
    assert parse(cat, {"author.id": {"$in": ["x"]}}) == InList(
        Path(cat.get("Author").fields["objectId"], (post(cat).fields["author"],)), ("x",))


async def test_relation_paths_become_relation_has(cat: Catalog) -> None:
    labels = post(cat).fields["labels"]
    label = cat.get("Label")
    lname, lcolor = Path(label.fields["name"]), Path(label.fields["color"])
    assert parse(cat, {"tags.0": "x"}) == Cmp(Path(post(cat).fields["tags"], (), (0,)), "eq", "x")
    assert parse(cat, {"labels.name": {"$eq": "x"}}) == RelationHas(labels, Cmp(lname, "eq", "x"))
    # sibling dotted keys: one related row each; nested under the Relation: the same related row
    assert parse(cat, {"labels.name": "x", "labels.color": "red"}) == And((
        RelationHas(labels, Cmp(lname, "eq", "x")), RelationHas(labels, Cmp(lcolor, "eq", "red"))))
    assert parse(cat, {"labels": {"name": "x", "color": "red"}}) == RelationHas(
        labels, And((Cmp(lname, "eq", "x"), Cmp(lcolor, "eq", "red"))))
    assert parse(cat, {"labels": {"$exists": True}}) == RelationHas(labels, Const(True))
    assert parse(cat, {"labels": {"$notExists": True}}) == RelationHas(labels, Const(True), negate=True)
    assert parse(cat, {"labels": {"$empty": True}}) == RelationHas(labels, Const(True), negate=True)
    assert parse(cat, {"labels": None}) == RelationHas(labels, Const(True), negate=True)
    oid = Path(label.fields["objectId"])
    assert parse(cat, {"labels": "l1"}) == RelationHas(labels, Cmp(oid, "eq", "l1"))
    assert parse(cat, {"labels": {"$in": ["l1", "l2"]}}) == RelationHas(labels, InList(oid, ("l1", "l2")))
    assert parse(cat, {"labels": {"$ne": "l1"}}) == RelationHas(labels, Cmp(oid, "eq", "l1"), negate=True)
    with pytest.raises(InvalidQuery, match=r"`\$gt` does not apply to the Relation `labels`"):
        parse(cat, {"labels": {"$gt": 1}})


async def test_relation_behind_a_pointer_is_a_subquery(cat: Catalog) -> None:
    author, a = post(cat).fields["author"], cat.get("Author")
    badge_name = Path(cat.get("Label").fields["name"])
    has_badge = RelationHas(a.fields["badges"], Cmp(badge_name, "eq", "b"))
    expected = InSubquery(Path(author), SubQuery("Author", has_badge))
    assert parse(cat, {"author.badges.name": "b"}) == expected


# -- operators --------------------------------------------------------------------------------------------

async def test_comparison_and_list_operators(cat: Catalog) -> None:
    t, v = p(cat, "title"), p(cat, "views")
    cases: list[tuple[Any, Pred]] = [
        ({"views": {"$eq": 3}}, Cmp(v, "eq", 3)),
        ({"views": {"$ne": 3}}, Cmp(v, "ne", 3)),  # ne is true for nulls (ir.py)
        ({"views": {"$ne": None}}, Cmp(v, "ne", None)),
        ({"views": {"$gt": 1.5}}, Cmp(v, "gt", 1.5)),
        ({"views": {"$gte": 1}}, Cmp(v, "gte", 1)),
        ({"views": {"$lt": 1}}, Cmp(v, "lt", 1)),
        ({"views": {"$lte": 1}}, Cmp(v, "lte", 1)),
        ({"views": {"$in": [1, 2]}}, InList(v, (1, 2))),
        ({"views": {"$in": [1, None]}}, Or((InList(v, (1,)), Cmp(v, "eq", None)))),
        ({"views": {"$in": []}}, Const(False)),
        ({"views": {"$notIn": [1, 2]}}, InList(v, (1, 2), negate=True)),
        ({"views": {"$notIn": [1, None]}}, And((InList(v, (1,), negate=True), Cmp(v, "ne", None)))),
        ({"views": {"$notIn": []}}, Const(True)),
        ({"views": {"$is": None}}, Cmp(v, "eq", None)),
        ({"views": {"$not": None}}, Cmp(v, "ne", None)),
        ({"views": {"$between": [1, 5]}}, And((Cmp(v, "gte", 1), Cmp(v, "lte", 5)))),
        ({"views": {"$notBetween": [1, 5]}}, Not(And((Cmp(v, "gte", 1), Cmp(v, "lte", 5))))),
        ({"views": {"$anyOf": [1, 2]}}, InList(v, (1, 2))),
        ({"views": {"$noneOf": [1, 2]}}, InList(v, (1, 2), negate=True)),
        ({"views": {"$empty": True}}, Cmp(v, "eq", None)),
        ({"views": {"$notEmpty": True}}, Cmp(v, "ne", None)),
        ({"views": {"$exists": True}}, Cmp(v, "ne", None)),
        ({"views": {"$exists": False}}, Cmp(v, "eq", None)),
        ({"views": {"$notExists": True}}, Cmp(v, "eq", None)),
        ({"title": {"$gt": "m"}}, Cmp(t, "gt", "m")),
    ]
    for f, expected in cases:
        assert parse(cat, f) == expected, f


async def test_text_operators(cat: Catalog) -> None:
    t = p(cat, "title")
    cases: list[tuple[Any, Pred]] = [
        ({"title": {"$like": "a%_b"}}, Text(t, "like", "a%_b")),
        ({"title": {"$notLike": "a%"}}, Text(t, "like", "a%", negate=True)),
        ({"title": {"$iLike": "a%"}}, Text(t, "like", "a%", case_insensitive=True)),
        ({"title": {"$notILike": "a%"}}, Text(t, "like", "a%", case_insensitive=True, negate=True)),
        ({"title": {"$includes": "50%"}}, Text(t, "contains", "50%", True)),
        ({"title": {"$includes": ["a", "b"]}}, Or((Text(t, "contains", "a", True),
                                                   Text(t, "contains", "b", True)))),
        ({"title": {"$includes": None}}, Cmp(t, "eq", None)),
        ({"title": {"$notIncludes": "a"}}, Text(t, "contains", "a", True, negate=True)),
        ({"title": {"$notIncludes": ["a", "b"]}}, And((Text(t, "contains", "a", True, True),
                                                        Text(t, "contains", "b", True, True)))),
        ({"title": {"$startsWith": "a"}}, Text(t, "startswith", "a", True)),
        ({"title": {"$notStartsWith": "a"}}, Text(t, "startswith", "a", True, True)),
        ({"title": {"$endWith": "a"}}, Text(t, "endswith", "a", True)),
        ({"title": {"$endsWith": "a"}}, Text(t, "endswith", "a", True)),
        ({"title": {"$notEndWith": "a"}}, Text(t, "endswith", "a", True, True)),
        ({"title": {"$empty": True}}, Or((Cmp(t, "eq", None), Cmp(t, "eq", "")))),
        ({"title": {"$empty": False}}, And((Cmp(t, "ne", None), Cmp(t, "ne", "")))),
        ({"title": {"$notEmpty": True}}, And((Cmp(t, "ne", None), Cmp(t, "ne", "")))),
    ]
    for f, expected in cases:
        assert parse(cat, f) == expected, f


async def test_array_and_bool_operators(cat: Catalog) -> None:
    tags, d = p(cat, "tags"), p(cat, "draft")
    cases: list[tuple[Any, Pred]] = [
        ({"tags": {"$match": ["a", "b"]}}, ArrayHas(tags, ("a", "b"), "exact")),
        ({"tags": {"$match": []}}, ArrayEmpty(tags)),
        ({"tags": {"$notMatch": ["a"]}}, Or((Not(ArrayHas(tags, ("a",), "exact")), ArrayEmpty(tags)))),
        ({"tags": {"$anyOf": ["a", 1]}}, ArrayHas(tags, ("a", 1), "any")),
        ({"tags": {"$noneOf": ["a"]}}, ArrayHas(tags, ("a",), "none")),
        ({"tags": {"$arrayEmpty": True}}, ArrayEmpty(tags)),
        ({"tags": {"$arrayNotEmpty": True}}, ArrayEmpty(tags, negate=True)),
        ({"tags": {"$empty": True}}, ArrayEmpty(tags)),
        ({"tags": {"$notEmpty": True}}, ArrayEmpty(tags, negate=True)),
        ({"tags": "a"}, ArrayHas(tags, ("a",), "any")),
        ({"tags": ["a", "b"]}, ArrayHas(tags, ("a", "b"), "exact")),
        ({"tags": {"$ne": "a"}}, ArrayHas(tags, ("a",), "none")),
        ({"draft": {"$isTruly": True}}, Cmp(d, "eq", True)),
        ({"draft": {"$isFalsy": True}}, Or((Cmp(d, "eq", None), Cmp(d, "eq", False)))),
        ({"draft": {"$is": True}}, Cmp(d, "eq", True)),
        ({"draft": {"$not": True}}, Cmp(d, "ne", True)),
        ({"draft": False}, Cmp(d, "eq", False)),
    ]
    for f, expected in cases:
        assert parse(cat, f) == expected, f


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


async def test_date_operators_use_whole_days(cat: Catalog) -> None:
    pub = p(cat, "published")
    day, next_day = utc(2024, 1, 5), utc(2024, 1, 6)
    cases: list[tuple[Any, Pred]] = [
        ({"$dateOn": "2024-01-05"}, And((Cmp(pub, "gte", day), Cmp(pub, "lt", next_day)))),
        ({"$dateNotOn": "2024-01-05"}, Or((Cmp(pub, "lt", day), Cmp(pub, "gte", next_day),
                                           Cmp(pub, "eq", None)))),
        ({"$dateBefore": "2024-01-05"}, Cmp(pub, "lt", day)),
        ({"$dateNotBefore": "2024-01-05"}, Cmp(pub, "gte", day)),
        ({"$dateAfter": "2024-01-05"}, Cmp(pub, "gte", next_day)),
        ({"$dateNotAfter": "2024-01-05"}, Cmp(pub, "lt", next_day)),
        ({"$dateBetween": ["2024-01-05", "2024-01-07"]}, And((Cmp(pub, "gte", day),
                                                             Cmp(pub, "lt", utc(2024, 1, 8))))),
        ({"$between": ["2024-01-05", "2024-01-07"]}, And((Cmp(pub, "gte", day),
                                                          Cmp(pub, "lt", utc(2024, 1, 8))))),
        ({"$dateOn": "2024-02"}, And((Cmp(pub, "gte", utc(2024, 2, 1)), Cmp(pub, "lt", utc(2024, 3, 1))))),
        ({"$dateOn": "2024-12"}, And((Cmp(pub, "gte", utc(2024, 12, 1)), Cmp(pub, "lt", utc(2025, 1, 1))))),
        # a full datetime compares exactly
        ({"$dateOn": "2024-01-05T10:00:00Z"}, Cmp(pub, "eq", utc(2024, 1, 5, 10))),
        ({"$dateBefore": "2024-01-05T10:00:00+02:00"}, Cmp(pub, "lt", utc(2024, 1, 5, 8))),
        ({"$dateAfter": "2024-01-05T10:00:00Z"}, Cmp(pub, "gt", utc(2024, 1, 5, 10))),
        ({"$dateNotAfter": "2024-01-05T10:00:00Z"}, Cmp(pub, "lte", utc(2024, 1, 5, 10))),
        ({"$gt": "2024-01-05T10:00:00Z"}, Cmp(pub, "gt", utc(2024, 1, 5, 10))),
        ({"$eq": {"__type": "Date", "iso": "2024-01-05 10:00:00"}}, Cmp(pub, "eq", utc(2024, 1, 5, 10))),
    ]
    for ops, expected in cases:
        assert parse(cat, {"published": ops}) == expected, ops


async def test_dates_in_the_callers_time_zone(cat: Catalog) -> None:
    pub = p(cat, "published")
    # +08:00: 2024-01-05 local starts at 2024-01-04 16:00 UTC
    assert parse(cat, {"published": {"$dateOn": "2024-01-05"}}, tz_offset_minutes=480) == And((
        Cmp(pub, "gte", utc(2024, 1, 4, 16)), Cmp(pub, "lt", utc(2024, 1, 5, 16))))
    assert parse(cat, {"createdAt": {"$dateBefore": "2024-01-05"}}, tz_offset_minutes=-330) == Cmp(
        Path(post(cat).fields["createdAt"]), "lt", utc(2024, 1, 5, 5, 30))
    # a naive datetime is read in the caller's zone, an explicit offset is kept
    assert parse(cat, {"published": {"$dateAfter": "2024-01-05 10:00"}}, tz_offset_minutes=60) == Cmp(
        pub, "gt", utc(2024, 1, 5, 9))
    assert parse(cat, {"published": {"$dateAfter": "2024-01-05T10:00Z"}}, tz_offset_minutes=60) == Cmp(
        pub, "gt", utc(2024, 1, 5, 10))


async def test_current_user_variables(cat: Catalog) -> None:
    user = {"objectId": "u1", "name": "Li", "team": None}
    a = p(cat, "author")
    assert parse(cat, {"author": "{{currentUser.id}}"}, current_user=user) == Cmp(a, "eq", "u1")
    assert parse(cat, {"author": {"$eq": "{{ $user.id }}"}}, current_user=user) == Cmp(a, "eq", "u1")
    assert parse(cat, {"title": {"$in": ["{{currentUser.name}}", "x"]}}, current_user=user) == InList(
        p(cat, "title"), ("Li", "x"))
    # a null value matches nothing rather than every row with a null
    assert parse(cat, {"title": "{{currentUser.team}}"}, current_user=user) == Const(False)
    with pytest.raises(InvalidQuery, match="needs a signed-in user"):
        parse(cat, {"author": "{{currentUser.id}}"})
    with pytest.raises(InvalidQuery, match="has no field `nickname`"):
        parse(cat, {"title": "{{currentUser.nickname}}"}, current_user=user)
    with pytest.raises(InvalidQuery, match="unknown variable"):
        parse(cat, {"title": "{{process.env.SECRET}}"}, current_user=user)


# -- hostile input ----------------------------------------------------------------------------------------

async def test_wrong_operand_types(cat: Catalog) -> None:
    with pytest.raises(TypeMismatch) as e:
        parse(cat, {"views": {"$gt": "abc"}})
    assert e.value.field == "views" and "`Post.views` expects a number, received string" in e.value.message
    with pytest.raises(TypeMismatch, match="title"):
        parse(cat, {"title": 5})
    with pytest.raises(TypeMismatch, match=r"list for `\$anyOf`"):
        parse(cat, {"tags": {"$anyOf": "x"}})
    with pytest.raises(TypeMismatch, match=r"list for `\$in`"):
        parse(cat, {"views": {"$in": 3}})
    with pytest.raises(TypeMismatch, match="two values"):
        parse(cat, {"views": {"$between": [1]}})
    with pytest.raises(TypeMismatch, match=r"author\.name"):
        parse(cat, {"author.name": {"$includes": 5}})
    with pytest.raises(InvalidValue, match="not a date"):
        parse(cat, {"published": {"$dateOn": "yesterday"}})
    with pytest.raises(InvalidValue, match="not a date"):
        parse(cat, {"published": {"$dateOn": "2024-02-30"}})
    with pytest.raises(InvalidQuery, match="whole Object value"):
        parse(cat, {"meta": {"$eq": {"a": 1}}})


async def test_unknown_fields_and_operators(cat: Catalog) -> None:
    with pytest.raises(UnknownField) as e:
        parse(cat, {"titel": "x"})
    assert e.value.suggestion == "title"
    with pytest.raises(UnknownField, match="`nmae` is not a field of Author; did you mean `name`"):
        parse(cat, {"author.nmae": "x"})
    with pytest.raises(InvalidQuery, match=r"unknown filter operator `\$foo` on `title`"):
        parse(cat, {"title": {"$foo": 1}})
    with pytest.raises(InvalidQuery, match=r"unknown filter operator `\$gtee`.*did you mean `\$gte`"):
        parse(cat, {"views": {"$gtee": 1}})
    with pytest.raises(InvalidQuery, match=r"`\$where` is not allowed here"):
        parse(cat, {"$where": "this.views > 1"})
    with pytest.raises(InvalidQuery, match=r"unknown filter operator `\$where`"):
        parse(cat, {"title": {"$where": "1"}})
    with pytest.raises(InvalidQuery, match="empty condition"):
        parse(cat, {"title": {}})
    with pytest.raises(InvalidQuery, match=r"each item of `\$or` must be an object"):
        parse(cat, {"$or": ["title"]})
    with pytest.raises(InvalidQuery, match=r"`\$and` takes a list"):
        parse(cat, {"$and": "x"})


async def test_operators_on_the_wrong_field_type(cat: Catalog) -> None:
    for f, fragment in [
        ({"views": {"$includes": "1"}}, r"`\$includes` does not apply to `views` \(a Number field\)"),
        ({"title": {"$dateOn": "2024-01-01"}}, r"`\$dateOn` does not apply to `title` \(a String field\)"),
        ({"title": {"$match": ["a"]}}, r"`\$match` does not apply to `title`"),
        ({"draft": {"$gt": True}}, r"`\$gt` does not apply to `draft` \(a Bool field\)"),
        ({"views": {"$isTruly": True}}, r"`\$isTruly` does not apply to `views`"),
        ({"tags": {"$like": "a"}}, r"`\$like` does not apply to `tags` \(a Array field\)"),
        ({"title": {"$is": "x"}}, r"`\$is` takes null"),
        ({"title.x": "a"}, "String field"),
    ]:
        with pytest.raises(InvalidQuery, match=fragment):
            parse(cat, f)


async def test_injection_attempts_are_just_unknown_names(cat: Catalog) -> None:
    with pytest.raises(UnknownField) as e:
        parse(cat, {'title" OR 1=1 --': "x"})
    assert e.value.field == 'title" OR 1=1 --'
    assert "SQL" not in e.value.message and "select" not in e.value.message.lower()
    with pytest.raises(UnknownField):
        parse(cat, {"author.name'; DROP TABLE Post; --": "x"})
    with pytest.raises(InvalidQuery, match="keys inside `meta`"):
        parse(cat, {"meta.a') OR 1=1 --": 1})
    with pytest.raises(InvalidQuery, match="not a valid field path"):
        parse(cat, {"author..name": 1})
    long_name = "x" * 5000
    with pytest.raises(UnknownField) as e2:
        parse(cat, {long_name: 1})
    assert len(e2.value.message) < 200


def nest(levels: int) -> dict[str, Any]:
    """``levels`` objects nested through $and, the innermost a plain condition."""
    f: dict[str, Any] = {"title": "x"}
    for _ in range(levels - 1):
        f = {"$and": [f]}
    return f


async def test_size_limits(cat: Catalog) -> None:
    assert parse(cat, nest(16)) == Cmp(p(cat, "title"), "eq", "x")
    with pytest.raises(InvalidQuery, match="nested deeper than 16"):
        parse(cat, nest(17))
    with pytest.raises(InvalidQuery, match="nested deeper than 16"):
        parse(cat, nest(5000))
    with pytest.raises(InvalidQuery, match="nested deeper than 16"):
        parse(cat, orjson.dumps(nest(20)).decode())
    with pytest.raises(InvalidQuery, match="more than 1000 conditions"):
        parse(cat, {"$or": [{"views": i} for i in range(600)]})
    assert parse(cat, {"views": {"$in": list(range(1000))}}) == InList(p(cat, "views"), tuple(range(1000)))
    with pytest.raises(InvalidQuery, match="at most 1000 values"):
        parse(cat, {"views": {"$in": list(range(1001))}})
    with pytest.raises(InvalidQuery, match="at most 1000 values"):
        parse(cat, {"title": {"$includes": ["a"] * 1001}})
    with pytest.raises(InvalidQuery, match="longer than"):
        parse(cat, '{"title": "' + "x" * 300_000 + '"}')
    deep_json = "[" * 3000 + "]" * 3000
    with pytest.raises(InvalidQuery):
        parse(cat, deep_json)
    with pytest.raises(InvalidQuery, match="keys must be strings"):
        parse(cat, {"title": {1: "x"}})
    with pytest.raises(InvalidQuery, match="time zone offset"):
        parse(cat, {"title": "x"}, tz_offset_minutes=24 * 60)
