"""The access matrix: every principal × table × action, with the expected outcome written down below.

One app per database holds the principals, tables and rows described next; each cell resolves its
principal from real credentials and calls the dialect entry points (``queries``) and the writers
(``records``, ``schema``). An allowed call must return exactly the rows and fields the table states (the
fields compared value by value with root's view of the same rows); a refused one must raise the stated
error and leave every table — rows, schema, roles, sessions, keys — as it was.

Principals
  root     the master key                         admin    a user holding only ``admin``
  alice    a ``member`` (also holds ``editor``)    bob      a ``member``
  editor   a user holding only ``editor``          auditor  a user holding only ``auditor``
  anon     the REST API key (``anonymous``)        key      alice's API key "readonly", bound to ``editor``
  nobody   no credentials at all

Roles (besides the built-in root/admin/member/anonymous defaults)
  editor   strategy list/get/query; on Post: list/get/query scoped to published-or-own rows, create limited
           to [title, body], update limited to [title, body] on own rows (no destroy)
  auditor  strategy list/query; on Post: list/query limited to the fields [title, status]
  anonymous  on Post: list/get/query of published rows only (and no writes)

Rows (objects without an ACL are public)
  Post     pub (published), draft, mine_a (draft, created by alice), mine_e (draft, created by the editor user),
           private (published, ACL: bob only); scores 1/2/4/8/16 so every sum names its rows
  Comment  c_pub → pub, c_draft → draft, c_private → private (ACL: bob only)
  _User    the five users (default ACL: everyone reads, the user alone writes)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hivebase.core import records, roles, schema
from hivebase.core.apps import App
from hivebase.core.bmob_reads import bmob_get, bmob_query
from hivebase.core.identity import api_keys, sessions
from hivebase.core.principal import Principal
from hivebase.core.render import NULLABLE_BUILTINS
from hivebase.dialects.nocobase.queries import nocobase_get, nocobase_list, nocobase_query
from hivebase.errors import HivebaseError, InvalidValue, NotFound, PermissionDenied, Unauthorized
from tests.core.access_fixtures import (  # noqa: F401 (anyio_backend, backend: module-scoped fixtures)
    PASSWORD,
    ROOT,
    Actors,
    anyio_backend,
    backend,
    clone,
    database,
    discard,
    drop_row,
    open_hub,
    ptr,
    refused,
    set_columns,
    unchanged,
    unique,
)

pytestmark = pytest.mark.anyio

PRINCIPALS = ("root", "admin", "alice", "bob", "editor", "auditor", "anon", "key", "nobody")
TABLES = ("Post", "Comment", "_User")

OK = "ok"
NO_ACTION = "!action"  # PermissionDenied, reason "action": the role may not do this on this table
NO_FIELD = "!field"  # PermissionDenied, reason "field": the call names a field the role may not touch
NO_CREDS = "!unauthenticated"  # PermissionDenied, reason "unauthenticated"
NOT_FOUND = "not found"  # NotFound, exactly as for a row that does not exist
NOBODY = (NO_CREDS,) * 5

P_ALL = "pub draft mine_a mine_e private"
P_ACL = "pub draft mine_a mine_e"  # everything but the row whose ACL names bob alone
C_ALL = "c_pub c_draft c_private"
C_ACL = "c_pub c_draft"
U_ALL = "admin alice bob eddie audrey"

# For each (principal, table): the rows seen (read) by list / count / query, the rows readable by id (get), whether
# create is allowed, the rows update may change and the rows destroy may delete. A string of labels means
# "allowed; exactly these rows" (any other row answers NotFound, as if it did not exist); "!…" is a refusal.
# Update and destroy act on fresh copies of each row (same owner, ACL and values).
MATRIX: dict[tuple[str, str], tuple[str, str, str, str, str]] = {
    # Post                   read           get            create     update     destroy
    ("root", "Post"):       (P_ALL,         P_ALL,         OK,        P_ALL,     P_ALL),
    ("admin", "Post"):      (P_ALL,         P_ALL,         OK,        P_ALL,     P_ALL),
    ("alice", "Post"):      (P_ACL,         P_ACL,         OK,        P_ACL,     P_ACL),
    ("bob", "Post"):        (P_ALL,         P_ALL,         OK,        P_ALL,     P_ALL),
    ("editor", "Post"):     ("pub mine_e",  "pub mine_e",  OK,        "mine_e",  NO_ACTION),
    ("auditor", "Post"):    (P_ACL,         NO_ACTION,     NO_ACTION, NO_ACTION, NO_ACTION),
    ("anon", "Post"):       ("pub",         "pub",         NO_ACTION, NO_ACTION, NO_ACTION),
    ("key", "Post"):        ("pub mine_a",  "pub mine_a",  OK,        "mine_a",  NO_ACTION),
    ("nobody", "Post"):     NOBODY,
    # Comment                read           get            create     update     destroy
    ("root", "Comment"):    (C_ALL,         C_ALL,         OK,        C_ALL,     C_ALL),
    ("admin", "Comment"):   (C_ALL,         C_ALL,         OK,        C_ALL,     C_ALL),
    ("alice", "Comment"):   (C_ACL,         C_ACL,         OK,        C_ACL,     C_ACL),
    ("bob", "Comment"):     (C_ALL,         C_ALL,         OK,        C_ALL,     C_ALL),
    ("editor", "Comment"):  (C_ACL,         C_ACL,         NO_ACTION, NO_ACTION, NO_ACTION),
    ("auditor", "Comment"): (C_ACL,         NO_ACTION,     NO_ACTION, NO_ACTION, NO_ACTION),
    ("anon", "Comment"):    (C_ACL,         C_ACL,         OK,        C_ACL,     C_ACL),
    ("key", "Comment"):     (C_ACL,         C_ACL,         NO_ACTION, NO_ACTION, NO_ACTION),
    ("nobody", "Comment"):  NOBODY,
    # _User                  read           get            create     update     destroy
    ("root", "_User"):      (U_ALL,         U_ALL,         OK,        U_ALL,     U_ALL),
    ("admin", "_User"):     (U_ALL,         U_ALL,         OK,        U_ALL,     U_ALL),
    ("alice", "_User"):     (U_ALL,         U_ALL,         OK,        "alice",   "alice"),
    ("bob", "_User"):       (U_ALL,         U_ALL,         OK,        "bob",     "bob"),
    ("editor", "_User"):    (U_ALL,         U_ALL,         NO_ACTION, NO_ACTION, NO_ACTION),
    ("auditor", "_User"):   (U_ALL,         NO_ACTION,     NO_ACTION, NO_ACTION, NO_ACTION),
    ("anon", "_User"):      (U_ALL,         U_ALL,         OK,        "",        ""),
    ("key", "_User"):       (U_ALL,         U_ALL,         NO_ACTION, NO_ACTION, NO_ACTION),
    ("nobody", "_User"):    NOBODY,
}
# Fields a principal sees of a table (objectId always); absent: every field.
VISIBLE = {("auditor", "Post"): {"objectId", "title", "status"}}
# Fields a principal may write in a table; absent: every field. Writing any other one is NO_FIELD.
WRITABLE = {("editor", "Post"): {"title", "body"}, ("key", "Post"): {"title", "body"}}

# Schema actions: createTable, addField on Post / Comment / _User, alterField (removing a field of Comment),
# dropTable (of a scratch table). Post has per-table rules for anonymous, which replace its strategy there.
SCHEMA_ACTIONS = ("createTable", "addField:Post", "addField:Comment", "addField:_User", "alterField", "dropTable")
DENY_ALL = (NO_ACTION,) * 6
SCHEMA: dict[str, tuple[str, ...]] = {
    #           createTable add:Post    add:Comment add:_User   alterField  dropTable
    "root":    (OK,         OK,         OK,         OK,         OK,         OK),
    "admin":   (OK,         OK,         OK,         OK,         OK,         OK),
    "alice":   DENY_ALL,
    "bob":     DENY_ALL,
    "editor":  DENY_ALL,
    "auditor": DENY_ALL,
    "anon":    (OK,         NO_ACTION,  OK,         OK,         NO_ACTION,  NO_ACTION),
    "key":     DENY_ALL,
    "nobody":  (NO_CREDS,) * 6,
}

LIST, GET, CREATE, UPDATE, DESTROY = range(5)


def test_the_matrix_covers_every_cell() -> None:
    assert set(MATRIX) == {(p, t) for p in PRINCIPALS for t in TABLES}
    assert set(SCHEMA) == set(PRINCIPALS)


# -- the world ---------------------------------------------------------------------------------------------


class World(Actors):
    rows: dict[str, dict[str, str]]

    def oid(self, table: str, label: str) -> str:
        return self.rows[table][label]

    def label(self, table: str, oid: str) -> str:
        return next(lbl for lbl, o in self.rows[table].items() if o == oid)


@pytest.fixture(scope="module")
async def world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:  # noqa: F811
    async with open_hub(backend, Path(tmp_path_factory.mktemp("matrix"))) as (hub, creds):
        app = await hub.apps.open("main")
        w = World(hub, app, creds)
        w.rows = {}
        await build(w, app)
        yield w


async def build(w: World, app: App) -> None:
    await schema.create_table(app, ROOT, "Post", {
        "title": "String", "body": "String", "status": "String", "secret": "String",
        "author": {"type": "Pointer", "targetClass": "_User"}, "score": "Number"})
    await schema.create_table(app, ROOT, "Comment", {
        "post": {"type": "Pointer", "targetClass": "Post"}, "text": "String"})
    await roles.create_role(app, ROOT, "editor", strategy=["list", "get", "query"])
    await roles.create_role(app, ROOT, "auditor", strategy=["list", "query"])
    published_or_own = {"scope": {"$or": [{"status": "published"}, {"createdBy": "{{currentUser.id}}"}]}}
    await roles.set_table_permissions(app, ROOT, "editor", "Post", {
        "list": published_or_own, "get": published_or_own, "query": published_or_own,
        "create": {"fields": ["title", "body"]},
        "update": {"fields": ["title", "body"], "scope": {"createdBy": "{{currentUser.id}}"}}})
    await roles.set_table_permissions(app, ROOT, "auditor", "Post", {
        "list": {"fields": ["title", "status"]}, "query": {"fields": ["title", "status"]}})
    published = {"scope": {"status": "published"}}
    await roles.set_table_permissions(app, ROOT, "anonymous", "Post",
                                      {"list": published, "get": published, "query": published})
    await w.sign_up("admin", roles_held=("admin",))
    alice = await w.sign_up("alice", roles_held=("member", "editor"), default="member")
    bob = await w.sign_up("bob")
    eddie = await w.sign_up("eddie", roles_held=("editor",), principal="editor")
    await w.sign_up("audrey", roles_held=("auditor",), principal="auditor")
    _, secret = await api_keys.create(app, ROOT, alice, "editor", name="readonly")
    w.credentials["key"] = {"api_key": secret}
    w.rows["_User"] = dict(w.users)

    posts = {
        "pub": ({"status": "published", "score": 1}, None, None),
        "draft": ({"status": "draft", "score": 2}, None, None),
        "mine_a": ({"status": "draft", "score": 4}, alice, None),
        "mine_e": ({"status": "draft", "score": 8}, eddie, None),
        "private": ({"status": "published", "score": 16}, None, {bob: {"read": True, "write": True}}),
    }
    w.rows["Post"] = {}
    for label, (data, owner, acl) in posts.items():
        row = await records.create(app, ROOT, "Post", {
            "title": f"title {label}", "body": f"body {label}", "secret": f"secret {label}",
            "author": ptr("_User", alice), **data, **({"ACL": acl} if acl else {})})
        w.rows["Post"][label] = row["objectId"]
        if owner:
            await set_columns(app, "Post", row["objectId"], createdBy=owner)
    w.rows["Comment"] = {}
    for label, post, acl in (("c_pub", "pub", None), ("c_draft", "draft", None),
                             ("c_private", "private", {bob: {"read": True, "write": True}})):
        row = await records.create(app, ROOT, "Comment", {
            "text": f"text {label}", "post": ptr("Post", w.rows["Post"][post]), **({"ACL": acl} if acl else {})})
        w.rows["Comment"][label] = row["objectId"]


# -- helpers -----------------------------------------------------------------------------------------------


def labels(spec: str) -> list[str]:
    return sorted(spec.split())


async def expect_refusal(app: App, outcome: str, call: Callable[[], Awaitable[Any]], *, watch: bool = True) -> None:
    """``outcome`` is "!reason": the call raises PermissionDenied with that reason and (``watch``: checked
    here; otherwise by the caller, around several calls) changes nothing."""
    async with unchanged(app) if watch else nullcontext():
        with pytest.raises(PermissionDenied) as e:
            await call()
    refused(e.value, PermissionDenied, outcome[1:])


async def expect_not_found(app: App, call: Callable[[], Awaitable[Any]], *, watch: bool = True) -> None:
    async with unchanged(app) if watch else nullcontext():
        with pytest.raises(NotFound) as e:
            await call()
    refused(e.value, NotFound)


async def run_writes(w: World, table: str, verdicts: dict[str, str], call: Callable[[str], Awaitable[Any]],
                     check: Callable[[str], Awaitable[None]]) -> None:
    """Write to a fresh copy of every row: first every call that must fail (``!reason`` or NOT_FOUND), all
    under one snapshot that must not move, then the allowed ones, each checked by ``check``."""
    targets = {label: await copy_of(w, table, label) for label in verdicts}
    try:
        async with unchanged(w.app):
            for label, verdict in verdicts.items():
                if verdict == NOT_FOUND:
                    await expect_not_found(w.app, lambda t=targets[label]: call(t), watch=False)
                elif verdict.startswith("!"):
                    await expect_refusal(w.app, verdict, lambda t=targets[label]: call(t), watch=False)
        for label, verdict in verdicts.items():
            if verdict == OK:
                await call(targets[label])
                await check(targets[label])
    finally:
        for target in targets.values():
            await discard(w.app, table, target)


def visible(who: str, table: str, root_row: dict[str, Any]) -> dict[str, Any]:
    """Root's rendering of a row, cut down to the fields ``who`` may see."""
    fields = VISIBLE.get((who, table))
    return root_row if fields is None else {k: v for k, v in root_row.items() if k in fields}


