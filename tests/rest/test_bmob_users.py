"""Bmob's user endpoints over real HTTP: a user's day (sign-up, log-in, own row, sessions, passwords, SMS
codes), then hostile input on every endpoint, each refusal checked for its Bmob code and for leaving every
user row, password, session and SMS code as it was."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import sqlalchemy as sa

from hivebase.core import schema
from hivebase.core.apps import MAIN, App
from hivebase.core.identity import sessions
from hivebase.core.principal import Principal
from hivebase.core.secrets import hash_key
from hivebase.hub import Hub
from tests.rest.conftest import Server, error_of

PW = "first-secret-1"
ROOT = Principal.root("test")
STATE_TABLES = ("_hb_passwords", "_hb_sessions", "_hb_sms_codes")


def in_hub(server: Server, fn: Callable[[Hub, App], Awaitable[Any]], app: str = MAIN) -> Any:
    """Run ``fn`` in a second Hub on the server's storage (as another process would)."""

    async def go() -> Any:
        async with Hub(server.settings) as hub:
            opened = await hub.apps.open(app)
            await opened.catalog.table("_User")
            return await fn(hub, opened)

    return asyncio.run(go())


def snapshot(server: Server) -> dict[str, list[Any]]:
    """Every user row, password hash, session and SMS code of the main app."""

    async def read(hub: Hub, app: App) -> dict[str, list[Any]]:
        tables = [app.catalog.get("_User").table, *(app.catalog.system(n) for n in STATE_TABLES)]
        async with app.db.read() as conn:
            return {t.name: sorted(map(repr, (await conn.execute(sa.select(t))).all())) for t in tables}

    return dict(in_hub(server, read))


def code_for(server: Server, phone: str) -> str:
    return str(in_hub(server, lambda hub, app: hub.sms.outbox(app, phone, 1))[0]["code"])


class Names:
    """Usernames unique to one test: the server's failed-log-in brake counts per (app, name) in this process."""

    def __getattr__(self, prefix: str) -> str:
        value = f"{prefix}{secrets.token_hex(3)}"
        setattr(self, prefix, value)
        return value


def new_phone() -> str:
    return f"+86139{secrets.randbelow(10**8):08d}"


def sign_up(c: httpx.Client, name: str, **extra: Any) -> tuple[str, str]:
    r = c.post("/1/users", json={"username": name, "password": PW, **extra})
    assert r.status_code == 201, r.text
    return r.json()["objectId"], r.json()["sessionToken"]


def refused(r: httpx.Response, code: int, status: int | None = None) -> None:
    assert error_of(r)["code"] == code, (r.status_code, r.text)
    if status is not None:
        assert r.status_code == status, r.text
    for secret in (PW, "hash", "argon2"):
        assert secret not in r.text, r.text


