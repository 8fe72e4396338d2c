"""No query form leaks a hidden row or a hidden field, dialect by dialect.

alice is a ``member`` whose role sees Post rows only when published (a row scope), never their ``secret``
(a field list), and who is not named in the ACL of bob's private rows. Every attempt below tries to learn
something hidden — through Bmob ``where`` and its parameters, Bmob aggregates, NocoBase ``filter`` and its
parameters, ``resource_query``, reads by id, and writes — and must either be refused (PermissionDenied for a
hidden field, NotFound for a hidden row, InvalidQuery for a form the dialect does not have) or return
exactly the visible rows and fields. Each expectation is the exact answer, and on top of it every answer
is searched for the secret values and the hidden rows' data.

Rows (scores chosen so any sum or count that included a hidden row would show it)
  Post     P1 "pub-a" published, score 10, author alice      P2 "pub-b" published, score 20, author bob
           H1 "draft-title" draft, score 100 (hidden by the role's scope)
           H2 "bobs-title" published, score 1000, ACL: bob only (hidden by the object ACL)
           every row has secret "SECRET-<label>"
  Comment  C1 "pub-a" on P1, mentions [P1, H1]        C2 "draft-title" on H1, mentions [H2]
           C3 "bobs-title" on H2                        C4 "private-comment" on P2, ACL: bob only, mentions [P2]
alice sees Post P1, P2 and Comment C1, C2, C3.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from hivebase.auth.resolve import resolve
from hivebase.core import records, roles, schema
from hivebase.core.apps import App
from hivebase.core.bmob_reads import bmob_get, bmob_query
from hivebase.core.identity import users
from hivebase.core.principal import Principal
from hivebase.dialects.nocobase.queries import nocobase_get, nocobase_list, nocobase_query
from hivebase.errors import HivebaseError, InvalidQuery, NotFound, PermissionDenied
from tests.core.access_fixtures import (  # noqa: F401 (anyio_backend, backend: module-scoped fixtures)
    PASSWORD,
    ROOT,
    Actors,
    anyio_backend,
    backend,
    database,
    open_hub,
    ptr,
    refused,
    snapshot,
    unchanged,
    unique,
)

pytestmark = pytest.mark.anyio

POST_FIELDS = ["title", "body", "status", "author", "score", "createdAt", "updatedAt"]
WRITE_FIELDS = ["title", "body", "status", "score"]
PUBLISHED = {"status": "published"}


class World(Actors):
    ids: dict[str, str]
    alice: Principal
    bob: Principal

    def label(self, oid: str) -> str:
        return next(k for k, v in self.ids.items() if v == oid)

    def fill(self, value: Any) -> Any:
        """Replace ``@LABEL`` strings by the objectIds of this world, anywhere in ``value``."""
        if isinstance(value, str) and value.startswith("@"):
            return self.ids[value[1:]]
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value


@pytest.fixture(scope="module")
async def world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:  # noqa: F811
    async with open_hub(backend, Path(tmp_path_factory.mktemp("leaks"))) as (hub, creds):
        app = await hub.apps.open("main")
        w = World(hub, app, creds)
        await build(w, app)
        yield w


async def build(w: World, app: App) -> None:
    await schema.create_table(app, ROOT, "Post", {
        "title": "String", "body": "String", "status": "String", "secret": "String",
        "author": {"type": "Pointer", "targetClass": "_User"}, "score": "Number"})
    await schema.create_table(app, ROOT, "Comment", {
        "post": {"type": "Pointer", "targetClass": "Post"}, "text": "String",
        "mentions": {"type": "Relation", "targetClass": "Post"}})
    seen = {"fields": POST_FIELDS, "scope": PUBLISHED}
    await roles.set_table_permissions(app, ROOT, "member", "Post", {
        "list": seen, "get": seen, "query": seen, "create": {"fields": WRITE_FIELDS},
        "update": {"fields": WRITE_FIELDS, "scope": PUBLISHED}, "destroy": {"scope": PUBLISHED}})
    alice = await w.sign_up("alice")
    bob = await w.sign_up("bob")
    w.ids = {"alice": alice, "bob": bob}
    bobs_only = {"ACL": {bob: {"read": True, "write": True}}}
    for label, title, status, score, author, extra in (
            ("P1", "pub-a", "published", 10, alice, {}), ("P2", "pub-b", "published", 20, bob, {}),
            ("H1", "draft-title", "draft", 100, bob, {}), ("H2", "bobs-title", "published", 1000, bob, bobs_only)):
        row = await records.create(app, ROOT, "Post", {
            "title": title, "body": f"body of {label}", "status": status, "score": score,
            "secret": f"SECRET-{label}", "author": ptr("_User", author), **extra})
        w.ids[label] = row["objectId"]
    for label, text, post, mentions, extra in (
            ("C1", "pub-a", "P1", ["P1", "H1"], {}), ("C2", "draft-title", "H1", ["H2"], {}),
            ("C3", "bobs-title", "H2", [], {}), ("C4", "private-comment", "P2", ["P2"], bobs_only)):
        data: dict[str, Any] = {"text": text, "post": ptr("Post", w.ids[post]), **extra}
        if mentions:
            data["mentions"] = {"__op": "AddRelation", "objects": [ptr("Post", w.ids[m]) for m in mentions]}
        w.ids[label] = (await records.create(app, ROOT, "Comment", data))["objectId"]
    w.alice = await w.principal("alice")
    w.bob = await w.principal("bob")


# -- what no answer may contain ------------------------------------------------------------------------------


def assert_no_leak(w: World, result: Any) -> None:
    """No secret value, no ``secret`` key, and no data of a hidden row anywhere in an answer."""
    text = repr(result)
    assert "SECRET" not in text
    assert "body of H" not in text and "1000" not in text

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert "secret" not in node
            if node.get("objectId") in (w.ids["H1"], w.ids["H2"], w.ids["C4"]):
                assert set(node) <= {"__type", "className", "objectId"}, f"hidden row shown: {node}"
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(result)


@dataclass(frozen=True)
class Refused:
    kind: type[HivebaseError]
    reason: str | None = None


FIELD = Refused(PermissionDenied, "field")
NO_POINTER_PATHS = Refused(InvalidQuery)  # Bmob where keys do not follow Pointers


def where(doc: dict[str, Any], **params: Any) -> dict[str, Any]:
    return {"where": doc, **params}


def pointer(table: str, label: str) -> dict[str, str]:
    return ptr(table, "@" + label)


# (table, parameters, expected): a list of labels in answer order, or a refusal.
BMOB_FINDS: list[tuple[str, dict[str, Any], list[str] | Refused]] = [
    ("Post", {}, ["P1", "P2"]),
    ("Post", where({"status": "draft"}), []),
    ("Post", where({"objectId": "@H1"}), []),
    ("Post", where({"objectId": {"$in": ["@P1", "@H1", "@H2"]}}), ["P1"]),
    ("Post", where({"$or": [{"status": "draft"}, {"title": "pub-a"}]}), ["P1"]),
    ("Post", where({"$and": [{"score": {"$gte": 100}}]}), []),
    ("Post", where({"$nor": [{"title": "pub-a"}]}), ["P2"]),
    ("Post", where({"title": {"$regex": "title$"}}), []),
    ("Post", where({"author": pointer("_User", "bob")}), ["P2"]),
    ("Post", where({"secret": "SECRET-H1"}), FIELD),
    ("Post", where({"secret": {"$regex": "^SECRET"}}), FIELD),
    ("Post", where({"secret": {"$exists": False}}), FIELD),
    ("Post", where({"$or": [{"secret": {"$exists": True}}, {"title": "pub-a"}]}), FIELD),
    ("Post", where({"$relatedTo": {"object": pointer("Comment", "C1"), "key": "mentions"}}), ["P1"]),
    ("Post", where({"$relatedTo": {"object": pointer("Comment", "C2"), "key": "mentions"}}), []),
    ("Post", where({"$relatedTo": {"object": pointer("Comment", "C4"), "key": "mentions"}}), []),
    ("Post", where({"title": {"$select": {"query": {"className": "Comment", "where": {}}, "key": "text"}}}),
     ["P1"]),
    ("Post", where({"title": {"$dontSelect": {"query": {"className": "Comment"}, "key": "text"}}}), ["P2"]),
    ("Post", where({"objectId": {"$select": {"query": {"className": "Comment"}, "key": "post"}}}), ["P1"]),
    ("Comment", {}, ["C1", "C2", "C3"]),
    ("Comment", where({"post": {"$inQuery": {"className": "Post", "where": {"status": "draft"}}}}), []),
    ("Comment", where({"post": {"$inQuery": {"where": {"score": {"$gt": 50}}}}}), []),
    ("Comment", where({"post": {"$inQuery": {"where": {}}}}), ["C1"]),
    ("Comment", where({"post": {"$notInQuery": {"where": {}}}}), ["C2", "C3"]),
    ("Comment", where({"post": {"$inQuery": {"where": {"secret": "SECRET-H1"}}}}), FIELD),
    ("Comment", where({"post": {"$notInQuery": {"where": {"secret": {"$exists": True}}}}}), FIELD),
    ("Comment", where({"text": {"$select": {"query": {"className": "Post", "where": {}}, "key": "title"}}}),
     ["C1"]),
    ("Comment", where({"text": {"$dontSelect": {"query": {"className": "Post"}, "key": "title"}}}), ["C2", "C3"]),
    ("Comment", where({"text": {"$select": {"query": {"className": "Post"}, "key": "secret"}}}), FIELD),
    ("Comment", where({"text": {"$dontSelect": {"query": {"className": "Post"}, "key": "secret"}}}), FIELD),
    ("Comment", where({"post.secret": "SECRET-H1"}), NO_POINTER_PATHS),
    ("Comment", where({"post.title": "draft-title"}), NO_POINTER_PATHS),
    ("Comment", where({"mentions": pointer("Post", "H1")}), []),
    ("Comment", where({"mentions": {"$in": [pointer("Post", "H1"), pointer("Post", "H2")]}}), []),
    ("Comment", where({"mentions": {"$exists": True}}), ["C1"]),
    ("Comment", where({"mentions": {"$inQuery": {"where": {"status": "draft"}}}}), []),
    ("Comment", where({"mentions": {"$inQuery": {"where": {"secret": {"$exists": True}}}}}), FIELD),
    # the Comment's own Pointer value is the Comment's data: matching on it reveals nothing of the Post
    ("Comment", where({"post": pointer("Post", "H1")}), ["C2"]),
    ("Comment", where({"objectId": "@C4"}), []),
    # keys / order / count
    ("Post", {"keys": "secret"}, FIELD),
    ("Post", {"keys": "title,secret"}, FIELD),
    ("Post", {"order": "secret"}, FIELD),
    ("Post", {"order": "-secret,title"}, FIELD),
    ("Post", {"order": "-score"}, ["P2", "P1"]),
    ("Post", {"order": "-score", "limit": 1, "skip": 1}, ["P1"]),
    ("Post", where({"secret": "x"}, count=1, limit=0), FIELD),
    ("Comment", {"include": "post", "keys": "text"}, ["C1", "C2", "C3"]),
]


@pytest.mark.parametrize("table,params,expected", BMOB_FINDS)
async def test_bmob_find(world: World, table: str, params: dict[str, Any], expected: list[str] | Refused) -> None:
    w = world
    wire = {k: orjson.dumps(w.fill(v)).decode() if k == "where" else v for k, v in params.items()}
    await check_rows(w, lambda: bmob_query(w.app, w.alice, table, wire), "results", expected,
                     ordered="order" in params)


async def check_rows(w: World, call: Any, key: str, expected: list[str] | Refused, *, ordered: bool) -> Any:
    if isinstance(expected, Refused):
        async with unchanged(w.app):
            with pytest.raises(expected.kind) as e:
                await call()
        if expected.kind is not HivebaseError:
            refused(e.value, expected.kind, expected.reason)
        assert "SECRET" not in str(e.value)
        return None
    out = await call()
    assert_no_leak(w, out)
    got = [w.label(r["objectId"]) for r in out[key]]
    assert (got if ordered else sorted(got)) == expected
    return out


async def test_bmob_keys_and_count_return_only_visible_data(world: World) -> None:
    w = world
    out = await bmob_query(w.app, w.alice, "Post", {"keys": "title,score", "order": "score"})
    assert isinstance(out, dict)
    assert [{k: v for k, v in r.items() if k not in ("createdAt", "updatedAt")} for r in out["results"]] == \
        [{"objectId": w.ids["P1"], "title": "pub-a", "score": 10}, {"objectId": w.ids["P2"], "title": "pub-b",
                                                                    "score": 20}]
    assert await bmob_query(w.app, w.alice, "Post", {"count": 1, "limit": 0}) == {"results": [], "count": 2}
    counted = await bmob_query(w.app, w.alice, "Post",
                                       {"count": "1", "limit": 0, "where": '{"score":{"$gte":50}}'})
    assert counted == {"results": [], "count": 0}
    assert await bmob_query(w.app, w.alice, "Comment", {"count": 1, "limit": 0}) == \
        {"results": [], "count": 3}
    # bob is named in the ACL of H2 and C4: he sees them, but the scope still hides the draft
    bobs = await bmob_query(w.app, w.bob, "Post", {"keys": "title"})
    assert isinstance(bobs, dict)
    assert sorted(w.label(r["objectId"]) for r in bobs["results"]) == ["H2", "P1", "P2"]


async def test_bmob_include_expands_only_visible_pointers_and_fields(world: World) -> None:
    w = world
    out = await bmob_query(w.app, w.alice, "Comment", {"include": "post,post.author", "order": "text"})
    assert_no_leak(w, out)
    assert isinstance(out, dict)
    by_label = {w.label(r["objectId"]): r for r in out["results"]}
    assert sorted(by_label) == ["C1", "C2", "C3"]
    embedded = by_label["C1"]["post"]
    assert embedded["__type"] == "Object" and embedded["objectId"] == w.ids["P1"]
    assert set(embedded) == {"__type", "className", "objectId", "createdAt", "updatedAt", "title", "body", "status",
                             "author", "score"}
    assert embedded["author"]["objectId"] == w.ids["alice"] and embedded["author"]["username"].startswith("alice")
    # a hidden target stays a bare Pointer: the Comment's own value, nothing of the Post behind it
    assert by_label["C2"]["post"] == {"__type": "Pointer", "className": "Post", "objectId": w.ids["H1"]}
    assert by_label["C3"]["post"] == {"__type": "Pointer", "className": "Post", "objectId": w.ids["H2"]}
    got = await bmob_get(w.app, w.alice, "Comment", w.ids["C2"], {"include": "post"})
    assert got["post"] == {"__type": "Pointer", "className": "Post", "objectId": w.ids["H1"]}


# Bmob aggregates on Post: (parameters, expected rows in any order, or a refusal)
BMOB_AGGREGATES: list[tuple[dict[str, Any], list[dict[str, Any]] | Refused]] = [
    ({"groupby": "secret", "groupcount": "true"}, FIELD),
    ({"groupby": "status,secret"}, FIELD),
    ({"groupcount": "true", "where": {"secret": {"$exists": True}}}, FIELD),
    ({"groupby": "status", "groupcount": "true"}, [{"status": "published", "_count": 2}]),
    ({"groupcount": "true"}, [{"_count": 2}]),
    ({"sum": "score"}, [{"_sumScore": 30}]),
    ({"max": "score", "min": "score", "average": "score"}, [{"_maxScore": 20, "_minScore": 10, "_avgScore": 15}]),
    ({"groupby": "status", "sum": "score", "having": {"_sumScore": {"$gt": 100}}}, []),
    ({"groupby": "status", "groupcount": "1", "having": {"_count": {"$gte": 3}}}, []),
    ({"groupby": "author", "groupcount": "true"}, [{"author": "@alice", "_count": 1}, {"author": "@bob", "_count": 1}]),
    ({"groupby": "title", "groupcount": "true", "where": {"score": {"$gte": 100}}}, []),
]


@pytest.mark.parametrize("params,expected", BMOB_AGGREGATES)
async def test_bmob_aggregates(world: World, params: dict[str, Any], expected: list[dict[str, Any]] | Refused) -> None:
    w = world
    wire = {k: orjson.dumps(v).decode() if isinstance(v, dict) else v for k, v in params.items()}
    await check_groups(w, lambda: bmob_query(w.app, w.alice, "Post", wire), expected)


async def check_groups(w: World, call: Any, expected: list[dict[str, Any]] | Refused) -> None:
    if isinstance(expected, Refused):
        async with unchanged(w.app):
            with pytest.raises(expected.kind) as e:
                await call()
        refused(e.value, expected.kind, expected.reason)
        return
    out = await call()
    assert_no_leak(w, out)
    rows = out["data"] if isinstance(out, dict) else out
    assert sorted(rows, key=repr) == sorted(w.fill(expected), key=repr)


# NocoBase resource_list: (table, parameters, expected labels or a refusal)
NOCOBASE_LISTS: list[tuple[str, dict[str, Any], list[str] | Refused]] = [
    ("Post", {}, ["P1", "P2"]),
    ("Post", {"filter": {"secret": "SECRET-H1"}}, FIELD),
    ("Post", {"filter": {"secret": {"$empty": True}}}, FIELD),
    ("Post", {"filter": {"$or": [{"title": "pub-a"}, {"secret": {"$includes": "H"}}]}}, FIELD),
    ("Post", {"filter": {"status": "draft"}}, []),
    ("Post", {"filter": {"id": "@H1"}}, []),
    ("Post", {"filter": {"$or": [{"status": "draft"}, {"title": "pub-a"}]}}, ["P1"]),
    ("Post", {"filter": {"$and": [{"title": {"$includes": "title"}}]}}, []),
    ("Post", {"filter": {"score": {"$gte": 100}}}, []),
    ("Post", {"filter": {"author.username": {"$ne": None}}}, ["P1", "P2"]),
    ("Comment", {"filter": {"post.secret": "SECRET-H1"}}, FIELD),
    ("Comment", {"filter": {"post": {"secret": {"$ne": None}}}}, FIELD),
    ("Comment", {"filter": {"$and": [{"text": {"$ne": None}}, {"post.secret": {"$notEmpty": True}}]}}, FIELD),
    ("Comment", {"filter": {"post.status": "draft"}}, []),
    ("Comment", {"filter": {"post.title": "draft-title"}}, []),
    ("Comment", {"filter": {"post": {"title": "bobs-title"}}}, []),
    ("Comment", {"filter": {"post.score": {"$gte": 100}}}, []),
    ("Comment", {"filter": {"$or": [{"post.status": "draft"}, {"text": "pub-a"}]}}, ["C1"]),
    ("Comment", {"filter": {"post.id": "@H1"}}, []),
    ("Comment", {"filter": {"mentions.title": "draft-title"}}, []),
    ("Comment", {"filter": {"mentions.score": {"$gt": 50}}}, []),
    ("Comment", {"filter": {"mentions.id": "@H1"}}, []),
    ("Comment", {"filter": {"mentions.secret": "SECRET-H1"}}, FIELD),
    ("Comment", {"filter": {"mentions": {"$exists": True}}}, ["C1"]),
    ("Post", {"fields": ["secret"]}, FIELD),
    ("Post", {"fields": ["title", "secret"]}, FIELD),
    ("Post", {"sort": ["secret"]}, FIELD),
    ("Post", {"sort": "-score"}, ["P2", "P1"]),
    ("Comment", {"sort": ["post.secret"]}, FIELD),
    # hidden posts sort as missing values (nulls first), never by their real scores (100 and 1000)
    ("Comment", {"sort": ["post.score", "text"]}, ["C3", "C2", "C1"]),
    ("Comment", {"sort": ["-post.score", "text"]}, ["C1", "C3", "C2"]),
    ("Comment", {"filterByTk": "@C4", "filter": {"id": "@C4"}}, []),
]


@pytest.mark.parametrize("table,params,expected", NOCOBASE_LISTS)
async def test_nocobase_list(world: World, table: str, params: dict[str, Any],
                             expected: list[str] | Refused) -> None:
    w = world
    wire = {**w.fill(params), "paginate": False}
    await check_rows(w, lambda: nocobase_list(w.app, w.alice, table, wire), "data", expected,
                     ordered="sort" in params)


async def test_nocobase_fields_and_appends_show_only_visible_data(world: World) -> None:
    w = world
    out = await nocobase_list(w.app, w.alice, "Post", {"fields": ["title"], "sort": "title"})
    assert [set(r) for r in out["data"]] == [{"objectId", "createdAt", "updatedAt", "title"}] * 2
    out = await nocobase_list(w.app, w.alice, "Comment", {"appends": ["post", "mentions"], "sort": "text"})
    assert_no_leak(w, out)
    rows = {w.label(r["objectId"]): r for r in out["data"]}
    assert sorted(rows) == ["C1", "C2", "C3"]
    assert rows["C1"]["post"]["objectId"] == w.ids["P1"]
    assert set(rows["C1"]["post"]) == {"objectId", "createdAt", "updatedAt", *WRITE_FIELDS, "author"}
    assert [m["objectId"] for m in rows["C1"]["mentions"]] == [w.ids["P1"]]  # H1 is hidden
    assert rows["C2"]["mentions"] == [] and rows["C3"]["mentions"] == []
    assert rows["C2"]["post"] == w.ids["H1"]  # a hidden target stays the bare id the Comment holds
    # naming the hidden field through an association path never shows it (and is refused: see below)
    try:
        named = await nocobase_list(w.app, w.alice, "Comment", {"fields": ["text", "post.secret"]})
    except PermissionDenied as exc:
        refused(exc, PermissionDenied, "field")
    else:
        assert_no_leak(w, named)
    # relation appends read the target through the same scope (and root sees everything)
    got = await nocobase_get(w.app, w.alice, "Comment", {"filterByTk": w.ids["C1"], "appends": ["mentions"]})
    assert [m["objectId"] for m in got["data"]["mentions"]] == [w.ids["P1"]]
    everything = await nocobase_get(w.app, ROOT, "Comment", {"filterByTk": w.ids["C1"],
                                                                     "appends": ["mentions"]})
    assert sorted(m["objectId"] for m in everything["data"]["mentions"]) == sorted([w.ids["P1"], w.ids["H1"]])


async def test_nocobase_fields_naming_a_hidden_field_through_a_pointer_are_refused(world: World) -> None:
    """``fields: ["post.secret"]`` names a hidden field as surely as ``fields: ["secret"]`` does."""
    w = world
    for fields in (["text", "post.secret"], ["post.secret"]):
        with pytest.raises(PermissionDenied) as e:
            await nocobase_list(w.app, w.alice, "Comment", {"fields": fields})
        refused(e.value, PermissionDenied, "field")


async def test_nocobase_except_leaves_out_only_what_it_names(world: World) -> None:
    """``except`` of a visible field returns the other visible fields; it never turns into a request for the
    hidden ones (which would be refused)."""
    w = world
    out = await nocobase_list(w.app, w.alice, "Post", {"except": ["body"], "sort": "title"})
    assert [set(r) for r in out["data"]] == [{"objectId", "createdAt", "updatedAt", "title", "status", "author",
                                             "score"}] * 2


# resource_query: (table, arguments, expected rows in any order, or a refusal)
RESOURCE_QUERIES: list[tuple[str, dict[str, Any], list[dict[str, Any]] | Refused]] = [
    ("Post", {"measures": [{"aggregation": "count"}]}, [{"count": 2}]),
    ("Post", {"measures": [{"field": "score", "aggregation": "sum", "alias": "s"},
                           {"field": "score", "aggregation": "max", "alias": "m"}]}, [{"s": 30, "m": 20}]),
    ("Post", {"measures": [{"field": "secret", "aggregation": "count"}]}, FIELD),
    ("Post", {"measures": [{"field": "secret", "aggregation": "max"}]}, FIELD),
    ("Post", {"measures": [{"field": "secret", "aggregation": "count", "distinct": True}]}, FIELD),
    ("Post", {"dimensions": [{"field": "secret"}], "measures": [{"aggregation": "count"}]}, FIELD),
    ("Post", {"measures": [{"aggregation": "count"}], "filter": {"secret": {"$ne": None}}}, FIELD),
    ("Post", {"measures": [{"aggregation": "count", "alias": "n"}], "orders": [{"field": "secret"}]},
     Refused(InvalidQuery)),
    ("Post", {"dimensions": [{"field": "status"}], "measures": [{"field": "score", "aggregation": "sum", "alias": "s"}],
              "having": {"s": {"$gt": 100}}}, []),
    ("Post", {"dimensions": [{"field": "status"}], "measures": [{"aggregation": "count", "alias": "n"}],
              "orders": [{"field": "status"}]}, [{"status": "published", "n": 2}]),
    ("Post", {"dimensions": [{"field": "author.username"}], "measures": [{"aggregation": "count", "alias": "n"}],
              "filter": {"score": {"$gte": 100}}}, []),
    ("Comment", {"dimensions": [{"field": "post.status"}], "measures": [{"aggregation": "count", "alias": "n"}]},
     [{"post.status": "published", "n": 1}, {"post.status": None, "n": 2}]),
    ("Comment", {"measures": [{"field": "post.score", "aggregation": "sum", "alias": "s"}]}, [{"s": 10}]),
    ("Comment", {"dimensions": [{"field": "post.secret"}], "measures": [{"aggregation": "count"}]}, FIELD),
    ("Comment", {"measures": [{"aggregation": "count"}], "filter": {"post.secret": "SECRET-H1"}}, FIELD),
    ("Comment", {"measures": [{"aggregation": "count", "alias": "n"}], "filter": {"post.status": "draft"}},
     [{"n": 0}]),
]


@pytest.mark.parametrize("table,args,expected", RESOURCE_QUERIES)
async def test_resource_query(world: World, table: str, args: dict[str, Any],
                              expected: list[dict[str, Any]] | Refused) -> None:
    w = world
    await check_groups(w, lambda: nocobase_query(w.app, w.alice, table, w.fill(args)), expected)


# -- reads by id: a hidden row is NotFound, exactly as a missing one -------------------------------------------

MISSING = "zzzzzzzzzz"


def without_id(exc: HivebaseError, oid: str) -> dict[str, Any]:
    return {k: (v.replace(oid, "<id>") if isinstance(v, str) else v) for k, v in exc.to_dict().items()}


@pytest.mark.parametrize("table,label", [("Post", "H1"), ("Post", "H2"), ("Comment", "C4")])
async def test_a_hidden_row_by_id_is_not_found_like_a_missing_one(world: World, table: str, label: str) -> None:
    w = world
    oid = w.ids[label]
    calls = {
        "bmob_get": lambda o: bmob_get(w.app, w.alice, table, o),
        "bmob_get+include": lambda o: bmob_get(w.app, w.alice, table, o, {"include": "post"} if
                                                       table == "Comment" else {"keys": "title"}),
        "nocobase_get": lambda o: nocobase_get(w.app, w.alice, table, {"filterByTk": o}),
        "update": lambda o: records.update(w.app, w.alice, table, o, {"title" if table == "Post" else "text": "x"}),
        "increment": lambda o: records.update(w.app, w.alice, table, o, {"score": {"__op": "Increment"}})
        if table == "Post" else records.update(w.app, w.alice, table, o, {"text": {"__op": "Delete"}}),
        "delete": lambda o: records.delete(w.app, w.alice, table, o),
    }
    for name, call in calls.items():
        answers = []
        for target in (oid, MISSING):
            async with unchanged(w.app):
                with pytest.raises(NotFound) as e:
                    await call(target)
            answers.append(without_id(e.value, target))
        assert answers[0] == answers[1], name
    if label != "H1":  # the ACL names bob: for him the row is there, so the NotFound above was hiding it
        assert (await bmob_get(w.app, w.bob, table, oid))["objectId"] == oid


async def test_get_of_visible_rows_hides_hidden_fields(world: World) -> None:
    w = world
    got = await bmob_get(w.app, w.alice, "Post", w.ids["P1"])
    assert_no_leak(w, got)
    assert set(got) == {"objectId", "createdAt", "updatedAt", *WRITE_FIELDS, "author"}
    for params in ({"keys": "secret"}, {"keys": "title,secret"}):
        with pytest.raises(PermissionDenied) as e:
            await bmob_get(w.app, w.alice, "Post", w.ids["P1"], params)
        refused(e.value, PermissionDenied, "field")
    several = await nocobase_get(w.app, w.alice, "Post", {"filterByTk": [w.ids["P1"], w.ids["H1"],
                                                                                 w.ids["H2"]]})
    assert [r["objectId"] for r in several["data"]] == [w.ids["P1"]]
    with pytest.raises(PermissionDenied) as e2:
        await nocobase_get(w.app, w.alice, "Post", {"filterByTk": w.ids["P1"], "filter": {"secret": "x"}})
    refused(e2.value, PermissionDenied, "field")


# -- writes: hidden rows cannot be changed, hidden fields cannot be written ------------------------------------


async def test_a_writer_is_shown_only_what_its_role_may_get(world: World) -> None:
    """What create/update return is cut to the fields the role may get: a default (or any value) of a field the
    role cannot see stays hidden even in the answer to the write that stored it."""
    w = world
    await schema.add_field(w.app, ROOT, "Post", "internal", {"type": "String", "default": "SECRET-default"})
    made = None
    try:
        made = await records.create(w.app, w.alice, "Post", {"title": "new", "status": "published", "score": 1})
        assert_no_leak(w, made)
        assert "internal" not in made and made["title"] == "new"
        assert (await bmob_get(w.app, ROOT, "Post", made["objectId"]))["internal"] == "SECRET-default"
        changed = await records.update(w.app, w.alice, "Post", made["objectId"], {"score": {"__op": "Increment"}})
        assert_no_leak(w, changed)
        assert changed["score"] == 2
        results = await records.batch(w.app, w.alice, [records.Op("create", "Post", data={"title": "b"})])
        assert results[0].ok is not None and "internal" not in results[0].ok
        await records.delete(w.app, ROOT, "Post", results[0].ok["objectId"])
    finally:
        if made is not None:
            await records.delete(w.app, ROOT, "Post", made["objectId"])
        await schema.remove_field(w.app, ROOT, "Post", "internal")


async def test_signing_in_shows_only_what_the_role_may_get_of_the_own_row(world: World) -> None:
    """sign_up and log_in return the user's own row cut to what their role may get, like every other write."""
    w = world
    await schema.add_field(w.app, ROOT, "_User", "internalNote", {"type": "String", "default": "SECRET-note"})
    rule = {"fields": ["username", "email"]}
    try:
        for role in ("member", "anonymous"):
            await roles.set_table_permissions(w.app, ROOT, role, "_User", {"list": rule, "get": rule, "create": rule})
        client = Principal.client(w.app.name)
        name = unique("note-")
        signed = await users.sign_up(w.app, client, {"username": name, "password": PASSWORD})
        me = await resolve(w.hub.apps, w.app, session_token=signed["sessionToken"])
        assert "internalNote" not in await bmob_get(w.app, me, "_User", me.user_id)  # the rule holds here
        logged = await users.log_in(w.app, client, name, PASSWORD)
        for answer in (signed, logged):
            assert set(answer) - {"sessionToken"} <= {"objectId", "createdAt", "updatedAt", "username", "email"}
            assert_no_leak(w, answer)
    finally:
        for role in ("member", "anonymous"):
            await roles.set_table_permissions(w.app, ROOT, role, "_User", None)
        await schema.remove_field(w.app, ROOT, "_User", "internalNote")