async def root_rows(w: World, table: str, dialect: str) -> dict[str, dict[str, Any]]:
    if dialect == "bmob":
        out = await bmob_query(w.app, ROOT, table, {"limit": 1000})
        assert isinstance(out, dict)
        rows = out["results"]
    else:
        rows = (await nocobase_list(w.app, ROOT, table, {"paginate": False}))["data"]
    return {r["objectId"]: r for r in rows}


def create_data(table: str, every_field: bool) -> dict[str, Any]:
    if table == "Post":
        data: dict[str, Any] = {"title": "new title", "body": "new body"}
        return {**data, "status": "draft", "secret": "new secret", "score": 3} if every_field else data
    if table == "Comment":
        return {"text": "new text", **({"ACL": {"*": {"read": True}}} if every_field else {})}
    data = {"username": unique("new-"), "password": PASSWORD}
    return {**data, "email": unique("e") + "@example.com"} if every_field else data


def update_data(table: str, every_field: bool, target: str) -> dict[str, Any]:
    if table == "Post":
        return {"secret": "changed secret", "title": "changed"} if every_field else {"title": "changed"}
    if table == "Comment":
        return {"text": "changed"}
    return {"email": f"changed-{target}@example.com"}


async def copy_of(w: World, table: str, label: str) -> str:
    """A fresh copy of a row for a write cell (a user row copy needs a username of its own)."""
    changes = {"username": unique("copy-")} if table == "_User" else {}
    return await clone(w.app, table, w.oid(table, label), **changes)


