"""``/2/files`` over real HTTP on SQLite and PostgreSQL: raw and multipart uploads, public downloads, deletes by
the uploader or the master key, size limits enforced while streaming, hostile names, and S3 through moto."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from hivebase.config import Settings
from hivebase.core.identity import users
from hivebase.core.principal import Principal
from hivebase.hub import Hub
from tests.conftest import IN_CI
from tests.rest.conftest import Server, error_of, free_port, serving

ALL_BYTES = bytes(range(256)) * 40
URL = re.compile(r"/2/files/hivebase/main/([0-9a-f]{32})/(.+)$")


@pytest.fixture
def small(settings: Settings) -> Iterator[Server]:
    """A server that accepts files of at most 1 KiB."""
    with serving(settings, file_max_bytes=1024) as running:
        yield running


def path_of(url: str) -> str:
    return urlsplit(url).path


def stored(server: Server, app: str = "main") -> list[dict[str, Any]]:
    """The app's ``_hb_files`` rows, read through a second hub on the same storage."""

    async def run() -> list[dict[str, Any]]:
        async with Hub(server.settings) as hub:
            a = await hub.apps.open(app)
            t = a.catalog.system("_hb_files")
            async with a.db.read() as conn:
                return [dict(r) for r in (await conn.execute(sa.select(t))).mappings()]

    return asyncio.run(run())


def on_disk(server: Server) -> list[Path]:
    """Every file (temporary ones included) under ``<data dir>/files``."""
    root = Path(server.settings.data_dir) / "files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def session_of(server: Server, username: str, app: str = "main") -> str:
    """A signed-in user's session token (the user made by root through the core)."""

    async def run() -> str:
        async with Hub(server.settings) as hub:
            a = await hub.apps.open(app)
            await users.create_user(a, Principal.root("test"), {"username": username, "password": "pw-123456"})
            me = await users.log_in(a, Principal.client(app), username, "pw-123456")
            return str(me["sessionToken"])

    return asyncio.run(run())


def upload(c: httpx.Client, name: str, data: bytes, ctype: str = "application/octet-stream") -> dict[str, Any]:
    r = c.post(f"/2/files/{quote(name, safe='')}", content=data, headers={"Content-Type": ctype})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_raw_upload_and_download_round_trip(server: Server) -> None:
    with server.client() as c:
        made = upload(c, "photo.png", ALL_BYTES, "image/png")
    assert set(made) == {"filename", "url", "cdn"} and made["filename"] == "photo.png" and made["cdn"] == "hivebase"
    assert made["url"].startswith(server.settings.public_url + "/2/files/hivebase/main/")
    assert URL.search(made["url"]) and made["url"].endswith("/photo.png")
    with server.raw() as anyone:  # public URL: no credentials
        got = anyone.get(path_of(made["url"]))
    assert got.status_code == 200 and got.content == ALL_BYTES
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-length"] == str(len(ALL_BYTES))
    assert got.headers["content-disposition"].startswith('inline; filename="photo.png"')
    assert got.headers["x-content-type-options"] == "nosniff"
    [row] = stored(server)
    assert row["name"] == "photo.png" and row["size"] == len(ALL_BYTES) and row["created_by"] is None
    assert row["id"] in made["url"] and "photo" not in row["key"]  # the key never comes from the name


def test_unicode_names_and_types_are_kept(server: Server) -> None:
    name = "报告 #1?&%.txt"
    with server.client() as c:
        made = upload(c, name, "héllo".encode(), "text/plain; charset=utf-8")
    assert made["filename"] == name
    with server.raw() as anyone:
        got = anyone.get(path_of(made["url"]))
    assert got.text == "héllo" and got.headers["content-type"] == "text/plain; charset=utf-8"
    disposition = got.headers["content-disposition"]
    assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition and '"' not in disposition.split('"')[1]


def test_active_content_is_a_sandboxed_download(server: Server) -> None:
    with server.client() as c:
        made = upload(c, "x.html", b"<script>alert(1)</script>", "text/html")
        svg = upload(c, "x.svg", b"<svg onload='alert(1)'/>", "image/svg+xml")
    with server.raw() as anyone:
        for url in (made["url"], svg["url"]):
            got = anyone.get(path_of(url))
            assert got.headers["content-disposition"].startswith("attachment;")
            assert got.headers["content-security-policy"] == "sandbox"


