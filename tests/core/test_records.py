"""Strict writes: every bad write names its field and leaves the database exactly as it was."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from hivebase.core import reads, records, schema
from hivebase.core.apps import App
from hivebase.core.principal import Principal
from hivebase.core.render import render_row
from hivebase.errors import (
    HivebaseError,
    InvalidValue,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    ReadOnlyField,
    TypeMismatch,
    UniqueViolation,
    UnknownField,
)

pytestmark = pytest.mark.anyio
ROOT = Principal.root()


def ptr(table: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": table, "objectId": oid}


@pytest.fixture
async def game(app: App) -> App:
    await schema.create_table(app, ROOT, "Team", {"name": {"type": "String", "unique": True}})
    await schema.create_table(app, ROOT, "Player", {
        "nickname": {"type": "String", "unique": True},
        "score": {"type": "Number"},
        "rank": {"type": "Number", "isAutoIncre": True, "autoIncreInit": 1000},
        "active": {"type": "Bool", "default": True},
        "team": {"type": "Pointer", "targetClass": "Team"},
        "tags": {"type": "Array"},
        "stats": {"type": "Object"},
        "born": {"type": "Date"},
        "photo": {"type": "File"},
        "loc": {"type": "Geo"},
        "friends": {"type": "Relation", "targetClass": "Player"},
        "email": {"type": "String", "required": True, "default": "none@example.com"},
    })
    return app


async def snapshot(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (user tables, join tables, counters) in a comparable form."""
    out = {}
    async with app.db.read() as conn:
        for t in app.catalog.tables.values():
            for table in [t.table, *t.join_tables.values()]:
                rows = (await conn.execute(sa.select(table))).all()
                out[table.name] = sorted(repr(tuple(r)) for r in rows)
        out["_counters"] = [repr(tuple(r)) for r in (await conn.execute(sa.select(app.catalog.t_counters))).all()]
    return out


async def test_create_round_trip_in_both_dialects(game: App) -> None:
    team = await records.create(game, ROOT, "Team", {"name": "Reds"})
    row = await records.create(game, ROOT, "Player", {
        "nickname": "ann", "score": 12.5, "team": ptr("Team", team["objectId"]), "tags": ["a", 1],
        "stats": {"wins": 3}, "born": {"__type": "Date", "iso": "2011-08-21 18:02:52"},
        "photo": {"__type": "File", "filename": "a.png", "url": "http://x/a.png"},
        "loc": {"__type": "GeoPoint", "latitude": 40.5, "longitude": -3.7},
    })
    assert len(row["objectId"]) == 10 and row["rank"] == 1000 and row["active"] is True
    tdef = game.catalog.get("Player")
    got = await reads.get(game, ROOT, "Player", row["objectId"])
    bmob = render_row(tdef, got, "bmob")
    assert bmob["team"] == ptr("Team", team["objectId"])
    assert bmob["born"] == {"__type": "Date", "iso": "2011-08-21 18:02:52"}
    assert bmob["loc"] == {"__type": "GeoPoint", "latitude": 40.5, "longitude": -3.7}
    assert bmob["photo"] == {"__type": "File", "filename": "a.png", "url": "http://x/a.png"}
    assert bmob["friends"] == {"__type": "Relation", "className": "Player"}
    assert len(bmob["createdAt"]) == 19 and bmob["score"] == 12.5 and bmob["email"] == "none@example.com"
    noco = render_row(tdef, got, "nocobase")
    assert noco["born"] == "2011-08-21T18:02:52.000Z" and noco["team"] == team["objectId"]
    assert noco["createdAt"].endswith("Z") and "T" in noco["createdAt"]