# -- data actions ------------------------------------------------------------------------------------------

cells = pytest.mark.parametrize("who,table", [(p, t) for p in PRINCIPALS for t in TABLES])


@cells
async def test_list(world: World, who: str, table: str) -> None:
    """Bmob find and NocoBase list return exactly the visible rows, each with exactly the visible fields."""
    w, outcome = world, MATRIX[who, table][LIST]
    p = await w.principal(who)
    async with unchanged(w.app):
        if outcome.startswith("!"):
            await expect_refusal(w.app, outcome, lambda: bmob_query(w.app, p, table, {}), watch=False)
            await expect_refusal(w.app, outcome, lambda: nocobase_list(w.app, p, table, {}), watch=False)
            return
        bmob = await bmob_query(w.app, p, table, {"limit": 1000})
        nocobase = await nocobase_list(w.app, p, table, {"paginate": False})
    assert isinstance(bmob, dict)
    for rows, dialect in ((bmob["results"], "bmob"), (nocobase["data"], "nocobase")):
        root = await root_rows(w, table, dialect)
        assert sorted(w.label(table, r["objectId"]) for r in rows) == labels(outcome)
        for r in rows:
            assert r == visible(who, table, root[r["objectId"]])
    if (who, table) in VISIBLE:  # the limit is real: the NocoBase row holds the visible fields and only them
        for r in nocobase["data"]:
            assert set(r) - set(NULLABLE_BUILTINS) == VISIBLE[who, table]