def test_a_users_day(server: Server) -> None:
    n = Names()
    in_hub(server, lambda hub, app: schema.add_field(app, ROOT, "_User", "nickname", "String"))
    with server.client() as c, server.client(master=True) as master:
        made = c.post("/1/users", json={"username": n.ann, "password": PW, "nickname": "Annie"})
        assert made.status_code == 201 and set(made.json()) == {"createdAt", "objectId", "sessionToken"}
        ann, token = made.json()["objectId"], made.json()["sessionToken"]
        assert made.headers["location"].endswith(f"/1/users/{ann}")
        by_get = c.get("/1/login", params={"username": n.ann, "password": PW}).json()
        by_post = c.post("/1/login", json={"username": n.ann, "password": PW}).json()
        for user in (by_get, by_post):
            assert (user["objectId"], user["username"], user["nickname"]) == (ann, n.ann, "Annie")
            assert user["sessionToken"] not in (token, None) and "password" not in user
            assert len(user["createdAt"]) == 19 and user["createdAt"][10] == " "  # Bmob's "YYYY-MM-DD HH:MM:SS"
        second = by_post["sessionToken"]
        me = c.get("/1/users/me", headers={"X-Bmob-Session-Token": token}).json()
        assert (me["objectId"], me["sessionToken"]) == (ann, token) and "password" not in me
        mine = c.put(f"/1/users/{ann}", json={"nickname": "Ann"}, headers={"X-Bmob-Session-Token": token})
        assert mine.status_code == 200 and set(mine.json()) == {"updatedAt"}
        assert c.get(f"/1/users/{ann}").json()["nickname"] == "Ann"
        bob, bob_token = sign_up(c, n.bob)
        as_bob = {"X-Bmob-Session-Token": bob_token}
        before = snapshot(server)
        refused(c.put(f"/1/users/{ann}", json={"nickname": "pwned"}, headers=as_bob), 206, 403)
        refused(c.delete(f"/1/users/{ann}", headers=as_bob), 206, 403)
        refused(c.put(f"/1/users/{ann}", json={"nickname": "pwned"}), 206, 403)
        refused(c.delete(f"/1/users/{ann}"), 206, 403)
        assert snapshot(server) == before
        assert master.put(f"/1/users/{ann}", json={"nickname": "By root"}).status_code == 200
        assert c.get(f"/1/users/{ann}").json()["nickname"] == "By root"
        assert c.get(f"/1/checkSession/{ann}", headers={"X-Bmob-Session-Token": token}).json() == {"msg": "ok"}
        assert c.get(f"/1/checkSession/{ann}", headers=as_bob).json() == {"msg": "fail"}
        assert c.get(f"/1/checkSession/{ann}").json() == {"msg": "fail"}
        listed = c.get("/1/users", params={"where": json.dumps({"username": {"$in": [n.ann, n.bob]}}),
                                           "order": "username", "count": 1}).json()
        assert listed["count"] == 2 and [u["username"] for u in listed["results"]] == [n.ann, n.bob]
        assert all("password" not in u for u in listed["results"])
        changed = c.put(f"/1/updateUserPassword/{ann}", json={"oldPassword": PW, "newPassword": "second-secret-2"},
                        headers={"X-Bmob-Session-Token": token})
        assert changed.json() == {"msg": "ok"}
        refused(c.get("/1/login", params={"username": n.ann, "password": PW}), 101, 400)
        assert c.post("/1/login", json={"username": n.ann, "password": "second-secret-2"}).status_code == 200
        refused(c.get("/1/users/me", headers={"X-Bmob-Session-Token": second}), 211, 401)  # other sessions end
        assert c.get("/1/users/me", headers={"X-Bmob-Session-Token": token}).status_code == 200  # this one stays
        assert c.delete(f"/1/users/{bob}", headers=as_bob).json() == {"msg": "ok"}
        refused(c.get(f"/1/users/{bob}"), 101, 404)
        refused(c.get("/1/users/me", headers=as_bob), 211, 401)
        assert master.delete(f"/1/users/{ann}").json() == {"msg": "ok"}
        refused(c.get("/1/users/me", headers={"X-Bmob-Session-Token": token}), 211, 401)
    with server.raw() as raw:  # the Parse mount and headers reach the same endpoints
        creds = server.apps[MAIN]
        h = {"X-Parse-Application-Id": creds["applicationId"], "X-Parse-REST-API-Key": creds["restApiKey"]}
        made = raw.post("/parse/users", json={"username": n.cat, "password": PW}, headers=h)
        assert made.status_code == 201 and "/parse/users/" in made.headers["location"]
        assert raw.get("/parse/login", params={"username": n.cat, "password": PW}, headers=h).status_code == 200


