"""``/1/schemas``: the table lifecycle over real HTTP, bad definitions that change nothing, the
``clientSchemaChanges`` setting, referenced tables; and ``/1/timestamp``."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import httpx
import pytest

from hivebase.core import roles
from hivebase.core.apps import MAIN
from hivebase.core.principal import Principal
from hivebase.hub import Hub
from tests.rest.conftest import Server, error_of


def set_setting(server: Server, key: str, value: Any, app: str = MAIN) -> None:
    async def run() -> None:
        async with Hub(server.settings) as hub:
            await roles.set_setting(await hub.apps.open(app), Principal.root("test", app=app), key, value)

    asyncio.run(run())


def fields_of(c: httpx.Client, table: str) -> dict[str, Any]:
    r = c.get(f"/1/schemas/{table}")
    assert r.status_code == 200, r.text
    return dict(r.json()["fields"])


def missing(c: httpx.Client, table: str) -> bool:
    r = c.get(f"/1/schemas/{table}")
    return r.status_code == 404 and error_of(r)["code"] == 101


def test_lifecycle(server: Server) -> None:
    with server.client(master=True) as m:
        r = m.post("/1/schemas/Game", json={"className": "Game", "classNote": "matches", "fields": {
            "title": {"type": "String", "unique": True, "note": "name"}, "score": {"type": "Number"}}})
        assert r.status_code == 200, r.text
        made = r.json()
        assert made["className"] == "Game" and made["note"] == "matches"
        assert made["fields"]["title"] == {"type": "String", "unique": True, "note": "name"}
        assert made["fields"]["objectId"]["type"] == "String" and made["fields"]["createdAt"]["type"] == "Date"
        listed = m.get("/1/schemas").json()["results"]
        assert {"Game", "_User"} <= {t["className"] for t in listed}
        assert m.post("/1/classes/Game", json={"title": "a", "score": 3}).status_code == 201
        r = m.put("/1/schemas/Game", json={"fields": {"level": {"type": "Number"}, "score": {"__op": "Delete"}}})
        assert r.status_code == 200, r.text
        assert set(r.json()["fields"]) >= {"title", "level"} and "score" not in r.json()["fields"]
        row = m.get("/1/classes/Game").json()["results"][0]
        assert row["title"] == "a" and "score" not in row
        assert error_of(m.post("/1/classes/Game", json={"score": 1}))["code"] == 105
        assert m.post("/1/classes/Game", json={"title": "b", "level": 2}).status_code == 201
        assert m.delete("/1/schemas/Game").json() == {"msg": "ok"}
        assert missing(m, "Game")
        assert error_of(m.get("/1/classes/Game"))["code"] == 101
    with server.client(master=True) as p:  # Parse's mount answers the same
        assert p.post("/parse/schemas/Item", json={"fields": {"n": "Number"}}).status_code == 200
        assert "n" in fields_of(p, "Item")


@pytest.mark.parametrize("fields,code", [
    ({"x": {"type": "Strng"}}, 10066), ({"x": {"type": 5}}, 10066), ({"x": {}}, 10066), ({"x": 7}, 10066),
    ({"x": {"type": "Pointer"}}, 10064), ({"x": {"type": "Relation", "targetClass": "Nope"}}, 10065),
    ({"x": {"type": "String", "targetClass": "_User"}}, 10064),
    ({"objectId": {"type": "String"}}, 10062), ({"createdAt": "Date"}, 10062), ({"ACL": "Object"}, 10062),
    ({"x": "String", "X": "Number"}, 10063), ({"1x": "String"}, 105), ({"a b": "String"}, 105),
    ({"x;DROP TABLE Game": "String"}, 105), ({"x": {"type": "String", "unique": "yes"}}, 10066),
    ({"x": {"type": "Number", "default": "ten"}}, 111), ({"x": {"type": "String", "note": "n" * 5000}}, 10066),
    ({f"f{i}": "String" for i in range(300)}, 10066), ("String", 10066),
])
def test_bad_definitions_create_nothing(server: Server, fields: Any, code: int) -> None:
    with server.client(master=True) as m:
        r = m.post("/1/schemas/Game", json={"fields": fields})
        assert r.status_code == 400 and error_of(r)["code"] == code, r.text
        assert missing(m, "Game")


@pytest.mark.parametrize("name,code", [
    ("_Hidden", 103), ("sqlite_master", 103), ("1Game", 103), ("Game%3BDROP%20TABLE%20_User", 103),
    ("G" * 41, 103), ("_User", 103), ("_user", 103),
])
def test_bad_table_names(server: Server, name: str, code: int) -> None:
    with server.client(master=True) as m:
        r = m.post(f"/1/schemas/{name}", json={"fields": {"x": "String"}})
        assert error_of(r)["code"] == code, r.text
        assert {t["className"] for t in m.get("/1/schemas").json()["results"]} == {"_User"}
        mismatch = m.post("/1/schemas/Game", json={"className": "Other", "fields": {}})
        assert error_of(mismatch)["code"] == 103 and missing(m, "Game") and missing(m, "Other")
        assert error_of(m.post("/1/schemas/Game", json={"fields": {}, "indexes": {}}))["code"] == 107
        assert error_of(m.post("/1/schemas/Game", json=[1]))["code"] == 107
        assert missing(m, "Game")


@pytest.mark.parametrize("change,code", [
    ({"level": {"type": "Number"}, "title": {"type": "String"}}, 10063),
    ({"level": {"type": "Number"}, "TITLE": {"type": "String"}}, 10063),
    ({"level": {"type": "Number"}, "LEVEL": {"type": "Number"}}, 10063),
    ({"level": {"type": "Number"}, "bad": {"type": "Bogus"}}, 10066),
    ({"level": {"type": "Number"}, "objectId": {"__op": "Delete"}}, 10062),
    ({"level": {"type": "Number"}, "nope": {"__op": "Delete"}}, 105),
    ({"level": {"type": "Number"}, "title": {"__op": "Rename"}}, 107),
    ({"title": {"__op": "Delete"}, "level": {"type": "Pointer", "targetClass": "Nope"}}, 10065),
    ({"title": {"__op": "Delete"}, "ACL": {"type": "Object"}}, 10062),
])
def test_bad_changes_change_nothing(server: Server, change: dict[str, Any], code: int) -> None:
    server.make_table("Game", {"title": "String", "score": "Number"})
    with server.client(master=True) as m:
        before = fields_of(m, "Game")
        r = m.put("/1/schemas/Game", json={"fields": change})
        assert r.status_code == 400 and error_of(r)["code"] == code, r.text
        assert fields_of(m, "Game") == before
        assert error_of(m.put("/1/schemas/Nope", json={"fields": {"a": "String"}}))["code"] == 101


def test_unique_field_with_a_default_on_existing_rows(server: Server) -> None:
    server.make_table("Game", {"title": "String"})
    with server.client(master=True) as m:
        for t in ("a", "b"):
            assert m.post("/1/classes/Game", json={"title": t}).status_code == 201
        before = fields_of(m, "Game")
        r = m.put("/1/schemas/Game", json={"fields": {"level": "Number", "title": {"__op": "Delete"},
                                                      "code": {"type": "String", "unique": True, "default": "x"}}})
        assert error_of(r)["code"] == 401
        assert fields_of(m, "Game") == before


def test_client_schema_changes_setting(server: Server) -> None:
    with server.client() as c, server.client(master=True) as m:
        assert c.post("/1/schemas/Open", json={"fields": {"a": "String"}}).status_code == 200
        assert c.put("/1/schemas/Open", json={"fields": {"b": "Number"}}).status_code == 200
        removal = c.put("/1/schemas/Open", json={"fields": {"a": {"__op": "Delete"}}})
        assert removal.status_code == 403 and error_of(removal)["code"] == 122
        assert error_of(c.delete("/1/schemas/Open"))["code"] == 122
        set_setting(server, "clientSchemaChanges", False)
        for r in (c.post("/1/schemas/Closed", json={"fields": {"a": "String"}}),
                  c.put("/1/schemas/Open", json={"fields": {"c": "Number"}}),
                  c.put("/1/schemas/Open", json={"fields": {"a": {"__op": "Delete"}}}),
                  c.delete("/1/schemas/Open")):
            assert r.status_code == 403 and error_of(r)["code"] == 10040, r.text
        assert missing(m, "Closed") and set(fields_of(m, "Open")) >= {"a", "b"} and "c" not in fields_of(m, "Open")
        assert m.post("/1/schemas/Closed", json={"fields": {"a": "String"}}).status_code == 200
        assert m.put("/1/schemas/Open", json={"fields": {"c": "Number", "a": {"__op": "Delete"}}}).status_code == 200
        assert m.delete("/1/schemas/Closed").status_code == 200
        assert c.get("/1/schemas/Open").status_code == 200  # reading the schema stays open to the app's clients


def test_referenced_and_system_tables_are_not_dropped(server: Server) -> None:
    with server.client(master=True) as m:
        assert m.post("/1/schemas/Team", json={"fields": {"name": "String"}}).status_code == 200
        assert m.post("/1/schemas/Player", json={"fields": {
            "team": {"type": "Pointer", "targetClass": "Team"}}}).status_code == 200
        r = m.delete("/1/schemas/Team")
        assert r.status_code == 409 and error_of(r)["code"] == 10070 and "Player.team" in r.json()["error"]
        assert not missing(m, "Team")
        system = m.delete("/1/schemas/_User")
        assert error_of(system)["code"] == 10070 and not missing(m, "_User")
        assert m.delete("/1/schemas/Player").status_code == 200
        assert m.delete("/1/schemas/Team").status_code == 200
        assert error_of(m.delete("/1/schemas/Team"))["code"] == 101


def test_other_apps_and_credentials(server: Server) -> None:
    server.make_table("Secret", {"code": "String"}, app="other")
    with server.client(master=True) as m:
        assert missing(m, "Secret")
        assert error_of(m.delete("/1/schemas/Secret"))["code"] == 101
        assert error_of(m.put("/1/schemas/Secret", json={"fields": {"x": "String"}}))["code"] == 101
        assert "Secret" not in {t["className"] for t in m.get("/1/schemas").json()["results"]}
    with server.client("other", master=True) as o:
        assert set(fields_of(o, "Secret")) >= {"code"} and "x" not in fields_of(o, "Secret")
    with server.raw() as raw:
        assert raw.get("/1/schemas").status_code == 401
        r = raw.post("/1/schemas/Game", json={"fields": {}}, headers={
            "X-Bmob-Application-Id": server.apps[MAIN]["applicationId"],
            "X-Bmob-Master-Key": server.apps["other"]["masterKey"]})
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
    with server.client(master=True) as m:
        assert missing(m, "Game")


def test_timestamp(server: Server) -> None:
    with server.client() as c:
        before = time.time()
        body = c.get("/1/timestamp").json()
        assert set(body) == {"timestamp", "datetime"} and isinstance(body["timestamp"], int)
        assert before - 2 <= body["timestamp"] <= time.time() + 1
        parsed = dt.datetime.strptime(body["datetime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
        assert int(parsed.timestamp()) == body["timestamp"]
    with server.client(master=True) as m:
        assert m.get("/parse/timestamp").status_code == 200
    with server.raw() as raw:
        assert raw.get("/1/timestamp").status_code == 401