@cells
async def test_count(world: World, who: str, table: str) -> None:
    w, outcome = world, MATRIX[who, table][LIST]
    p = await w.principal(who)
    call = lambda: bmob_query(w.app, p, table, {"count": "1", "limit": "0"})  # noqa: E731
    if outcome.startswith("!"):
        await expect_refusal(w.app, outcome, call)
        return
    assert await call() == {"results": [], "count": len(labels(outcome))}
    paged = await nocobase_list(w.app, p, table, {"pageSize": 1})
    assert paged["meta"]["count"] == len(labels(outcome))


@cells
async def test_query(world: World, who: str, table: str) -> None:
    """Aggregates count (and, on Post, sum the scores of) exactly the visible rows."""
    w, outcome = world, MATRIX[who, table][LIST]
    p = await w.principal(who)
    bmob_count = lambda: bmob_query(w.app, p, table, {"groupcount": "true"})  # noqa: E731
    measures = [{"aggregation": "count", "alias": "n"}]
    if table == "Post":
        measures.append({"field": "score", "aggregation": "sum", "alias": "total"})
    nocobase = lambda: nocobase_query(w.app, p, table, {"measures": measures})  # noqa: E731
    if outcome.startswith("!"):
        await expect_refusal(w.app, outcome, bmob_count)
        await expect_refusal(w.app, outcome, nocobase)
        return
    seen = labels(outcome)
    assert await bmob_count() == [{"_count": len(seen)}]
    if (who, table) in VISIBLE:  # score is not among the fields this role sees: summing it is refused
        await expect_refusal(w.app, NO_FIELD, nocobase)
        assert await nocobase_query(w.app, p, table, {"measures": measures[:1]}) == \
            {"data": [{"n": len(seen)}]}
        return
    expected: dict[str, Any] = {"n": len(seen)}
    if table == "Post":
        scores = {"pub": 1, "draft": 2, "mine_a": 4, "mine_e": 8, "private": 16}
        expected["total"] = sum(scores[s] for s in seen)
    assert await nocobase() == {"data": [expected]}


