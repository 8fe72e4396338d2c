"""The NocoBase resource actions (``hivebase.dialects.nocobase.resources``) on real rows, both databases.

Every write is checked by reading storage back (``snapshot`` for "nothing changed"), and the bulk paths by
the statements the database actually received: a plain update by filter is ONE ``UPDATE``, a destroy ONE
``DELETE`` of the table's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from hivebase.auth.resolve import resolve
from hivebase.core import roles, schema
from hivebase.core.apps import App
from hivebase.core.clock import now
from hivebase.core.identity import users
from hivebase.core.principal import Principal
from hivebase.core.secrets import random_id
from hivebase.dialects.nocobase import resources
from hivebase.errors import (
    HivebaseError,
    InvalidQuery,
    InvalidValue,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    TypeMismatch,
    UniqueViolation,
    UnknownField,
)
from hivebase.hub import Hub
from tests.core.access_fixtures import PASSWORD, snapshot, unchanged

pytestmark = pytest.mark.anyio
ROOT = Principal.root()
HOSTILE = '"; DROP TABLE "Post"; --'
LONG = "x" * 10_000


def ptr(table: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": table, "objectId": oid}


@pytest.fixture
async def blog(app: App) -> dict[str, str]:
    """Tags t1-t3; posts p1-p3 (p1: tags t1+t2, cover t3, labels ["a"]); comments c1, c2 on p1 and c3 on p2."""
    await schema.create_table(app, ROOT, "Tag", {"name": {"type": "String", "unique": True}})
    await schema.create_table(app, ROOT, "Post", {
        "title": "String", "slug": {"type": "String", "unique": True}, "score": "Number", "status": "String",
        "labels": "Array", "meta": "Object", "tags": {"type": "Relation", "targetClass": "Tag"},
        "cover": {"type": "Pointer", "targetClass": "Tag"}})
    await schema.create_table(app, ROOT, "Comment", {"text": "String",
                                                     "post": {"type": "Pointer", "targetClass": "Post"}})
    await schema.create_table(app, ROOT, "Note", {"text": "String", "a": {"type": "Pointer", "targetClass": "Post"},
                                                  "b": {"type": "Pointer", "targetClass": "Post"}})
    ids: dict[str, str] = {}
    for name in ("t1", "t2", "t3"):
        ids[name] = (await create(app, ROOT, "Tag", {"name": name}))["objectId"]
    for i in (1, 2, 3):
        ids[f"p{i}"] = (await create(app, ROOT, "Post", {"title": f"p{i}", "slug": f"s{i}", "score": i}))["objectId"]
    await resources.resource_update(app, ROOT, {"resource": "Post", "filterByTk": ids["p1"], "values": {
        "labels": ["a"], "cover": ptr("Tag", ids["t3"]),
        "tags": {"__op": "AddRelation", "objects": [ptr("Tag", ids["t1"]), ptr("Tag", ids["t2"])]}}})
    for name, post in (("c1", "p1"), ("c2", "p1"), ("c3", "p2")):
        ids[name] = (await create(app, ROOT, "Comment", {"text": name, "post": ptr("Post", ids[post])}))["objectId"]
    return ids


async def create(app: App, who: Principal, resource: str, values: dict[str, Any], **args: Any) -> dict[str, Any]:
    out = await resources.resource_create(app, who, {"resource": resource, "values": values, **args})
    return out["data"]  # type: ignore[no-any-return]


async def stored(app: App, table: str) -> dict[str, dict[str, Any]]:
    """Rows straight from storage, by objectId."""
    t = app.catalog.get(table).table
    async with app.db.read() as conn:
        return {r["objectId"]: dict(r) for r in (await conn.execute(sa.select(t))).mappings()}


async def members(app: App, table: str, field: str) -> set[tuple[str, str]]:
    jt = app.catalog.get(table).join_tables[field]
    async with app.db.read() as conn:
        return {(r.owningId, r.relatedId) for r in (await conn.execute(sa.select(jt))).all()}


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    """The SQL statements the app's engine sends while the block runs."""
    seen: list[str] = []

    def hook(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = app.db.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", hook)


def on_table(seen: list[str], verb: str, table: str) -> list[str]:
    """Statements ``verb``-ing ``table`` itself (not its join tables)."""
    return [s for s in seen if s.upper().startswith(verb) and f'"{table}"' in s.split(" WHERE ")[0]
            and "_hb_rel" not in s.split(" WHERE ")[0]]


async def refused(kind: type[HivebaseError], app: App, call: Any, *args: Any, **kwargs: Any) -> HivebaseError:
    """``call`` fails with exactly ``kind``, changes nothing, and says so briefly (no echo of huge input)."""
    async with unchanged(app):
        with pytest.raises(HivebaseError) as info:
            await call(*args, **kwargs)
    exc = info.value
    assert type(exc) is kind, f"expected {kind.__name__}, got {type(exc).__name__}: {exc}"
    assert len(exc.message) < 600 and "SELECT " not in exc.message
    return exc


# -- create --------------------------------------------------------------------------------------------------


async def test_create_returns_the_row_as_get_shows_it(blog: dict[str, str], app: App) -> None:
    row = await create(app, ROOT, "Post", {"title": "new", "score": 5, "cover": ptr("Tag", blog["t1"])})
    assert row["title"] == "new" and row["score"] == 5 and row["cover"] == blog["t1"]
    assert {"objectId", "createdAt", "updatedAt"} <= set(row) and row["slug"] is None
    got = await resources.resource_get(app, ROOT, {"resource": "Post", "filterByTk": row["objectId"]})
    assert got == {"data": row}
    assert (await stored(app, "Post"))[row["objectId"]]["title"] == "new"


@pytest.mark.parametrize("tool", ["create", "update"])
async def test_whitelist_and_blacklist_refuse_never_drop(blog: dict[str, str], app: App, tool: str) -> None:
    fn = resources.resource_create if tool == "create" else resources.resource_update
    target = {} if tool == "create" else {"filterByTk": blog["p1"]}

    async def write(**args: Any) -> Any:
        return await fn(app, ROOT, {"resource": "Post", **target, **args})

    exc = await refused(InvalidValue, app, write, values={"title": "x", "score": 9}, whitelist=["title"])
    assert exc.field == "score" and exc.reason == "whitelist" and "whitelist" in exc.message
    exc = await refused(InvalidValue, app, write, values={"title": "x", "score": 9}, blacklist=["score"])
    assert exc.field == "score" and exc.reason == "blacklist"
    exc = await refused(UnknownField, app, write, values={"title": "x"}, whitelist=["titel"])
    assert "did you mean `title`" in exc.message
    await refused(UnknownField, app, write, values={"title": "x"}, blacklist=[HOSTILE])
    await refused(UnknownField, app, write, values={"title": "x"}, whitelist=[LONG])
    await refused(TypeMismatch, app, write, values={"title": "x"}, whitelist="title")
    await refused(InvalidQuery, app, write, values={"title": "x"}, whitelist=[5])
    out = await write(values={"title": "ok", "score": 7}, whitelist=["title", "score"], blacklist=["slug"])
    data = out["data"]
    assert data["title"] == "ok" and data["score"] == 7
    assert (await stored(app, "Post"))[data["objectId"]]["score"] == 7


# -- update --------------------------------------------------------------------------------------------------


async def test_update_by_filter_is_one_statement(blog: dict[str, str], app: App) -> None:
    with statements(app) as seen:
        out = await resources.resource_update(app, ROOT, {"resource": "Post", "filter": {"score": {"$gte": 2}},
                                                          "values": {"status": "hot", "score": {"__op": "Increment",
                                                                                                "amount": 10}}})
    assert len(on_table(seen, "UPDATE", "Post")) == 1, seen
    assert out["meta"] == {"count": 2}
    assert sorted((r["title"], r["score"], r["status"]) for r in out["data"]) == [("p2", 12, "hot"), ("p3", 13, "hot")]
    rows = await stored(app, "Post")
    assert (rows[blog["p2"]]["score"], rows[blog["p3"]]["score"], rows[blog["p1"]]["score"]) == (12, 13, 1)
    assert rows[blog["p1"]]["status"] is None and rows[blog["p2"]]["updatedAt"] > rows[blog["p1"]]["updatedAt"]


async def test_update_needing_the_row_goes_row_by_row(blog: dict[str, str], app: App) -> None:
    out = await resources.resource_update(app, ROOT, {"resource": "Post", "filter": {"title": {"$in": ["p1", "p3"]}},
                                                      "values": {"labels": {"__op": "Add", "objects": ["z"]},
                                                                 "meta.views": 5}})
    assert out["meta"] == {"count": 2}
    rows = await stored(app, "Post")
    assert rows[blog["p1"]]["labels"] == ["a", "z"] and rows[blog["p3"]]["labels"] == ["z"]
    assert rows[blog["p1"]]["meta"] == {"views": 5} and rows[blog["p2"]]["labels"] is None
    assert {r["objectId"]: r["labels"] for r in out["data"]} == {blog["p1"]: ["a", "z"], blog["p3"]: ["z"]}


async def test_update_by_key_answers_one_row_or_not_found(blog: dict[str, str], app: App) -> None:
    out = await resources.resource_update(app, ROOT, {"resource": "Post", "filterByTk": blog["p2"],
                                                      "values": {"title": "two"}, "forceUpdate": True,
                                                      "updateAssociationValues": ["tags", "cover"]})
    assert out["data"]["title"] == "two" and out["data"]["objectId"] == blog["p2"]
    out = await resources.resource_update(app, ROOT, {"resource": "Post", "filterByTk": [blog["p1"], blog["p3"]],
                                                      "values": {"status": "x"}})
    assert out["meta"] == {"count": 2} and len(out["data"]) == 2
    exc = await refused(NotFound, app, resources.resource_update, app, ROOT,
                        {"resource": "Post", "filterByTk": "missing", "values": {"title": "z"}})
    assert exc.message == "no Post row with objectId 'missing'"
    out = await resources.resource_update(app, ROOT, {"resource": "Post", "filter": {"title": "none"},
                                                      "values": {"title": "z"}})
    assert out == {"data": [], "meta": {"count": 0}}


@pytest.mark.parametrize("path", ["one statement", "row by row"])
async def test_a_unique_violation_on_the_second_row_changes_nothing(blog: dict[str, str], app: App,
                                                                    path: str) -> None:
    values: dict[str, Any] = {"slug": "same"}
    if path == "row by row":
        values["labels"] = {"__op": "Add", "objects": ["x"]}
    before = await snapshot(app)
    with pytest.raises(UniqueViolation) as info:
        await resources.resource_update(app, ROOT, {"resource": "Post", "filter": {"slug": {"$in": ["s1", "s2", "s3"]}},
                                                    "values": values})
    assert info.value.field == "slug"
    assert await snapshot(app) == before


async def bulk(app: App, n: int) -> None:
    """``n`` Post rows written straight to storage (a fixture, not a caller)."""
    stamp = now()
    rows = [{"objectId": random_id(), "createdAt": stamp, "updatedAt": stamp, "title": f"bulk{i}"} for i in range(n)]
    async with app.db.write() as conn:
        await conn.execute(app.catalog.get("Post").table.insert(), rows)


async def test_row_by_row_writes_are_capped_and_plain_ones_are_not(blog: dict[str, str], app: App) -> None:
    await bulk(app, 1001)
    many = {"resource": "Post", "filter": {"title": {"$startsWith": "bulk"}}}
    exc = await refused(LimitExceeded, app, resources.resource_update, app, ROOT,
                        {**many, "values": {"labels": {"__op": "Add", "objects": [1]}}})
    assert "1000" in exc.message
    out = await resources.resource_update(app, ROOT, {**many, "values": {"status": "bulk"}})
    assert out["meta"] == {"count": 1001} and len(out["data"]) == 1000
    assert sum(r["status"] == "bulk" for r in (await stored(app, "Post")).values()) == 1001
    await refused(InvalidQuery, app, resources.resource_update, app, ROOT,
                  {"resource": "Post", "filterByTk": [random_id() for _ in range(1001)], "values": {"title": "x"}})
    with statements(app) as seen:
        out = await resources.resource_destroy(app, ROOT, many)
    assert out == {"data": {"count": 1001}} and len(on_table(seen, "DELETE", "Post")) == 1
    assert len(await stored(app, "Post")) == 3


# -- destroy -------------------------------------------------------------------------------------------------


async def test_destroy_cleans_relations_like_records_delete(blog: dict[str, str], app: App) -> None:
    assert await resources.resource_destroy(app, ROOT, {"resource": "Tag", "filterByTk": blog["t1"]}) == {
        "data": {"count": 1}}
    assert await members(app, "Post", "tags") == {(blog["p1"], blog["t2"])}  # gone from the referrer's Relation
    with statements(app) as seen:
        out = await resources.resource_destroy(app, ROOT, {"resource": "Post",
                                                           "filter": {"slug": {"$in": ["s1", "s2"]}}})
    assert out == {"data": {"count": 2}} and len(on_table(seen, "DELETE", "Post")) == 1
    assert set(await stored(app, "Post")) == {blog["p3"]} and await members(app, "Post", "tags") == set()
    assert len(await stored(app, "Comment")) == 3  # Pointers to deleted rows dangle, as with records.delete
    await refused(NotFound, app, resources.resource_destroy, app, ROOT, {"resource": "Post", "filterByTk": blog["p1"]})
    assert await resources.resource_destroy(app, ROOT, {"resource": "Post", "filter": {"slug": "none"}}) == {
        "data": {"count": 0}}
    exc = await refused(InvalidQuery, app, resources.resource_destroy, app, ROOT, {"resource": "Post"})
    assert "filterByTk" in exc.message
    await refused(InvalidQuery, app, resources.resource_destroy, app, ROOT, {"resource": "Post", "filter": {}})


async def test_users_alias_and_user_rows_use_the_user_hooks(blog: dict[str, str], app: App) -> None:
    row = await create(app, ROOT, "users", {"username": "carol", "password": PASSWORD})
    assert row["username"] == "carol" and "password" not in row
    listed = await resources.resource_list(app, ROOT, {"resource": "users", "filter": {"username": "carol"}})
    assert [r["objectId"] for r in listed["data"]] == [row["objectId"]]
    out = await resources.resource_update(app, ROOT, {"resource": "users", "filterByTk": row["objectId"],
                                                      "values": {"email": "c@example.com"}})
    assert out["data"]["email"] == "c@example.com"
    assert await resources.resource_destroy(app, ROOT, {"resource": "users", "filter": {"username": "carol"}}) == {
        "data": {"count": 1}}
    held = app.catalog.system("_hb_user_roles")
    async with app.db.read() as conn:
        assert (await conn.execute(sa.select(held).where(held.c.user_id == row["objectId"]))).first() is None


# -- roles and scopes ----------------------------------------------------------------------------------------


async def person(hub: Hub, app: App, name: str) -> tuple[str, Principal]:
    row = await users.sign_up(app, Principal.client(app.name), {"username": name, "password": PASSWORD})
    return row["objectId"], await resolve(hub.apps, app, session_token=row["sessionToken"])


async def test_a_member_writes_only_rows_in_its_scope(blog: dict[str, str], app: App, hub: Hub) -> None:
    await roles.set_table_permissions(app, ROOT, "member", "Post", {
        "list": True, "get": {"scope": {"status": {"$ne": "hidden"}}}, "create": True,
        "update": {"own": True}, "destroy": {"own": True}})
    _, alice = await person(hub, app, "alice")
    _, bob = await person(hub, app, "bob")
    mine = [(await create(app, alice, "Post", {"title": f"a{i}", "score": 50}))["objectId"] for i in (1, 2)]
    theirs = (await create(app, bob, "Post", {"title": "b1", "score": 50}))["objectId"]
    out = await resources.resource_update(app, alice, {"resource": "Post", "filter": {"score": {"$gte": 0}},
                                                       "values": {"status": "seen"}})
    assert out["meta"] == {"count": 2} and sorted(r["objectId"] for r in out["data"]) == sorted(mine)
    rows = await stored(app, "Post")
    assert [oid for oid, r in rows.items() if r["status"] == "seen"] == sorted(mine, key=list(rows).index)
    for call, extra in ((resources.resource_update, {"values": {"title": "x"}}), (resources.resource_destroy, {})):
        exc = await refused(NotFound, app, call, app, alice, {"resource": "Post", "filterByTk": theirs, **extra})
        assert exc.message == f"no Post row with objectId {theirs!r}"
    # a row alice may update but not get is written and shown only as far as her role may see it
    out = await resources.resource_update(app, alice, {"resource": "Post", "filterByTk": mine[0],
                                                       "values": {"status": "hidden"}})
    assert set(out["data"]) <= {"objectId", "createdAt", "updatedAt"}
    await refused(NotFound, app, resources.resource_get, app, alice, {"resource": "Post", "filterByTk": mine[0]})
    assert (await resources.resource_destroy(app, alice, {"resource": "Post", "filter": {"title": {"$in": [
        "a1", "a2", "b1"]}}}))["data"] == {"count": 2}
    assert theirs in await stored(app, "Post")
    # fields: a write answers with what the role may get; a target filter may name only those fields
    await roles.set_table_permissions(app, ROOT, "member", "Post", {
        "list": True, "get": {"fields": ["title", "score"]}, "create": True, "update": {"own": True}})
    made = await create(app, alice, "Post", {"title": "cut", "slug": "cut", "score": 1})
    assert set(made) == {"objectId", "title", "score"}
    exc = await refused(PermissionDenied, app, resources.resource_update, app, alice,
                        {"resource": "Post", "filter": {"slug": "cut"}, "values": {"score": 2}})
    assert exc.field == "slug"
    out = await resources.resource_update(app, alice, {"resource": "Post", "filter": {"title": "cut"},
                                                       "values": {"slug": "cut2", "score": 3}})
    assert out == {"data": [{"objectId": made["objectId"], "title": "cut", "score": 3}], "meta": {"count": 1}}
    assert (await stored(app, "Post"))[made["objectId"]]["slug"] == "cut2"


async def test_a_hidden_source_row_is_not_found_like_a_missing_one(blog: dict[str, str], app: App, hub: Hub) -> None:
    await roles.set_table_permissions(app, ROOT, "member", "Post", {
        "list": True, "get": {"scope": {"status": {"$ne": "hidden"}}}, "update": True})
    await resources.resource_update(app, ROOT, {"resource": "Post", "filterByTk": blog["p1"],
                                                "values": {"status": "hidden"}})
    _, alice = await person(hub, app, "alice")
    missing = random_id()
    for resource, values in (("Post.tags", {"name": "x"}), ("Post.cover", {"name": "x"}),
                             ("Post.Comment", {"text": "x"})):
        for call, extra in ((resources.resource_list, {}), (resources.resource_get, {}),
                            (resources.resource_create, {"values": values}),
                            (resources.resource_update, {"values": values, "filter": {"objectId": {"$ne": ""}}}),
                            (resources.resource_destroy, {"filter": {"objectId": {"$ne": ""}}})):
            hidden = await refused(NotFound, app, call, app, alice, {"resource": resource, "sourceId": blog["p1"],
                                                                      **extra})
            gone = await refused(NotFound, app, call, app, alice, {"resource": resource, "sourceId": missing, **extra})
            assert hidden.message.replace(blog["p1"], "ID") == gone.message.replace(missing, "ID")
    listed = await resources.resource_list(app, alice, {"resource": "Post.Comment", "sourceId": blog["p2"]})
    assert [r["text"] for r in listed["data"]] == ["c3"]


# -- associations --------------------------------------------------------------------------------------------


async def test_relation_association(blog: dict[str, str], app: App) -> None:
    base = {"resource": "Post.tags", "sourceId": blog["p1"]}
    listed = await resources.resource_list(app, ROOT, {**base, "sort": ["name"]})
    assert [r["name"] for r in listed["data"]] == ["t1", "t2"] and listed["meta"]["count"] == 2
    assert (await resources.resource_get(app, ROOT, {**base, "filterByTk": blog["t2"]}))["data"]["name"] == "t2"
    await refused(NotFound, app, resources.resource_get, app, ROOT, {**base, "filterByTk": blog["t3"]})
    made = (await resources.resource_create(app, ROOT, {**base, "values": {"name": "t4"}}))["data"]
    assert made["name"] == "t4" and (blog["p1"], made["objectId"]) in await members(app, "Post", "tags")
    await refused(InvalidQuery, app, resources.resource_update, app, ROOT, {**base, "values": {"name": "x"}})
    await refused(NotFound, app, resources.resource_update, app, ROOT, {**base, "filterByTk": blog["t3"],
                                                                        "values": {"name": "x"}})
    out = await resources.resource_update(app, ROOT, {**base, "filter": {"name": {"$in": ["t1", "t3"]}},
                                                      "values": {"name": "t1x"}})
    assert out["meta"] == {"count": 1} and (await stored(app, "Tag"))[blog["t3"]]["name"] == "t3"
    assert (await resources.resource_destroy(app, ROOT, {**base, "filterByTk": blog["t2"]}))["data"] == {"count": 1}
    assert blog["t2"] not in await stored(app, "Tag")
    assert await members(app, "Post", "tags") == {(blog["p1"], blog["t1"]), (blog["p1"], made["objectId"])}
    assert (await resources.resource_list(app, ROOT, {"resource": "Post.tags", "sourceId": blog["p2"]}))["data"] == []


async def test_pointer_association(blog: dict[str, str], app: App) -> None:
    p1, p2 = {"resource": "Post.cover", "sourceId": blog["p1"]}, {"resource": "Post.cover", "sourceId": blog["p2"]}
    assert [r["name"] for r in (await resources.resource_list(app, ROOT, p1))["data"]] == ["t3"]
    assert (await resources.resource_list(app, ROOT, p2))["data"] == []
    assert (await resources.resource_get(app, ROOT, p1))["data"]["objectId"] == blog["t3"]
    await refused(NotFound, app, resources.resource_get, app, ROOT, p2)
    made = (await resources.resource_create(app, ROOT, {**p2, "values": {"name": "c2"}}))["data"]
    assert (await stored(app, "Post"))[blog["p2"]]["cover"] == made["objectId"]
    out = await resources.resource_update(app, ROOT, {**p1, "values": {"name": "cover"}})
    assert out["data"]["objectId"] == blog["t3"] and (await stored(app, "Tag"))[blog["t3"]]["name"] == "cover"
    assert (await resources.resource_destroy(app, ROOT, p1))["data"] == {"count": 1}
    assert blog["t3"] not in await stored(app, "Tag") and blog["t1"] in await stored(app, "Tag")


async def test_has_many_association(blog: dict[str, str], app: App) -> None:
    base = {"resource": "Post.Comment", "sourceId": blog["p1"]}
    assert [r["text"] for r in (await resources.resource_list(app, ROOT, base))["data"]] == ["c1", "c2"]
    made = (await resources.resource_create(app, ROOT, {**base, "values": {"text": "c4"}}))["data"]
    assert made["post"] == blog["p1"]
    exc = await refused(InvalidValue, app, resources.resource_create, app, ROOT,
                        {**base, "values": {"text": "x", "post": ptr("Post", blog["p2"])}})
    assert exc.field == "post"
    out = await resources.resource_update(app, ROOT, {**base, "filter": {"text": "c3"}, "values": {"text": "no"}})
    assert out["meta"] == {"count": 0}
    out = await resources.resource_update(app, ROOT, {**base, "filterByTk": blog["c2"], "values": {"text": "c2x"}})
    assert out["data"]["text"] == "c2x"
    out = await resources.resource_destroy(app, ROOT, {**base, "filter": {"text": {"$startsWith": "c"}}})
    assert out["data"] == {"count": 3}
    assert [r["text"] for r in (await stored(app, "Comment")).values()] == ["c3"]


async def test_association_names_that_do_not_resolve(blog: dict[str, str], app: App) -> None:
    def listing(resource: str, **extra: Any) -> dict[str, Any]:
        return {"resource": resource, "sourceId": blog["p1"], **extra}

    exc = await refused(InvalidQuery, app, resources.resource_list, app, ROOT, listing("Post.Note"))
    assert "several Pointers (`a`, `b`)" in exc.message and '"<pointer field>"' in exc.message
    exc = await refused(InvalidQuery, app, resources.resource_list, app, ROOT, listing("Post.title"))
    assert "String field, not an association" in exc.message and "`Post.tags` (Relation)" in exc.message
    exc = await refused(InvalidQuery, app, resources.resource_list, app, ROOT, listing("Post.Nothing"))
    assert "`Post.Comment` (has-many)" in exc.message
    exc = await refused(InvalidQuery, app, resources.resource_list, app, ROOT, listing("Tag.Comment"))
    assert "Comment has no Pointer to Tag" in exc.message
    listed = await resources.resource_list(app, ROOT, {"resource": "Tag.Post", "sourceId": blog["t3"]})
    assert [r["title"] for r in listed["data"]] == ["p1"]  # has-many through Post.cover
    exc = await refused(InvalidQuery, app, resources.resource_list, app, ROOT, {"resource": "Post.tags"})
    assert "`sourceId` is required" in exc.message
    await refused(InvalidQuery, app, resources.resource_list, app, ROOT, {"resource": "Post", "sourceId": blog["p1"]})
    await refused(NotFound, app, resources.resource_list, app, ROOT, listing("Nope.tags"))


async def test_users_roles(blog: dict[str, str], app: App, hub: Hub) -> None:
    alice_id, alice = await person(hub, app, "alice")
    _, bob = await person(hub, app, "bob")
    await roles.grant(app, ROOT, alice_id, "admin")
    mine = {"resource": "users.roles", "sourceId": alice_id}
    expected = [{"name": "admin", "title": app.catalog.policy.roles["admin"].title,
                 "description": app.catalog.policy.roles["admin"].description, "default": False},
                {"name": "member", "title": app.catalog.policy.roles["member"].title,
                 "description": app.catalog.policy.roles["member"].description, "default": True}]
    assert (await resources.resource_list(app, alice, mine))["data"] == expected
    assert (await resources.resource_list(app, ROOT, mine))["data"] == expected
    assert (await resources.resource_get(app, alice, {**mine, "filterByTk": "member"}))["data"] == expected[1]
    await refused(NotFound, app, resources.resource_get, app, alice, {**mine, "filterByTk": "root"})
    await refused(PermissionDenied, app, resources.resource_list, app, bob, mine)
    await refused(NotFound, app, resources.resource_list, app, ROOT, {**mine, "sourceId": random_id()})
    await refused(InvalidQuery, app, resources.resource_list, app, alice, {**mine, "filter": {"name": "admin"}})
    for call, extra in ((resources.resource_create, {"values": {"name": "root"}}),
                        (resources.resource_update, {"values": {"name": "root"}, "filterByTk": "member"}),
                        (resources.resource_destroy, {"filterByTk": "member"})):
        exc = await refused(InvalidQuery, app, call, app, ROOT, {**mine, **extra})
        assert "hivebase role grant" in exc.message


# -- data sources, names, query ------------------------------------------------------------------------------


async def test_data_sources(blog: dict[str, str], app: App) -> None:
    out = await resources.resource_list(app, ROOT, {"resource": "Tag", "dataSource": "main", "paginate": False})
    assert len(out["data"]) == 3
    exc = await refused(InvalidValue, app, resources.resource_list, app, ROOT, {"resource": "Tag", "dataSource": "crm"})
    assert exc.message == "data source `crm` is not attached; only `main` exists" and exc.reason == "data_source"
    for bad in (LONG, 5, {"name": "main"}, HOSTILE):
        await refused(InvalidValue, app, resources.resource_create, app, ROOT,
                      {"resource": "Tag", "dataSource": bad, "values": {"name": "x"}})


async def test_resource_query(blog: dict[str, str], app: App) -> None:
    out = await resources.resource_query(app, ROOT, {"resource": "Comment", "measures": [
        {"field": "objectId", "aggregation": "count", "alias": "n"}], "dimensions": [{"field": "post"}],
        "orders": [{"field": "n", "order": "desc"}]})
    assert out["data"] == [{"post": blog["p1"], "n": 2}, {"post": blog["p2"], "n": 1}]
    exc = await refused(InvalidQuery, app, resources.resource_query, app, ROOT, {
        "resource": "Post.tags", "measures": [{"field": "objectId", "aggregation": "count"}]})
    assert "not the association" in exc.message
    await refused(InvalidQuery, app, resources.resource_query, app, ROOT, {"resource": "Post", "sourceId": "x",
                                                                           "measures": []})


# -- hostile input -------------------------------------------------------------------------------------------

L, G, C, U, D, Q = ("resource_list", "resource_get", "resource_create", "resource_update", "resource_destroy",
                    "resource_query")
HOSTILE_CASES: list[tuple[str, Any, type[HivebaseError]]] = [
    (L, [], TypeMismatch), (L, "Post", TypeMismatch), (L, {}, InvalidQuery), (L, {"resource": 5}, InvalidQuery),
    (L, {"resource": ["Post"]}, InvalidQuery), (L, {"resource": "a.b.c"}, InvalidQuery),
    (L, {"resource": LONG}, NotFound), (L, {"resource": HOSTILE}, NotFound), (L, {"resource": f"Post.{LONG}"},
                                                                              InvalidQuery),
    (L, {"resource": "Post", "filter": {HOSTILE: 1}}, UnknownField),
    (L, {"resource": "Post", "filter": 5}, InvalidQuery),
    (L, {"resource": "Post", "filter": {LONG: 1}}, UnknownField), (L, {"resource": "Post", "sort": 5}, InvalidQuery),
    (L, {"resource": "Post", "sort": [HOSTILE]}, UnknownField), (L, {"resource": "Post", "page": "x"}, InvalidQuery),
    (L, {"resource": "Post", "pageSize": 10**9}, InvalidQuery), (L, {"resource": "Post", "paginate": "maybe"},
                                                                 InvalidQuery),
    (L, {"resource": "Post", "fields": 5}, InvalidQuery), (L, {"resource": "Post", "appends": [HOSTILE]}, UnknownField),
    (L, {"resource": "Post", HOSTILE: 1}, InvalidQuery), (L, {"resource": "Post", LONG: 1}, InvalidQuery),
    (G, {"resource": "Post"}, InvalidQuery), (G, {"resource": "Post", "filterByTk": {}}, TypeMismatch),
    (G, {"resource": "Post", "filterByTk": True}, TypeMismatch), (G, {"resource": "Post", "filterByTk": LONG},
                                                                  InvalidValue),
    (G, {"resource": "Post", "filterByTk": 1.5}, InvalidValue), (G, {"resource": "Post", "filterByTk": "a",
                                                                  "except": [HOSTILE]}, UnknownField),
    (C, {"resource": "Post"}, TypeMismatch), (C, {"resource": "Post", "values": "title=x"}, TypeMismatch),
    (C, {"resource": "Post", "values": [{"title": "x"}]}, TypeMismatch),
    (C, {"resource": "Post", "values": {LONG: 1}}, UnknownField), (C, {"resource": "Post", "values": {HOSTILE: 1}},
                                                                   UnknownField),
    (C, {"resource": "Post", "values": {"score": "high"}}, TypeMismatch),
    (C, {"resource": "Post", "values": {"objectId": "mine"}}, HivebaseError),
    (C, {"resource": "Post", "values": {"cover": "t1"}}, TypeMismatch),
    (C, {"resource": "Post", "values": {}, "sourceId": "x"}, InvalidQuery),
    (C, {"resource": "Post", "values": {}, "filterByTk": "x"}, InvalidQuery),
    (U, {"resource": "Post", "values": {}, "filter": {"score": 1}}, InvalidValue),
    (U, {"resource": "Post", "values": {"title": "x"}}, InvalidQuery),
    (U, {"resource": "Post", "values": {"title": "x"}, "filterByTK": "x"}, InvalidQuery),
    (U, {"resource": "Post", "values": {"title": "x"}, "filter": "not json"}, InvalidQuery),
    (U, {"resource": "Post", "values": {"title": "x"}, "filter": []}, InvalidQuery),
    (U, {"resource": "Post", "values": {"title": "x"}, "filter": {"$where": "1=1"}}, InvalidQuery),
    (U, {"resource": "Post", "values": {"title": "x"}, "filterByTk": [{"a": 1}]}, TypeMismatch),
    (U, {"resource": "Post", "values": {"title": "x"}, "filter": {"score": 1}, "forceUpdate": "yes"}, TypeMismatch),
    (U, {"resource": "Post", "values": {"title": "x"}, "filter": {"score": 1}, "updateAssociationValues": ["title"]},
     InvalidValue),
    (U, {"resource": "Post", "values": {"title": "x"}, "filter": {"score": 1}, "updateAssociationValues": "tags"},
     TypeMismatch),
    (U, {"resource": "Post", "values": {"title": "x"}, "filter": {"score": 1}, "updateAssociationValues": [HOSTILE]},
     UnknownField),
    (U, {"resource": "Post", "values": {"score": {"__op": "Drop"}}, "filter": {"score": 1}}, InvalidValue),
    (U, {"resource": "Post", "values": {"objectId": "x"}, "filter": {"score": 1}}, HivebaseError),
    (D, {"resource": "Post", "filterByTk": ""}, InvalidQuery), (D, {"resource": "Post", "filter": None}, InvalidQuery),
    (D, {"resource": "Post", "filter": {"objectId": {"$in": 5}}}, TypeMismatch),
    (D, {"resource": "Post.tags", "sourceId": {}, "filter": {"name": "t1"}}, TypeMismatch),
    (D, {"resource": "Post.tags", "sourceId": True, "filter": {"name": "t1"}}, TypeMismatch),
    (D, {"resource": "Post.tags", "sourceId": LONG, "filter": {"name": "t1"}}, InvalidValue),
    (D, {"resource": "Post.tags", "sourceId": 1.5, "filter": {"name": "t1"}}, InvalidValue),
    (D, {"resource": "Post.tags", "sourceId": HOSTILE, "filter": {"name": "t1"}}, NotFound),
    (Q, {"resource": "Post", "measures": "count"}, InvalidQuery), (Q, {"resource": "Post"}, InvalidQuery),
    (Q, {"resource": "Post", "measures": [{"field": HOSTILE, "aggregation": "count"}]}, HivebaseError),
]


@pytest.mark.parametrize(("tool", "args", "kind"), HOSTILE_CASES, ids=[f"{t}-{i}" for i, (t, _, _) in
                                                                       enumerate(HOSTILE_CASES)])
async def test_hostile_arguments_change_nothing(blog: dict[str, str], app: App, tool: str, args: Any,
                                                kind: type[HivebaseError]) -> None:
    async with unchanged(app):
        with pytest.raises(HivebaseError) as info:
            await getattr(resources, tool)(app, ROOT, args)
    exc = info.value
    assert isinstance(exc, kind), f"{type(exc).__name__}: {exc}"
    assert len(exc.message) < 600 and "SELECT " not in exc.message


async def test_other_apps_ids_and_credentials(blog: dict[str, str], app: App, hub: Hub) -> None:
    await hub.apps.create("other")
    other = await hub.apps.open("other")
    await schema.create_table(other, ROOT, "Post", {"title": "String"})
    foreign = (await create(other, ROOT, "Post", {"title": "theirs"}))["objectId"]
    await refused(NotFound, app, resources.resource_update, app, ROOT, {"resource": "Post", "filterByTk": foreign,
                                                                        "values": {"title": "x"}})
    await refused(NotFound, app, resources.resource_destroy, app, ROOT, {"resource": "Post", "filterByTk": foreign})
    await refused(NotFound, app, resources.resource_list, app, ROOT, {"resource": "Post.tags", "sourceId": foreign})
    await refused(InvalidValue, app, resources.resource_update, app, ROOT, {
        "resource": "Post", "filterByTk": blog["p1"], "values": {"cover": ptr("Tag", foreign)}})
    for who in (Principal.root(app="other"), Principal.nobody(app.name), Principal.client("other")):
        for tool in (L, G, C, U, D, Q):
            await refused(PermissionDenied, app, getattr(resources, tool), app, who,
                          {"resource": "Post", "filterByTk": blog["p1"], "values": {"title": "x"}})
    assert (await stored(other, "Post"))[foreign]["title"] == "theirs"
