"""``POST /1/batch``: mixed writes across tables, per-item errors, transactions that undo everything,
per-item session tokens, and malformed or hostile requests that change nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from hivebase.core.apps import MAIN
from hivebase.core.identity import users
from hivebase.core.principal import Principal
from hivebase.hub import Hub
from tests.rest.conftest import Server, error_of


def sign_up(server: Server, username: str, app: str = MAIN) -> dict[str, Any]:
    """A user of ``app`` with a session token, made through the core (the users door is tested elsewhere)."""

    async def run() -> dict[str, Any]:
        async with Hub(server.settings) as hub:
            opened = await hub.apps.open(app)
            return await users.sign_up(opened, Principal.root("test", app=app),
                                       {"username": username, "password": "secret123"})

    return asyncio.run(run())


def rows(server: Server, table: str, app: str = MAIN) -> dict[str, dict[str, Any]]:
    """Every row of ``table`` by objectId, read with the master key."""
    with server.client(app, master=True) as c:
        r = c.get(f"/1/classes/{table}", params={"limit": 1000})
        assert r.status_code == 200, r.text
        return {row["objectId"]: row for row in r.json()["results"]}


def create(c: httpx.Client, table: str, data: dict[str, Any]) -> str:
    r = c.post(f"/1/classes/{table}", json=data)
    assert r.status_code == 201, r.text
    return str(r.json()["objectId"])


@pytest.fixture
def tables(server: Server) -> Server:
    server.make_table("Player", {"name": "String", "score": "Number"})
    server.make_table("Team", {"title": {"type": "String", "unique": True}})
    return server


def test_mixed_writes_across_two_tables(tables: Server) -> None:
    with tables.client() as c:
        keep, gone = create(c, "Player", {"name": "ann", "score": 1}), create(c, "Player", {"name": "bob"})
        r = c.post("/1/batch", json={"requests": [
            {"method": "POST", "path": "/1/classes/Player", "body": {"name": "cid", "score": 3}},
            {"method": "POST", "path": "/parse/classes/Team", "body": {"title": "red"}},
            {"method": "PUT", "path": f"/1/classes/Player/{keep}", "body": {"score": {"__op": "Increment",
                                                                                      "amount": 4}}},
            {"method": "DELETE", "path": f"/1/classes/Player/{gone}"},
        ]})
    assert r.status_code == 200, r.text
    made, team, updated, deleted = r.json()
    assert set(made["success"]) == {"objectId", "createdAt"} and set(team["success"]) == {"objectId", "createdAt"}
    assert set(updated["success"]) == {"updatedAt", "score"} and updated["success"]["score"] == 5
    assert deleted == {"success": {}}
    players = rows(tables, "Player")
    assert set(players) == {keep, made["success"]["objectId"]} and players[keep]["score"] == 5
    assert [t["title"] for t in rows(tables, "Team").values()] == ["red"]


def test_each_item_fails_alone(tables: Server) -> None:
    with tables.client() as c:
        oid = create(c, "Player", {"name": "ann", "score": 1})
        create(c, "Team", {"title": "red"})
        r = c.post("/1/batch", json={"requests": [
            {"method": "POST", "path": "/1/classes/Player", "body": {"name": "ok"}},
            {"method": "POST", "path": "/1/classes/Player", "body": {"scroe": 1}},
            {"method": "PUT", "path": "/1/classes/Player/nope", "body": {"score": 2}},
            {"method": "POST", "path": "/1/classes/Nope", "body": {}},
            {"method": "POST", "path": "/1/classes/Player", "body": {"score": "high"}},
            {"method": "POST", "path": "/1/classes/Team", "body": {"title": "red"}},
            {"method": "PUT", "path": f"/1/classes/Player/{oid}", "body": {"score": 9}},
        ]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert "success" in out[0] and "success" in out[6]
    codes = [item["error"]["code"] for item in out[1:6]]
    assert codes == [105, 101, 101, 111, 401], out
    assert "did you mean `score`" in out[1]["error"]["error"]
    players = rows(tables, "Player")
    assert len(players) == 2 and players[oid]["score"] == 9
    assert len(rows(tables, "Team")) == 1


def test_transaction_undoes_everything(tables: Server) -> None:
    with tables.client() as c:
        oid = create(c, "Player", {"name": "ann", "score": 1})
        before = rows(tables, "Player")
        r = c.post("/1/batch", json={"transaction": True, "requests": [
            {"method": "POST", "path": "/1/classes/Player", "body": {"name": "new"}},
            {"method": "PUT", "path": f"/1/classes/Player/{oid}", "body": {"score": 100}},
            {"method": "POST", "path": "/1/classes/Team", "body": {"title": "blue"}},
            {"method": "DELETE", "path": f"/1/classes/Player/{oid}"},
            {"method": "POST", "path": "/1/classes/Player", "body": {"scroe": 1}},
        ]})
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["code"] == 105 and body["index"] == 4 and body["error"].startswith("requests[4]: ")
        assert rows(tables, "Player") == before and rows(tables, "Team") == {}
        # an unknown table, found before anything runs
        r = c.post("/1/batch", json={"transaction": True, "requests": [
            {"method": "POST", "path": "/1/classes/Player", "body": {"name": "x"}},
            {"method": "POST", "path": "/1/classes/Nope", "body": {}}]})
        assert r.status_code == 404 and r.json()["code"] == 101 and r.json()["index"] == 1
        # a unique violation in the middle
        r = c.post("/1/batch", json={"transaction": True, "requests": [
            {"method": "POST", "path": "/1/classes/Team", "body": {"title": "t"}},
            {"method": "POST", "path": "/1/classes/Team", "body": {"title": "t"}}]})
        assert r.json()["code"] == 401 and r.json()["index"] == 1
        assert rows(tables, "Player") == before and rows(tables, "Team") == {}
        ok = c.post("/1/batch", json={"transaction": True, "requests": [
            {"method": "POST", "path": "/1/classes/Team", "body": {"title": "t"}},
            {"method": "PUT", "path": f"/1/classes/Player/{oid}", "body": {"score": 7}}]})
        assert ok.status_code == 200 and all("success" in item for item in ok.json())
        assert rows(tables, "Player")[oid]["score"] == 7


def test_size_limits(tables: Server) -> None:
    item = {"method": "POST", "path": "/1/classes/Player", "body": {"name": "x"}}
    with tables.client() as c:
        r = c.post("/1/batch", json={"requests": [item] * 51})
        assert r.status_code == 400 and error_of(r)["code"] == 114
        assert rows(tables, "Player") == {}
        r = c.post("/1/batch", json={"requests": [item] * 50})
        assert r.status_code == 200 and len(r.json()) == 50 and all("success" in i for i in r.json())
        assert len(rows(tables, "Player")) == 50
        assert c.post("/1/batch", json={"requests": []}).json() == []


@pytest.mark.parametrize("body,code", [
    ({"requests": {"method": "POST"}}, 112), ({"requests": "x"}, 112), ({}, 112), ({"requests": None}, 112),
    ([{"method": "POST"}], 107), ({"requests": [], "transaction": "yes"}, 107),
    ({"requests": [], "extra": 1}, 107),
])
def test_malformed_bodies(tables: Server, body: Any, code: int) -> None:
    with tables.client() as c:
        r = c.post("/1/batch", json=body)
        assert r.status_code == 400 and error_of(r)["code"] == code, r.text
        bad = c.post("/1/batch", content=b"{not json", headers={"content-type": "application/json"})
        assert error_of(bad)["code"] == 107
        text = c.post("/1/batch", content=json.dumps({"requests": []}), headers={"content-type": "text/plain"})
        assert error_of(text)["code"] == 107


HOSTILE_ITEMS: list[Any] = [
    {"method": "POST", "path": "/1/classes/../users", "body": {}},
    {"method": "PUT", "path": "/1/classes/Player/abc/extra", "body": {}},
    {"method": "POST", "path": "/1/classes/Player/", "body": {}},
    {"method": "POST", "path": "/1/classes/", "body": {}},
    {"method": "POST", "path": "/1/classes/Player?where=1", "body": {}},
    {"method": "POST", "path": "/1/classes/Player%2F..", "body": {}},
    {"method": "POST", "path": "/1/classes/Player; DROP TABLE Player", "body": {}},
    {"method": "POST", "path": "http://evil.example/1/classes/Player", "body": {}},
    {"method": "POST", "path": "/1/users", "body": {"username": "x", "password": "y"}},
    {"method": "DELETE", "path": "/1/schemas/Player"},
    {"method": "POST", "path": "/2/files/a.txt", "body": {}},
    {"method": "GET", "path": "/1/classes/Player"},
    {"method": "PATCH", "path": "/1/classes/Player/abc", "body": {}},
    {"method": 5, "path": "/1/classes/Player"},
    {"method": "POST", "path": ["/1/classes/Player"]},
    {"method": "POST", "path": "/1/classes/Player", "body": "name=x"},
    {"method": "POST", "path": "/1/classes/Player", "body": [1]},
    {"method": "POST", "path": "/1/classes/Player/abc", "body": {}},
    {"method": "PUT", "path": "/1/classes/Player", "body": {}},
    {"method": "DELETE", "path": "/1/classes/Player/abc", "body": {"x": 1}},
    {"method": "POST", "path": "/1/classes/Player", "token": 5},
    {"method": "POST", "path": "/1/classes/Player", "sql": "DROP TABLE Player"},
    "POST /1/classes/Player", None, 7,
]


@pytest.mark.parametrize("item", HOSTILE_ITEMS)
def test_malformed_items_refuse_the_whole_batch(tables: Server, item: Any) -> None:
    with tables.client() as c:
        r = c.post("/1/batch", json={"requests": [
            {"method": "POST", "path": "/1/classes/Player", "body": {"name": "first"}}, item]})
        body = error_of(r)
        assert r.status_code == 400 and body["code"] == 113 and body["error"].startswith("requests[1]: "), r.text
    assert rows(tables, "Player") == {}


@pytest.mark.parametrize("table", ["Player;DROP_TABLE_Player", 'Player"--', "_hb_tables", "_hb_sessions",
                                   "sqlite_master", "Secret", "player", "x" * 120])
def test_hostile_table_names_are_unknown_tables(tables: Server, table: str) -> None:
    tables.make_table("Secret", {"code": "String"}, app="other")
    with tables.client() as c:
        oid = create(c, "Player", {"name": "ann"})
        r = c.post("/1/batch", json={"requests": [
            {"method": "POST", "path": f"/1/classes/{table}", "body": {"code": "x"}},
            {"method": "DELETE", "path": f"/1/classes/{table}/{oid}"}]})
        assert r.status_code == 200, r.text
        assert [i["error"]["code"] for i in r.json()] == [101, 101]
    assert set(rows(tables, "Player")) == {oid} and rows(tables, "Secret", app="other") == {}


def test_other_apps_rows_and_keys(tables: Server) -> None:
    tables.make_table("Player", {"name": "String", "score": "Number"}, app="other")
    with tables.client("other") as o:
        foreign = create(o, "Player", {"name": "theirs"})
    with tables.client() as c:
        r = c.post("/1/batch", json={"requests": [
            {"method": "PUT", "path": f"/1/classes/Player/{foreign}", "body": {"name": "mine"}},
            {"method": "DELETE", "path": f"/1/classes/Player/{foreign}"}]})
        assert [i["error"]["code"] for i in r.json()] == [101, 101]
    assert rows(tables, "Player", app="other")[foreign]["name"] == "theirs"
    other = tables.apps["other"]
    with tables.raw() as raw:
        r = raw.post("/1/batch", json={"requests": []}, headers={
            "X-Bmob-Application-Id": tables.apps[MAIN]["applicationId"], "X-Bmob-REST-API-Key": other["restApiKey"]})
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}


def test_per_item_session_tokens(tables: Server) -> None:
    ann, bob = sign_up(tables, "ann"), sign_up(tables, "bob")
    acl = {ann["objectId"]: {"read": True, "write": True}}
    with tables.client() as c:
        r = c.post("/1/batch", json={"requests": [
            {"method": "POST", "path": "/1/classes/Player", "body": {"name": "hers", "ACL": acl},
             "token": ann["sessionToken"]},
            {"method": "POST", "path": "/1/classes/Player", "body": {"name": "x"}, "token": "not-a-token"},
        ]})
        made, bad = r.json()
        oid = made["success"]["objectId"]
        assert bad["error"]["code"] == 211
        r = c.post("/1/batch", json={"requests": [
            {"method": "PUT", "path": f"/1/classes/Player/{oid}", "body": {"score": 1}},
            {"method": "PUT", "path": f"/1/classes/Player/{oid}", "body": {"score": 2}, "token": bob["sessionToken"]},
            {"method": "PUT", "path": f"/1/classes/Player/{oid}", "body": {"score": 3}, "token": ann["sessionToken"]},
        ]})
        assert [next(iter(i)) for i in r.json()] == ["error", "error", "success"], r.json()
        assert r.json()[0]["error"]["code"] == 101
        # in a transaction a bad token fails everything before anything runs
        r = c.post("/1/batch", json={"transaction": True, "requests": [
            {"method": "DELETE", "path": f"/1/classes/Player/{oid}", "token": ann["sessionToken"]},
            {"method": "POST", "path": "/1/classes/Player", "body": {"name": "y"}, "token": "x" * 500}]})
        assert r.status_code == 401 and r.json()["code"] == 211 and r.json()["index"] == 1
    stored = rows(tables, "Player")
    assert set(stored) == {oid} and stored[oid]["score"] == 3 and stored[oid]["createdBy"] == ann["objectId"]