def test_phone_sign_in_and_sms_codes(server: Server) -> None:
    n = Names()
    phone = new_phone()
    with server.client() as c:
        sent = c.post("/1/requestSmsCode", json={"mobilePhoneNumber": phone, "template": "signin"})
        assert sent.status_code == 200 and set(sent.json()) == {"smsId"}
        first = c.post("/1/users", json={"mobilePhoneNumber": phone, "smsCode": code_for(server, phone)})
        assert first.status_code == 201, first.text
        user = first.json()
        assert (user["username"], user["mobilePhoneNumber"], user["mobilePhoneVerified"]) == (phone, phone, True)
        assert first.headers["location"].endswith(f"/1/users/{user['objectId']}") and user["sessionToken"]
        refused(c.post("/1/requestSmsCode", json={"mobilePhoneNumber": phone}), 10076, 429)  # 60 s apart
        other = new_phone()
        sign_up(c, n.dora, mobilePhoneNumber=other)
        assert c.post("/1/requestSmsCode", json={"mobilePhoneNumber": other}).status_code == 200
        again = c.post("/1/users", json={"mobilePhoneNumber": other, "smsCode": code_for(server, other)})
        assert again.status_code == 200 and again.json()["username"] == n.dora and again.json()["sessionToken"]
        dora_token = again.json()["sessionToken"]
        for form in ("path", "body"):
            number = new_phone()
            c.post("/1/requestSmsCode", json={"mobilePhoneNumber": number})
            code = code_for(server, number)
            if form == "path":
                ok = c.post(f"/1/verifySmsCode/{code}", json={"mobilePhoneNumber": number})
            else:
                ok = c.post("/1/verifySmsCode", json={"mobilePhoneNumber": number, "smsCode": code})
            assert ok.json() == {"msg": "ok"}, ok.text
            refused(c.post("/1/verifySmsCode", json={"mobilePhoneNumber": number, "smsCode": code}), 207)  # used
        third = new_phone()
        dora_id = again.json()["objectId"]
        with server.client(master=True) as master:
            assert master.put(f"/1/users/{dora_id}", json={"mobilePhoneNumber": third}).status_code == 200
        c.post("/1/requestSmsCode", json={"mobilePhoneNumber": third})
        reset = c.put(f"/1/resetPasswordBySmsCode/{code_for(server, third)}", json={"password": "reset-secret-3"})
        assert reset.json() == {"msg": "ok"}
        refused(c.get("/1/users/me", headers={"X-Bmob-Session-Token": dora_token}), 211, 401)
        refused(c.post("/1/login", json={"username": n.dora, "password": PW}), 101, 400)
        assert c.post("/1/login", json={"username": n.dora, "password": "reset-secret-3"}).status_code == 200


JSON = {"Content-Type": "application/json"}
LONG = "x" * 10_000


def bad_sign_ups(taken: str) -> list[tuple[Any, dict[str, str], int]]:
    """(body as bytes or JSON, headers, Bmob code): wrong types, sizes, shapes and content types."""
    return [
        (b'{"username":"x","password":"first-secret-1"}', {"Content-Type": "text/plain"}, 107),
        (b'{"username":"x","password":"first-secret-1"}', {}, 107),
        (b'{"username":"x",', JSON, 107),
        ([{"username": "x", "password": PW}], {}, 107),
        ("x", {}, 107),
        ({"password": PW}, {}, 108),
        ({"username": "x"}, {}, 108),
        ({"username": 5, "password": PW}, {}, 108),
        ({"username": "x", "password": 123456789}, {}, 108),
        ({"username": LONG, "password": PW}, {}, 108),
        ({"username": "a\x00b", "password": PW}, {}, 108),
        ({"username": "x", "password": "abc"}, {}, 102),
        ({"username": "x", "password": LONG}, {}, 102),
        ({"username": taken, "password": PW}, {}, 202),
        ({"username": "x", "password": PW, "email": "ann@example.com"}, {}, 203),
        ({"username": "x", "password": PW, "mobilePhoneNumber": "+8613900000001"}, {}, 209),
        ({"username": "x", "password": PW, "email": 5}, {}, 111),
        ({"username": "x", "password": PW, "scroe": 1}, {}, 105),
        ({"username": "x", "password": PW, "emailVerified": True}, {}, 138),
        ({"username": "x", "password": PW, "objectId": "abcdefghij"}, {}, 138),
        ({"username": "x", "password": PW, "ACL": "everyone"}, {}, 107),
        ({"username": "x", "password": PW, "sessionToken": "mine"}, {}, 105),
        ({"username": "x", "password": PW, "smsCode": "123456", "mobilePhoneNumber": "+8613900000002"}, {}, 207),
        ({"username": "x", "password": PW, "smsCode": 123456, "mobilePhoneNumber": "+8613900000002"}, {}, 207),
        ({"smsCode": "123456"}, {}, 207),
    ]


