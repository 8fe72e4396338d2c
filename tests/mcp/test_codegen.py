"""``generate_code``'s generator: the labels it accepts, what each of the 13 types needs, hostile values kept
inert, and — against a real server on SQLite and PostgreSQL — every printed curl command run as printed by
``sh``, plus the Python and JavaScript variants."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest

from hivebase.config import Settings
from hivebase.core.apps import MAIN
from hivebase.errors import HivebaseError, InvalidName, InvalidValue, LimitExceeded, TypeMismatch
from hivebase.hub import Hub
from hivebase.mcp.codegen import CHINESE, REQUIREMENTS, TYPES, describe_types, generate
from tests.mcp.conftest import bmob_headers, legacy
from tests.rest.conftest import Server, serving

KW = {"base_url": "http://127.0.0.1:8000/", "application_id": "app-id", "rest_api_key": "rest-key"}
# Shell metacharacters whose only effect, should quoting ever break, is a `pwned` file in the temporary cwd:
# never put a destructive command here (these strings are executed by `sh`).
HOSTILE = "'; touch pwned; ' $(touch pwned) `touch pwned` \" \\ \n\t ☃ 名"
VALID: dict[str, dict[str, Any]] = {  # the fewest arguments each type accepts
    "add": {"tableName": "Player", "data": '{"name": "Lily"}'},
    "delete": {"tableName": "Player", "objectId": "abc123"},
    "update": {"tableName": "Player", "objectId": "abc123", "data": {"score": 2}},
    "get": {"tableName": "Player", "objectId": "abc123"},
    "query": {"tableName": "Player"},
    "signup": {"data": {"username": "lily", "password": "pw"}},
    "login": {"username": "lily", "password": "pw"},
    "sms_login": {"mobilePhoneNumber": "+8613900000000", "smsCode": "123456"},
    "update_user": {"sessionToken": "tok", "objectId": "abc123", "data": {"email": "a@b.c"}},
    "request_sms_code": {"data": '{"mobilePhoneNumber": "+8613900000000"}'},
    "verify_sms_code": {"data": {"mobilePhoneNumber": "+8613900000000", "smsCode": "123456"}},
    "call_function": {"funcName": "echo"},
    "upload_file": {"fileName": "hello.txt"},
}
ROUTES = {"add": ("POST", "/1/classes/Player"), "delete": ("DELETE", "/1/classes/Player/abc123"),
          "update": ("PUT", "/1/classes/Player/abc123"), "get": ("GET", "/1/classes/Player/abc123"),
          "query": ("GET", "/1/classes/Player"), "signup": ("POST", "/1/users"), "login": ("POST", "/1/login"),
          "sms_login": ("POST", "/1/users"), "update_user": ("PUT", "/1/users/abc123"),
          "request_sms_code": ("POST", "/1/requestSmsCode"), "verify_sms_code": ("POST", "/1/verifySmsCode/123456"),
          "call_function": ("POST", "/1/functions/echo"), "upload_file": ("POST", "/2/files/hello.txt")}


def words(cmd: str) -> list[str]:
    """The command's arguments as ``sh`` sees them."""
    return shlex.split(cmd.replace(" \\\n", " "))


def curl_parts(cmd: str) -> dict[str, Any]:
    """Method, URL, headers, body and query of a generated curl command."""
    w = words(cmd)
    assert w[:2] == ["curl", "-X"]
    out: dict[str, Any] = {"method": w[2], "url": w[3], "headers": {}, "query": [], "body": None}
    rest = iter(w[4:])
    for flag in rest:
        if flag == "-H":
            name, _, value = next(rest).partition(": ")
            out["headers"][name] = value
        elif flag == "--data-urlencode":
            out["query"].append(next(rest).split("=", 1))
        elif flag in ("-d", "--data-binary"):
            out["body"] = next(rest)
        else:
            assert flag == "--get", flag
    return out


def refused(kind: str, args: dict[str, Any], error: type[HivebaseError] = InvalidValue, **kw: Any) -> HivebaseError:
    with pytest.raises(error) as info:
        generate(kind, args, **{**KW, **kw})
    return info.value


# -- labels, requirements, descriptions -----------------------------------------------------------------


