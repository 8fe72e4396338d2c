"""NocoBase collections and fields on hivebase's schema: every type and interface mapping, options, precise
refusals that change nothing, permissions through roles, and descriptions that round-trip."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hivebase.core import roles, schema, schema_view
from hivebase.core.apps import App
from hivebase.core.principal import Principal
from hivebase.dialects.nocobase import collections
from hivebase.errors import (
    Conflict,
    HivebaseError,
    InvalidName,
    InvalidSchema,
    InvalidValue,
    NotFound,
    PermissionDenied,
    TypeMismatch,
    UnknownField,
)
from hivebase.hub import Hub
from tests.core.access_fixtures import Actors, unchanged

pytestmark = pytest.mark.anyio
ROOT = Principal.root()
NON_ASSOCIATION = {k: v for k, v in collections.TYPES.items() if v not in ("Pointer", "Relation")}


async def columns(app: App, table: str) -> list[str]:
    async with app.db.read() as conn:
        return await conn.run_sync(lambda c: [col["name"] for col in sa.inspect(c).get_columns(
            table, schema=app.db.schema)])


async def refused(app: App, kind: type[HivebaseError], reason: str | None, *, name: Any = "things",
                  fields: Any = None, title: Any = None, options: dict[str, Any] | None = None,
                  principal: Principal = ROOT) -> str:
    """create_collection fails with exactly ``kind``/``reason`` and changes nothing; returns the message."""
    async with unchanged(app):
        with pytest.raises(HivebaseError) as info:
            await collections.create_collection(app, principal, name, title, fields, options)
    assert type(info.value) is kind, info.value.to_dict()
    assert reason is None or info.value.reason == reason, info.value.to_dict()
    message = info.value.message
    assert len(message) < 1200 and "select " not in message.lower() and "sqlalchemy" not in message.lower()
    return message


async def test_every_type_and_interface_maps_to_our_types(app: App) -> None:
    expected: dict[str, str] = {}
    fields: list[dict[str, Any]] = []
    for key, source in (("type", collections.TYPES), ("interface", collections.INTERFACES)):
        for i, (name, ours) in enumerate(source.items()):
            fname = f"{key[0]}{i}_{name}"  # `string` and `String` are both types: names differ by more than case
            extra = {"target": "users" if name == "belongsTo" else "kinds"} if ours in ("Pointer", "Relation") else {}
            fields.append({"name": fname, key: name, **extra})
            expected[fname] = ours
    made = await collections.create_collection(app, ROOT, "kinds", "All kinds", fields)
    tdef = app.catalog.get("kinds")
    assert {f.name: f.type for f in tdef.user_fields()} == expected
    t_belongs = next(n for n in expected if n.endswith("_belongsTo") and n.startswith("t"))
    assert tdef.fields[t_belongs].target == "_User"  # `users` names the users table
    assert tdef.fields[next(n for n in expected if n.endswith("_m2m"))].target == "kinds"  # itself
    assert tdef.note == "All kinds"
    assert made["data"]["name"] == "kinds" and len(made["data"]["fields"]) == len(fields)
    # what a listing describes can be sent back as it is and means the same types
    described = (await collections.get_collection(app, ROOT, "kinds"))["data"]["fields"]
    await collections.create_collection(app, ROOT, "copies", None, described)
    copied = app.catalog.get("copies")
    assert [(f.name, f.type, f.target) for f in copied.user_fields()] == [
        (f.name, f.type, f.target) for f in tdef.user_fields()]


async def test_options_translate_and_describe_back(app: App) -> None:
    await collections.create_collection(app, ROOT, "teams", None, [{"name": "name", "type": "string"}])
    made = await collections.create_collection(app, ROOT, "players", "Players", [
        {"name": "nick", "type": "string", "unique": True, "allowNull": False, "uiSchema": {"title": "Nickname",
                                                                                          "x-component": "Input"}},
        {"name": "score", "interface": "integer", "autoIncrement": True, "autoIncrementStart": 1000},
        {"name": "level", "type": "double", "defaultValue": 1, "title": "Level", "description": "from 1 to 9"},
        {"name": "active", "type": "boolean", "uiSchema": {"required": True}},
        {"name": "team", "type": "belongsTo", "target": "teams", "foreignKey": "teamId", "onDelete": "SET NULL"},
        {"name": "born", "type": "dateOnly", "defaultValue": "2000-01-01"},
        {"name": "motto", "type": "text", "defaultValue": ""},
    ], {"description": "people who play", "autoGenId": True, "timestamps": True, "template": "general"})
    assert made == {"data": {"name": "players", "title": "Players — people who play", "fields": [
        {"name": "nick", "type": "string", "interface": "input", "title": "Nickname", "unique": True,
         "allowNull": False},
        {"name": "score", "type": "bigInt", "interface": "integer", "autoIncrement": True,
         "autoIncrementStart": 1000},
        {"name": "level", "type": "double", "interface": "number", "title": "Level — from 1 to 9", "defaultValue": 1},
        {"name": "active", "type": "boolean", "interface": "checkbox", "allowNull": False},
        {"name": "team", "type": "belongsTo", "interface": "m2o", "target": "teams"},
        {"name": "born", "type": "date", "interface": "datetime", "defaultValue": "2000-01-01"},
        {"name": "motto", "type": "string", "interface": "input", "defaultValue": ""}]}}
    f = app.catalog.get("players").fields
    assert f["nick"].unique and f["nick"].required and f["nick"].note == "Nickname"
    assert f["score"].auto_increment and f["score"].auto_increment_start == 1000
    assert {"nick", "score", "level", "active", "team", "born"} <= set(await columns(app, "players"))
    assert (await collections.list_fields(app, ROOT, "players"))["data"] == made["data"]["fields"]


async def test_builtins_in_a_new_collection_are_skipped_and_reported(app: App) -> None:
    made = await collections.create_collection(app, ROOT, "posts", "Posts", [
        {"name": "id", "type": "bigInt", "primaryKey": True, "autoIncrement": True, "interface": "id"},
        {"name": "createdAt", "type": "date", "interface": "createdAt"},
        {"name": "createdBy", "type": "belongsTo", "target": "users", "foreignKey": "createdById"},
        {"name": "title", "type": "string"}])
    assert [f["name"] for f in made["data"]["fields"]] == ["title"]
    assert set(made["meta"]["skipped"]) == {"id", "createdAt", "createdBy"}
    # adding one later is refused: it exists on every table
    with pytest.raises(InvalidSchema, match="already has a field `createdAt`"):
        await collections.create_field(app, ROOT, "posts", {"name": "createdAt", "type": "date"})


async def test_bad_definitions_are_refused_precisely_and_change_nothing(app: App) -> None:
    await collections.create_collection(app, ROOT, "Customers", None, [{"name": "name", "type": "string"}])
    ok = {"name": "fine", "type": "string"}  # every case also carries a valid field: all or nothing
    cases: list[tuple[Any, type[HivebaseError], str | None, str]] = [
        ({"name": "a", "type": "strng"}, InvalidSchema, "unknown_type", "did you mean `string`"),
        ({"name": "a", "interface": "inptu"}, InvalidSchema, "unknown_type", "did you mean `input`"),
        ({"name": "a", "type": "password"}, InvalidSchema, "unknown_type", "passwords"),
        ({"name": "a", "interface": "password"}, InvalidSchema, "unknown_type", "passwords"),
        ({"name": "orders", "type": "hasMany", "target": "orders", "foreignKey": "customer"}, InvalidSchema,
         "unknown_type", 'Add to orders the field {"name":"customer","type":"belongsTo","target":"things"}'),
        ({"name": "a", "interface": "oho", "target": "Customers"}, InvalidSchema, "unknown_type", "belongsTo"),
        ({"name": "a", "type": "string", "interface": "checkbox"}, InvalidSchema, "unknown_type", "does not match"),
        ({"name": "a"}, InvalidSchema, "unknown_type", "`type` (or `interface`) is required"),
        ({"name": "a", "type": 5}, InvalidSchema, "unknown_type", "must be a string, not number"),
        ({"name": "a", "type": "string", "uniqe": True}, InvalidSchema, "option", "did you mean `unique`"),
        ({"name": "a", "type": "string", "allowNull": "no"}, InvalidSchema, "option", "`allowNull` must be true"),
        ({"name": "a", "type": "string", "unique": 1}, InvalidSchema, "option", "`unique` must be true"),
        ({"name": "a", "type": "string", "primaryKey": True}, InvalidSchema, "option", "objectId"),
        ({"name": "a", "type": "belongsTo"}, InvalidSchema, "target_missing", "needs `target`"),
        ({"name": "a", "interface": "m2m", "target": 3}, InvalidSchema, "target_missing", "needs `target`"),
        ({"name": "a", "type": "belongsTo", "target": "Custmers"}, InvalidSchema, "target_unknown",
         "did you mean `Customers`"),
        ({"name": "a", "type": "string", "target": "Customers"}, InvalidSchema, "target", "only for belongsTo"),
        ({"name": "a", "type": "integer", "autoIncrement": True, "autoIncrementStart": "x"}, InvalidSchema,
         "auto_increment", "must be an integer"),
        ({"name": "a", "type": "string", "autoIncrement": True}, InvalidSchema, "auto_increment", "Number"),
        ({"name": "a", "type": "string", "uiSchema": "Title"}, InvalidSchema, "option", "`uiSchema` must be"),
        ({"name": "a", "type": "string", "title": ["x"]}, InvalidSchema, "option", "`title` must be a string"),
        ({"name": "a", "type": "json", "unique": True}, InvalidSchema, "option", "cannot be unique"),
        ({"name": "a", "type": "integer", "defaultValue": "ten"}, TypeMismatch, None, "expects a number"),
        ({"name": "a", "type": "string", "title": "x" * 5000}, InvalidSchema, "note", "at most 1000"),
        ("a string", InvalidSchema, "spec", "a field definition is an object"),
        ({"type": "string"}, InvalidSchema, "field_name", "needs a `name`"),
        ({"name": "; DROP TABLE Customers; --", "type": "string"}, InvalidName, "field_name", "invalid field name"),
        ({"name": "x" * 10_000, "type": "string"}, InvalidName, "field_name", "invalid field name"),
        ({"name": "objectId", "type": "string"}, InvalidName, "reserved_field", "built-in"),
        ({"name": "fine", "type": "integer"}, InvalidSchema, "field_exists", "declared twice"),
        ({"name": "FINE", "type": "string"}, InvalidSchema, "field_exists", "declared twice"),
    ]
    for definition, kind, reason, words in cases:
        message = await refused(app, kind, reason, fields=[ok, definition])
        assert words in message, (definition, message)
    assert app.catalog.lookup("things") is None


async def test_bad_collections_are_refused_and_change_nothing(app: App) -> None:
    await collections.create_collection(app, ROOT, "Customers", None, [])
    cases: list[tuple[dict[str, Any], type[HivebaseError], str | None, str]] = [
        ({"name": "; DROP TABLE Customers; --"}, InvalidName, "table_name", "invalid table name"),
        ({"name": "t" * 10_000}, InvalidName, "table_name", "invalid table name"),
        ({"name": 7}, InvalidSchema, "spec", "must be a string"),
        ({"name": "customers"}, InvalidSchema, "table_exists", "already exists"),
        ({"name": "sqlite_master"}, InvalidName, "table_name", "reserved"),
        ({"fields": {"a": {"type": "string"}}}, InvalidSchema, "spec", "must be a list"),
        ({"fields": [{"name": f"f{i}", "type": "string"} for i in range(400)]}, InvalidSchema, "too_many_fields",
         "at most"),
        ({"title": 3}, InvalidSchema, "option", "`title` must be a string"),
        ({"options": {"inherits": ["Customers"]}}, InvalidSchema, "option", "unknown key `inherits`"),
        ({"options": {"templat": "general"}}, InvalidSchema, "option", "did you mean `template`"),
        ({"options": {"template": "tree"}}, InvalidSchema, "option", "not supported"),
        ({"options": {"description": {"x": 1}}}, InvalidSchema, "option", "`description` must be a string"),
    ]
    for args, kind, reason, words in cases:
        message = await refused(app, kind, reason, **args)
        assert words in message, (args, message)


async def test_fields_are_added_and_removed_on_the_real_table(app: App) -> None:
    await collections.create_collection(app, ROOT, "orders", "Orders", [{"name": "amount", "type": "double"}])
    added = await collections.create_field(app, ROOT, "orders", {"name": "paid", "type": "boolean",
                                                                 "defaultValue": False, "title": "Paid?"})
    assert added == {"data": {"name": "paid", "type": "boolean", "interface": "checkbox", "title": "Paid?",
                              "defaultValue": False}}
    assert "paid" in await columns(app, "orders")
    tags = await collections.create_field(app, ROOT, "orders", {"name": "tags", "interface": "m2m",
                                                                "target": "orders"})
    assert tags["data"]["type"] == "belongsToMany"
    async with unchanged(app):
        for definition, kind, words in [
                ({"name": "amount", "type": "string"}, InvalidSchema, "already has a field"),
                ({"name": "lines", "type": "hasMany", "target": "lines"}, InvalidSchema, "belongsTo"),
                ({"name": "x", "type": "nope"}, InvalidSchema, "unknown type"),
                ({"name": "'; DROP TABLE orders; --", "type": "string"}, InvalidName, "invalid field name"),
                (["name", "x"], InvalidSchema, "is an object")]:
            with pytest.raises(kind, match=words):
                await collections.create_field(app, ROOT, "orders", definition)
        for collection in ("ordrs", "x" * 10_000, 5, "_hb_fields"):
            with pytest.raises(NotFound):
                await collections.create_field(app, ROOT, collection, {"name": "x", "type": "string"})
        with pytest.raises(UnknownField, match="did you mean `paid`"):
            await collections.destroy_field(app, ROOT, "orders", "payd")
        with pytest.raises(InvalidSchema, match="built-in"):
            await collections.destroy_field(app, ROOT, "orders", "createdAt")
        with pytest.raises(InvalidValue, match="must be a string"):
            await collections.destroy_field(app, ROOT, "orders", ["paid"])
    assert await collections.destroy_field(app, ROOT, "orders", "paid") == {
        "data": {"collectionName": "orders", "name": "paid"}}
    await collections.destroy_field(app, ROOT, "orders", "tags")
    assert "paid" not in await columns(app, "orders")
    assert [f["name"] for f in (await collections.list_fields(app, ROOT, "orders"))["data"]] == ["amount"]


async def test_destroy_refuses_while_referenced_unless_cascade(app: App) -> None:
    await collections.create_collection(app, ROOT, "authors", None, [{"name": "name", "type": "string"}])
    await collections.create_collection(app, ROOT, "books", None, [
        {"name": "author", "type": "belongsTo", "target": "authors"}, {"name": "title", "type": "string"}])
    async with unchanged(app):
        with pytest.raises(Conflict, match=r"books\.author"):
            await collections.destroy_collection(app, ROOT, "authors")
        with pytest.raises(TypeMismatch):
            await collections.destroy_collection(app, ROOT, "authors", cascade="yes")
        with pytest.raises(Conflict, match="system table"):
            await collections.destroy_collection(app, ROOT, "users")  # `users` is _User
        with pytest.raises(NotFound):
            await collections.destroy_collection(app, ROOT, "; DROP TABLE books")
    assert await collections.destroy_collection(app, ROOT, "authors", cascade=True) == {
        "data": {"name": "authors", "removedFields": ["books.author"]}}
    assert app.catalog.lookup("authors") is None and "author" not in app.catalog.get("books").fields
    with pytest.raises(NotFound):
        await collections.get_collection(app, ROOT, "authors")


async def test_permissions_follow_roles(hub: Hub, app: App) -> None:
    actors = Actors(hub, app, await hub.apps.credentials(app.name))
    await collections.create_collection(app, ROOT, "notes", None, [{"name": "body", "type": "string"},
                                                                   {"name": "secret", "type": "string"}])
    await collections.create_collection(app, ROOT, "vault", None, [{"name": "gold", "type": "double"}])
    await roles.create_role(app, ROOT, "builder", strategy=["list", "get", "createTable", "addField"])
    await roles.create_role(app, ROOT, "reader", strategy=["list", "get"])
    await roles.set_table_permissions(app, ROOT, "reader", "notes", {"list": {"fields": ["body"]}, "get": True})
    await roles.set_table_permissions(app, ROOT, "reader", "vault", {"create": True})
    member = await principal_for(actors, "mia", ("member",))
    builder = await principal_for(actors, "bob", ("builder",))
    reader = await principal_for(actors, "rae", ("reader",))
    # a member's role lacks createTable: refused before the definition is even looked at
    message = await refused(app, PermissionDenied, "action", principal=member, fields=[{"name": "a", "type": "?"}])
    assert "createTable" in message
    async with unchanged(app):
        for call in (collections.create_field(app, member, "notes", {"name": "x", "type": "nope"}),
                     collections.destroy_field(app, member, "notes", "body"),
                     collections.destroy_collection(app, member, "notes"),
                     collections.destroy_collection(app, builder, "notes")):
            with pytest.raises(PermissionDenied):
                await call
    made = await collections.create_collection(app, builder, "drafts", "Drafts", [{"name": "text", "type": "text"}])
    assert made["data"]["title"] == "Drafts"
    await collections.create_field(app, builder, "drafts", {"name": "done", "type": "boolean"})
    # reads show only what the role may read; a hidden table is missing, and never suggested
    listed = {c["name"]: [f["name"] for f in c["fields"]] for c in
              (await collections.list_collections(app, reader))["data"]}
    assert "vault" not in listed and listed["notes"] == ["body", "secret"]  # get may see every field
    assert set(listed) == set(await schema_view.compact(app, reader))
    await roles.set_table_permissions(app, ROOT, "reader", "notes", {"list": {"fields": ["body"]},
                                                                      "get": {"fields": ["body"]}})
    assert [f["name"] for f in (await collections.list_fields(app, reader, "notes"))["data"]] == ["body"]
    with pytest.raises(NotFound) as missing:
        await collections.get_collection(app, reader, "vaul")
    assert "vault" not in missing.value.message and missing.value.details.get("suggestion") is None
    with pytest.raises(NotFound, match="did you mean `vault`"):
        await collections.get_collection(app, ROOT, "vaul")
    # the REST API key (anonymous) may create tables until the app switches client schema changes off
    client = Principal.client(app.name)
    await collections.create_collection(app, client, "guestbook", None, [{"name": "line", "type": "string"}])
    await roles.set_setting(app, ROOT, "clientSchemaChanges", False)
    await refused(app, PermissionDenied, "client_schema", principal=client, name="guests")
    await refused(app, PermissionDenied, "unauthenticated", principal=Principal.nobody(app.name))
    await refused(app, PermissionDenied, "app", principal=Principal.root(app="other"))
    for call in (collections.list_collections(app, Principal.nobody(app.name)),
                 collections.get_collection(app, Principal.client("other"), "notes")):
        with pytest.raises(PermissionDenied):
            await call
    await schema.drop_table(app, ROOT, "guestbook")


async def principal_for(actors: Actors, name: str, held: tuple[str, ...]) -> Principal:
    await actors.sign_up(name, roles_held=held)
    return await actors.principal(name)
