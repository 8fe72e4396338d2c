"""Uploaded files: upload (streamed, size-limited), public download by URL, delete by uploader or root.

A file's URL is ``<public_url>/2/files/hivebase/<app>/<token>/<name>``. ``token`` is 128 random bits: URLs
are public but unguessable, as Bmob's CDN URLs are, so downloading needs no credentials. The bytes are
stored under a key the core makes from the token (``<token[:2]>/<token>``), never from the caller's name;
the name is metadata, shown in the URL and in ``Content-Disposition`` only. ``hivebase`` is the ``cdn``
label of every URL whatever the backend: this server always serves the bytes (local disk or S3 behind it).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import sqlalchemy as sa

from hivebase.core.access import require_caller
from hivebase.core.apps import App, AppRegistry
from hivebase.core.clock import now
from hivebase.core.principal import Principal
from hivebase.core.settings import CoreSettings
from hivebase.core.storage.base import Storage, StorageFailed
from hivebase.errors import InvalidName, InvalidValue, LimitExceeded, NotFound, PermissionDenied, TypeMismatch, type_of

log = logging.getLogger(__name__)

CDN = "hivebase"
ROUTE = "/2/files"  # the one public download route, mounted by the app
MAX_NAME = 255
DEFAULT_TYPE = "application/octet-stream"
TOKEN = re.compile(r"[0-9a-f]{32}")
APP = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
                  r"(\s*;\s*[\x20-\x7e]*)?")
BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
#: types a browser may show in place; anything else is served as an attachment (no stored HTML/SVG script)
INLINE = re.compile(r"(image/(png|jpeg|gif|webp|avif|bmp)|audio/[\w.+-]+|video/[\w.+-]+|text/plain|"
                    r"application/pdf)", re.IGNORECASE)
__all__ = ["CDN", "FileMeta", "Files", "StorageFailed"]


@dataclass(frozen=True, slots=True)
class FileMeta:
    id: str
    app: str
    key: str
    name: str
    content_type: str
    size: int
    created_by: str | None
    created_at: dt.datetime
    url: str

    @property
    def inline(self) -> bool:
        """Whether a browser may render it in place (else it is a download)."""
        return bool(INLINE.fullmatch(self.content_type.split(";")[0].strip()))

    def field_value(self) -> dict[str, str]:
        """The value a File field stores for this upload."""
        return {"filename": self.name, "url": self.url, "cdn": CDN}


def check_name(name: Any) -> str:
    """1-255 characters, no path separators, ``..``, NUL, control or bidi-override characters."""
    if name is None or name == "":
        raise InvalidName("a file name is required (POST /2/files/<fileName>)", reason="file_name", field="name")
    if not isinstance(name, str):
        raise TypeMismatch(None, "name", "a string", type_of(name))
    shown = repr(name[:64])
    if len(name) > MAX_NAME:
        raise InvalidName(f"file name {shown}... is longer than {MAX_NAME} characters", reason="file_name",
                          field="name")
    if "/" in name or "\\" in name or ".." in name or name == ".":
        raise InvalidName(f"file name {shown} may not contain '/', '\\' or '..'", reason="file_name", field="name")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in BIDI for c in name):
        raise InvalidName(f"file name {shown} contains control characters", reason="file_name", field="name")
    return name


def check_type(content_type: Any) -> str:
    """The file's MIME type, kept as sent (``application/octet-stream`` when absent)."""
    if content_type is None or (isinstance(content_type, str) and not content_type.strip()):
        return DEFAULT_TYPE
    if not isinstance(content_type, str):
        raise TypeMismatch(None, "content_type", "a string", type_of(content_type))
    value = content_type.strip()
    if len(value) > 255 or not MIME.fullmatch(value):
        raise InvalidValue(f"Content-Type {value[:64]!r} is not a MIME type such as image/png", reason="content_type",
                           field="content_type")
    return value


def _too_large(limit: int) -> LimitExceeded:
    return LimitExceeded(f"the file is larger than {limit} bytes", reason="file_too_large", limit=limit)