def test_labels() -> None:
    assert set(TYPES.values()) == set(REQUIREMENTS) and len(REQUIREMENTS) == 13 and len(CHINESE) == 13
    for label, kind in {**CHINESE, " ADD ": "add", "Sign_Up": "signup", "sign-up": "signup", "register": "signup",
                        "get one": "get", "Query_One": "get", " 条件查询 ": "query", "create": "add"}.items():
        assert curl_parts(generate(label, VALID[kind], **KW))["method"] == ROUTES[kind][0], label
    for bad in ("nope", "", "添加 用户", None, 5, ["add"]):
        e = refused(bad, {})  # type: ignore[arg-type]
        assert e.field == "type" and "add (添加)" in e.message and "upload_file (上传文件)" in e.message
    text = describe_types()
    assert len(text) < 1000 and text.count("\n") == 13 and all(t in text for t in REQUIREMENTS)


@pytest.mark.parametrize("kind", sorted(REQUIREMENTS))
def test_each_type(kind: str) -> None:
    """Route, headers and body of the fewest arguments; nothing given names every missing parameter."""
    p = curl_parts(generate(kind, VALID[kind], **KW))
    assert (p["method"], p["url"]) == (ROUTES[kind][0], "http://127.0.0.1:8000" + ROUTES[kind][1])
    assert p["headers"]["X-Bmob-Application-Id"] == "app-id" and p["headers"]["X-Bmob-REST-API-Key"] == "rest-key"
    for language in ("curl", "python", "javascript"):
        assert "master" not in generate(kind, VALID[kind], **KW, language=language).lower()
    compile(generate(kind, VALID[kind], **KW, language="python"), "<generated>", "exec")
    blank = {"tableName": "", "objectId": "", "data": "", "where": "", "funcName": None}  # as agents fill them
    for args in ({}, blank):
        e = refused(kind, args)
        assert e.reason == "missing" and e.details["missing"] == list(REQUIREMENTS[kind])
        assert e.message.startswith(f"generate_code type `{kind}` needs ")
        assert all(name in e.message for name in REQUIREMENTS[kind])


def test_bodies_and_parameters() -> None:
    body = lambda kind, args: json.loads(curl_parts(generate(kind, args, **KW))["body"])  # noqa: E731
    assert body("add", VALID["add"]) == {"name": "Lily"}
    assert body("signup", {"data": {"username": "u", "email": "e@x.y"}, "password": "p"}) == {
        "username": "u", "email": "e@x.y", "password": "p"}
    assert body("login", {"data": '{"username": "u"}', "password": "p"}) == {"username": "u", "password": "p"}
    assert body("sms_login", {"data": {"mobilePhoneNumber": "1", "smsCode": "2", "nickname": "n"}}) == {
        "mobilePhoneNumber": "1", "smsCode": "2", "nickname": "n"}
    assert body("request_sms_code", {"mobilePhoneNumber": "1", "data": {"template": "t", "x": 1}}) == {
        "mobilePhoneNumber": "1", "template": "t"}
    assert body("verify_sms_code", {"mobilePhoneNumber": "1", "smsCode": "2"}) == {"mobilePhoneNumber": "1"}
    assert body("call_function", VALID["call_function"]) == {}
    assert body("call_function", {"funcName": "f", "data": '{"a": [1, null]}'}) == {"a": [1, None]}
    assert curl_parts(generate("update_user", VALID["update_user"], **KW))["headers"]["X-Bmob-Session-Token"] == "tok"
    q = curl_parts(generate("query", {"tableName": "Player", "where": '{"score": {"$gt": 1}}', "skip": "5",
                                      "limit": 10, "count": "true"}, **KW))
    assert q["query"] == [["where", '{"score":{"$gt":1}}'], ["skip", "5"], ["limit", "10"], ["count", "1"]]
    assert generate("query", {"tableName": "P", "where": {"a": 1}}, **KW) == generate(
        "query", {"tableName": "P", "where": '{"a": 1}'}, **KW)
    assert curl_parts(generate("query", {"tableName": "P", "where": "{}", "count": 0}, **KW))["query"] == []
    assert curl_parts(generate("get", {"tableName": "_User", "objectId": "a/b?c#d e"}, **KW))["url"].endswith(
        "/1/classes/_User/a%2Fb%3Fc%23d%20e")
    # arguments the type does not use are ignored, however odd (Bmob marks `where` and `data` as required)
    assert curl_parts(generate("delete", {**VALID["delete"], "data": "{oops", "where": 5}, **KW))["body"] is None
    types = {n: curl_parts(generate("upload_file", {"fileName": n}, **KW))["headers"]["Content-Type"]
             for n in ("a.PNG", "b.json", "c.bin", "noext", "d.tar.gz")}
    assert types == {"a.PNG": "image/png", "b.json": "application/json", "c.bin": "application/octet-stream",
                     "noext": "application/octet-stream", "d.tar.gz": "application/gzip"}
    up = curl_parts(generate("upload_file", {"fileName": "-", "content_Type": "text/csv; charset=utf-8"}, **KW))
    assert up["body"] == "@./-" and up["headers"]["Content-Type"] == "text/csv; charset=utf-8"


