"""``/1/classes``: a Bmob client's CRUD and queries over real HTTP, and hostile input that changes nothing."""

from __future__ import annotations

import json

from tests.rest.conftest import Server, error_of


def test_crud_and_query(server: Server) -> None:
    server.make_table("Player", {"name": "String", "score": "Number"})
    with server.client() as c:
        made = c.post("/1/classes/Player", json={"name": "ann", "score": 5})
        assert made.status_code == 201, made.text
        oid = made.json()["objectId"]
        assert made.headers["location"] == f"{server.url}/1/classes/Player/{oid}"
        assert set(made.json()) == {"objectId", "createdAt"}
        got = c.get(f"/1/classes/Player/{oid}").json()
        assert got["name"] == "ann" and got["score"] == 5
        assert c.put(f"/1/classes/Player/{oid}", json={"score": {"__op": "Increment", "amount": 2}}).json()[
            "score"] == 7
        found = c.get("/1/classes/Player", params={"where": json.dumps({"score": {"$gt": 6}}), "count": 1}).json()
        assert found["count"] == 1 and found["results"][0]["objectId"] == oid
        assert c.delete(f"/1/classes/Player/{oid}").json() == {"msg": "ok"}
        missing = c.get(f"/1/classes/Player/{oid}")
        assert missing.status_code == 404 and error_of(missing)["code"] == 101


def test_credentials_are_required(server: Server) -> None:
    with server.raw() as raw:
        assert raw.get("/1/classes/Player").status_code == 401
        assert raw.get("/1/classes/Player").json() == {"error": "unauthorized"}
    other = server.apps["other"]
    with server.raw() as raw:
        r = raw.get("/1/classes/Player", headers={"X-Bmob-Application-Id": server.apps["main"]["applicationId"],
                                                 "X-Bmob-REST-API-Key": other["restApiKey"]})
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
