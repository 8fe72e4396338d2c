"""The file service on real databases and real disk: uploads, limits, names, who may delete, the local backend's
path checks and atomic writes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hivebase.core import files as core_files
from hivebase.core.apps import App
from hivebase.core.files import FileMeta, Files, check_name, check_type
from hivebase.core.principal import Principal
from hivebase.core.storage.base import StorageFailed
from hivebase.core.storage.local import LocalStorage
from hivebase.errors import InvalidName, InvalidValue, LimitExceeded, NotFound, PermissionDenied, TypeMismatch
from hivebase.hub import Hub

pytestmark = pytest.mark.anyio

ROOT = Principal.root("test", app="main")
CLIENT = Principal.client("main")
ANN = Principal("user", app="main", user_id="ann", role="member", roles=("member",))
BOB = Principal("user", app="main", user_id="bob", role="member", roles=("member",))


async def rows(app: App) -> list[dict[str, Any]]:
    t = app.catalog.system("_hb_files")
    async with app.db.read() as conn:
        return [dict(r) for r in (await conn.execute(sa.select(t))).mappings()]


def disk(hub: Hub) -> list[Path]:
    root = Path(hub.settings.data_dir) / "files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def stream(*parts: bytes, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for i, part in enumerate(parts):
        if fail_after is not None and i == fail_after:
            raise RuntimeError("the client went away")
        yield part


async def read_all(files: Files, meta: FileMeta) -> bytes:
    _, chunks = await files.download(meta.url)
    return b"".join([c async for c in chunks])


async def test_upload_download_delete(hub: Hub, app: App) -> None:
    files = hub.files
    meta = await files.upload(app, ANN, "a b.txt", "text/plain", stream(b"hello ", b"", b"world"))
    assert meta.size == 11 and meta.created_by == "ann" and meta.name == "a b.txt" and len(meta.id) == 32
    assert meta.url == f"{hub.settings.public_url}/2/files/hivebase/main/{meta.id}/a%20b.txt"
    assert meta.field_value() == {"filename": "a b.txt", "url": meta.url, "cdn": "hivebase"}
    assert await read_all(files, meta) == b"hello world"
    for ref in (meta.url, f"hivebase/main/{meta.id}/a b.txt", f"/2/files/hivebase/main/{meta.id}"):
        assert (await files.locate(ref))[1].id == meta.id
    [row] = await rows(app)
    assert row["key"] == f"{meta.id[:2]}/{meta.id}" and row["content_type"] == "text/plain"
    assert len(disk(hub)) == 1
    await files.delete(app, ANN, meta.url)
    assert await rows(app) == [] and disk(hub) == []
    with pytest.raises(NotFound):
        await files.download(meta.url)


async def test_who_may_delete(hub: Hub, app: App) -> None:
    files = hub.files
    mine = await files.upload(app, ANN, "a.txt", None, b"ann")
    anon = await files.upload(app, CLIENT, "b.txt", None, b"anon")
    assert mine.content_type == "application/octet-stream" and anon.created_by is None
    for who, meta in ((BOB, mine), (CLIENT, mine), (CLIENT, anon), (ANN, anon)):
        with pytest.raises(PermissionDenied) as err:
            await files.delete(app, who, meta.url)
        assert err.value.reason == "file_owner"
    with pytest.raises(PermissionDenied):
        await files.delete(app, Principal.nobody("main"), mine.url)
    with pytest.raises(PermissionDenied):
        await files.delete(app, Principal.root("test", app="other"), mine.url)
    assert len(await rows(app)) == 2
    await files.delete(app, ROOT, anon.url)
    await files.delete(app, ANN, mine.url)
    with pytest.raises(NotFound):
        await files.delete(app, ROOT, mine.url)


async def test_uploading_needs_a_credential_of_the_app(hub: Hub, app: App) -> None:
    for who in (Principal.nobody("main"), Principal.client("other")):
        with pytest.raises(PermissionDenied):
            await hub.files.upload(app, who, "a.txt", None, b"x")
    assert await rows(app) == [] and disk(hub) == []


async def test_limits_hold_while_streaming(hub: Hub, app: App) -> None:
    files = Files(hub.settings.model_copy(update={"file_max_bytes": 10}), hub.apps)
    with pytest.raises(LimitExceeded) as err:
        await files.upload(app, ROOT, "a.txt", None, stream(b"12345", b"678901", fail_after=2))
    assert err.value.reason == "file_too_large"  # refused before the stream's third read

    async def never() -> AsyncIterator[bytes]:
        raise AssertionError("read although the declared size was too large")
        yield b""

    with pytest.raises(LimitExceeded):
        await files.upload(app, ROOT, "a.txt", None, never(), size_hint=11)
    with pytest.raises(LimitExceeded):
        await files.upload(app, ROOT, "a.txt", None, b"x" * 6, max_bytes=5)
    with pytest.raises(LimitExceeded):  # a caller cannot raise the server's limit
        await files.upload(app, ROOT, "a.txt", None, b"x" * 11, max_bytes=1000)
    with pytest.raises(RuntimeError):
        await files.upload(app, ROOT, "a.txt", None, stream(b"12", b"34", fail_after=1))
    for empty in (b"", stream(), stream(b"", b"")):
        with pytest.raises(InvalidValue) as err:
            await files.upload(app, ROOT, "a.txt", None, empty)
        assert err.value.reason == "empty_file"
    assert await rows(app) == [] and disk(hub) == []
    assert (await files.upload(app, ROOT, "a.txt", None, b"x" * 10)).size == 10


@pytest.mark.parametrize("name", ["", None, "../x", "a/b", "a\\b", "a\x00b", "a\x1fb", "a\x7fb", "x" * 256, "..",
                                  ".", "a..b", "\u202egnp.exe", "a\u2028b", "\ud800"])
def test_bad_names(name: Any) -> None:
    with pytest.raises(InvalidName) as err:
        check_name(name)
    assert err.value.reason == "file_name"


def test_good_names_and_types() -> None:
    for name in ("a", "photo.png", "报告 #1?&%.txt", "x" * 255, ".hidden", "a.b.c", "emoji 😀.txt"):
        assert check_name(name) == name
    with pytest.raises(TypeMismatch):
        check_name(12)
    assert check_type(None) == check_type("  ") == "application/octet-stream"
    assert check_type("text/plain; charset=utf-8") == "text/plain; charset=utf-8"
    assert check_type("application/vnd.ms-excel") == "application/vnd.ms-excel"
    for bad in ("text", "text/", "/plain", "text/plain\r\nX-Evil: 1", "text/<b>", "a/" + "b" * 300, "tëxt/plain"):
        with pytest.raises(InvalidValue):
            check_type(bad)


def test_inline_types() -> None:
    def meta(ctype: str) -> FileMeta:
        return FileMeta("0" * 32, "main", "k", "n", ctype, 1, None, None, "u")  # type: ignore[arg-type]

    assert meta("image/png").inline and meta("application/pdf").inline and meta("text/plain; charset=x").inline
    for active in ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/javascript",
                   "application/octet-stream"):
        assert not meta(active).inline, active


async def test_local_paths_stay_inside_the_app(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "files")
    token = "ab" + "0" * 30
    for app, key in (("../x", f"ab/{token}"), ("main", "../../secret"), ("main", f"ab/{token}/.."), ("Main", "x"),
                     ("main", "/etc/passwd"), ("main", f"ab/{token}\x00")):
        with pytest.raises(NotFound):
            store.path(app, key)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "files" / "main").mkdir(parents=True)
    os.symlink(outside, tmp_path / "files" / "main" / "ab")  # a planted link cannot lead out
    with pytest.raises(NotFound):
        store.path("main", f"ab/{token}")
    with pytest.raises(NotFound):
        await store.read("main", f"cd/{'cd' + '0' * 30}")


async def test_local_writes_are_atomic(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "files")
    key = f"ab/{'ab' + '1' * 30}"
    with pytest.raises(RuntimeError):
        await store.write("main", key, stream(b"a", b"b", fail_after=1), "text/plain")
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []
    assert await store.write("main", key, stream(b"a", b"b"), "text/plain") == 2
    assert b"".join([c async for c in await store.read("main", key)]) == b"ab"
    await store.delete("main", key)
    await store.delete("main", key)  # already gone: fine


class BrokenStorage:
    """A backend whose disk is full: the upload fails cleanly and no metadata is kept."""

    async def write(self, app: str, key: str, chunks: AsyncIterator[bytes], content_type: str) -> int:
        async for _ in chunks:
            pass
        raise StorageFailed("the file could not be stored")

    async def read(self, app: str, key: str) -> AsyncIterator[bytes]:
        raise StorageFailed("the file could not be read")

    async def delete(self, app: str, key: str) -> None:
        raise StorageFailed("the file could not be deleted")


async def test_a_failing_backend(hub: Hub, app: App) -> None:
    files = Files(hub.settings, hub.apps, BrokenStorage())
    with pytest.raises(StorageFailed):
        await files.upload(app, ROOT, "a.txt", None, b"x")
    assert await rows(app) == []
    good = await hub.files.upload(app, ROOT, "a.txt", None, b"x")
    with pytest.raises(StorageFailed):
        await files.download(good.url)
    await files.delete(app, ROOT, good.url)  # the row goes; the unreachable blob is logged, not an error
    assert await rows(app) == []


async def test_refs_that_name_nothing(hub: Hub, app: App) -> None:
    files = hub.files
    meta = await files.upload(app, ROOT, "a.txt", None, b"x")
    for ref in (None, 12, "", "x" * 5000, "hivebase/main", f"cdn/main/{meta.id}/a.txt",
                f"hivebase/other/{meta.id}/a.txt", f"hivebase/main/{meta.id}/b.txt", f"hivebase/main/{meta.id[:-1]}/a",
                f"hivebase/main/{meta.id.upper()}/a.txt", f"hivebase/../{meta.id}/a.txt", "hivebase/main/x/y/z"):
        with pytest.raises(NotFound):
            await files.locate(ref)
        with pytest.raises(NotFound):
            await files.delete(app, ROOT, ref)
    assert len(await rows(app)) == 1
    assert core_files.CDN == "hivebase"