def test_hostile_values_stay_data() -> None:
    """Values reach curl as one argument each, byte for byte; names and ids cannot leave their URL segment."""
    data = {"name": HOSTILE, HOSTILE: [HOSTILE], "n": "\x00\u202e"}
    p = curl_parts(generate("add", {"tableName": "Player", "data": data}, **KW))
    assert json.loads(p["body"]) == data and "\x00" not in p["body"]
    p = curl_parts(generate("query", {"tableName": "Player", "where": {"name": HOSTILE}}, **KW))
    assert p["query"] == [["where", json.dumps({"name": HOSTILE}, ensure_ascii=False, separators=(",", ":"))]]
    p = curl_parts(generate("upload_file", {"fileName": "x'; touch pwned; '.txt"}, **KW))
    assert p["body"] == "@x'; touch pwned; '.txt" and p["url"].endswith("/2/files/x%27%3B%20touch%20pwned%3B%20%27.txt")
    for language in ("python", "javascript"):
        code = generate("add", {"tableName": "Player", "data": data}, **KW, language=language)
        assert "\n" + HOSTILE not in code and "\x00" not in code
    compile(generate("add", {"tableName": "P", "data": data}, **KW, language="python"), "<generated>", "exec")


@pytest.mark.parametrize("table", ["Player/../x", "a b", "'; touch pwned; '", "_hb_x", "sqlite_master", "1abc",
                                   "P?x=1", "P#", "a" * 41, "Plаyer"])
def test_bad_table_names(table: str) -> None:
    refused("add", {"tableName": table, "data": {}}, InvalidName)
    refused("query", {"tableName": table}, InvalidName)


def test_wrong_types_and_values() -> None:
    cases: list[tuple[str, dict[str, Any], type[HivebaseError], str]] = [
        ("add", {"tableName": 5, "data": {}}, TypeMismatch, "tableName"),
        ("get", {"tableName": "P", "objectId": 12345}, TypeMismatch, "objectId"),
        ("get", {"tableName": "P", "objectId": ".."}, InvalidValue, "objectId"),
        ("get", {"tableName": "P", "objectId": "x" * 65}, InvalidValue, "objectId"),
        ("get", {"tableName": "P", "objectId": "a\x00b"}, InvalidValue, "objectId"),
        ("add", {"tableName": "P", "data": "[1, 2]"}, TypeMismatch, "data"),
        ("add", {"tableName": "P", "data": 7}, TypeMismatch, "data"),
        ("add", {"tableName": "P", "data": "{name: 1}"}, InvalidValue, "data"),
        ("add", {"tableName": "P", "data": '{"a": NaN}'}, InvalidValue, "data"),
        ("add", {"tableName": "P", "data": {"a": float("inf")}}, InvalidValue, "data"),
        ("add", {"tableName": "P", "data": {"a": object()}}, InvalidValue, "data"),
        ("add", {"tableName": "P", "data": {"a": "\ud800"}}, InvalidValue, "data"),
        ("add", {"tableName": "P", "data": "[" * 100_000}, LimitExceeded, "data"),
        ("add", {"tableName": "P", "data": '{"a":' + "[" * 5000 + "]" * 5000 + "}"}, InvalidValue, "data"),
        ("add", {"tableName": "P", "data": {"a": "x" * 70_000}}, LimitExceeded, "data"),
        ("query", {"tableName": "P", "where": "[]"}, TypeMismatch, "where"),
        ("query", {"tableName": "P", "where": {"a": "x" * 9000}}, LimitExceeded, "where"),
        ("query", {"tableName": "P", "skip": -1}, InvalidValue, "skip"),
        ("query", {"tableName": "P", "skip": "-1"}, TypeMismatch, "skip"),
        ("query", {"tableName": "P", "skip": 1.5}, TypeMismatch, "skip"),
        ("query", {"tableName": "P", "limit": True}, TypeMismatch, "limit"),
        ("query", {"tableName": "P", "limit": 1001}, InvalidValue, "limit"),
        ("query", {"tableName": "P", "skip": 10**30}, InvalidValue, "skip"),
        ("query", {"tableName": "P", "count": 2}, TypeMismatch, "count"),
        ("query", {"tableName": "P", "count": "yes"}, TypeMismatch, "count"),
        ("login", {"username": 1, "password": "p"}, TypeMismatch, "username"),
        ("login", {"username": "a", "data": {"username": "b", "password": "p"}}, InvalidValue, "username"),
        ("signup", {"data": {"username": "u", "password": ["p"]}}, TypeMismatch, "password"),
        ("sms_login", {"mobilePhoneNumber": 13900000000, "smsCode": "1"}, TypeMismatch, "mobilePhoneNumber"),
        ("request_sms_code", {"mobilePhoneNumber": "1", "template": 3}, TypeMismatch, "template"),
        ("verify_sms_code", {"mobilePhoneNumber": "1", "smsCode": ".."}, InvalidValue, "smsCode"),
        ("update_user", {**VALID["update_user"], "sessionToken": "t\r\nX-Bmob-Master-Key: k"}, InvalidValue,
         "sessionToken"),
        ("update_user", {**VALID["update_user"], "sessionToken": 5}, TypeMismatch, "sessionToken"),
        ("call_function", {"funcName": "../x"}, InvalidName, ""),
        ("call_function", {"funcName": "f", "data": "[]"}, TypeMismatch, "data"),
        ("upload_file", {"fileName": "../etc/passwd"}, InvalidName, "name"),
        ("upload_file", {"fileName": "a\nb"}, InvalidName, "name"),
        ("upload_file", {"fileName": "a", "content_Type": "text/html\r\nX: y"}, InvalidValue, "content_type"),
        ("upload_file", {"fileName": 5}, TypeMismatch, "fileName"),
    ]
    for kind, args, error, field in cases:
        e = refused(kind, args, error)
        assert (e.field or "") == field, (kind, args, e.to_dict())
        assert "Traceback" not in e.message and len(e.message) < 400, e.message


