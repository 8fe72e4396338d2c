"""Files on local disk under ``<data dir>/files/<app>/``, written atomically (temp file, fsync, rename).

Disk calls run in worker threads so a slow disk never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from hivebase.core.storage.base import CHUNK, StorageFailed
from hivebase.errors import NotFound

log = logging.getLogger(__name__)

APP = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}")


def _missing() -> NotFound:
    return NotFound("file not found", reason="file")


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, app: str, key: str) -> Path:
        """The file's path, checked to stay inside the app's folder whatever ``app`` and ``key`` hold."""
        if not APP.fullmatch(app) or not KEY.fullmatch(key):
            raise _missing()
        base = (self.root / app).resolve()
        path = (base / key).resolve()
        if not path.is_relative_to(base):
            raise _missing()
        return path

    async def write(self, app: str, key: str, chunks: AsyncIterator[bytes], content_type: str) -> int:
        path = self.path(app, key)
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
            fh: BinaryIO = await asyncio.to_thread(open, tmp, "xb")
        except OSError as exc:
            log.error("cannot create %s: %s", tmp, exc)
            raise StorageFailed("the file could not be stored") from None
        size = 0
        try:
            with fh:
                async for chunk in chunks:
                    await asyncio.to_thread(fh.write, chunk)
                    size += len(chunk)
                await asyncio.to_thread(_sync, fh)
            await asyncio.to_thread(os.replace, tmp, path)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                log.error("cannot write %s: %s", tmp, exc)
                raise StorageFailed("the file could not be stored") from None
            raise
        return size

    async def read(self, app: str, key: str) -> AsyncIterator[bytes]:
        path = self.path(app, key)
        try:
            fh: BinaryIO = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise _missing() from None
        except OSError as exc:
            log.error("cannot open %s: %s", path, exc)
            raise StorageFailed("the file could not be read") from None
        return _chunks(fh)

    async def delete(self, app: str, key: str) -> None:
        path = self.path(app, key)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as exc:
            log.error("cannot delete %s: %s", path, exc)
            raise StorageFailed("the file could not be deleted") from None


def _sync(fh: BinaryIO) -> None:
    fh.flush()
    os.fsync(fh.fileno())


async def _chunks(fh: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(fh.read, CHUNK):
            yield chunk
    finally:
        fh.close()