@cells
async def test_get(world: World, who: str, table: str) -> None:
    """By id: a visible row with exactly its visible fields; any other row is NotFound, never a refusal that
    would confirm it exists."""
    w, outcome = world, MATRIX[who, table][GET]
    p = await w.principal(who)
    root = await root_rows(w, table, "bmob")
    async with unchanged(w.app):
        for label, oid in w.rows[table].items():
            call = lambda oid=oid: bmob_get(w.app, p, table, oid)  # noqa: E731
            if outcome.startswith("!"):
                await expect_refusal(w.app, outcome, call, watch=False)
            elif label in labels(outcome):
                assert await call() == visible(who, table, root[oid])
            else:
                await expect_not_found(w.app, call, watch=False)


@cells
async def test_nocobase_get_follows_the_get_rule(world: World, who: str, table: str) -> None:
    """``<resource>:get`` answers exactly what Bmob's get-by-id answers: both dialects ask the same rule."""
    w, outcome = world, MATRIX[who, table][GET]
    p = await w.principal(who)
    root = await root_rows(w, table, "nocobase")
    async with unchanged(w.app):
        for label, oid in w.rows[table].items():
            call = lambda oid=oid: nocobase_get(w.app, p, table, {"filterByTk": oid})  # noqa: E731
            if outcome.startswith("!"):
                await expect_refusal(w.app, outcome, call, watch=False)
            elif label in labels(outcome):
                assert (await call())["data"] == visible(who, table, root[oid])
            else:
                await expect_not_found(w.app, call, watch=False)


@cells
@pytest.mark.parametrize("every_field", [False, True], ids=["allowed-fields", "every-field"])
async def test_create(world: World, who: str, table: str, every_field: bool) -> None:
    w, outcome = world, MATRIX[who, table][CREATE]
    p = await w.principal(who)
    data = create_data(table, every_field)
    if table == "Comment":
        data["post"] = ptr("Post", w.oid("Post", "pub"))
    if outcome == OK and every_field and (who, table) in WRITABLE:
        outcome = NO_FIELD
    if outcome.startswith("!"):
        await expect_refusal(w.app, outcome, lambda: records.create(w.app, p, table, data))
        return
    row = await records.create(w.app, p, table, data)
    try:
        stored = await nocobase_get(w.app, ROOT, table, {"filterByTk": row["objectId"]})
        assert {k: stored["data"][k] for k in data if k not in ("password", "post")} == \
            {k: v for k, v in data.items() if k not in ("password", "post")}
        # the caller created the row, except a user, who always owns their own row ("own records")
        creator = row["objectId"] if table == "_User" else p.user_id
        assert stored["data"].get("createdBy") == creator
    finally:
        await drop_row(w.app, table, row["objectId"])


@cells
@pytest.mark.parametrize("every_field", [False, True], ids=["allowed-fields", "every-field"])
async def test_update(world: World, who: str, table: str, every_field: bool) -> None:
    w, outcome = world, MATRIX[who, table][UPDATE]
    p = await w.principal(who)
    if outcome.startswith("!"):
        verdicts = dict.fromkeys(w.rows[table], outcome)
    elif every_field and (who, table) in WRITABLE:  # refused for the field, whatever the row
        verdicts = dict.fromkeys(w.rows[table], NO_FIELD)
    else:
        verdicts = {label: OK if label in labels(outcome) else NOT_FOUND for label in w.rows[table]}

    async def changed(target: str) -> None:
        stored = (await nocobase_get(w.app, ROOT, table, {"filterByTk": target}))["data"]
        data = update_data(table, every_field, target)
        assert {k: stored[k] for k in data} == data
        assert stored.get("updatedBy") == p.user_id

    await run_writes(w, table, verdicts,
                     lambda t: records.update(w.app, p, table, t, update_data(table, every_field, t)), changed)


@cells
async def test_destroy(world: World, who: str, table: str) -> None:
    w, outcome = world, MATRIX[who, table][DESTROY]
    p = await w.principal(who)
    verdicts = {label: outcome if outcome.startswith("!") else OK if label in labels(outcome) else NOT_FOUND
                for label in w.rows[table]}

    async def gone(target: str) -> None:
        with pytest.raises(NotFound):
            await bmob_get(w.app, ROOT, table, target)

    await run_writes(w, table, verdicts, lambda t: records.delete(w.app, p, table, t), gone)


@pytest.mark.parametrize("who", PRINCIPALS)
async def test_batch_follows_the_matrix(world: World, who: str) -> None:
    """A batch is the sum of its operations: one refused operation undoes the allowed ones before it."""
    w = world
    p = await w.principal(who)
    update_rows = MATRIX[who, "Post"][UPDATE]
    writable = [lbl for lbl in labels(update_rows) if lbl != "private"] if not update_rows.startswith("!") else []
    ok_target = await clone(w.app, "Post", w.oid("Post", (writable or ["pub"])[0]))
    bad_target = await clone(w.app, "Post", w.oid("Post", "private"))
    ops = [records.Op("update", "Post", ok_target, {"title": "batched"}),
           records.Op("update", "Post", bad_target, {"title": "batched"})]
    try:
        if update_rows.startswith("!"):
            await expect_refusal(w.app, update_rows, lambda: records.batch(w.app, p, ops))
        elif "private" in labels(update_rows):
            results = await records.batch(w.app, p, ops)
            assert [r.error for r in results] == [None, None]
        else:  # the first row is writable, the private one is not: the whole batch is undone
            async with unchanged(w.app):
                with pytest.raises(NotFound) as e:
                    await records.batch(w.app, p, ops)
            assert e.value.details["index"] == 1
    finally:
        await discard(w.app, "Post", ok_target)
        await discard(w.app, "Post", bad_target)