async def test_writes_never_reach_hidden_rows_or_fields(world: World) -> None:
    w = world
    refusals: list[tuple[Any, type[HivebaseError], str | None]] = [
        (lambda: records.update(w.app, w.alice, "Post", w.ids["P1"], {"secret": "x"}), PermissionDenied, "field"),
        (lambda: records.update(w.app, w.alice, "Post", w.ids["P1"], {"title": "x", "secret": "x"}),
         PermissionDenied, "field"),
        (lambda: records.update(w.app, w.alice, "Post", w.ids["P1"], {"ACL": {"*": {"read": True}}}),
         PermissionDenied, "field"),
        (lambda: records.update(w.app, w.alice, "Post", w.ids["P1"], {"secret": {"__op": "Delete"}}),
         PermissionDenied, "field"),
        (lambda: records.create(w.app, w.alice, "Post", {"title": "t", "secret": "x"}), PermissionDenied, "field"),
        (lambda: records.update(w.app, w.alice, "Post", w.ids["H1"], {"status": "published"}), NotFound, None),
        (lambda: records.update(w.app, w.alice, "Post", w.ids["H2"], {"title": "mine now"}), NotFound, None),
        (lambda: records.update(w.app, w.alice, "Comment", w.ids["C4"], {"text": "x"}), NotFound, None),
        (lambda: records.delete(w.app, w.alice, "Post", w.ids["H1"]), NotFound, None),
        (lambda: records.delete(w.app, w.alice, "Post", w.ids["H2"]), NotFound, None),
        (lambda: records.delete(w.app, w.alice, "Comment", w.ids["C4"]), NotFound, None),
    ]
    for call, kind, reason in refusals:
        async with unchanged(w.app):
            with pytest.raises(kind) as e:
                await call()
        refused(e.value, kind, reason)
        assert "SECRET" not in str(e.value)


