"""A server that does (almost) nothing, to measure the load generators' own ceiling: ``{"ok":true}`` to any
GET/POST over keep-alive, plus a legacy-MCP-shaped echo (``GET /sse`` streams an ``endpoint`` event, every
``POST /messages/?session_id=…`` gets 202 and its answer at once on that session's stream).

Run ``python -m bench.load.trivial_server --port N``; it prints ``ready`` once listening. httptools + uvloop
(both come with uvicorn[standard]) keep it as cheap as a Python server gets."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
from typing import Any

import httptools

OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 8\r\n\r\nAccepted"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
STREAM = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n")
TOOL_RESULT = {"content": [{"type": "text", "text": '{"ok":true}'}], "isError": False}
INIT_RESULT = {"protocolVersion": "2024-11-05", "capabilities": {"tools": {}},
               "serverInfo": {"name": "trivial", "version": "1"}}

streams: dict[str, asyncio.Transport] = {}


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def event(name: str, data: str) -> bytes:
    return chunk(f"event: {name}\r\ndata: {data}\r\n\r\n".encode())


def answer(message: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON-RPC answer to a client message, None for a notification."""
    if "id" not in message:
        return None
    method = message.get("method")
    result = INIT_RESULT if method == "initialize" else TOOL_RESULT if method == "tools/call" else {}
    return {"jsonrpc": "2.0", "id": message["id"], "result": result}


class Http(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []
        self.session = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session:
            streams.pop(self.session, None)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.body = b"", []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        assert self.transport is not None
        method, url = self.parser.get_method(), httptools.parse_url(self.url)
        if method == b"GET" and url.path == b"/sse":
            self.session = secrets.token_hex(8)
            streams[self.session] = self.transport
            self.transport.write(STREAM + event("endpoint", f"/messages/?session_id={self.session}"))
        elif method == b"POST" and url.path == b"/messages/":
            self.message(url.query or b"")
        else:
            self.transport.write(OK)

    def message(self, query: bytes) -> None:
        assert self.transport is not None
        stream = streams.get(query.decode().partition("session_id=")[2])
        if stream is None:
            self.transport.write(NOT_FOUND)
            return
        self.transport.write(ACCEPTED)
        reply = answer(json.loads(b"".join(self.body)))
        if reply is not None:
            stream.write(event("message", json.dumps(reply, separators=(",", ":"))))


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(port))
    else:
        uvloop.run(serve(port))


if __name__ == "__main__":
    main()