def post(c: httpx.Client, url: str, body: Any, headers: dict[str, str] | None = None,
         method: str = "POST") -> httpx.Response:
    if isinstance(body, bytes):
        return c.request(method, url, content=body, headers=headers or {})
    return c.request(method, url, json=body, headers=headers or {})


def test_sign_up_refuses_bad_input(server: Server) -> None:
    n = Names()
    with server.client() as c:
        sign_up(c, n.ann, email="ann@example.com", mobilePhoneNumber="+8613900000001")
        before = snapshot(server)
        for body, headers, code in bad_sign_ups(n.ann):
            refused(post(c, "/1/users", body, headers), code)
        refused(post(c, "/1/users", b'{"username":"' + b"x" * (2 << 20) + b'"}', JSON), 402, 413)
        assert snapshot(server) == before
        odd = "x'; DROP TABLE \"_User\"; --"  # a strange name is just a name
        oid, _ = sign_up(c, odd)
        assert c.get("/1/login", params={"username": odd, "password": PW}).json()["objectId"] == oid


def test_log_in_refuses_bad_input(server: Server) -> None:
    n = Names()
    with server.client() as c:
        sign_up(c, n.ann)
        before = snapshot(server)
        for params, code in (({}, 109), ({"username": n.ann}, 109), ({"password": PW}, 109),
                             ({"username": n.ann, "password": "wrong-one-1"}, 101),
                             ({"username": "nobody", "password": PW}, 101), ({"username": LONG, "password": PW}, 109),
                             ({"username": "a\x00b", "password": PW}, 109), ({"username": n.ann, "password": "a\x00b"},
                                                                              109)):
            refused(c.get("/1/login", params=params), code)
        for body, headers, code in ((b'{"username":"x","password":"first-secret-1"}', {"Content-Type": "text/plain"},
                                     107), (b"{", JSON, 107), ([{"username": n.ann, "password": PW}], {}, 107),
                                    ({"username": 5, "password": PW}, {}, 109), ({"username": n.ann}, {}, 109),
                                    ({"username": n.ann, "password": ["x"]}, {}, 109)):
            refused(post(c, "/1/login", body, headers), code)
        for _ in range(9):  # ten wrong passwords for one name in a minute: then even the right one waits
            refused(c.post("/1/login", json={"username": n.ann, "password": "guess-it-1"}), 101, 400)
        refused(c.post("/1/login", json={"username": n.ann, "password": PW}), 10076, 429)
        assert snapshot(server) == before  # no session was issued


def test_user_rows_refuse_bad_input(server: Server) -> None:
    n = Names()
    with server.client() as c:
        ann, token = sign_up(c, n.ann, email="ann@example.com")
        sign_up(c, n.bob)
        own = {"X-Bmob-Session-Token": token}
        before = snapshot(server)
        for body, headers, code in (
                (b'{"email":"new@example.com"}', {"Content-Type": "text/plain"}, 107), (b'{"email":', JSON, 107),
                ([{"email": "new@example.com"}], {}, 107), ({"password": "sneaky-new-1"}, {}, 122),
                ({"emailVerified": True}, {}, 138), ({"objectId": "abcdefghij"}, {}, 138), ({"scroe": 1}, {}, 105),
                ({"email": 5}, {}, 111), ({"username": n.bob}, {}, 202), ({"username": None}, {}, 108),
                ({"username": LONG}, {}, 108), ({"username": "a\x00b"}, {}, 108), ({"ACL": "everyone"}, {}, 107),
                ({"email": {"__op": "Increment"}}, {}, 111), ({"email": "new@example.com", "updatedAt": "x"}, {}, 138)):
            refused(post(c, f"/1/users/{ann}", body, {**own, **headers}, "PUT"), code)
        for bad_id in ("doesnotexist", LONG, "a%00b", "me"):
            refused(c.put(f"/1/users/{bad_id}", json={"email": "n@example.com"}, headers=own), 101, 404)
            refused(c.delete(f"/1/users/{bad_id}", headers=own), 101, 404)
            refused(c.get(f"/1/users/{bad_id}" if bad_id != "me" else "/1/users/doesnotexist"), 101, 404)
        refused(c.get("/1/users/me"), 211, 401)
        refused(c.get("/1/users", params={"where": json.dumps({"password": PW})}), 105)
        refused(c.get("/1/users", params={"where": "{not json"}), 102)
        refused(c.get("/1/users", params={"where": json.dumps({"username": {"$regex": "("}})}), 102)
        assert snapshot(server) == before


