"""Schema changes: real tables and columns, strict definitions, refusal of hostile names."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hivebase.core import records, schema
from hivebase.core.apps import App
from hivebase.core.principal import Principal
from hivebase.errors import (
    Conflict,
    InvalidName,
    InvalidSchema,
    NotFound,
    PermissionDenied,
    TypeMismatch,
    UniqueViolation,
)

pytestmark = pytest.mark.anyio
ROOT = Principal.root()


async def columns(app: App, table: str) -> list[str]:
    def inspect(conn: Any) -> list[str]:
        return [c["name"] for c in sa.inspect(conn).get_columns(table, schema=app.db.schema)]

    async with app.db.read() as conn:
        return await conn.run_sync(inspect)


async def tables(app: App) -> set[str]:
    async with app.db.read() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names(schema=app.db.schema)))


async def test_create_table_makes_real_columns_and_records_notes(app: App) -> None:
    await schema.create_table(app, ROOT, "Team", {"name": {"type": "String", "note": "team name"}})
    t = await schema.create_table(app, ROOT, "Player", {
        "score": {"type": "Number", "isAutoIncre": True, "autoIncreInit": 1000, "note": "game score"},
        "player": {"type": "Pointer", "targetClass": "Team"},
        "nickname": {"type": "String", "unique": True, "required": True},
        "friends": {"type": "Relation", "targetClass": "Player"},
        "loc": {"type": "geo"},
    }, note="people who play")
    assert t.note == "people who play"
    cols = await columns(app, "Player")
    assert cols[:6] == ["objectId", "createdAt", "updatedAt", "ACL", "createdBy", "updatedBy"]
    assert {"score", "player", "nickname", "loc"} <= set(cols) and "friends" not in cols
    assert "_hb_rel_Player_friends" in await tables(app)
    described = t.describe()["fields"]
    assert described["score"] == {"type": "Number", "isAutoIncre": True, "autoIncreInit": 1000, "note": "game score"}
    assert described["loc"]["type"] == "Geo"
    # the definition survives a reload from the catalog tables
    await app.catalog.load()
    assert app.catalog.get("Player").describe() == t.describe()


@pytest.mark.parametrize(("fields", "reason"), [
    ({"objectId": {"type": "String"}}, "reserved_field"),
    ({"createdAt": {"type": "Date"}}, "reserved_field"),
    ({"acl": {"type": "Object"}}, "reserved_field"),
    ({"x": {"type": "Strin"}}, "unknown_type"),
    ({"x": {}}, "unknown_type"),
    ({"x": {"type": "Pointer"}}, "target_missing"),
    ({"x": {"type": "Relation", "targetClass": "Nope"}}, "target_unknown"),
    ({"x": {"type": "String", "isAutoIncre": True}}, "auto_increment"),
    ({"x": {"type": "Number", "isAutoIncre": True, "autoIncreInit": "1"}}, "auto_increment"),
    ({"x": {"type": "String", "unique": "yes"}}, "option"),
    ({"x": {"type": "String", "colour": "red"}}, "option"),
    ({"x": {"type": "Array", "unique": True}}, "option"),
    ({"a b": {"type": "String"}}, "field_name"),
    ({'x" TEXT); DROP TABLE t; --': {"type": "String"}}, "field_name"),
    ({"x": {"type": "Number", "default": "ten"}}, "type"),
    ({"x": {"type": "String"}, "X": {"type": "String"}}, "field_exists"),
    ({"x": 5}, "spec"),
])
async def test_bad_definitions_are_refused_and_create_nothing(app: App, fields: dict[str, Any], reason: str) -> None:
    before = await tables(app)
    with pytest.raises((InvalidSchema, InvalidName, TypeMismatch)) as info:
        await schema.create_table(app, ROOT, "Thing", fields)
    assert info.value.reason == reason, info.value.message
    assert await tables(app) == before and "Thing" not in app.catalog.names()


@pytest.mark.parametrize("name", ["", "1abc", "_User", "a-b", "a" * 41, "Robert'); DROP TABLE x;--", "sqlite_x",
                                  "../etc", None, 12])
async def test_bad_table_names(app: App, name: Any) -> None:
    with pytest.raises(InvalidName):
        await schema.create_table(app, ROOT, name, {})


async def test_table_names_are_case_insensitively_unique(app: App) -> None:
    await schema.create_table(app, ROOT, "Player", {})
    with pytest.raises(InvalidSchema, match="already exists"):
        await schema.create_table(app, ROOT, "player", {})


async def test_field_lifecycle(app: App) -> None:
    await schema.create_table(app, ROOT, "Item", {"name": {"type": "String"}})
    row = await records.create(app, ROOT, "Item", {"name": "a"})
    f = await schema.add_field(app, ROOT, "Item", "size", {"type": "Number", "default": 3, "unique": False})
    assert f.default == 3
    got = await _get(app, "Item", row["objectId"])
    assert got["size"] == 3  # existing rows receive the default
    await schema.add_field(app, ROOT, "Item", "code", {"type": "String", "unique": True})
    await schema.rename_field(app, ROOT, "Item", "code", "sku")
    assert "sku" in await columns(app, "Item") and "code" not in await columns(app, "Item")
    await records.create(app, ROOT, "Item", {"name": "b", "sku": "X1"})
    with pytest.raises(UniqueViolation):  # uniqueness follows the rename
        await records.create(app, ROOT, "Item", {"name": "c", "sku": "X1"})
    await schema.add_index(app, ROOT, "Item", ["name", "size"])
    with pytest.raises(InvalidSchema):
        await schema.add_index(app, ROOT, "Item", ["name", "size"])
    await schema.remove_field(app, ROOT, "Item", "size")
    assert "size" not in await columns(app, "Item")
    assert app.catalog.get("Item").indexes == []
    with pytest.raises(InvalidSchema):
        await schema.remove_field(app, ROOT, "Item", "objectId")
    with pytest.raises(InvalidSchema):
        await schema.add_field(app, ROOT, "Item", "NAME", {"type": "String"})


async def test_unique_index_on_duplicates_fails_cleanly(app: App) -> None:
    await schema.create_table(app, ROOT, "Tag", {"label": {"type": "String"}})
    for _ in range(2):
        await records.create(app, ROOT, "Tag", {"label": "same"})
    with pytest.raises(UniqueViolation):
        await schema.add_index(app, ROOT, "Tag", ["label"], unique=True)
    assert app.catalog.get("Tag").indexes == []


async def test_relation_rename_keeps_members(app: App) -> None:
    await schema.create_table(app, ROOT, "User2", {"name": {"type": "String"}})
    await schema.add_field(app, ROOT, "User2", "likes", {"type": "Relation", "targetClass": "User2"})
    a = await records.create(app, ROOT, "User2", {"name": "a"})
    b = await records.create(app, ROOT, "User2", {"name": "b"})
    ptr = {"__type": "Pointer", "className": "User2", "objectId": b["objectId"]}
    await records.update(app, ROOT, "User2", a["objectId"], {"likes": {"__op": "AddRelation", "objects": [ptr]}})
    await schema.rename_field(app, ROOT, "User2", "likes", "fans")
    jt = app.catalog.get("User2").join_tables["fans"]
    async with app.db.read() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(jt))).scalar_one() == 1


async def test_drop_table_refuses_when_pointed_to(app: App) -> None:
    await schema.create_table(app, ROOT, "Team", {})
    await schema.create_table(app, ROOT, "Player", {"team": {"type": "Pointer", "targetClass": "Team"},
                                                    "rivals": {"type": "Relation", "targetClass": "Team"}})
    with pytest.raises(Conflict) as info:
        await schema.drop_table(app, ROOT, "Team")
    assert info.value.details["referrers"] == ["Player.team", "Player.rivals"]
    assert "Team" in await tables(app)
    removed = await schema.drop_table(app, ROOT, "Team", cascade=True)
    assert removed == ["Player.team", "Player.rivals"]
    assert "Team" not in await tables(app) and "team" not in await columns(app, "Player")
    assert list(app.catalog.get("Player").user_fields()) == []
    with pytest.raises(NotFound):
        await schema.drop_table(app, ROOT, "Team")


async def test_schema_changes_follow_roles(app: App) -> None:
    client = Principal.client(app.name)
    member = Principal("user", app=app.name, user_id="u1", role="member", roles=("member",))
    with pytest.raises(PermissionDenied):
        await schema.create_table(app, member, "T", {})
    with pytest.raises(PermissionDenied):
        await schema.create_table(app, None, "T", {})  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        await schema.create_table(app, Principal.client("another-app"), "T", {})
    await schema.create_table(app, client, "T", {})  # Bmob's development default: clients may create tables
    await schema.add_field(app, client, "T", "a", "String")
    for change in (schema.remove_field(app, client, "T", "a"), schema.drop_table(app, client, "T")):
        with pytest.raises(PermissionDenied):
            await change
    assert "a" in app.catalog.get("T").fields


async def test_other_process_sees_new_tables(app: App) -> None:
    """A catalog of the same app opened elsewhere (another process) picks up changes on a miss."""
    from hivebase.core.catalog import Catalog

    other = Catalog(app.db, refresh_seconds=3600)
    await other.load()
    await schema.create_table(app, ROOT, "Fresh", {"n": {"type": "Number"}})
    assert (await other.table("Fresh")).fields["n"].type == "Number"


async def _get(app: App, table: str, object_id: str) -> dict[str, Any]:
    from hivebase.core import reads

    return await reads.get(app, ROOT, table, object_id)