BAD_WRITES: list[tuple[dict[str, Any], type[HivebaseError], str]] = [
    ({"scroe": 1}, UnknownField, "did you mean `score`"),
    ({"nickname": 5}, TypeMismatch, "`Player.nickname` expects a string, received number"),
    ({"score": "12"}, TypeMismatch, "expects a number, received string"),
    ({"score": True}, TypeMismatch, "received boolean"),
    ({"score": float("inf")}, InvalidValue, "finite"),
    ({"score": 10**30}, InvalidValue, "out of range"),
    ({"active": "yes"}, TypeMismatch, "boolean"),
    ({"team": "abc123"}, TypeMismatch, "bare objectId string is not a Pointer"),
    ({"team": ptr("Team", "missing")}, InvalidValue, "does not exist"),
    ({"team": ptr("Player", "x")}, InvalidValue, "points to Team"),
    ({"tags": "a,b"}, TypeMismatch, "expects an array"),
    ({"stats": [1]}, TypeMismatch, "expects an object"),
    ({"born": "yesterday"}, InvalidValue, "is not a date"),
    ({"born": {"__type": "Date", "iso": 5}}, TypeMismatch, "Date"),
    ({"loc": {"__type": "GeoPoint", "latitude": 91, "longitude": 0}}, InvalidValue, "latitude"),
    ({"photo": {"__type": "File"}}, TypeMismatch, "filename"),
    ({"friends": [ptr("Player", "x")]}, TypeMismatch, "AddRelation"),
    ({"objectId": "mine"}, ReadOnlyField, "objectId"),
    ({"createdAt": "2020-01-01"}, ReadOnlyField, "createdAt"),
    ({"rank": 5}, ReadOnlyField, "rank"),
    ({"email": None}, InvalidValue, "required"),
    ({"ACL": {"*": {"read": "yes"}}}, InvalidValue, "ACL"),
    ({"score": {"__op": "Explode"}}, InvalidValue, "unknown operation"),
    ({"nickname": {"__op": "Increment", "amount": 1}}, TypeMismatch, "Increment applies to Number"),
    ({"stats.wins": 1}, InvalidValue, "existing rows"),
    ({'nickname" = 1; DROP TABLE "Player"; --': 1}, UnknownField, "is not a field of Player"),
    ({"nickname": "x" * 1_000_001}, InvalidValue, "longer"),
]


@pytest.mark.parametrize(("data", "error", "text"), BAD_WRITES)
async def test_bad_creates_change_nothing(game: App, data: dict[str, Any], error: type[HivebaseError],
                                          text: str) -> None:
    await records.create(game, ROOT, "Player", {"nickname": "seed"})
    before = await snapshot(game)
    with pytest.raises(error) as info:
        await records.create(game, ROOT, "Player", data)
    assert text in info.value.message
    assert "SELECT" not in info.value.message and "INSERT" not in info.value.message
    assert await snapshot(game) == before


async def test_non_object_data_and_unknown_table(game: App) -> None:
    for data in (None, [], "x", 5):
        with pytest.raises(TypeMismatch):
            await records.create(game, ROOT, "Player", data)
    with pytest.raises(NotFound, match="did you mean `Player`"):
        await records.create(game, ROOT, "Playr", {})


async def test_unique_violation_names_field(game: App) -> None:
    await records.create(game, ROOT, "Player", {"nickname": "ann"})
    before = await snapshot(game)
    with pytest.raises(UniqueViolation) as info:
        await records.create(game, ROOT, "Player", {"nickname": "ann"})
    assert info.value.field == "nickname"
    assert await snapshot(game) == before  # the auto-increment counter did not move either


async def test_update_replaces_whole_values_and_applies_operators(game: App) -> None:
    row = await records.create(game, ROOT, "Player", {"nickname": "ann", "score": 1, "tags": ["a", "b"],
                                                      "stats": {"wins": 1, "nested": {"x": [1, 2]}}})
    oid = row["objectId"]
    out = await records.update(game, ROOT, "Player", oid, {
        "score": {"__op": "Increment", "amount": 4},
        "tags": {"__op": "AddUnique", "objects": ["b", "c", "c"]},
        "stats.nested.x.1": 20,
        "stats.losses": {"__op": "Increment", "amount": 2},
    })
    assert out["score"] == 5
    got = await reads.get(game, ROOT, "Player", oid)
    assert got["tags"] == ["a", "b", "c"]
    assert got["stats"] == {"wins": 1, "nested": {"x": [1, 20]}, "losses": 2}
    await records.update(game, ROOT, "Player", oid, {"stats": {"only": True}, "tags": {"__op": "Remove",
                                                                                       "objects": ["a"]}})
    got = await reads.get(game, ROOT, "Player", oid)
    assert got["stats"] == {"only": True} and got["tags"] == ["b", "c"]  # whole replacement, not a merge
    await records.update(game, ROOT, "Player", oid, {"score": {"__op": "Delete"}, "tags": {"__op": "Add",
                                                                                           "objects": ["b"]}})
    got = await reads.get(game, ROOT, "Player", oid)
    assert got["score"] is None and got["tags"] == ["b", "c", "b"]
    assert got["updatedAt"] > got["createdAt"]