@pytest.mark.parametrize("method", ["update", "delete"])
async def test_a_batch_touching_a_hidden_row_changes_nothing(world: World, method: str) -> None:
    w = world
    for hidden in ("H1", "H2"):
        ops = [records.Op(method, "Post", w.ids["P2"], {"title": "batched"} if method == "update" else None),
               records.Op(method, "Post", w.ids[hidden], {"title": "batched"} if method == "update" else None)]
        async with unchanged(w.app):
            with pytest.raises(NotFound) as e:
                await records.batch(w.app, w.alice, ops)
        assert e.value.details["index"] == 1
    if method == "update":  # not atomic: the visible row changes, the hidden one answers NotFound in its slot
        before = await snapshot(w.app)
        try:
            results = await records.batch(w.app, w.alice, [
                records.Op("update", "Post", w.ids["P2"], {"title": "batched"}),
                records.Op("update", "Post", w.ids["H1"], {"title": "batched"})], atomic=False)
            assert results[0].error is None and isinstance(results[1].error, NotFound)
            after = await snapshot(w.app)
            changed = [r for r in after["Post"] if r not in before["Post"]]
            assert [(r["objectId"], r["title"]) for r in changed] == [(w.ids["P2"], "batched")]
        finally:
            await records.update(w.app, ROOT, "Post", w.ids["P2"], {"title": "pub-b"})