def test_multipart_upload(server: Server) -> None:
    with server.client() as c:
        r = c.post("/2/files", data={"note": "x" * 100}, files={"file": ("notes.txt", b"abc\r\n--x", "text/plain")})
        assert r.status_code == 200, r.text
        made = r.json()
        assert made["filename"] == "notes.txt" and made["cdn"] == "hivebase"
        named = c.post("/2/files/renamed.bin", files={"file": ("ignored.txt", ALL_BYTES, "application/x-thing")})
        assert named.status_code == 200 and named.json()["filename"] == "renamed.bin"
    with server.raw() as anyone:
        got = anyone.get(path_of(made["url"]))
        assert got.content == b"abc\r\n--x" and got.headers["content-type"] == "text/plain"
        other = anyone.get(path_of(named.json()["url"]))
        assert other.content == ALL_BYTES and other.headers["content-type"] == "application/x-thing"


def test_bad_multipart_bodies(server: Server) -> None:
    with server.client() as c:
        no_file = c.post("/2/files", files={"other": ("a.txt", b"abc", "text/plain")})
        assert no_file.status_code == 400 and error_of(no_file)["code"] == 147
        no_boundary = c.post("/2/files/a.txt", content=b"abc", headers={"Content-Type": "multipart/form-data"})
        assert error_of(no_boundary)["code"] == 147
        cut = c.post("/2/files/a.txt", content=b'--b\r\nContent-Disposition: form-data; name="file"; '
                     b'filename="a.txt"\r\n\r\nabc', headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert error_of(cut)["code"] == 147
        nameless = c.post("/2/files", files={"file": ("", b"abc", "text/plain")})
        assert error_of(nameless)["code"] == 146
        late = c.post("/2/files", data={"pad": "x" * 300_000}, files={"file": ("a.txt", b"abc", "text/plain")})
        assert error_of(late)["code"] == 147
    assert stored(server) == [] and on_disk(server) == []


def test_delete_by_uploader_and_by_master_key(server: Server) -> None:
    token = session_of(server, "ann")
    with server.client(session=token) as ann:
        mine = upload(ann, "a.txt", b"ann's")
        assert stored(server)[0]["created_by"] is not None
        r = ann.delete(path_of(mine["url"]))
        assert r.status_code == 200 and r.json() == {"msg": "ok"}
    with server.client() as c:
        anon = upload(c, "b.txt", b"anonymous")
    with server.client(master=True) as root:
        assert root.delete(path_of(anon["url"])).json() == {"msg": "ok"}
        again = root.delete(path_of(anon["url"]))
        assert again.status_code == 404 and error_of(again)["code"] == 151
    with server.raw() as anyone:
        for made in (mine, anon):
            gone = anyone.get(path_of(made["url"]))
            assert gone.status_code == 404 and error_of(gone)["code"] == 151
    assert stored(server) == [] and on_disk(server) == []


def test_others_may_not_delete(server: Server) -> None:
    ann, bob = session_of(server, "ann"), session_of(server, "bob")
    with server.client(session=ann) as c:
        made = upload(c, "a.txt", b"ann's")
    path = path_of(made["url"])
    with server.client(session=bob) as c:
        r = c.delete(path)
        assert r.status_code == 403 and error_of(r)["code"] == 122
    with server.client() as c:
        r = c.delete(path)
        assert r.status_code == 403 and error_of(r)["code"] == 122
    with server.client("other", master=True) as c:  # another app's master key cannot reach main's files
        r = c.delete(path)
        assert r.status_code == 404 and error_of(r)["code"] == 151
    with server.raw() as anyone:
        assert anyone.get(path).content == b"ann's"
        assert anyone.delete(path).status_code == 401
    assert len(stored(server)) == 1


def test_too_large_is_refused_and_leaves_nothing(small: Server) -> None:
    with small.client() as c:
        r = c.post("/2/files/big.bin", content=b"x" * 1025)
        assert r.status_code == 413 and error_of(r)["code"] == 145

        def body() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming
            yield b"x" * 1000
            yield b"x" * 25

        r = c.post("/2/files/big.bin", content=body())
        assert r.status_code == 413 and error_of(r)["code"] == 145
        r = c.post("/2/files", files={"file": ("big.bin", b"x" * 1025, "text/plain")})
        assert r.status_code == 413 and error_of(r)["code"] == 145
        assert upload(c, "ok.bin", b"x" * 1024)["filename"] == "ok.bin"
    assert [row["name"] for row in stored(small)] == ["ok.bin"] and len(on_disk(small)) == 1


def _raw_request(server: Server, head: str, body: bytes) -> bytes:
    """Send a request whose body never ends; the answer must come anyway (the server stopped reading)."""
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    creds = server.apps["main"]
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall((f"{head}\r\nHost: {host}\r\nX-Bmob-Application-Id: {creds['applicationId']}\r\n"
                   f"X-Bmob-REST-API-Key: {creds['restApiKey']}\r\n\r\n").encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def test_the_limit_holds_before_the_body_ends(small: Server) -> None:
    chunk = b"x" * 700
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(2))  # no final 0-chunk: still open
    answer = _raw_request(small, "POST /2/files/big.bin HTTP/1.1\r\nTransfer-Encoding: chunked", chunked)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    declared = _raw_request(small, "POST /2/files/big.bin HTTP/1.1\r\nContent-Length: 10000000000", b"x" * 10)
    assert declared.startswith(b"HTTP/1.1 413"), declared[:200]
    assert stored(small) == [] and on_disk(small) == []


@pytest.mark.parametrize("raw_name", ["..%2Fx", "a%2Fb", "a%5Cb", "a%00b", "a%01b", "%2E%2E", "%2E", "x" * 300,
                                      "%E2%80%AEgnp.exe", "a..b"])
def test_bad_names_change_nothing(server: Server, raw_name: str) -> None:
    with server.client() as c:
        r = c.post(f"/2/files/{raw_name}", content=b"data")
        assert r.status_code == 400 and error_of(r)["code"] == 146, (raw_name, r.text)
    assert stored(server) == [] and on_disk(server) == []


def test_missing_name_empty_file_and_bad_type(server: Server) -> None:
    with server.client() as c:
        for path in ("/2/files", "/2/files/"):
            r = c.post(path, content=b"data")
            assert r.status_code == 400 and error_of(r)["code"] == 146
        empty = c.post("/2/files/a.txt", content=b"")
        assert empty.status_code == 400 and error_of(empty)["code"] == 149
        for ctype in ("text/<script>", "x" * 300 + "/y", "text/plain; \xe9"):
            bad = c.post("/2/files/a.txt", content=b"data", headers={"Content-Type": ctype.encode("latin-1")})
            assert bad.status_code == 400 and error_of(bad)["code"] == 107, ctype
        odd = c.post("/2/files/a.txt", content=b"data", headers={"Content-Type": "not a type"})
        assert odd.status_code == 400 and error_of(odd)["code"] == 107
        bare = c.post("/2/files/a.txt", content=b"data", headers={"Content-Type": ""})
        assert bare.status_code == 200
    assert len(stored(server)) == 1


def test_credentials_are_checked_before_reading(server: Server) -> None:
    main, other = server.apps["main"], server.apps["other"]
    with server.raw() as anyone:
        assert anyone.post("/2/files/a.txt", content=b"x").json() == {"error": "unauthorized"}
        wrong = anyone.post("/2/files/a.txt", content=b"x", headers={
            "X-Bmob-Application-Id": main["applicationId"], "X-Bmob-REST-API-Key": other["restApiKey"]})
        assert wrong.status_code == 401 and wrong.json() == {"error": "unauthorized"}
        bad_master = anyone.post("/2/files/a.txt", content=b"x", headers={
            "X-Bmob-Application-Id": main["applicationId"], "X-Bmob-Master-Key": "f" * 32})
        assert bad_master.status_code == 401
    assert stored(server) == [] and stored(server, "other") == []


def test_unknown_and_malformed_urls_are_not_found(server: Server) -> None:
    with server.client() as c:
        made = upload(c, "a.txt", b"data")
    token = URL.search(made["url"]).group(1)  # type: ignore[union-attr]
    with server.raw() as anyone:
        for path in (f"/2/files/hivebase/main/{'0' * 32}/a.txt", f"/2/files/hivebase/main/{token}/b.txt",
                     f"/2/files/other-cdn/main/{token}/a.txt", f"/2/files/hivebase/other/{token}/a.txt",
                     f"/2/files/hivebase/nosuchapp/{token}/a.txt", "/2/files/hivebase/main/..%2F..%2Fsecret.key/x",
                     "/2/files/hivebase/%2E%2E/%2E%2E/secret.key", "/2/files/x", "/2/files/hivebase/main/' OR 1=1--/a"):
            r = anyone.get(path)
            assert r.status_code == 404 and error_of(r)["code"] == 151, path
        assert anyone.get(f"/2/files/hivebase/main/{token}").content == b"data"  # the name part is optional


def test_a_file_field_holds_an_upload(server: Server) -> None:
    server.make_table("Doc", {"title": "String", "attachment": "File"})
    with server.client() as c:
        made = upload(c, "cv.pdf", b"%PDF-1.4", "application/pdf")
        value = {"__type": "File", "filename": made["filename"], "url": made["url"]}
        r = c.post("/1/classes/Doc", json={"title": "cv", "attachment": value})
        assert r.status_code == 201, r.text
        got = c.get(f"/1/classes/Doc/{r.json()['objectId']}").json()
        assert got["attachment"] == value
        with_cdn = c.post("/1/classes/Doc", json={"attachment": {"__type": "File", **made}})
        assert with_cdn.status_code == 201, with_cdn.text


def test_parse_dialect(server: Server) -> None:
    creds = server.apps["main"]
    headers = {"X-Parse-Application-Id": creds["applicationId"], "X-Parse-Master-Key": creds["masterKey"]}
    with httpx.Client(base_url=server.url, headers=headers) as c:
        r = c.post("/parse/files/hello.txt", content=b"hi", headers={"Content-Type": "text/plain"})
        assert r.status_code == 201 and set(r.json()) == {"name", "url"}
        assert r.headers["location"] == r.json()["url"]
        assert c.get(path_of(r.json()["url"])).content == b"hi"
        assert c.delete(f"/parse/files/{r.json()['name']}").status_code == 200
    assert stored(server) == []


# -- S3 (moto's S3 server on a free port) ---------------------------------------------------------------------


@pytest.fixture
def s3_server(settings: Settings) -> Iterator[Server]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        if IN_CI:
            pytest.fail("moto is not installed but CI=true: S3 tests must run in CI (pip install -e '.[test]')")
        pytest.skip("moto is not installed")
    import boto3

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    try:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys).create_bucket(Bucket="uploads")
        with serving(settings, file_storage="s3", s3_endpoint_url=endpoint, s3_bucket="uploads",
                     s3_region="us-east-1", s3_access_key="testing", s3_secret_key="testing",
                     file_max_bytes=10 << 20) as running:
            yield running
    finally:
        moto.stop()