# -- schema actions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("action", SCHEMA_ACTIONS)
async def test_schema_actions(world: World, who: str, action: str) -> None:
    w = world
    await check_schema_action(w, await w.principal(who), action, SCHEMA[who][SCHEMA_ACTIONS.index(action)])


async def check_schema_action(w: World, p: Principal, action: str, outcome: str) -> None:
    app = w.app
    name = unique("Zz")
    verb, _, table = action.partition(":")
    if verb == "createTable":
        call: Callable[[], Awaitable[Any]] = lambda: schema.create_table(app, p, name, {"x": "String"})  # noqa: E731
        undo: Callable[[], Awaitable[Any]] = lambda: schema.drop_table(app, ROOT, name)  # noqa: E731
        done = lambda: app.catalog.lookup(name) is not None  # noqa: E731
    elif verb == "addField":
        call = lambda: schema.add_field(app, p, table, name, {"type": "String"})  # noqa: E731
        undo = lambda: schema.remove_field(app, ROOT, table, name)  # noqa: E731
        done = lambda: name in app.catalog.get(table).fields  # noqa: E731
    elif verb == "alterField":
        await schema.add_field(app, ROOT, "Comment", name, {"type": "String"})
        call = lambda: schema.remove_field(app, p, "Comment", name)  # noqa: E731
        undo = lambda: schema.remove_field(app, ROOT, "Comment", name)  # noqa: E731
        done = lambda: name not in app.catalog.get("Comment").fields  # noqa: E731
    else:
        await schema.create_table(app, ROOT, name, {"x": "String"})
        call = lambda: schema.drop_table(app, p, name)  # noqa: E731
        undo = lambda: schema.drop_table(app, ROOT, name)  # noqa: E731
        done = lambda: app.catalog.lookup(name) is None  # noqa: E731
    try:
        if outcome.startswith("!"):
            await expect_refusal(app, outcome, call)
            assert not done()
        else:
            await call()
            await app.catalog.refresh(force=True)
            assert done()
    finally:
        try:
            await undo()
        except HivebaseError:
            pass


async def test_client_schema_changes_off(world: World) -> None:
    """With ``clientSchemaChanges`` off the REST API key may no longer create tables or add fields (reason
    client_schema), while root and admin still may; turning it back on restores the client's right."""
    w = world
    await roles.set_setting(w.app, ROOT, "clientSchemaChanges", False)
    try:
        anon = await w.principal("anon")
        for action in ("createTable", "addField:Comment", "addField:_User"):
            await check_schema_action(w, anon, action, "!client_schema")
            for who in ("root", "admin"):
                await check_schema_action(w, await w.principal(who), action, OK)
        # every schema action of the client names the setting; its data actions are untouched
        await expect_refusal(w.app, "!client_schema", lambda: schema.drop_table(w.app, anon, "Comment"))
        assert (await bmob_query(w.app, anon, "Comment", {"count": 1, "limit": 0}))["count"] == 2
    finally:
        await roles.set_setting(w.app, ROOT, "clientSchemaChanges", True)
    await check_schema_action(w, await w.principal("anon"), "createTable", OK)


async def test_client_schema_changes_off_binds_every_caller_acting_as_anonymous(world: World) -> None:
    """A user whose roles were all taken away acts as ``anonymous`` — and must then be held to the same switch
    as the REST API key, not keep schema rights a ``member`` never had."""
    w = world
    loner = await w.sign_up("loner", roles_held=())
    p = await w.principal("loner")
    assert (p.kind, p.role, p.roles) == ("user", "anonymous", ())
    await roles.set_setting(w.app, ROOT, "clientSchemaChanges", False)
    try:
        await check_schema_action(w, p, "createTable", "!client_schema")
    finally:
        await roles.set_setting(w.app, ROOT, "clientSchemaChanges", True)
        await records.delete(w.app, ROOT, "_User", loner)


async def test_setting_clientschemachanges_is_root_only(world: World) -> None:
    w = world
    for who in ("admin", "alice", "anon", "key"):
        p = await w.principal(who)
        await expect_refusal(w.app, "!root", lambda p=p: roles.set_setting(w.app, p, "clientSchemaChanges", False))
    await expect_refusal(w.app, "!unauthenticated",
                         lambda: roles.set_setting(w.app, Principal.nobody("main"), "clientSchemaChanges", False))