async def test_a_policy_change_applies_to_the_next_call(world: World) -> None:
    """Cached statements (a client's get-by-id is compiled once) never outlive a change of the rules."""
    w = world
    anon = await w.principal("anon")
    assert (await bmob_get(w.app, anon, "Post", w.ids["H1"]))["secret"] == "SECRET-H1"
    await roles.set_table_permissions(w.app, ROOT, "anonymous", "Post", {
        "list": {"fields": ["title"], "scope": PUBLISHED}, "get": {"fields": ["title"], "scope": PUBLISHED}})
    try:
        with pytest.raises(NotFound):
            await bmob_get(w.app, anon, "Post", w.ids["H1"])
        got = await bmob_get(w.app, anon, "Post", w.ids["P1"])
        assert got == {"objectId": w.ids["P1"], "title": "pub-a"}
    finally:
        await roles.set_table_permissions(w.app, ROOT, "anonymous", "Post", None)
    assert (await bmob_get(w.app, anon, "Post", w.ids["H1"]))["secret"] == "SECRET-H1"


async def test_error_messages_carry_no_hidden_values(world: World) -> None:
    """Refusals name the field or the row asked for, never a value behind them."""
    w = world
    attempts = [
        lambda: bmob_query(w.app, w.alice, "Post", {"where": '{"secret":{"$regex":"^SECRET-H"}}'}),
        lambda: nocobase_list(w.app, w.alice, "Comment", {"filter": {"post.secret": {"$includes": "S"}}}),
        lambda: bmob_get(w.app, w.alice, "Post", w.ids["H1"]),
        lambda: records.update(w.app, w.alice, "Post", w.ids["H2"], {"title": "x"}),
    ]
    for call in attempts:
        with pytest.raises(HivebaseError) as e:
            await call()
        text = str(e.value) + repr(e.value.to_dict())
        assert "SECRET-H" not in text and "draft-title" not in text and "bobs-title" not in text