async def _bounded(first: bytes, rest: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """The body's chunks, failing as soon as they pass ``limit`` bytes (before the rest is read)."""
    size = len(first)
    if size > limit:
        raise _too_large(limit)
    yield first
    async for chunk in rest:
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if chunk:
            yield chunk


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def make_storage(settings: CoreSettings) -> Storage:
    if settings.file_storage == "s3":
        from hivebase.core.storage.s3 import S3Storage  # aiobotocore is imported only when it is used

        return S3Storage(settings)
    from hivebase.core.storage.local import LocalStorage

    return LocalStorage(settings.data_dir / "files")


class Files:
    """The files of every app of one server: its storage backend and its limits."""

    def __init__(self, settings: CoreSettings, apps: AppRegistry, storage: Storage | None = None) -> None:
        self.settings = settings
        self.apps = apps
        self.storage = storage or make_storage(settings)
        self.max_bytes = settings.file_max_bytes

    def url(self, app: str, token: str, name: str) -> str:
        return f"{self.settings.public_url}{ROUTE}/{CDN}/{app}/{token}/{quote(name, safe='')}"

    def _meta(self, app: str, row: Any) -> FileMeta:
        return FileMeta(row.id, app, row.key, row.name, row.content_type, int(row.size), row.created_by,
                        row.created_at, self.url(app, row.id, row.name))

    async def upload(self, app: App, principal: Principal, name: Any, content_type: Any,
                     body: bytes | AsyncIterable[bytes], *, size_hint: int | None = None,
                     max_bytes: int | None = None) -> FileMeta:
        """Store ``body`` as a new file of ``app``. Any credential of the app may upload; the uploader's user
        id is kept so they (or root) may delete it. Nothing is kept when the body is refused midway."""
        require_caller(app, principal)
        name, content_type = check_name(name), check_type(content_type)
        limit = min(max_bytes or self.max_bytes, self.max_bytes)
        if size_hint is not None and size_hint > limit:
            raise _too_large(limit)
        chunks = _one(body) if isinstance(body, bytes) else aiter(body)
        first = b""
        async for chunk in chunks:
            if chunk:
                first = chunk
                break
        if not first:
            raise InvalidValue("the file is empty", reason="empty_file", field="file")
        token = secrets.token_hex(16)
        key = f"{token[:2]}/{token}"
        size = await self.storage.write(app.name, key, _bounded(first, chunks, limit), content_type)
        values = {"id": token, "key": key, "name": name, "content_type": content_type, "size": size,
                  "created_by": principal.user_id, "created_at": now()}
        try:
            async with app.db.write() as conn:
                await conn.execute(sa.insert(app.catalog.system("_hb_files")).values(**values))
        except BaseException:
            await self._discard(app.name, key)
            raise
        return FileMeta(token, app.name, key, name, content_type, size, principal.user_id, values["created_at"],
                        self.url(app.name, token, name))

    async def _discard(self, app: str, key: str) -> None:
        try:
            await self.storage.delete(app, key)
        except StorageFailed:  # already logged; an orphan blob is harmless
            pass

    async def find(self, app: App, token: str, name: str | None) -> FileMeta:
        """The file ``token`` of ``app`` (its name must match when given)."""
        if not TOKEN.fullmatch(token):
            raise _not_found()
        t = app.catalog.system("_hb_files")
        async with app.db.read() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == token))).first()
        if row is None or (name is not None and row.name != name):
            raise _not_found()
        return self._meta(app.name, row)

    async def locate(self, ref: Any) -> tuple[App, FileMeta]:
        """The app and file a public URL (or its path after ``/2/files/``) names."""
        cdn, app_name, token, name = _parse_ref(ref)
        if cdn != CDN or not APP.fullmatch(app_name):
            raise _not_found()
        try:
            app = await self.apps.open(app_name)
        except NotFound:
            raise _not_found() from None
        return app, await self.find(app, token, name)

    async def download(self, ref: Any) -> tuple[FileMeta, AsyncIterator[bytes]]:
        """Metadata and bytes of the file at a public URL; no credentials: the URL is the capability."""
        app, meta = await self.locate(ref)
        return meta, await self.storage.read(app.name, meta.key)

    async def delete(self, app: App, principal: Principal, ref: Any) -> FileMeta:
        """Delete a file of ``app``: root, or the user who uploaded it; a REST API key alone may not."""
        require_caller(app, principal)
        cdn, app_name, token, name = _parse_ref(ref)
        if cdn != CDN or app_name != app.name:
            raise _not_found()
        meta = await self.find(app, token, name)
        if not principal.is_root and (principal.user_id is None or principal.user_id != meta.created_by):
            raise PermissionDenied("only the user who uploaded this file, or the master key, may delete it",
                                   reason="file_owner")
        t = app.catalog.system("_hb_files")
        async with app.db.write() as conn:
            gone = (await conn.execute(sa.delete(t).where(t.c.id == meta.id))).rowcount
        if not gone:  # deleted meanwhile by another request
            raise _not_found()
        await self._discard(app.name, meta.key)
        return meta


def _not_found() -> NotFound:
    return NotFound("file not found", reason="file")


def _parse_ref(ref: Any) -> tuple[str, str, str, str | None]:
    """``<cdn>/<app>/<token>[/<name>]`` from a URL, or from a decoded path (after ``/2/files/`` or whole)."""
    if not isinstance(ref, str) or len(ref) > 4096:
        raise _not_found()
    path = ref
    if "://" in path:  # a whole URL: still percent-encoded, maybe with a query
        path = unquote("/" + path.split("://", 1)[1].partition("/")[2].split("?", 1)[0].split("#", 1)[0])
    if ROUTE + "/" in path:
        path = path.split(ROUTE + "/", 1)[1]
    parts = path.strip("/").split("/")
    if len(parts) not in (3, 4):
        raise _not_found()
    return parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else None