# -- credentials: expiry, revocation, roles --------------------------------------------------------------


async def new_session(app: App, user_id: str) -> tuple[str, str]:
    async with app.db.write() as conn:
        s, token = await sessions.issue(conn, app, user_id, via="test")
    return s.id, token


async def expire(app: App, table: str, row_id: str) -> None:
    t = app.catalog.system(table)
    async with app.db.write() as conn:
        await conn.execute(sa.update(t).where(t.c.id == row_id)
                           .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))


async def test_revoked_and_expired_sessions_fail_at_once(world: World) -> None:
    w = world
    alice = w.users["alice"]
    live_id, live = await new_session(w.app, alice)
    revoked_id, revoked = await new_session(w.app, alice)
    expired_id, expired = await new_session(w.app, alice)
    for token in (live, revoked, expired):
        p = await w.principal("nobody", session_token=token)
        assert (p.kind, p.user_id, p.role) == ("user", alice, "member")
    owner = await w.principal("nobody", session_token=live)
    await sessions.revoke(w.app, owner, revoked_id)
    await expire(w.app, "_hb_sessions", expired_id)
    for token in (revoked, expired):
        with pytest.raises(Unauthorized) as e:
            await w.principal("nobody", session_token=token)
        refused(e.value, Unauthorized, "session")
        # a valid REST API key beside a dead session token does not fall back to the anonymous client
        with pytest.raises(Unauthorized):
            await w.principal("anon", session_token=token)
    assert (await w.principal("nobody", session_token=live)).user_id == alice
    listed = [s["id"] for s in await sessions.list_for(w.app, owner, alice)]
    assert live_id in listed and revoked_id not in listed and expired_id not in listed
    await sessions.revoke(w.app, owner, live_id)
    with pytest.raises(Unauthorized):
        await w.principal("nobody", session_token=live)


