"""A Bmob app's whole day over real HTTP, then its hostile twin.

One server per backend (SQLite, PostgreSQL) for the whole module; the parts of the day run in order and share
what they made through the ``day`` fixture: tables made with the master key, users signed up by password and
by phone, rows written by Ann's session with Pointers, Relations, ACLs and every write operator, queries and
aggregates checked row for row as Ann and as Bob (who must never see Ann's private Player), batches, a file,
a cloud function and password changes. The hostile twin sends the same kinds of calls with bad input and
checks each precise Bmob code, an error body without SQL or stack traces, and that every table of every app
(and every stored file) is byte for byte what it was.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from hivebase.config import Settings
from hivebase.core.apps import MAIN
from hivebase.hub import Hub
from tests.conftest import PG_URL, drop_prefixed_schemas, require_postgres
from tests.rest.conftest import Server, error_of, start_server

PW, PW2, PW3 = "first-secret-1", "second-secret-2", "reset-secret-3"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
DB_WORDS = ("sqlite", "asyncpg", "psycopg", "integrityerror", "constraint", "syntax error", "traceback",
            'file "', "insert into", "sqlalchemy")
TOP_SCORE = """\
def main(ctx):
    rows = ctx.records.query('Player', order='-score', limit=ctx.params.get('limit', 3), keys='nickname,score')
    return {'caller': ctx.user['username'] if ctx.user else None, 'role': ctx.role,
            'top': [[r['nickname'], r['score']] for r in rows], 'players': ctx.records.count('Player')}
"""


def ptr(table: str, object_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": table, "objectId": object_id}


def geo(lat: Any, lng: Any) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


def date(iso: str) -> dict[str, str]:
    return {"__type": "Date", "iso": iso}


def w(doc: Any) -> str:
    return json.dumps(doc)


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, (r.request.method, r.request.url.path, r.status_code, r.text[:500])
    return r.json()


def refused(r: httpx.Response, code: int, status: int | None = None) -> dict[str, Any]:
    """A Bmob error with ``code`` (and ``status``), whose message shows no SQL, driver or stack trace."""
    body = error_of(r)
    assert body["code"] == code, (r.request.method, r.request.url.path, r.status_code, r.text[:500])
    if status is not None:
        assert r.status_code == status, r.text[:500]
    assert not any(word in body["error"].lower() for word in DB_WORDS), body
    return body


def nicknames(r: httpx.Response) -> list[str]:
    return [row["nickname"] for row in ok(r)["results"]]


def everything(server: Server) -> dict[str, list[str]]:
    """Every row of every table (user, join and system tables) of both apps and of the registry, read by a
    second Hub on the same storage, plus every stored file's path and size."""

    async def run() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        async with Hub(server.settings) as hub:
            dbs = {"system": hub.engines.system()}
            for name in (MAIN, "other"):
                dbs[name] = (await hub.apps.open(name)).db
            for label, db in dbs.items():
                meta = sa.MetaData()
                async with db.read() as conn:
                    await conn.run_sync(lambda c, db=db, meta=meta: meta.reflect(c, schema=db.schema))
                    for t in meta.sorted_tables:
                        out[f"{label}.{t.name}"] = sorted(map(repr, (await conn.execute(sa.select(t))).all()))
        root = server.settings.data_dir / "files"
        out["files"] = sorted(f"{p.relative_to(root)}:{p.stat().st_size}" for p in root.rglob("*") if p.is_file()) \
            if root.exists() else []
        return out

    return asyncio.run(run())


def sms_code(server: Server, phone: str) -> str:
    """The newest code the development outbox holds for ``phone`` (read as another process would)."""

    async def run() -> str:
        async with Hub(server.settings) as hub:
            return str((await hub.sms.outbox(await hub.apps.open(MAIN), phone, 1))[0]["code"])

    return asyncio.run(run())


