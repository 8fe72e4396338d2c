"""``/1/roles``: Bmob ``_Role`` objects over the core's roles — the master key manages them, anyone else is
refused (206); bad names (139), unknown users and malformed relations change nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from hivebase.core import roles
from hivebase.core.apps import MAIN
from hivebase.core.identity import users
from hivebase.core.principal import Principal
from hivebase.hub import Hub
from tests.rest.conftest import Server, error_of


def sign_up(server: Server, username: str, app: str = MAIN) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with Hub(server.settings) as hub:
            return await users.sign_up(await hub.apps.open(app), Principal.root("test", app=app),
                                       {"username": username, "password": "secret123"})

    return asyncio.run(run())


def held(server: Server, user_id: str) -> list[str]:
    """The roles a user holds, read through the core."""

    async def run() -> list[str]:
        async with Hub(server.settings) as hub:
            found = await roles.user_roles(await hub.apps.open(MAIN), Principal.root("test", app=MAIN), user_id)
            return list(found["roles"])

    return asyncio.run(run())


def pointers(*ids: str, table: str = "_User") -> list[dict[str, str]]:
    return [{"__type": "Pointer", "className": table, "objectId": i} for i in ids]


def role_names(m: httpx.Client) -> set[str]:
    r = m.get("/1/roles")
    assert r.status_code == 200, r.text
    return {role["objectId"] for role in r.json()["results"]}


def test_lifecycle_with_the_master_key(server: Server) -> None:
    ann, bob = sign_up(server, "ann")["objectId"], sign_up(server, "bob")["objectId"]
    with server.client(master=True) as m:
        r = m.post("/1/roles", json={"name": "Moderators", "ACL": {"*": {"read": True}},
                                     "users": {"__op": "AddRelation", "objects": pointers(ann)}})
        assert r.status_code == 201, r.text
        assert r.json()["objectId"] == "Moderators" and len(r.json()["createdAt"]) == 19
        assert "Moderators" in held(server, ann) and "Moderators" not in held(server, bob)
        got = m.get("/1/roles/Moderators").json()
        assert got["objectId"] == got["name"] == "Moderators"
        assert got["users"] == {"__type": "Relation", "className": "_User"}
        assert got["roles"] == {"__type": "Relation", "className": "_Role"}
        assert {"Moderators", "root", "admin", "member", "anonymous"} <= role_names(m)
        r = m.put("/1/roles/Moderators", json={"users": {"__op": "AddRelation", "objects": pointers(bob, bob)}})
        assert r.status_code == 200 and set(r.json()) == {"updatedAt"}, r.text
        assert "Moderators" in held(server, bob)
        r = m.put("/1/roles/Moderators", json={"users": {"__op": "RemoveRelation", "objects": pointers(ann)}})
        assert r.status_code == 200 and "Moderators" not in held(server, ann)
        again = m.put("/1/roles/Moderators", json={"users": {"__op": "RemoveRelation", "objects": pointers(ann)}})
        assert again.status_code == 200  # removing a non-member is a no-op, as in Bmob
        r = m.put("/1/roles/Moderators", json={"strategy": ["list", "get"], "name": "Moderators"})
        assert r.status_code == 200 and m.get("/1/roles/Moderators").json()["strategy"] == ["get", "list"]
        assert m.delete("/1/roles/Moderators").json() == {"msg": "ok"}
        assert error_of(m.get("/1/roles/Moderators"))["code"] == 101
        assert "Moderators" not in held(server, bob)
    with server.client(master=True) as p:
        assert p.post("/parse/roles", json={"name": "Editors", "ACL": {}}).status_code == 201
        assert "Editors" in role_names(p)


def test_only_the_master_key_manages_roles(server: Server) -> None:
    ann = sign_up(server, "ann")
    with server.client(master=True) as m:
        assert m.post("/1/roles", json={"name": "Staff"}).status_code == 201
    for client in (server.client(), server.client(session=ann["sessionToken"])):
        with client as c:
            calls = [c.get("/1/roles"), c.get("/1/roles/Staff"), c.post("/1/roles", json={"name": "Mine"}),
                     c.put("/1/roles/Staff", json={"users": {"__op": "AddRelation",
                                                             "objects": pointers(ann["objectId"])}}),
                     c.delete("/1/roles/Staff"), c.post("/1/roles", json={"name": "1 bad"})]
            for r in calls:
                assert r.status_code == 403 and error_of(r)["code"] == 206, r.text
    assert held(server, ann["objectId"]) == ["member"]
    with server.client(master=True) as m:
        assert "Mine" not in role_names(m) and "Staff" in role_names(m)
    with server.raw() as raw:
        assert raw.get("/1/roles").status_code == 401
        r = raw.post("/1/roles", json={"name": "X"}, headers={
            "X-Bmob-Application-Id": server.apps[MAIN]["applicationId"],
            "X-Bmob-Master-Key": server.apps["other"]["masterKey"]})
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}


@pytest.mark.parametrize("name", ["", "1abc", "a b", "x" * 65, 5, None, ["Admins"], "Robert'); DROP TABLE _hb_roles;--",
                                  "role:Admins", "Mods\x00", "Модераторы", "staff", "ROOT", "admin"])
def test_bad_and_duplicate_names(server: Server, name: Any) -> None:
    with server.client(master=True) as m:
        assert m.post("/1/roles", json={"name": "Staff"}).status_code == 201
        before = role_names(m)
        r = m.post("/1/roles", json={"name": name})
        assert r.status_code in (400, 409) and error_of(r)["code"] == 139, r.text
        assert role_names(m) == before


@pytest.mark.parametrize("users,code", [
    ({"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "_User", "objectId": "nope"}]}, 205),
    ({"__op": "AddRelation", "objects": "ann"}, 111),
    ({"__op": "AddRelation", "objects": ["ann"]}, 106),
    ({"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "Player", "objectId": "x"}]}, 106),
    ({"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "_User"}]}, 106),
    ({"__op": "Add", "objects": []}, 111), (["ann"], 111), ("ann", 111),
    ({"__op": "RemoveRelation", "objects": []}, 107),
    ({"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "_User", "objectId": "x"}] * 1001}, 102),
])
def test_bad_users_create_nothing(server: Server, users: Any, code: int) -> None:
    ann = sign_up(server, "ann")["objectId"]
    if code == 205:  # a real user before the unknown one: still nothing is granted
        users = {**users, "objects": pointers(ann) + users["objects"]}
    with server.client(master=True) as m:
        before = role_names(m)
        r = m.post("/1/roles", json={"name": "Staff", "users": users})
        assert error_of(r)["code"] == code, r.text
        assert role_names(m) == before and held(server, ann) == ["member"]


def test_bad_updates_change_nothing(server: Server) -> None:
    ann, bob = sign_up(server, "ann")["objectId"], sign_up(server, "bob")["objectId"]
    other_user = sign_up(server, "carl", app="other")["objectId"]
    with server.client(master=True) as m:
        assert m.post("/1/roles", json={"name": "Staff", "strategy": ["list"],
                                        "users": {"__op": "AddRelation", "objects": pointers(ann)}}).status_code == 201
        cases: list[tuple[dict[str, Any], int]] = [
            ({"users": {"__op": "AddRelation", "objects": pointers(bob, "nope")}}, 205),
            ({"users": {"__op": "AddRelation", "objects": pointers(other_user)}}, 205),
            ({"users": {"__op": "RemoveRelation", "objects": pointers(ann, "x" * 70)}}, 106),
            ({"name": "Renamed"}, 139), ({"title": "x"}, 105), ({"strategy": ["drop everything"]}, 102),
            ({"roles": {"__op": "AddRelation", "objects": pointers("admin", table="_Role")}}, 102),
            ({"ACL": "public"}, 111),
        ]
        for body, code in cases:
            r = m.put("/1/roles/Staff", json=body)
            assert error_of(r)["code"] == code, (body, r.text)
        assert held(server, ann) == ["Staff", "member"] and held(server, bob) == ["member"]
        assert m.get("/1/roles/Staff").json()["strategy"] == ["list"]
        assert error_of(m.put("/1/roles/Nope", json={}))["code"] == 101
        assert error_of(m.delete("/1/roles/Nope"))["code"] == 101
        assert error_of(m.delete("/1/roles/admin"))["code"] == 139
        assert error_of(m.put("/1/roles/root", json={"strategy": []}))["code"] == 139
        assert {"admin", "root"} <= role_names(m)
        assert error_of(m.post("/1/roles", json=["Staff"]))["code"] == 107
