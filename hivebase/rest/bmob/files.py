"""``/2/files``: upload (raw body or multipart), public download, delete — HTTP in, core calls out.

Bodies are streamed into the core, which enforces the size limit as the bytes arrive. Multipart bodies are
parsed incrementally (python-multipart's push parser), so only the ``file`` part's bytes reach storage and
nothing is spooled. The same routes serve ``/1/files`` and Parse's ``/parse/files`` (Parse's answer shape).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from hivebase.core.files import FileMeta
from hivebase.errors import HivebaseError, InvalidName, InvalidValue
from hivebase.http import ORJSONResponse
from hivebase.rest.bmob.context import Call, endpoint
from hivebase.rest.bmob.errors import error_response

log = logging.getLogger("hivebase.rest.bmob")

PREAMBLE = 64 << 10  # bytes of other parts read, at most, before the `file` part starts
FILE_PART = b"file"


def routes() -> list[BaseRoute]:
    """Relative to ``/2`` (and ``/1``, ``/parse``)."""
    return [
        Route("/files", endpoint(upload), methods=["POST"]),
        Route("/files/{file:path}", endpoint(upload), methods=["POST"]),  # file: the new file's name
        Route("/files/{file:path}", download, methods=["GET"]),  # file: <cdn>/<app>/<token>/<name>
        Route("/files/{file:path}", endpoint(delete), methods=["DELETE"]),
    ]


def _parse_dialect(request: Request) -> bool:
    return str(request.scope.get("root_path", "")).endswith("/parse")


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


async def upload(call: Call) -> Response:
    """Upload a file: the raw body with its Content-Type, or a multipart body with a `file` part.

    Answers {"filename", "url", "cdn"}; the url is public (no credentials needed to download)."""
    request = call.request
    files = call.hub.files
    name = request.path_params.get("file")
    kind, _ = parse_options_header(request.headers.get("content-type", ""))
    if kind == b"multipart/form-data":
        part = await file_part(request)
        meta = await files.upload(call.app, call.principal, name or part.filename, part.content_type, part.chunks())
    else:
        meta = await files.upload(call.app, call.principal, name, request.headers.get("content-type"),
                                  request.stream(), size_hint=_declared_length(request))
    if _parse_dialect(request):
        return ORJSONResponse({"name": meta.url.split("/files/", 1)[1], "url": meta.url}, status_code=201,
                              headers={"Location": meta.url})
    return ORJSONResponse(meta.field_value())  # {"filename", "url", "cdn"}


async def delete(call: Call) -> Any:
    """Delete a file by its URL path (<cdn>/<app>/<token>/<name>): the master key or its uploader."""
    await call.hub.files.delete(call.app, call.principal, call.request.path_params["file"])
    return {} if _parse_dialect(call.request) else {"msg": "ok"}


async def download(request: Request) -> Response:
    """No credentials: the 128-bit random path is the capability, as with Bmob's CDN URLs."""
    try:
        meta, chunks = await request.app.state.hub.files.download(request.path_params["file"])
    except HivebaseError as exc:
        return error_response(exc)
    except Exception:
        log.exception("unexpected error in GET %s", request.url.path)
        return ORJSONResponse({"code": 1, "error": "internal server error"}, status_code=500)
    return StreamingResponse(chunks, headers=file_headers(meta))


def file_headers(meta: FileMeta) -> dict[str, str]:
    """Stored type, size and name; never sniffed, and active content (HTML, SVG…) only as a sandboxed
    download so an upload cannot run script on this origin."""
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\%' else "_" for c in meta.name)
    disposition = "inline" if meta.inline else "attachment"
    return {
        "content-type": meta.content_type,
        "content-length": str(meta.size),
        "content-disposition": f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(meta.name, safe='')}",
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox",
    }


@dataclass
class FilePart:
    """The ``file`` part of a multipart body: its headers, then its bytes as they arrive."""

    request_chunks: AsyncIterator[bytes]
    parser: MultipartParser | None = None
    filename: str | None = None
    content_type: str | None = None
    started: bool = False
    done: bool = False
    pending: list[bytes] = field(default_factory=list)

    def feed(self, chunk: bytes) -> None:
        assert self.parser is not None
        try:
            self.parser.write(chunk)
        except MultipartParseError:
            raise _bad_multipart("the multipart body is malformed") from None

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            while self.pending:
                yield self.pending.pop(0)
            if self.done:
                return
            try:
                chunk = await anext(self.request_chunks)
            except StopAsyncIteration:
                raise _bad_multipart("the multipart body ends inside the `file` part") from None
            self.feed(chunk)


def _bad_multipart(message: str) -> InvalidValue:
    return InvalidValue(message, reason="multipart", field="file")


async def file_part(request: Request) -> FilePart:
    """Read the body up to the start of the ``file`` part (at most ``PREAMBLE`` bytes before it)."""
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise _bad_multipart("a multipart body needs a boundary of 1-200 characters")
    part = FilePart(request.stream().__aiter__())
    headers: dict[bytes, bytes] = {}
    current: list[bytes] = [b"", b""]  # header name, value
    in_file = False

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        current[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        current[1] += data[start:end]

    def on_header_end() -> None:
        headers[current[0].strip().lower()] = current[1].strip()
        current[0] = current[1] = b""

    def on_headers_finished() -> None:
        nonlocal in_file
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        if disposition.get(b"name") != FILE_PART or part.started:
            return
        in_file = part.started = True
        try:
            raw = disposition.get(b"filename")
            part.filename = raw.decode() if raw is not None else None
            ctype = headers.get(b"content-type")
            part.content_type = ctype.decode("ascii") if ctype is not None else None
        except UnicodeDecodeError:
            raise InvalidName("the file name or type of the `file` part is not valid UTF-8",
                              reason="file_name", field="name") from None

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if in_file and end > start:
            part.pending.append(data[start:end])

    def on_part_end() -> None:
        nonlocal in_file
        if in_file:
            in_file, part.done = False, True

    part.parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data, "on_part_end": on_part_end})
    read = 0
    while not part.started:
        try:
            chunk = await anext(part.request_chunks)
        except StopAsyncIteration:
            raise _bad_multipart("the multipart body has no `file` part") from None
        read += len(chunk)
        part.feed(chunk)
        if not part.started and read > PREAMBLE:
            raise _bad_multipart(f"the `file` part must start within the first {PREAMBLE} bytes")
    return part