@dataclass
class Day:
    """The running server and what the day has made so far: objectIds by name, session tokens by user."""

    server: Server
    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    #: unique usernames: the server's failed-log-in brake counts per (app, name) across this whole process
    names: dict[str, str] = field(default_factory=lambda: {u: f"{u}{secrets.token_hex(3)}" for u in
                                                           ("ann", "bob", "carl")})
    phone: str = field(default_factory=lambda: f"+86139{secrets.randbelow(10**8):08d}")
    _clients: dict[tuple[str, str | None], httpx.Client] = field(default_factory=dict)

    def c(self, who: str) -> httpx.Client:
        """``master``, ``rest`` (the REST key alone), ``other``/``other-master``, or a user with their session."""
        token = self.tokens.get(who)
        if (who, token) not in self._clients:
            app = "other" if who.startswith("other") else MAIN
            self._clients[who, token] = self.server.client(app, master=who.endswith("master"), session=token)
        return self._clients[who, token]

    def needs(self, *parts: str) -> None:
        """Skip a part whose predecessors failed: its own failures would only echo theirs."""
        missing = [p for p in parts if p not in self.done]
        if missing:
            pytest.skip(f"an earlier part of the day failed: {', '.join(missing)}")

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def day(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    """One server per backend for the whole day; SMS codes may be requested back to back."""
    data = tmp_path_factory.mktemp(f"day-{request.param}") / "data"
    if request.param == "postgres":
        require_postgres()
        settings = Settings(data_dir=data, database_url=PG_URL, schema_prefix=f"d{secrets.token_hex(4)}_",
                            catalog_refresh_seconds=0, sms_min_interval_seconds=0)
    else:
        settings = Settings(data_dir=data, catalog_refresh_seconds=0, sms_min_interval_seconds=0)
    server, srv, thread = start_server(settings, ("other",))
    state = Day(server)
    try:
        yield state
    finally:
        state.close()
        srv.should_exit = True
        thread.join(timeout=15)
        asyncio.run(drop_prefixed_schemas(settings))


# -- the day ----------------------------------------------------------------------------------------------------

PLAYER_FIELDS = {
    "nickname": {"type": "String", "unique": True},
    "score": {"type": "Number", "isAutoIncre": True, "autoIncreInit": 1000},
    "team": {"type": "Pointer", "targetClass": "Team"},
    "friends": {"type": "Relation", "targetClass": "Player"},
    "tags": {"type": "Array"}, "profile": {"type": "Object"}, "born": {"type": "Date"}, "home": {"type": "Geo"},
    "avatar": {"type": "File"},
}


def test_1_tables(day: Day) -> None:
    master = day.c("master")
    team = ok(master.post("/1/schemas/Team", json={"className": "Team", "fields": {
        "name": {"type": "String", "unique": True}}}))
    assert team["className"] == "Team" and team["fields"]["name"] == {"type": "String", "unique": True}
    player = ok(master.post("/1/schemas/Player", json={"fields": PLAYER_FIELDS}))
    assert {k: v for k, v in player["fields"].items() if not v.get("builtin")} == PLAYER_FIELDS
    assert {"objectId", "createdAt", "updatedAt", "ACL"} <= set(player["fields"])
    listed = ok(day.c("rest").get("/1/schemas"))["results"]  # any credential may read the schema
    assert {"Team", "Player", "_User"} <= {t["className"] for t in listed}
    # another app with tables of the same names, to aim its objectIds and keys at this one later
    other = day.c("other-master")
    ok(other.post("/1/schemas/Team", json={"fields": {"name": "String"}}))
    ok(other.post("/1/schemas/Player", json={"fields": {"nickname": "String"}}))
    day.ids["other-team"] = ok(other.post("/1/classes/Team", json={"name": "Red"}), 201)["objectId"]
    day.ids["other-player"] = ok(other.post("/1/classes/Player", json={"nickname": "ace"}), 201)["objectId"]
    day.done.add("tables")


def test_2_users(day: Day) -> None:
    day.needs("tables")
    rest, n = day.c("rest"), day.names
    for who in ("ann", "bob"):
        made = rest.post("/1/users", json={"username": n[who], "password": PW})
        body = ok(made, 201)
        assert set(body) == {"createdAt", "objectId", "sessionToken"}
        assert made.headers["location"] == f"{day.server.url}/1/users/{body['objectId']}"
        day.ids[who], day.tokens[who] = body["objectId"], body["sessionToken"]
    by_get = ok(rest.get("/1/login", params={"username": n["ann"], "password": PW}))
    by_post = ok(rest.post("/1/login", json={"username": n["ann"], "password": PW}))
    for user in (by_get, by_post):
        assert (user["objectId"], user["username"]) == (day.ids["ann"], n["ann"]) and "password" not in user
        assert user["sessionToken"] not in (day.tokens["ann"], None)
    day.tokens["ann-phone"] = by_post["sessionToken"]  # a second device: ends when Ann changes her password
    # Carl signs in by phone: the first code creates him, a new code logs him in again
    assert set(ok(rest.post("/1/requestSmsCode", json={"mobilePhoneNumber": day.phone}))) == {"smsId"}
    made = rest.post("/1/users", json={"mobilePhoneNumber": day.phone, "smsCode": sms_code(day.server, day.phone),
                                       "username": n["carl"]})
    carl = ok(made, 201)
    assert (carl["username"], carl["mobilePhoneNumber"], carl["mobilePhoneVerified"]) == (n["carl"], day.phone, True)
    assert made.headers["location"].endswith(f"/1/users/{carl['objectId']}") and "password" not in carl
    ok(rest.post("/1/requestSmsCode", json={"mobilePhoneNumber": day.phone}))
    again = ok(rest.post("/1/users", json={"mobilePhoneNumber": day.phone,
                                           "smsCode": sms_code(day.server, day.phone)}))
    assert again["objectId"] == carl["objectId"] and again["sessionToken"] != carl["sessionToken"]
    day.ids["carl"], day.tokens["carl"] = carl["objectId"], again["sessionToken"]
    me = ok(day.c("carl").get("/1/users/me"))
    assert (me["objectId"], me["username"]) == (carl["objectId"], n["carl"])
    day.done.add("users")


def test_3_writes(day: Day) -> None:
    day.needs("users")
    ann, ids = day.c("ann"), day.ids
    for name in ("Red", "Blue", "Green", "Gone"):
        made = ann.post("/1/classes/Team", json={"name": name})
        ids[name] = ok(made, 201)["objectId"]
        assert made.headers["location"] == f"{day.server.url}/1/classes/Team/{ids[name]}"
    private = {ids["ann"]: {"read": True, "write": True}}
    players = {  # created in this order: scores 1000, 1001, 1002, 1003
        "ace": {"team": ptr("Team", ids["Red"]), "tags": ["mage", "fast"], "profile": {"level": 1, "xp": 0},
                "born": date("1990-05-01 08:00:00"), "home": geo(30.0, 120.0)},
        "bolt": {"team": ptr("Team", ids["Red"]), "tags": ["tank"], "profile": {"level": 2},
                 "born": date("1992-07-15 00:00:00"), "home": geo(31.2, 121.5)},
        "cleo": {"team": ptr("Team", ids["Blue"]), "tags": ["mage"], "profile": {"level": 3},
                 "born": date("1995-01-01 00:00:00"), "home": geo(39.9, 116.4)},
        "dusk": {"team": ptr("Team", ids["Blue"]), "tags": ["mage", "secret"], "profile": {"level": 9},
                 "born": date("1999-12-31 23:59:59"), "home": geo(30.3, 120.2), "ACL": private},
    }
    for nick, data in players.items():
        ids[nick] = ok(ann.post("/1/classes/Player", json={"nickname": nick, **data}), 201)["objectId"]
    ace = f"/1/classes/Player/{ids['ace']}"
    for change in ({"friends": {"__op": "AddRelation", "objects": [ptr("Player", ids["bolt"]),
                                                                    ptr("Player", ids["dusk"])]}},
                   {"profile.xp": {"__op": "Increment", "amount": 5}},
                   {"tags": {"__op": "Add", "objects": ["pro"]}},
                   {"tags": {"__op": "AddUnique", "objects": ["mage", "mvp"]}},
                   {"tags": {"__op": "Remove", "objects": ["fast"]}},
                   {"born": {"__op": "Delete"}},
                   {"profile.level": 7}):
        assert "updatedAt" in ok(ann.put(ace, json=change)), change
    # the auto-increment score is the server's: not even Increment may change it (documented, 138)
    refused(ann.put(ace, json={"score": {"__op": "Increment", "amount": 1}}), 138)
    ok(ann.put(f"/1/classes/Player/{ids['cleo']}", json={"friends": {"__op": "AddRelation",
                                                                    "objects": [ptr("Player", ids["ace"])]}}))
    got = ok(ann.get(ace))
    assert {k: got.get(k) for k in ("nickname", "score", "team", "tags", "profile", "home", "friends", "createdBy")} \
        == {"nickname": "ace", "score": 1000, "team": ptr("Team", ids["Red"]), "tags": ["mage", "pro", "mvp"],
            "profile": {"level": 7, "xp": 5}, "home": geo(30.0, 120.0), "createdBy": ids["ann"],
            "friends": {"__type": "Relation", "className": "Player"}}
    assert "born" not in got and "ACL" not in got
    assert ok(ann.get(f"/1/classes/Player/{ids['dusk']}"))["ACL"] == private
    # a 10 000-element array is an ordinary value (well under the 1 MB per-field limit)
    bolt = f"/1/classes/Player/{ids['bolt']}"
    ok(ann.put(bolt, json={"tags": [f"t{i}" for i in range(10_000)]}))
    assert len(ok(ann.get(bolt))["tags"]) == 10_000
    ok(ann.put(bolt, json={"tags": ["tank"]}))
    day.done.add("writes")


def test_4_queries(day: Day) -> None:
    day.needs("writes")
    ann, bob, ids = day.c("ann"), day.c("bob"), day.ids
    near = {"$nearSphere": geo(30.25, 120.15), "$maxDistanceInKilometers": 200}
    cases: list[tuple[dict[str, Any], list[str], list[str]]] = [  # params, as Ann, as Bob
        ({"where": w({"score": {"$gt": 1000}}), "order": "score"}, ["bolt", "cleo", "dusk"], ["bolt", "cleo"]),
        ({"where": w({"nickname": {"$in": ["ace", "dusk", "nobody"]}}), "order": "nickname"}, ["ace", "dusk"],
         ["ace"]),
        ({"where": w({"nickname": {"$regex": "^(a|d)"}}), "order": "nickname"}, ["ace", "dusk"], ["ace"]),
        ({"where": w({"$or": [{"score": {"$gte": 1002}}, {"nickname": "ace"}]}), "order": "nickname"},
         ["ace", "cleo", "dusk"], ["ace", "cleo"]),
        ({"where": w({"tags": "mage"}), "order": "nickname"}, ["ace", "cleo", "dusk"], ["ace", "cleo"]),
        ({"where": w({"team": {"$inQuery": {"where": {"name": "Blue"}, "className": "Team"}}}),
          "order": "nickname"}, ["cleo", "dusk"], ["cleo"]),
        ({"where": w({"$relatedTo": {"object": ptr("Player", ids["ace"]), "key": "friends"}}), "order": "nickname"},
         ["bolt", "dusk"], ["bolt"]),
        ({"where": w({"home": near})}, ["dusk", "ace", "bolt"], ["ace", "bolt"]),  # nearest first
        ({"where": w({"born": {"$gte": date("1995-01-01 00:00:00")}}), "order": "born"}, ["cleo", "dusk"], ["cleo"]),
        ({"where": w({"home": {"$within": {"$box": [geo(29.5, 119.5), geo(31.5, 122.0)]}}}), "order": "nickname"},
         ["ace", "bolt", "dusk"], ["ace", "bolt"]),
        ({"where": w({"friends": ptr("Player", ids["dusk"])})}, ["ace"], []),  # a hidden member matches nothing
        ({"where": w({"friends": ptr("Player", ids["ace"])})}, ["cleo"], ["cleo"]),
        ({"order": "-score", "limit": 2, "skip": 1}, ["cleo", "bolt"], ["bolt", "ace"]),
    ]
    for params, as_ann, as_bob in cases:
        assert nicknames(ann.get("/1/classes/Player", params=params)) == as_ann, params
        assert nicknames(bob.get("/1/classes/Player", params=params)) == as_bob, params
    for client, total, mages in ((ann, 4, 3), (bob, 3, 2), (day.c("rest"), 3, 2)):
        assert ok(client.get("/1/classes/Player", params={"count": 1, "limit": 0})) == {"results": [], "count": total}
        assert ok(client.get("/1/classes/Player", params={"count": 1, "limit": 1, "skip": 1}))["count"] == total
        assert ok(client.get("/1/classes/Player", params={"where": w({"tags": "mage"}), "count": 1,
                                                          "limit": 0}))["count"] == mages
    shown = ok(ann.get("/1/classes/Player", params={"keys": "nickname,score", "order": "score"}))["results"]
    assert [(r["nickname"], r["score"]) for r in shown] == [("ace", 1000), ("bolt", 1001), ("cleo", 1002),
                                                            ("dusk", 1003)]
    assert all(set(r) == {"objectId", "createdAt", "updatedAt", "nickname", "score"} for r in shown)
    for client, teams in ((ann, ["Red", "Red", "Blue", "Blue"]), (bob, ["Red", "Red", "Blue"])):
        rows = ok(client.get("/1/classes/Player", params={"include": "team", "keys": "nickname,team",
                                                          "order": "score"}))["results"]
        assert [(r["team"]["__type"], r["team"]["className"], r["team"]["name"]) for r in rows] == \
               [("Object", "Team", t) for t in teams]
    red, blue = ids["Red"], ids["Blue"]
    grouped = {"groupby": "team", "sum": "score", "groupcount": "true", "order": "_sumScore"}
    assert ok(ann.get("/1/classes/Player", params=grouped)) == [{"team": red, "_count": 2, "_sumScore": 2001},
                                                                {"team": blue, "_count": 2, "_sumScore": 2005}]
    assert ok(bob.get("/1/classes/Player", params=grouped)) == [{"team": blue, "_count": 1, "_sumScore": 1002},
                                                                {"team": red, "_count": 2, "_sumScore": 2001}]
    having = {**grouped, "having": w({"_sumScore": {"$gt": 2002}})}
    assert ok(ann.get("/1/classes/Player", params=having)) == [{"team": blue, "_count": 2, "_sumScore": 2005}]
    assert ok(bob.get("/1/classes/Player", params=having)) == []
    totals = {"groupcount": "true", "sum": "score", "max": "score", "average": "score"}
    assert ok(ann.get("/1/classes/Player", params=totals)) == [{"_count": 4, "_sumScore": 4006, "_maxScore": 1003,
                                                                "_avgScore": 1001.5}]
    assert ok(bob.get("/1/classes/Player", params=totals)) == [{"_count": 3, "_sumScore": 3003, "_maxScore": 1002,
                                                                "_avgScore": 1001}]
    by_day = {"groupby": "born", "groupcount": "true", "order": "born"}  # a Date groups by its (UTC) day
    days = [{"born": day, "_count": 1} for day in (None, "1992-07-15", "1995-01-01", "1999-12-31")]
    assert ok(ann.get("/1/classes/Player", params=by_day)) == days  # ace's deleted born: null, first on both DBs
    assert ok(bob.get("/1/classes/Player", params=by_day)) == days[:3]
    # Bob can neither read nor change Ann's private Player: it answers exactly like a missing row
    dusk = f"/1/classes/Player/{ids['dusk']}"
    before = ok(ann.get(dusk))
    refused(bob.get(dusk), 101, 404)
    refused(bob.put(dusk, json={"nickname": "pwned"}), 101, 404)
    refused(bob.put(dusk, json={"ACL": {"*": {"read": True, "write": True}}}), 101, 404)
    refused(bob.delete(dusk), 101, 404)
    refused(day.c("rest").delete(dusk), 101, 404)
    assert ok(ann.get(dusk)) == before
    day.done.add("queries")


def test_5_batch(day: Day) -> None:
    day.needs("queries")
    ann, ids = day.c("ann"), day.ids
    answer = ok(ann.post("/1/batch", json={"requests": [
        {"method": "POST", "path": "/1/classes/Player", "body": {"nickname": "echo", "team": ptr("Team", ids["Green"]),
                                                                 "tags": ["new"]}},
        {"method": "PUT", "path": f"/1/classes/Player/{ids['bolt']}", "body": {"profile.level": 4}},
        {"method": "DELETE", "path": f"/1/classes/Team/{ids['Gone']}"},
        {"method": "POST", "path": "/1/classes/Player", "body": {"nickname": "ace"}},
        {"method": "DELETE", "path": f"/1/classes/Player/{ids['dusk']}", "token": day.tokens["bob"]},
        {"method": "PUT", "path": f"/1/classes/Player/{ids['cleo']}", "body": {"nickanme": "x"}},
    ]}))
    assert set(answer[0]["success"]) == {"objectId", "createdAt"}
    assert set(answer[1]["success"]) == {"updatedAt"} and answer[2] == {"success": {}}
    assert [a["error"]["code"] for a in answer[3:]] == [401, 101, 105]
    assert "did you mean `nickname`" in answer[5]["error"]["error"]
    ids["echo"] = answer[0]["success"]["objectId"]
    echo = ok(ann.get(f"/1/classes/Player/{ids['echo']}"))
    assert (echo["score"], echo["team"], echo["tags"]) == (1004, ptr("Team", ids["Green"]), ["new"])
    assert ok(ann.get(f"/1/classes/Player/{ids['bolt']}"))["profile"] == {"level": 4}
    refused(ann.get(f"/1/classes/Team/{ids['Gone']}"), 101, 404)
    assert ok(ann.get(f"/1/classes/Player/{ids['dusk']}"))["nickname"] == "dusk"
    # all or nothing: the fourth request fails, so the first three never happened
    before = everything(day.server)
    r = ann.post("/1/batch", json={"transaction": True, "requests": [
        {"method": "POST", "path": "/1/classes/Player", "body": {"nickname": "fox"}},
        {"method": "PUT", "path": f"/1/classes/Player/{ids['cleo']}", "body": {"profile": {"level": 99}}},
        {"method": "DELETE", "path": f"/1/classes/Player/{ids['echo']}"},
        {"method": "POST", "path": "/1/classes/Player", "body": {"nickname": "bolt"}},
    ]})
    assert r.status_code == 409 and set(r.json()) == {"code", "error", "index"}, r.text
    assert (r.json()["code"], r.json()["index"]) == (401, 3) and r.json()["error"].startswith("requests[3]: ")
    assert everything(day.server) == before  # rows, relations and the auto-increment counter
    day.done.add("batch")


def test_6_files(day: Day) -> None:
    day.needs("batch")
    ann = day.c("ann")
    up = ok(ann.post("/2/files/avatar.png", content=PNG, headers={"Content-Type": "image/png"}))
    assert set(up) == {"filename", "url", "cdn"} and up["filename"] == "avatar.png"
    ace = f"/1/classes/Player/{day.ids['ace']}"
    ok(ann.put(ace, json={"avatar": {"__type": "File", "filename": up["filename"], "url": up["url"]}}))
    assert ok(ann.get(ace))["avatar"] == {"__type": "File", "filename": "avatar.png", "url": up["url"]}
    assert nicknames(ann.get("/1/classes/Player", params={"where": w({"avatar": {"$exists": True}})})) == ["ace"]
    path = urlsplit(up["url"]).path
    with day.server.raw() as anyone:  # the URL is public (and unguessable)
        got = anyone.get(path)
        assert got.status_code == 200 and got.content == PNG and got.headers["content-type"] == "image/png"
        refused(day.c("bob").delete(path), 122, 403)
        assert anyone.get(path).content == PNG
        assert ok(ann.delete(path)) == {"msg": "ok"}
        refused(anyone.get(path), 151, 404)
    day.done.add("files")


def test_7_cloud_function(day: Day) -> None:
    day.needs("files")
    deployed = ok(day.c("master").put("/1/functions/topScore", content=TOP_SCORE,
                                      headers={"Content-Type": "application/x-python"}))
    assert (deployed["msg"], deployed["name"], deployed["origin"]) == ("ok", "topScore", "deployed")
    n = day.names
    assert ok(day.c("ann").post("/1/functions/topScore", json={})) == {
        "caller": n["ann"], "role": "member", "top": [["echo", 1004], ["dusk", 1003], ["cleo", 1002]], "players": 5}
    assert ok(day.c("rest").post("/1/functions/topScore", json={})) == {
        "caller": None, "role": "anonymous", "top": [["echo", 1004], ["cleo", 1002], ["bolt", 1001]], "players": 4}
    assert ok(day.c("bob").post("/1/functions/topScore", json={"limit": 2})) == {
        "caller": n["bob"], "role": "member", "top": [["echo", 1004], ["cleo", 1002]], "players": 4}
    assert [f["name"] for f in ok(day.c("master").get("/1/functions"))["results"]] == ["topScore"]
    day.done.add("functions")


def test_8_passwords_and_sessions(day: Day) -> None:
    day.needs("functions")
    rest, ids, n = day.c("rest"), day.ids, day.names
    assert ok(day.c("ann").put(f"/1/updateUserPassword/{ids['ann']}",
                               json={"oldPassword": PW, "newPassword": PW2})) == {"msg": "ok"}
    assert ok(day.c("ann").get(f"/1/checkSession/{ids['ann']}")) == {"msg": "ok"}  # the session that changed it
    assert ok(day.c("bob").get(f"/1/checkSession/{ids['ann']}")) == {"msg": "fail"}
    refused(day.c("ann-phone").get(f"/1/checkSession/{ids['ann']}"), 211, 401)  # Ann's other sessions ended
    refused(rest.get("/1/login", params={"username": n["ann"], "password": PW}), 101, 400)
    assert ok(rest.post("/1/login", json={"username": n["ann"], "password": PW2}))["objectId"] == ids["ann"]
    ok(rest.post("/1/requestSmsCode", json={"mobilePhoneNumber": day.phone}))
    reset = rest.put(f"/1/resetPasswordBySmsCode/{sms_code(day.server, day.phone)}", json={"password": PW3})
    assert ok(reset) == {"msg": "ok"}
    refused(day.c("carl").get("/1/users/me"), 211, 401)  # a reset ends every session
    carl = ok(rest.post("/1/login", json={"username": n["carl"], "password": PW3}))
    assert carl["objectId"] == ids["carl"]
    day.tokens["carl"] = carl["sessionToken"]
    assert ok(day.c("carl").get(f"/1/checkSession/{ids['carl']}")) == {"msg": "ok"}
    day.done.add("passwords")


# -- the hostile twin ---------------------------------------------------------------------------------------------


def bad_fields(ids: dict[str, str]) -> list[tuple[dict[str, Any], int]]:
    """A Player body with one bad value (wrong type per field type, bad Pointer, unknown or reserved field,
    injection in a field name, oversized value) and the Bmob code it must get, on create and on update."""
    relation = {"__op": "AddRelation", "objects": []}
    return [
        ({"nickname": 5}, 111), ({"nickname": ["ace"]}, 111), ({"nickname": "a\x00b"}, 102),
        ({"nickname": "bolt"}, 401),
        ({"score": 5}, 138), ({"score": {"__op": "Increment", "amount": 1}}, 138),
        ({"team": 5}, 111), ({"team": ptr("Player", ids["ace"])}, 106), ({"team": ptr("Team", "missing0001")}, 106),
        ({"team": ptr("Team", ids["other-team"])}, 106), ({"team": {"__type": "Pointer", "className": "Team"}}, 106),
        ({"friends": ["x"]}, 111), ({"friends": {**relation, "objects": [ptr("Team", ids["Red"])]}}, 106),
        ({"friends": {**relation, "objects": [ptr("Player", "missing0001")]}}, 106),
        ({"friends": {**relation, "objects": [ptr("Player", ids["other-player"])]}}, 106),
        ({"tags": "mage"}, 111), ({"tags": {"__op": "Add", "objects": "x"}}, 111),
        ({"tags": {"__op": "Add", "objects": list(range(10_000))}}, 102), ({"tags": {"__op": "Explode"}}, 107),
        ({"tags": ["x" * 1000] * 1010}, 102),  # over the 1 MB per-field limit, under the body limit
        ({"profile": [1]}, 111), ({"profile": "level 7"}, 111),
        ({"born": 5}, 111), ({"born": "tomorrow"}, 142), ({"born": date("2020-13-45 99:00:00")}, 142),
        ({"home": geo(91, 0)}, 117), ({"home": geo(0, 181)}, 117), ({"home": geo("30", 0)}, 111),
        ({"home": "here"}, 111),
        ({"avatar": "a.png"}, 111), ({"avatar": {"__type": "File", "filename": "a.png"}}, 111),
        ({"nickanme": "x"}, 105), ({"objectId": "abcdefghij"}, 138), ({"createdAt": "2020-01-01 00:00:00"}, 138),
        ({"ACL": "everyone"}, 107), ({"ACL": {"*": {"read": "yes"}}}, 107),
        ({"nickname; DROP TABLE Player": "x"}, 105), ({'nickname" --': "x"}, 105), ({"$where": "1"}, 105),
        ({"__proto__": {}}, 105), ({"": 1}, 102),
    ]


def test_9_hostile_writes(day: Day) -> None:
    day.needs("passwords")
    ann, ids = day.c("ann"), day.ids
    ace = f"/1/classes/Player/{ids['ace']}"
    before = everything(day.server)
    for body, code in bad_fields(ids):
        created = refused(ann.post("/1/classes/Player", json={"nickname": "zed", **body} if "nickname" not in body
                                   else body), code)
        refused(ann.put(ace, json=body), code)
        if code == 105 and "nickanme" in body:
            assert created["error"] == "`nickanme` is not a field of Player; did you mean `nickname`?"
    for body, code in (({"profile..x": 1}, 102), ({"profile.level": {"__op": "Increment", "amount": "x"}}, 111),
                       ({"friends.x": 1}, 102), ({"nickname": "ace", "nickname.x": 1}, 102)):
        refused(ann.put(ace, json=body), code)
    refused(ann.post("/1/classes/Player", json={"nickname": "zed", "profile.level": 1}), 102)  # paths: updates only
    for raw, ctype in ((b'{"nickname": "zed"', "application/json"), (b'{"nickname": "zed"}', "text/plain"),
                       (b'{"nickname": "zed"}', "application/x-www-form-urlencoded"), (b'["zed"]', "application/json"),
                       (b'{"nickname": NaN}', "application/json"), (b"\xff\xfe", "application/json")):
        refused(ann.post("/1/classes/Player", content=raw, headers={"Content-Type": ctype}), 107)
        refused(ann.put(ace, content=raw, headers={"Content-Type": ctype}), 107)
    huge = b'{"nickname": "' + b"z" * (1 << 20) + b'"}'
    for r in (ann.post("/1/classes/Player", content=huge, headers={"Content-Type": "application/json"}),
              ann.put(ace, content=huge, headers={"Content-Type": "application/json"})):
        assert r.status_code == 413 and refused(r, 402)
    for body in ({"nickname": 5}, {"nickanme": "x"}, {"nickname": "zed"}):  # Bob: the private row is as missing
        hidden, missing = (day.c("bob").put(f"/1/classes/Player/{oid}", json=body) for oid in (ids["dusk"], "zz9"))
        assert hidden.status_code == missing.status_code and hidden.text.replace(ids["dusk"], "zz9") == missing.text
    assert everything(day.server) == before


def test_9_bare_string_for_a_pointer_is_106(day: Day) -> None:
    day.needs("passwords")
    before = everything(day.server)
    r = day.c("ann").post("/1/classes/Player", json={"nickname": "zed", "team": day.ids["Red"]})
    assert "a bare objectId string is not a Pointer" in error_of(r)["error"]
    assert everything(day.server) == before
    refused(r, 106)


def test_9_pointer_to_a_hidden_row_answers_like_a_missing_one(day: Day) -> None:
    """Bob links cleo to an objectId inside a transaction whose second write then fails on purpose (a duplicate
    nickname), so nothing is written either way; where the transaction stops tells whether the objectId exists."""
    day.needs("passwords")
    before = everything(day.server)
    answers = {}
    for target in (day.ids["dusk"], "zz9zz9zz9z"):
        r = day.c("bob").post("/1/batch", json={"transaction": True, "requests": [
            {"method": "PUT", "path": f"/1/classes/Player/{day.ids['cleo']}",
             "body": {"friends": {"__op": "AddRelation", "objects": [ptr("Player", target)]}}},
            {"method": "POST", "path": "/1/classes/Player", "body": {"nickname": "ace"}}]})
        answers[target] = (r.status_code, r.json()["code"], r.json()["index"])
    assert everything(day.server) == before
    assert answers["zz9zz9zz9z"] == (400, 106, 0)
    assert answers[day.ids["dusk"]] == answers["zz9zz9zz9z"]  # today: (409, 401, 1), the pointer was accepted


def test_9_hostile_queries(day: Day) -> None:
    day.needs("passwords")
    ann, ids = day.c("ann"), day.ids
    before = everything(day.server)
    for params, code in (
            ({"where": "{not json"}, 102), ({"where": w([1])}, 102), ({"where": w({"$where": "1"})}, 102),
            ({"where": w({"nickname": {"$regex": "(a+)\\1"}})}, 102),
            ({"where": w({"score; DROP TABLE Player": 1})}, 105), ({"where": w({"nickname": {"$bogus": 1}})}, 102),
            ({"where": w({"score": {"$gt": "abc"}})}, 111),
            ({"where": w({"nickname": {"$in": list(range(1001))}})}, 402),
            ({"where": w({"$or": [{"nickname": str(i)} for i in range(1001)]})}, 402),
            ({"where": w({"team": {"$inQuery": {"where": {}, "className": "_hb_sessions"}}})}, 102),
            ({"where": w({"$relatedTo": {"object": ptr("Player", ids["ace"]), "key": "tags"}})}, 102),
            ({"where": w({"home": {"$nearSphere": geo(95, 0)}})}, 117),
            ({"order": "score;DROP TABLE Player"}, 105), ({"order": "score desc"}, 105),
            ({"keys": "nickname,password"}, 105), ({"include": "nickname"}, 102), ({"include": "team) --"}, 105),
            ({"groupby": "score) --"}, 105), ({"sum": "nickname"}, 102), ({"limit": 1001}, 102), ({"limit": -1}, 102),
            ({"skip": "abc"}, 102), ({"count": "maybe"}, 102),
            ({"groupby": "team", "groupcount": "1", "having": w({"_count; DROP": 1})}, 105)):
        refused(ann.get("/1/classes/Player", params=params), code)
    # an injection attempt as a value is just a value that matches nothing
    assert nicknames(ann.get("/1/classes/Player", params={"where": w({"nickname": "' OR 1=1 --"})})) == []
    assert nicknames(ann.get("/1/classes/Player", params={"where": w({"nickname": {"$regex": "' OR '1'='1"}})})) == []
    assert everything(day.server) == before


def test_9_hostile_names(day: Day) -> None:
    day.needs("passwords")
    ann, master = day.c("ann"), day.c("master")
    before = everything(day.server)
    for table in ("_hb_sessions", "_hb_passwords", "Player;DROP TABLE Team", 'Pl"ayer', "x" * 300, "player"):
        refused(ann.get(f"/1/classes/{table}"), 101, 404)
        refused(ann.post(f"/1/classes/{table}", json={"nickname": "zed"}), 101, 404)
        refused(master.get(f"/1/classes/{table}/{day.ids['ace']}"), 101, 404)
    for table in ("Bad;DROP", "_Hidden", "1abc", "Player"):
        refused(master.post(f"/1/schemas/{table}", json={"fields": {"x": "String"}}), 103, 400)
    for fields, code in (({"x;DROP TABLE Player": "String"}, 105), ({"ok": {"type": "String); DROP TABLE Player; --"}},
                                                                     10066), ({"nickname": "String"}, 10063),
                         ({"objectId": "String"}, 10062), ({"ok": "String", "nickname": {"__op": "Drop"}}, 107)):
        refused(master.put("/1/schemas/Player", json={"fields": fields}), code)
    refused(master.put("/1/functions/x;DROP", content=b"def main(ctx): return 1",
                       headers={"Content-Type": "text/plain"}), 315)
    refused(ann.post("/2/files/..%2F..%2Fetc%2Fpasswd", content=b"x", headers={"Content-Type": "text/plain"}), 146)
    assert everything(day.server) == before


def test_9_other_apps_ids_and_keys(day: Day) -> None:
    day.needs("passwords")
    creds, ids = day.server.apps, day.ids
    main, other = creds[MAIN], creds["other"]
    before = everything(day.server)
    with day.server.raw() as raw:
        for headers in ({"X-Bmob-Application-Id": main["applicationId"], "X-Bmob-REST-API-Key": other["restApiKey"]},
                        {"X-Bmob-Application-Id": main["applicationId"], "X-Bmob-Master-Key": other["masterKey"]},
                        {"X-Bmob-Application-Id": other["applicationId"], "X-Bmob-Master-Key": main["masterKey"]},
                        {"X-Bmob-Application-Id": "x' OR '1'='1", "X-Bmob-REST-API-Key": main["restApiKey"]}):
            for method, url, body in (("GET", "/1/classes/Player", None), ("DELETE", f"/1/classes/Player/{ids['ace']}",
                                                                          None),
                                      ("PUT", "/1/schemas/Player", {"fields": {"x": "String"}}),
                                      ("POST", "/1/batch", {"requests": []})):
                r = raw.request(method, url, json=body, headers=headers)
                assert (r.status_code, r.json()) == (401, {"error": "unauthorized"}), (headers, url)
    for who in ("other", "other-master"):  # the other app's own credentials find none of this app's rows
        for method in ("GET", "PUT", "DELETE"):
            r = day.c(who).request(method, f"/1/classes/Player/{ids['ace']}",
                                   json={"nickname": "x"} if method == "PUT" else None)
            refused(r, 101, 404)
    refused(day.c("other").get("/1/users/me", headers={"X-Bmob-Session-Token": day.tokens["ann"]}), 211, 401)
    refused(day.c("ann").get(f"/1/classes/Player/{ids['other-player']}"), 101, 404)
    refused(day.c("ann").put(f"/1/classes/Player/{ids['ace']}", json={"team": ptr("Team", ids["other-team"])}), 106)
    assert everything(day.server) == before


def test_9_hostile_batches_and_accounts(day: Day) -> None:
    day.needs("passwords")
    ann, rest, ids, n = day.c("ann"), day.c("rest"), day.ids, day.names
    item = {"method": "POST", "path": "/1/classes/Player", "body": {"nickname": "zed"}}
    before = everything(day.server)
    for body, code in (({"requests": [item] * 51}, 114), ({"requests": [item] * 51, "transaction": True}, 114),
                       ({"requests": {}}, 112), ({"requests": "all"}, 112),
                       ({"requests": [], "transaction": "yes"}, 107),
                       ({"requests": [item, {**item, "method": "GET"}]}, 113),
                       ({"requests": [item, {**item, "path": "/1/users"}]}, 113),
                       ({"requests": [item, {**item, "path": "/1/classes/../_User"}]}, 113),
                       ({"requests": [item, {**item, "path": "/1/classes/Player;DROP TABLE Player"}]}, 113),
                       ({"requests": [item, {**item, "body": ["zed"]}]}, 113), ([item], 107)):
        refused(ann.post("/1/batch", json=body), code)
    for raw, ctype in ((b'{"requests": [', "application/json"),
                       (json.dumps({"requests": [item]}).encode(), "text/plain")):
        refused(ann.post("/1/batch", content=raw, headers={"Content-Type": ctype}), 107)
    in_tx = ann.post("/1/batch", json={"transaction": True, "requests": [
        item, {**item, "body": {"nickname": "zed2", "team": ptr("Team", ids["other-team"])}}]})
    assert in_tx.status_code == 400 and (in_tx.json()["code"], in_tx.json()["index"]) == (106, 1)
    alone = ok(ann.post("/1/batch", json={"requests": [
        {**item, "token": "not-a-token"}, {"method": "DELETE", "path": f"/1/classes/Player/{ids['dusk']}",
                                           "token": day.tokens["bob"]}]}))
    assert [a["error"]["code"] for a in alone] == [211, 101]
    refused(rest.post("/1/users", json={"username": n["ann"], "password": PW}), 202)
    refused(rest.post("/1/users", json={"username": "zed", "password": PW, "scroe": 1}), 105)
    refused(rest.get("/1/login", params={"username": n["ann"], "password": PW}), 101, 400)
    refused(rest.get("/1/login", params={"username": "' OR 1=1 --", "password": PW}), 101, 400)
    refused(day.c("bob").put(f"/1/users/{ids['ann']}", json={"username": "pwned"}), 206, 403)
    refused(day.c("bob").put(f"/1/updateUserPassword/{ids['ann']}", json={"oldPassword": PW2, "newPassword": PW}),
            206, 403)
    refused(rest.get(f"/1/checkSession/{ids['ann']}", headers={"X-Bmob-Session-Token": "x" * 10_000}), 211, 401)
    for client, role in ((day.c("bob"), "admin"), (day.c("bob"), "root"), (rest, "root"), (rest, "member")):
        refused(client.delete(f"/1/classes/Player/{ids['dusk']}", headers={"x-role": role}), 122, 403)
    refused(rest.put("/1/functions/topScore", content=b"def main(ctx): return 1",
                     headers={"Content-Type": "text/plain"}), 206, 403)
    refused(rest.post("/1/functions/nothing", json={}), 311, 404)
    for client, method, url in ((rest, "POST", "/1/users"), (rest, "POST", "/1/login"),
                                (rest, "POST", "/1/requestSmsCode"), (day.c("master"), "PUT", "/1/schemas/Player"),
                                (ann, "PUT", f"/1/users/{ids['ann']}"), (rest, "POST", "/1/functions/topScore")):
        for raw, ctype in ((b'{"username": ', "application/json"), (b"[1]", "application/json"),
                           (b'{"username": "zed"}', "text/plain")):
            refused(client.request(method, url, content=raw, headers={"Content-Type": ctype}), 107)
    assert everything(day.server) == before