def dead_tokens(server: Server, c: httpx.Client, n: Names) -> tuple[str, list[str]]:
    """A user with one revoked and one expired session token (plus a live one that stays)."""
    ann, live = sign_up(c, n.ann)
    revoked = c.post("/1/login", json={"username": n.ann, "password": PW}).json()["sessionToken"]
    expired = c.post("/1/login", json={"username": n.ann, "password": PW}).json()["sessionToken"]

    async def kill(hub: Hub, app: App) -> None:
        t = app.catalog.system("_hb_sessions")
        async with app.db.read() as conn:
            session_id = await conn.scalar(sa.select(t.c.id).where(t.c.token_hash == hash_key(revoked)))
        await sessions.revoke(app, ROOT, session_id)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        async with app.db.write() as conn:
            await conn.execute(sa.update(t).where(t.c.token_hash == hash_key(expired)).values(expires_at=past))

    in_hub(server, kill)
    assert c.get("/1/users/me", headers={"X-Bmob-Session-Token": live}).status_code == 200
    return ann, [revoked, expired, "x" * 10_000, "not-a-token"]


def test_dead_sessions_are_refused(server: Server) -> None:
    n = Names()
    with server.client() as c:
        ann, tokens = dead_tokens(server, c, n)
        before = snapshot(server)
        for token in tokens:
            h = {"X-Bmob-Session-Token": token}
            refused(c.get("/1/users/me", headers=h), 211, 401)
            refused(c.get(f"/1/checkSession/{ann}", headers=h), 211, 401)
            refused(c.put(f"/1/users/{ann}", json={"email": "dead@example.com"}, headers=h), 211, 401)
            refused(c.delete(f"/1/users/{ann}", headers=h), 211, 401)
            refused(c.put(f"/1/updateUserPassword/{ann}", json={"oldPassword": PW, "newPassword": "taken-over-1"},
                          headers=h), 211, 401)
            refused(c.get("/1/users", headers=h), 211, 401)
        assert snapshot(server) == before