async def test_revoked_and_expired_api_keys_fail_at_once(world: World) -> None:
    w = world
    alice = w.users["alice"]
    made = {}
    for name in ("live", "revoked", "expired"):
        made[name] = await api_keys.create(w.app, ROOT, alice, "editor", name=name)
    for _, secret in made.values():
        p = await w.principal("nobody", api_key=secret)
        assert (p.kind, p.user_id, p.role) == ("user", alice, "editor")
    owner = await w.principal("alice")
    await api_keys.revoke(w.app, owner, made["revoked"][0]["id"])
    await expire(w.app, "_hb_api_keys", made["expired"][0]["id"])
    for name in ("revoked", "expired"):
        with pytest.raises(Unauthorized) as e:
            await w.principal("nobody", api_key=made[name][1])
        refused(e.value, Unauthorized, "api_key")
    assert (await w.principal("nobody", api_key=made["live"][1])).role == "editor"
    with pytest.raises(InvalidValue) as e2:
        await api_keys.create(w.app, ROOT, alice, "editor", expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    refused(e2.value, InvalidValue, "expiry")
    await api_keys.revoke(w.app, ROOT, made["live"][0]["id"])
    await api_keys.revoke(w.app, ROOT, made["expired"][0]["id"])


async def test_a_key_dies_with_its_role(world: World) -> None:
    """A key stops working when its user loses the key's role — by revocation (the key is deleted, so
    granting the role again does not revive it), by a membership gone from storage, or by deleting the role."""
    w = world
    kate = await w.sign_up("kate", roles_held=("member", "editor"))
    _, secret = await api_keys.create(w.app, ROOT, kate, "editor")
    assert (await w.principal("nobody", api_key=secret)).role == "editor"
    await roles.revoke(w.app, ROOT, kate, "editor")
    with pytest.raises(Unauthorized) as e:
        await w.principal("nobody", api_key=secret)
    refused(e.value, Unauthorized, "api_key")
    await roles.grant(w.app, ROOT, kate, "editor")
    with pytest.raises(Unauthorized):
        await w.principal("nobody", api_key=secret)

    _, second = await api_keys.create(w.app, ROOT, kate, "editor")
    memberships = w.app.catalog.system("_hb_user_roles")
    async with w.app.db.write() as conn:
        await conn.execute(sa.delete(memberships).where(memberships.c.user_id == kate,
                                                        memberships.c.role == "editor"))
    with pytest.raises(Unauthorized):
        await w.principal("nobody", api_key=second)
    await roles.grant(w.app, ROOT, kate, "editor")
    assert (await w.principal("nobody", api_key=second)).role == "editor"

    await roles.create_role(w.app, ROOT, "temp-role", strategy=["list"])
    await roles.grant(w.app, ROOT, kate, "temp-role")
    _, third = await api_keys.create(w.app, ROOT, kate, "temp-role")
    assert (await w.principal("nobody", api_key=third)).role == "temp-role"
    await roles.delete_role(w.app, ROOT, "temp-role")
    with pytest.raises(Unauthorized):
        await w.principal("nobody", api_key=third)
    await records.delete(w.app, ROOT, "_User", kate)
    with pytest.raises(Unauthorized):
        await w.principal("nobody", api_key=second)


async def test_x_role_picks_among_held_roles(world: World) -> None:
    w = world
    p = await w.principal("alice")
    assert (p.role, p.roles) == ("member", ("editor", "member"))
    as_editor = await w.principal("alice", role="editor")
    assert as_editor.role == "editor"
    rows = (await nocobase_list(w.app, as_editor, "Post", {"paginate": False}))["data"]
    assert sorted(w.label("Post", r["objectId"]) for r in rows) == ["mine_a", "pub"]
    assert (await w.principal("alice", role="  editor ")).role == "editor"
    assert (await w.principal("alice", role="")).role == "member"
    for role in ("admin", "root", "auditor", "anonymous", "Editor", "no-such-role", "x" * 10_000):
        with pytest.raises(PermissionDenied) as e:
            await w.principal("alice", role=role)
        refused(e.value, PermissionDenied, "role")
        assert "x" * 100 not in str(e.value)


async def test_the_api_key_role_wins_over_x_role(world: World) -> None:
    w = world
    for role in ("member", "admin", "root", "no-such-role"):
        p = await w.principal("key", role=role)
        assert (p.role, p.user_id) == ("editor", w.users["alice"])
    rows = (await nocobase_list(w.app, await w.principal("key", role="member"), "Post",
                                        {"paginate": False}))["data"]
    assert sorted(w.label("Post", r["objectId"]) for r in rows) == ["mine_a", "pub"]


async def test_no_credentials_learn_nothing_about_the_schema(world: World) -> None:
    """A call without credentials is refused before any table or field name is looked at, so no "did you mean
    `Post`?" tells a stranger what the app holds."""
    w = world
    nobody = await w.principal("nobody")
    attempts = [
        lambda: bmob_query(w.app, nobody, "Psot", {}),
        lambda: bmob_query(w.app, nobody, "Post", {"where": '{"secert": "x"}'}),
        lambda: nocobase_list(w.app, nobody, "Post", {"sort": ["scroe"]}),
        lambda: bmob_get(w.app, nobody, "Post", w.oid("Post", "pub"), {"keys": "titel"}),
        lambda: records.create(w.app, nobody, "Post", {"titel": "x"}),
        lambda: records.update(w.app, nobody, "Post", w.oid("Post", "pub"), {"scroe": 1}),
    ]
    for attempt in attempts:
        await expect_refusal(w.app, NO_CREDS, attempt)


async def test_keys_never_grant_more_than_their_maker(world: World) -> None:
    """A key never grants more than the credential that made it: the "readonly" editor key cannot make itself
    a member (or admin) key, though alice holds member."""
    w = world
    p = await w.principal("key")
    assert p.role == "editor"
    for role in ("member", "admin", "editor"):  # not even its own role: a leaked key must not breed keys
        await expect_refusal(w.app, "!credential",
                             lambda role=role: api_keys.create(w.app, p, w.users["alice"], role, name="bred"))
    signed_in = await w.principal("alice")  # a session may make a key of the role it acts in, and no other
    await expect_refusal(w.app, "!role", lambda: api_keys.create(w.app, signed_in, w.users["alice"], "admin", name="x"))
    info, _ = await api_keys.create(w.app, signed_in, w.users["alice"], signed_in.role or "", name="own role")
    await api_keys.revoke(w.app, ROOT, info["id"])


async def test_x_role_with_app_keys(world: World) -> None:
    w = world
    assert (await w.principal("anon", role="anonymous")).kind == "client"
    for role in ("member", "admin", "root"):
        with pytest.raises(PermissionDenied) as e:
            await w.principal("anon", role=role)
        refused(e.value, PermissionDenied, "role")
    assert (await w.principal("root", role="member")).is_root
    with pytest.raises(Unauthorized) as e2:
        await w.principal("nobody", master_key="0" * 32, session_token=w.tokens["alice"])
    refused(e2.value, Unauthorized, "master_key")
    with pytest.raises(Unauthorized) as e3:
        await w.principal("nobody", rest_key=w.creds.master_key or "", session_token=w.tokens["alice"])
    refused(e3.value, Unauthorized, "rest_key")


async def test_role_changes_act_at_once(world: World) -> None:
    """Granting and revoking roles changes what the next call may do (memberships are read at each call)."""
    w = world
    bob = w.users["bob"]
    p = await w.principal("bob")
    await expect_refusal(w.app, "!action", lambda: schema.create_table(w.app, p, unique("Zz"), {}))
    await roles.grant(w.app, ROOT, bob, "admin")
    try:
        as_admin = await w.principal("bob", role="admin")
        await check_schema_action(w, as_admin, "createTable", OK)
    finally:
        await roles.revoke(w.app, ROOT, bob, "admin")
    with pytest.raises(PermissionDenied):
        await w.principal("bob", role="admin")