def test_server_settings_are_checked() -> None:
    for base in ("ftp://x", "http://x/?a=1", "http://x#f", "http://u:p@x", "http://x'; touch pwned", "", "x", None):
        assert refused("query", VALID["query"], base_url=base).field == "base_url"
    assert refused("query", VALID["query"], rest_api_key="k\nX: y").field == "rest_api_key"
    assert refused("query", VALID["query"], application_id="").field == "application_id"
    assert refused("query", VALID["query"], language="ruby").field == "language"
    assert curl_parts(generate("query", VALID["query"], **{**KW, "base_url": "https://h.example/hb/"}))["url"] == \
        "https://h.example/hb/1/classes/Player"
    assert "--globoff" in words(generate("query", VALID["query"], **{**KW, "base_url": "http://[::1]:8000"}))
    assert generate("query", VALID["query"], **KW, language=" JS ") == generate(
        "query", VALID["query"], **KW, language="javascript")


# -- against a running server ------------------------------------------------------------------------------


def run(argv: list[str], cwd: Path) -> tuple[int, Any]:
    """Run a generated program; its last line is ``<status>`` (curl) or its only line ``<status> <body>``."""
    home = cwd.parent / "home"  # a scratch HOME: nothing a broken command could do reaches the real one
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, (argv[-1], done.stdout, done.stderr)
    if argv[0] == "sh":
        body, _, status = done.stdout.rpartition("\n")
    else:
        status, _, body = done.stdout.strip().partition(" ")
    return int(status), json.loads(body)


def sms_code(server: Server, phone: str) -> str:
    """The newest code the development outbox holds for ``phone`` (read as another process would)."""

    async def read() -> str:
        async with Hub(server.settings) as hub:
            return str((await hub.sms.outbox(await hub.apps.open(MAIN), phone, 1))[0]["code"])

    return asyncio.run(read())


def generated(server: Server, args: dict[str, Any]) -> str:
    """``generate_code`` called over legacy SSE, as Bmob's agents call it."""

    async def ask() -> str:
        async with legacy(f"{server.url}/mcp", bmob_headers(server, master=True)) as session:
            result = await session.call_tool("generate_code", args)
        assert not result.is_error, result.content
        assert result.content[0].type == "text"
        return result.content[0].text

    return str(anyio.run(ask))