def test_password_change_refuses_bad_input(server: Server) -> None:
    n = Names()
    with server.client() as c, server.client(master=True) as master:
        ann, token = sign_up(c, n.ann)
        bob, bob_token = sign_up(c, n.bob)
        own = {"X-Bmob-Session-Token": token}
        before = snapshot(server)
        url = f"/1/updateUserPassword/{ann}"
        for body, headers, code in (
                ({"oldPassword": "wrong-old-1", "newPassword": "brand-new-1"}, own, 210),
                ({"newPassword": "brand-new-1"}, own, 210),
                ({"oldPassword": 5, "newPassword": "brand-new-1"}, own, 210),
                ({"oldPassword": PW, "newPassword": "abc"}, own, 102),
                ({"oldPassword": PW, "newPassword": 5}, own, 102),
                ({"oldPassword": PW}, own, 102), ({"oldPassword": PW, "newPassword": LONG}, own, 102),
                ({"oldPassword": PW, "newPassword": "brand-new-1"}, {"X-Bmob-Session-Token": bob_token}, 206),
                ({"oldPassword": PW, "newPassword": "brand-new-1"}, {}, 206),
                ([PW, "brand-new-1"], own, 107), (b'{"oldPassword":', {**own, **JSON}, 107),
                (b'{"oldPassword":"first-secret-1","newPassword":"brand-new-1"}', {**own, "Content-Type": "text/plain"},
                 107)):
            refused(post(c, url, body, headers, "PUT"), code)
        refused(master.put("/1/updateUserPassword/doesnotexist", json={"newPassword": "brand-new-1"}), 205, 404)
        refused(c.put(f"/1/updateUserPassword/{bob}", json={"oldPassword": PW, "newPassword": "brand-new-1"},
                      headers=own), 206, 403)
        assert snapshot(server) == before
        assert master.put(url, json={"newPassword": "set-by-root-1"}).json() == {"msg": "ok"}
        assert c.post("/1/login", json={"username": n.ann, "password": "set-by-root-1"}).status_code == 200
        refused(c.get("/1/users/me", headers=own), 211, 401)  # root's change ends every session


def test_sms_endpoints_refuse_bad_input(server: Server) -> None:
    n = Names()
    phone = new_phone()
    with server.client() as c:
        sign_up(c, n.ann, mobilePhoneNumber=phone)
        before = snapshot(server)
        for body, headers, code in (
                ({}, {}, 111), ({"mobilePhoneNumber": 13900000000}, {}, 111),
                ({"mobilePhoneNumber": "call me"}, {}, 102),
                ({"mobilePhoneNumber": "1" * 10_000}, {}, 102), ({"mobilePhoneNumber": "+86139\x0000000"}, {}, 102),
                ({"mobilePhoneNumber": phone, "template": LONG}, {}, 102),
                ({"mobilePhoneNumber": phone, "template": 5}, {}, 111),
                ({"mobilePhoneNumber": phone, "template": "a'; --"}, {}, 102), ([phone], {}, 107),
                (b'{"mobilePhoneNumber":"+8613900000000"}', {"Content-Type": "text/plain"}, 107)):
            refused(post(c, "/1/requestSmsCode", body, headers), code)
        assert snapshot(server) == before
        c.post("/1/requestSmsCode", json={"mobilePhoneNumber": phone})
        code = code_for(server, phone)
        wrong = "000000" if code != "000000" else "111111"
        before = snapshot(server)
        for url, body, expected in ((f"/1/verifySmsCode/{wrong}", {"mobilePhoneNumber": phone}, 207),
                                    ("/1/verifySmsCode/abc", {"mobilePhoneNumber": phone}, 207),
                                    (f"/1/verifySmsCode/{LONG}", {"mobilePhoneNumber": phone}, 207),
                                    (f"/1/verifySmsCode/{code}", {}, 207),
                                    (f"/1/verifySmsCode/{code}", {"mobilePhoneNumber": new_phone()}, 207),
                                    ("/1/verifySmsCode", {"mobilePhoneNumber": phone}, 207),
                                    ("/1/verifySmsCode", {"mobilePhoneNumber": phone, "smsCode": int(code)}, 207),
                                    (f"/1/verifySmsCode/{code}", [phone], 107)):
            refused(c.post(url, json=body), expected)
        for url, body, expected in ((f"/1/resetPasswordBySmsCode/{wrong}", {"password": "reset-secret-3"}, 207),
                                    ("/1/resetPasswordBySmsCode/abc", {"password": "reset-secret-3"}, 207),
                                    (f"/1/resetPasswordBySmsCode/{code}", {"password": "abc"}, 102),
                                    (f"/1/resetPasswordBySmsCode/{code}", {}, 102),
                                    (f"/1/resetPasswordBySmsCode/{code}", {"password": ["x"]}, 102),
                                    (f"/1/resetPasswordBySmsCode/{code}", ["reset-secret-3"], 107)):
            refused(c.put(url, json=body), expected)
        plain = {"Content-Type": "text/plain"}
        refused(post(c, "/1/verifySmsCode", json.dumps({"mobilePhoneNumber": phone, "smsCode": code}).encode(), plain),
                107)
        refused(post(c, f"/1/resetPasswordBySmsCode/{code}", b'{"password":"reset-secret-3"}', plain, "PUT"), 107)
        for body, expected in (({"mobilePhoneNumber": phone, "smsCode": wrong}, 207),
                               ({"mobilePhoneNumber": phone, "smsCode": code + "0"}, 207),
                               ({"mobilePhoneNumber": 5, "smsCode": code}, 207)):
            refused(c.post("/1/users", json=body), expected)
        in_hub(server, lambda hub, app: hub.sms.settle())
        after = snapshot(server)
        assert {k: v for k, v in after.items() if k != "_hb_sms_codes"} == \
               {k: v for k, v in before.items() if k != "_hb_sms_codes"}  # wrong guesses are counted, nothing else
        assert c.post(f"/1/verifySmsCode/{code}", json={"mobilePhoneNumber": phone}).json() == {"msg": "ok"}


