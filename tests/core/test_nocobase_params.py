"""NocoBase resource parameters → Select/Pred: paging, projection, appends, sort, filterByTk and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from hivebase.core.apps import App
from hivebase.core.catalog import Catalog
from hivebase.core.model import TableDef
from hivebase.core.query.ir import And, Cmp, Const, Include, InList, Order, Path, Select
from hivebase.core.query.nocobase_params import parse_get, parse_list, parse_target
from hivebase.errors import InvalidQuery, InvalidValue, TypeMismatch, UnknownField
from tests.core.test_nocobase_filter import make_tables

pytestmark = pytest.mark.anyio


@pytest.fixture
async def cat(app: App) -> Catalog:
    return await make_tables(app)


def post(cat: Catalog) -> TableDef:
    return cat.get("Post")


def lst(cat: Catalog, **params: Any) -> tuple[Select, dict[str, Any]]:
    return parse_list(cat, post(cat), params)


async def test_defaults(cat: Catalog) -> None:
    select, paging = lst(cat)
    assert select == Select("Post", where=Const(True), order=[], limit=20, offset=0, keys=None, include=[])
    assert paging == {"page": 1, "pageSize": 20, "paginate": True, "relationAppends": []}


async def test_paging_native_and_url_forms(cat: Catalog) -> None:
    select, paging = lst(cat, page=3, pageSize=50)
    assert (select.limit, select.offset) == (50, 100)
    assert paging["page"] == 3 and paging["pageSize"] == 50
    select, paging = lst(cat, page="2", pageSize="10", paginate="true")
    assert (select.limit, select.offset, paging["paginate"]) == (10, 10, True)
    assert lst(cat, pageSize=1000)[0].limit == 1000
    with pytest.raises(InvalidQuery, match="`pageSize` may be at most 1000"):
        lst(cat, pageSize=1001)
    for bad in ({"page": 0}, {"page": "x"}, {"pageSize": 2.5}, {"pageSize": True}, {"page": -1}):
        with pytest.raises(InvalidQuery):
            lst(cat, **bad)


async def test_paginate_false_is_still_capped(cat: Catalog) -> None:
    for value in (False, "false", "0"):
        select, paging = lst(cat, paginate=value, page=4, pageSize=10)
        assert (select.limit, select.offset) == (1000, 0)
        assert paging == {"page": 1, "pageSize": 1000, "paginate": False, "relationAppends": []}
    with pytest.raises(InvalidQuery, match="true or false"):
        lst(cat, paginate="maybe")


async def test_filter_and_sort(cat: Catalog) -> None:
    t = post(cat)
    author = t.fields["author"]
    select, _ = lst(cat, filter='{"views": {"$gt": 1}}', sort="-createdAt, title,author.name")
    assert select.where == Cmp(Path(t.fields["views"]), "gt", 1)
    assert select.order == [Order(Path(t.fields["createdAt"]), desc=True), Order(Path(t.fields["title"])),
                            Order(Path(cat.get("Author").fields["name"], (author,)))]
    assert lst(cat, sort=["-views", "id"])[0].order == [Order(Path(t.fields["views"]), desc=True),
                                                        Order(Path(t.fields["objectId"]))]
    with pytest.raises(UnknownField) as e:
        lst(cat, sort=["-veiws"])
    assert e.value.suggestion == "views"
    with pytest.raises(InvalidQuery, match="cannot sort by `tags`: it is a Array field"):
        lst(cat, sort=["tags"])
    with pytest.raises(InvalidQuery, match="Relation"):
        lst(cat, sort=["labels.name"])
    with pytest.raises(InvalidQuery, match="at most 10"):
        lst(cat, sort=[f"-views{i}" for i in range(11)])
    with pytest.raises(InvalidQuery, match="list of field names"):
        lst(cat, sort={"views": 1})


async def test_fields_appends_except(cat: Catalog) -> None:
    t, a = post(cat), cat.get("Author")
    author, team = t.fields["author"], a.fields["team"]
    select, paging = lst(cat, fields=["title", "author.name"])
    assert select.keys == ["title", "author"] and [p.dotted for p in select.named] == ["author.name"]
    assert select.include == [Include(author)]
    select, paging = lst(cat, fields="title", appends="author.team,labels")
    assert select.keys == ["title", "author"]
    assert select.include == [Include(author, (Include(team),))]
    assert paging["relationAppends"] == ["labels"]
    select, paging = lst(cat, appends=["author", "author.team"], fields=["labels.name"])
    assert select.include == [Include(author, (Include(team),))] and select.keys == ["author"]
    assert paging["relationAppends"] == ["labels"]
    select, _ = lst(cat, **{"except": ["meta", "tags"]})
    assert select.keys is None and select.omit == ["meta", "tags"]  # every visible field but these
    select, _ = lst(cat, **{"fields": ["title", "views"], "except": "views"})
    assert select.keys == ["title"]


async def test_projection_errors(cat: Catalog) -> None:
    with pytest.raises(UnknownField, match="did you mean `title`"):
        lst(cat, fields=["titel"])
    with pytest.raises(UnknownField, match="not a field of Author"):
        lst(cat, fields=["author.nmae"])
    with pytest.raises(InvalidQuery, match="`title` in `title` is a String field, not an association"):
        lst(cat, appends=["title"])
    with pytest.raises(InvalidQuery, match="only the Relation itself"):
        lst(cat, appends=["labels.name"])
    with pytest.raises(UnknownField):
        lst(cat, appends=['author" OR 1=1 --'])
    with pytest.raises(UnknownField):
        lst(cat, **{"except": ["nope"]})
    with pytest.raises(InvalidQuery, match="not paths"):
        lst(cat, **{"except": ["author.name"]})
    with pytest.raises(InvalidQuery, match="field names"):
        lst(cat, fields=[1])


async def test_get(cat: Catalog) -> None:
    t = post(cat)
    oid = Path(t.fields["objectId"])
    assert parse_get(cat, t, {"filterByTk": "abc"}) == Select("Post", where=Cmp(oid, "eq", "abc"), limit=1)
    assert parse_get(cat, t, {"filterByTk": 42}).where == Cmp(oid, "eq", "42")
    s = parse_get(cat, t, {"filterByTk": ["a", "b", "a"], "fields": ["title"], "appends": ["author"]})
    assert s.where == InList(oid, ("a", "b")) and s.limit == 3
    assert s.keys == ["title", "author"] and s.include == [Include(t.fields["author"])]
    with pytest.raises(TypeMismatch, match="filterByTk"):
        parse_get(cat, t, {"filterByTk": {"$ne": 1}})
    with pytest.raises(InvalidValue, match="not a valid objectId"):
        parse_get(cat, t, {"filterByTk": "x" * 65})
    with pytest.raises(InvalidQuery, match="needs `filterByTk`"):
        parse_get(cat, t, {})


async def test_target_never_defaults_to_every_row(cat: Catalog) -> None:
    t = post(cat)
    oid = Path(t.fields["objectId"])
    for params in ({}, {"filter": {}}, {"filter": ""}, {"filter": {"$and": []}}, {"filterByTk": ""}):
        with pytest.raises(InvalidQuery, match="would match every row"):
            parse_target(cat, t, params)
    assert parse_target(cat, t, {"filterByTk": "a"}) == Cmp(oid, "eq", "a")
    assert parse_target(cat, t, {"filter": {"title": "x"}}) == Cmp(Path(t.fields["title"]), "eq", "x")
    assert parse_target(cat, t, {"filterByTk": ["a"], "filter": {"title": "x"}}) == And((
        InList(oid, ("a",)), Cmp(Path(t.fields["title"]), "eq", "x")))
    assert parse_target(cat, t, {"filterByTk": []}) == Const(False)
    with pytest.raises(InvalidQuery, match="at most 1000 keys"):
        parse_target(cat, t, {"filterByTk": [str(i) for i in range(1001)]})
    user = {"objectId": "u1"}
    assert parse_target(cat, t, {"filter": {"createdBy": "{{currentUser.id}}"}}, current_user=user) == Cmp(
        Path(t.fields["createdBy"]), "eq", "u1")