def test_generated_code_runs(settings: Settings, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "canary").write_text("still here")
    with serving(settings) as server:
        creds = server.apps[MAIN]
        kw = {"base_url": server.url + "/", "application_id": creds["applicationId"],
              "rest_api_key": creds["restApiKey"]}

        def curl(kind: str, **args: Any) -> tuple[int, Any]:
            """The command the MCP tool prints (asked with the master key: it must still print the REST key)."""
            cmd = generated(server, {"type": kind, **args})
            assert cmd == generate(kind, args, **kw)
            assert creds["masterKey"] not in cmd
            return run(["sh", "-c", cmd + " -s -S --fail-with-body -w '\\n%{http_code}'"], cwd)

        server.make_table("Player", {"name": "String", "score": "Number"})
        status, made = curl("添加", tableName="Player", data=json.dumps({"name": HOSTILE, "score": 1}))
        assert status == 201 and set(made) == {"objectId", "createdAt"}
        oid = made["objectId"]
        status, row = curl("get", tableName="Player", objectId=oid)
        assert status == 200 and row["name"] == HOSTILE and row["score"] == 1
        status, done = curl("update", tableName="Player", objectId=oid, data={"score": 2})
        assert status == 200 and "updatedAt" in done
        status, found = curl("query", tableName="Player", where={"name": HOSTILE, "score": {"$gte": 2}},
                             skip=0, limit=10, count=True)
        assert status == 200 and found["count"] == 1 and [r["objectId"] for r in found["results"]] == [oid]

        status, py = run([sys.executable, "-c", generate("add", {"tableName": "Player", "data": {
            "name": HOSTILE, "score": 3}}, **kw, language="python")], cwd)
        assert status == 201 and "objectId" in py
        status, py = run([sys.executable, "-c", generate("query", {"tableName": "Player", "where": {
            "score": {"$gt": 1}}, "limit": 5, "count": 1}, **kw, language="python")], cwd)
        assert status == 200 and py["count"] == 2 and {r["name"] for r in py["results"]} == {HOSTILE}
        if shutil.which("node"):
            (cwd / "request.mjs").write_text(generate("add", {"tableName": "Player", "data": {
                "name": HOSTILE, "score": 4}}, **kw, language="javascript"))
            status, js = run(["node", "request.mjs"], cwd)
            assert status == 201 and "objectId" in js
        status, gone = curl("delete", tableName="Player", objectId=oid)
        assert status == 200 and gone == {"msg": "ok"}
        with server.client() as c:
            assert c.get(f"/1/classes/Player/{oid}").status_code == 404

        name = f"u{secrets.token_hex(4)}"
        status, user = curl("signup", data={"username": name, "password": HOSTILE})
        assert status == 201 and user["sessionToken"] and user["objectId"]
        status, logged = curl("login", username=name, password=HOSTILE)
        assert status == 200 and logged["objectId"] == user["objectId"] and logged["sessionToken"]
        status, done = curl("update_user", sessionToken=logged["sessionToken"], objectId=user["objectId"],
                            data={"email": f"{name}@example.com"})
        assert status == 200 and "updatedAt" in done
        with server.client() as c:
            assert c.get(f"/1/users/{user['objectId']}").json()["email"] == f"{name}@example.com"

        phones = [f"+86139{secrets.randbelow(10**8):08d}" for _ in range(2)]
        status, sent = curl("request_sms_code", data=json.dumps({"mobilePhoneNumber": phones[0]}))
        assert status == 200 and sent["smsId"]
        status, ok = curl("verify_sms_code", mobilePhoneNumber=phones[0], smsCode=sms_code(server, phones[0]))
        assert status == 200 and ok == {"msg": "ok"}
        status, sent = curl("请求短信验证码", data={"mobilePhoneNumber": phones[1], "template": "login"})
        assert status == 200
        status, phone_user = curl("sms_login", mobilePhoneNumber=phones[1], smsCode=sms_code(server, phones[1]))
        assert status == 201 and phone_user["sessionToken"] and phone_user["mobilePhoneNumber"] == phones[1]

        with server.client(master=True) as m:
            deployed = m.put("/1/functions/echo", content="def main(ctx):\n    return {'got': ctx.params}\n",
                             headers={"Content-Type": "application/x-python"})
            assert deployed.status_code == 200, deployed.text
        status, result = curl("call_function", funcName="echo", data={"who": HOSTILE})
        assert status == 200 and result == {"got": {"who": HOSTILE}}
        status, result = curl("调用云函数", funcName="echo")
        assert status == 200 and result == {"got": {}}

        fname = "x'; touch pwned; '.txt"
        (cwd / fname).write_bytes(b"hello \x00 world")
        status, stored = curl("upload_file", fileName=fname)
        assert status == 200 and stored["filename"] == fname and stored["cdn"] == "hivebase"
        assert stored["url"].startswith(server.settings.public_url + "/2/files/hivebase/main/")
        with server.raw() as anyone:
            downloaded = anyone.get(urlsplit(stored["url"]).path)
        assert downloaded.content == b"hello \x00 world" and downloaded.headers["content-type"] == "text/plain"
    expected = {"canary", fname} | ({"request.mjs"} if shutil.which("node") else set())
    assert {p.name for p in cwd.iterdir()} == expected  # nothing was created (no `pwned`) and nothing removed
    assert (cwd / "canary").read_text() == "still here" and not (cwd / "pwned").exists()