def test_phone_sign_up_changes_nothing_when_refused(server: Server) -> None:
    n = Names()
    phone = new_phone()
    with server.client() as c:
        sign_up(c, n.ann)
        c.post("/1/requestSmsCode", json={"mobilePhoneNumber": phone})
        code = code_for(server, phone)
        before = snapshot(server)
        for extra, expected in (({"scroe": 1}, 105), ({"username": n.ann}, 202), ({"emailVerified": True}, 138),
                                ({"email": 5}, 111), ({"password": "abc"}, 102)):
            refused(c.post("/1/users", json={"mobilePhoneNumber": phone, "smsCode": code, **extra}), expected)
        assert snapshot(server) == before  # not even the code was used
        made = c.post("/1/users", json={"mobilePhoneNumber": phone, "smsCode": code, "password": PW})
        assert made.status_code == 201
        assert c.post("/1/login", json={"username": phone, "password": PW}).status_code == 200


def test_other_apps_credentials_open_nothing(server: Server) -> None:
    n = Names()
    with server.client() as c:
        ann, token = sign_up(c, n.ann)
    main, other = server.apps[MAIN], server.apps["other"]
    before = snapshot(server)
    with server.raw() as raw:
        wrong_key = {"X-Bmob-Application-Id": main["applicationId"], "X-Bmob-REST-API-Key": other["restApiKey"]}
        for method, url, body in (("POST", "/1/users", {"username": "x", "password": PW}), ("GET", "/1/users", None),
                                  ("POST", "/1/login", {"username": n.ann, "password": PW}),
                                  ("GET", f"/1/users/{ann}", None), ("PUT", f"/1/users/{ann}", {"email": "o@x.io"}),
                                  ("POST", "/1/requestSmsCode", {"mobilePhoneNumber": new_phone()})):
            r = raw.request(method, url, json=body, headers={**wrong_key, "X-Bmob-Session-Token": token})
            assert (r.status_code, r.json()) == (401, {"error": "unauthorized"})
    with server.client("other") as o:
        refused(o.get("/1/login", params={"username": n.ann, "password": PW}), 101, 400)
        refused(o.get(f"/1/users/{ann}"), 101, 404)
        refused(o.put(f"/1/users/{ann}", json={"email": "o@x.io"}), 101, 404)
        refused(o.delete(f"/1/users/{ann}"), 101, 404)
        for url in ("/1/users/me", f"/1/checkSession/{ann}"):
            refused(o.get(url, headers={"X-Bmob-Session-Token": token}), 211, 401)
    with server.client("other", master=True) as om:
        refused(om.put(f"/1/users/{ann}", json={"email": "o@x.io"}), 101, 404)
        refused(om.put(f"/1/updateUserPassword/{ann}", json={"newPassword": "taken-over-1"}), 205, 404)
    assert snapshot(server) == before