async def test_relations_add_and_remove(game: App) -> None:
    a, b, c = [await records.create(game, ROOT, "Player", {"nickname": n}) for n in "abc"]
    await records.update(game, ROOT, "Player", a["objectId"], {"friends": {"__op": "AddRelation", "objects": [
        ptr("Player", b["objectId"]), ptr("Player", c["objectId"]), ptr("Player", b["objectId"])]}})
    rows = [await reads.get(game, ROOT, "Player", a["objectId"])]
    await reads.append_relations(game, ROOT, "Player", rows, ["friends"])
    assert sorted(r["nickname"] for r in rows[0]["friends"]) == ["b", "c"]
    await records.update(game, ROOT, "Player", a["objectId"], {"friends": {
        "__op": "RemoveRelation", "objects": [ptr("Player", b["objectId"])]}})
    await reads.append_relations(game, ROOT, "Player", rows, ["friends"])
    assert [r["nickname"] for r in rows[0]["friends"]] == ["c"]
    before = await snapshot(game)
    with pytest.raises(InvalidValue, match="does not exist"):
        await records.update(game, ROOT, "Player", a["objectId"], {"friends": {
            "__op": "AddRelation", "objects": [ptr("Player", "ghost")]}})
    assert await snapshot(game) == before
    await records.delete(game, ROOT, "Player", c["objectId"])  # membership goes with the row
    await reads.append_relations(game, ROOT, "Player", rows, ["friends"])
    assert rows[0]["friends"] == []


@pytest.mark.parametrize("data", [
    {"scroe": 1}, {"score": "x"}, {"tags": {"__op": "Add", "objects": "x"}}, {"team": "bare"},
    {"stats.a": 1, "stats": {}}, {"score": {"__op": "Increment", "amount": "1"}}, {"nickname": "taken"},
])
async def test_bad_updates_change_nothing(game: App, data: dict[str, Any]) -> None:
    await records.create(game, ROOT, "Player", {"nickname": "taken"})
    row = await records.create(game, ROOT, "Player", {"nickname": "me", "score": 1, "stats": {"a": 0}})
    before = await snapshot(game)
    with pytest.raises(HivebaseError):
        await records.update(game, ROOT, "Player", row["objectId"], data)
    assert await snapshot(game) == before


async def test_missing_rows_and_hostile_ids(game: App) -> None:
    for oid in ("nope", "' OR '1'='1", "x" * 1000, 5, None):
        with pytest.raises(NotFound):
            await records.update(game, ROOT, "Player", oid, {"score": 1})  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            await records.delete(game, ROOT, "Player", oid)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            await reads.get(game, ROOT, "Player", oid)


async def test_batch_is_all_or_nothing(game: App) -> None:
    await records.create(game, ROOT, "Team", {"name": "Reds"})
    before = await snapshot(game)
    ops = [records.Op("create", "Team", data={"name": "Blues"}),
           records.Op("create", "Player", data={"nickname": "x"}),
           records.Op("create", "Team", data={"name": "Reds"})]
    with pytest.raises(UniqueViolation) as info:
        await records.batch(game, ROOT, ops)
    assert info.value.details["index"] == 2
    assert await snapshot(game) == before
    results = await records.batch(game, ROOT, ops, atomic=False)
    assert [r.error is None for r in results] == [True, True, False]
    assert await reads.count(game, ROOT, "Team") == 2
    with pytest.raises(LimitExceeded):
        await records.batch(game, ROOT, [records.Op("create", "Team", data={})] * 51)


async def test_auto_increment_is_never_duplicated_under_concurrency(game: App) -> None:
    async def one(i: int) -> int:
        return int((await records.create(game, ROOT, "Player", {"nickname": f"p{i}"}))["rank"])

    ranks = await asyncio.gather(*(one(i) for i in range(40)))
    assert len(set(ranks)) == 40 and min(ranks) >= 1000


async def test_writes_need_a_principal(game: App) -> None:
    with pytest.raises(PermissionDenied):
        await records.create(game, None, "Player", {})  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        await records.create(game, Principal("nobody"), "Player", {})
