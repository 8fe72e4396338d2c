"""Files in an S3-compatible bucket (AWS, MinIO, Ceph, R2...) through aiobotocore, under ``<app>/<key>``.

Uploads stream: a body smaller than one part is one ``PutObject``; a larger one becomes a multipart upload
of ``PART``-sized parts (aborted on any error), so memory stays bounded whatever the file size.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from hivebase.core.settings import CoreSettings
from hivebase.core.storage.base import CHUNK, StorageFailed
from hivebase.errors import NotFound

log = logging.getLogger(__name__)

PART = 8 << 20  # S3 wants parts of at least 5 MiB, but the last
MISSING = {"NoSuchKey", "404", "NotFound"}
BACKEND_ERRORS = (BotoCoreError, ClientError, OSError)


def _failed(action: str, exc: BaseException) -> StorageFailed:
    log.error("S3 %s failed: %s: %s", action, type(exc).__name__, exc)
    return StorageFailed(f"the file storage could not {action} the file")


class S3Storage:
    def __init__(self, settings: CoreSettings) -> None:
        self.bucket = settings.s3_bucket or ""
        self._session = get_session()
        self._options: dict[str, Any] = {
            "endpoint_url": settings.s3_endpoint_url or None, "region_name": settings.s3_region or None,
            "aws_access_key_id": settings.s3_access_key or None,
            "aws_secret_access_key": settings.s3_secret_key or None,
            "config": AioConfig(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3},
                                s3={"addressing_style": "path"} if settings.s3_endpoint_url else None),
        }

    def _client(self) -> Any:
        if not self.bucket:
            raise StorageFailed("file_storage is `s3` but s3_bucket is not set")
        return self._session.create_client("s3", **self._options)

    async def write(self, app: str, key: str, chunks: AsyncIterator[bytes], content_type: str) -> int:
        name = f"{app}/{key}"
        target = {"Bucket": self.bucket, "Key": name}
        buf = bytearray()
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async with self._client() as s3:
                try:
                    async for chunk in chunks:
                        buf += chunk
                        size += len(chunk)
                        while len(buf) >= PART:
                            if upload_id is None:
                                made = await s3.create_multipart_upload(**target, ContentType=content_type)
                                upload_id = made["UploadId"]
                            await self._part(s3, target, upload_id, parts, bytes(buf[:PART]))
                            del buf[:PART]
                    if upload_id is None:
                        await s3.put_object(**target, Body=bytes(buf), ContentType=content_type)
                    else:
                        if buf:
                            await self._part(s3, target, upload_id, parts, bytes(buf))
                        await s3.complete_multipart_upload(**target, UploadId=upload_id,
                                                           MultipartUpload={"Parts": parts})
                except BaseException:
                    if upload_id is not None:
                        with contextlib.suppress(*BACKEND_ERRORS):
                            await s3.abort_multipart_upload(**target, UploadId=upload_id)
                    raise
        except BACKEND_ERRORS as exc:
            raise _failed("store", exc) from None
        return size

    @staticmethod
    async def _part(s3: Any, target: dict[str, str], upload_id: str, parts: list[dict[str, Any]],
                    data: bytes) -> None:
        number = len(parts) + 1
        done = await s3.upload_part(**target, UploadId=upload_id, PartNumber=number, Body=data)
        parts.append({"PartNumber": number, "ETag": done["ETag"]})

    async def read(self, app: str, key: str) -> AsyncIterator[bytes]:
        stack = contextlib.AsyncExitStack()
        try:
            s3 = await stack.enter_async_context(self._client())
            answer = await s3.get_object(Bucket=self.bucket, Key=f"{app}/{key}")
        except ClientError as exc:
            await stack.aclose()
            if str(exc.response.get("Error", {}).get("Code")) in MISSING:
                raise NotFound("file not found", reason="file") from None
            raise _failed("read", exc) from None
        except BaseException as exc:
            await stack.aclose()
            if isinstance(exc, BACKEND_ERRORS):
                raise _failed("read", exc) from None
            raise
        return _chunks(answer["Body"], stack)

    async def delete(self, app: str, key: str) -> None:
        try:
            async with self._client() as s3:
                await s3.delete_object(Bucket=self.bucket, Key=f"{app}/{key}")
        except BACKEND_ERRORS as exc:
            raise _failed("delete", exc) from None


async def _chunks(body: Any, stack: contextlib.AsyncExitStack) -> AsyncIterator[bytes]:
    try:
        async for chunk in body.iter_chunks(CHUNK):
            yield chunk
    except BACKEND_ERRORS as exc:  # the response has started: all we can do is end it early
        raise _failed("read", exc) from None
    finally:
        body.close()
        await stack.aclose()
