"""Each dialect's encoder, on one stored row holding every field type: whole bodies, both dialects."""

from __future__ import annotations

import datetime as dt

import pytest

from hivebase.core import records, schema
from hivebase.core.apps import App
from hivebase.core.principal import Principal
from hivebase.core.render import render_groups, render_row

pytestmark = pytest.mark.anyio
ROOT = Principal.root()
WHEN = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


async def test_every_type_in_both_dialects(app: App) -> None:
    await schema.create_table(app, ROOT, "Team", {"name": {"type": "String"}})
    await schema.create_table(app, ROOT, "Thing", {
        "s": {"type": "String"}, "n": {"type": "Number"}, "b": {"type": "Bool"}, "d": {"type": "Date"},
        "g": {"type": "Geo"}, "a": {"type": "Array"}, "o": {"type": "Object"}, "f": {"type": "File"},
        "p": {"type": "Pointer", "targetClass": "Team"}, "r": {"type": "Relation", "targetClass": "Team"},
        "unset": {"type": "String"}})
    team = await records.create(app, ROOT, "Team", {"name": "red"})
    file = {"name": "a.txt", "url": "http://127.0.0.1/a.txt"}
    row = {"objectId": "thing1"}
    tdef = app.catalog.get("Thing")
    # the values as the core stores them (what a read hands to the encoders)
    values = {"objectId": row["objectId"], "createdAt": WHEN, "updatedAt": WHEN, "s": "x", "n": 2.0, "b": True,
              "d": WHEN, "g": {"latitude": 1.5, "longitude": 2.5}, "a": [1, "two"], "o": {"k": [1]}, "f": file,
              "p": team["objectId"], "unset": None}

    bmob = render_row(tdef, values, "bmob")
    assert bmob == {
        "objectId": row["objectId"], "createdAt": "2026-01-02 03:04:05", "updatedAt": "2026-01-02 03:04:05",
        "s": "x", "n": 2, "b": True, "d": {"__type": "Date", "iso": "2026-01-02 03:04:05"},
        "g": {"__type": "GeoPoint", "latitude": 1.5, "longitude": 2.5}, "a": [1, "two"], "o": {"k": [1]},
        "f": {"__type": "File", **file}, "p": {"__type": "Pointer", "className": "Team", "objectId": team["objectId"]},
        "r": {"__type": "Relation", "className": "Team"}}  # unset left out; the Relation as a descriptor

    nocobase = render_row(tdef, values, "nocobase")
    assert nocobase == {
        "objectId": row["objectId"], "createdAt": "2026-01-02T03:04:05.000Z", "updatedAt": "2026-01-02T03:04:05.000Z",
        "s": "x", "n": 2, "b": True, "d": "2026-01-02T03:04:05.000Z", "g": {"latitude": 1.5, "longitude": 2.5},
        "a": [1, "two"], "o": {"k": [1]}, "f": file, "p": team["objectId"], "unset": None}

    # only the Relation descriptors of the keys asked for
    assert "r" not in render_row(tdef, {"s": "x"}, "bmob", relations=["s"])


def test_computed_values() -> None:
    rows = [{"total": 3.0, "avg": 2.5, "first": WHEN, "team": "red"}]
    assert render_groups(rows, "bmob") == [
        {"total": 3, "avg": 2.5, "first": {"__type": "Date", "iso": "2026-01-02 03:04:05"}, "team": "red"}]
    assert render_groups(rows, "nocobase") == [
        {"total": 3, "avg": 2.5, "first": "2026-01-02T03:04:05.000Z", "team": "red"}]