def s3_keys(server: Server) -> list[str]:
    import boto3

    s = server.settings
    client = boto3.client("s3", endpoint_url=s.s3_endpoint_url, region_name=s.s3_region,
                          aws_access_key_id=s.s3_access_key, aws_secret_access_key=s.s3_secret_key)
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=s.s3_bucket).get("Contents", []))


def test_s3_round_trip(s3_server: Server) -> None:
    big = os.urandom((9 << 20) + 12345)  # more than one 8 MiB part: a multipart upload
    with s3_server.client() as c:
        small = upload(c, "photo.png", ALL_BYTES, "image/png")
        large = upload(c, "big.bin", big)
        multipart = c.post("/2/files", files={"file": ("m.txt", b"multi", "text/plain")}).json()
        too_big = c.post("/2/files/huge.bin", content=b"x" * ((10 << 20) + 1))
        assert too_big.status_code == 413 and error_of(too_big)["code"] == 145
    assert on_disk(s3_server) == []
    assert len(s3_keys(s3_server)) == 3 and all(k.startswith("main/") for k in s3_keys(s3_server))
    with s3_server.raw() as anyone:
        got = anyone.get(path_of(small["url"]))
        assert got.content == ALL_BYTES and got.headers["content-type"] == "image/png"
        assert anyone.get(path_of(large["url"])).content == big
        assert anyone.get(path_of(multipart["url"])).content == b"multi"
    with s3_server.client() as c:
        assert c.delete(path_of(small["url"])).status_code == 403
    with s3_server.client(master=True) as root:
        for made in (small, large, multipart):
            assert root.delete(path_of(made["url"])).json() == {"msg": "ok"}
    assert s3_keys(s3_server) == [] and stored(s3_server) == []
    with s3_server.raw() as anyone:
        assert error_of(anyone.get(path_of(small["url"])))["code"] == 151


def test_s3_unreachable_is_a_clean_error(settings: Settings) -> None:
    port = free_port()  # nothing listens there
    with serving(settings, file_storage="s3", s3_endpoint_url=f"http://127.0.0.1:{port}",
                 s3_bucket="uploads", s3_region="us-east-1", s3_access_key="k", s3_secret_key="s") as server:
        with server.client() as c:
            r = c.post("/2/files/a.txt", content=b"data")
        body = error_of(r)
        assert r.status_code == 502 and body["code"] == 150 and "127.0.0.1" not in body["error"]
        assert stored(server) == []
