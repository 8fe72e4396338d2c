"""The legacy-MCP (HTTP+SSE) load, run as its own process by ``bench.load.sse`` so its CPU is not the
benchmark's: reads a job as JSON on stdin, prints the figures as JSON on stdout.

Each session holds its ``GET`` event stream and one keep-alive connection for its POSTs (an aiohttp
``ClientSession`` limited to two connections), and sends one ``tools/call`` at a time."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import aiohttp
import orjson

CALL_TIMEOUT = 30.0
SETUP_TIMEOUT = 30.0
INITIALIZE = {"protocolVersion": "2024-11-05", "capabilities": {},
              "clientInfo": {"name": "hivebase-bench", "version": "1"}}


@dataclass(slots=True)
class Tally:
    """What the sessions measured, shared by them."""

    start: float  # perf_counter at which measuring begins (the warm-up ends)
    stop: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    last_done: float = 0.0

    def failed(self, what: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or what[:300]


class Stream:
    """Reads a session's event stream, handing each ``message`` to the caller waiting for its id."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.waiting: dict[Any, asyncio.Future[dict[str, Any]]] = {}

    async def next_event(self) -> tuple[str, str]:
        name, data = "message", []
        async for raw in self.response.content:
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    return name, "\n".join(data)
                name = "message"
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        raise ConnectionError("the event stream ended")

    async def pump(self) -> None:
        try:
            while True:
                name, data = await self.next_event()
                if name == "message":
                    message = orjson.loads(data)
                    waiter = self.waiting.pop(message.get("id"), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(message)
        except Exception as exc:  # the stream broke: every waiting call fails now rather than at its timeout
            for waiter in self.waiting.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError(f"event stream: {exc!r}"))
            raise


class Session:
    """One legacy-MCP session: its event stream, the task reading it, and its POST endpoint."""

    def __init__(self, http: aiohttp.ClientSession, stream: Stream, endpoint: str,
                 headers: Mapping[str, str]) -> None:
        self.http, self.stream, self.endpoint = http, stream, endpoint
        self.headers = {**headers, "Content-Type": "application/json"}
        self.next_id = 0
        self.pump = asyncio.create_task(stream.pump())

    @classmethod
    async def open(cls, job: dict[str, Any]) -> Session:
        """GET the stream, read its endpoint, initialize; closes whatever it opened when it fails."""
        connector = aiohttp.TCPConnector(limit=2)  # the stream + one keep-alive connection for the POSTs
        http = aiohttp.ClientSession(connector=connector, read_bufsize=2**20)
        session = None
        try:
            headers = dict(job["headers"])
            sse_url = urljoin(job["base_url"], job["sse_path"])
            response = await http.get(sse_url, headers={**headers, "Accept": "text/event-stream"},
                                      timeout=aiohttp.ClientTimeout(total=None, sock_connect=SETUP_TIMEOUT))
            if response.status != 200:
                body = await response.read()
                raise RuntimeError(f"GET {job['sse_path']}: {response.status} {body[:200].decode(errors='replace')}")
            stream = Stream(response)
            name, data = await stream.next_event()
            if name != "endpoint":
                raise RuntimeError(f"expected the endpoint event, received {name!r}: {data[:200]}")
            session = cls(http, stream, urljoin(sse_url, data), headers)
            why = failure(await session.call("initialize", INITIALIZE))
            if why:
                raise RuntimeError(f"initialize: {why}")
            await session.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
            return session
        except BaseException:
            await (session.close() if session else http.close())
            raise

    async def close(self) -> None:
        self.pump.cancel()
        await asyncio.gather(self.pump, return_exceptions=True)
        self.stream.response.close()
        await self.http.close()

    async def post(self, message: dict[str, Any]) -> None:
        async with self.http.post(self.endpoint, data=orjson.dumps(message), headers=self.headers) as r:
            body = await r.read()
            if r.status >= 300:
                raise RuntimeError(f"POST {r.status} {body[:200].decode(errors='replace')}")

    async def call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        waiter = asyncio.get_running_loop().create_future()
        self.stream.waiting[ident] = waiter
        try:
            await self.post({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
            return await asyncio.wait_for(waiter, CALL_TIMEOUT)
        finally:
            self.stream.waiting.pop(ident, None)


def failure(answer: dict[str, Any]) -> str:
    """Why an answer is a failure, or "" when it is not."""
    if "error" in answer:
        return f"error {json.dumps(answer['error'])[:200]}"
    if (answer.get("result") or {}).get("isError"):
        return f"isError {json.dumps(answer['result'])[:200]}"
    return ""


async def opened(job: dict[str, Any], tally: Tally) -> Session | None:
    try:
        return await asyncio.wait_for(Session.open(job), SETUP_TIMEOUT)
    except Exception as exc:
        tally.failed(f"session set-up: {type(exc).__name__}: {exc}")
        return None


async def drive(session: Session, calls: Sequence[Mapping[str, Any]], offset: int, tally: Tally) -> None:
    """Call tools one at a time until the window closes; a call counts when it starts inside the window."""
    i = offset
    while (t0 := time.perf_counter()) < tally.stop:
        params = calls[i % len(calls)]
        i += 1
        try:
            why = failure(await session.call("tools/call", params))
        except RuntimeError as exc:  # the POST was refused: the session goes on
            why = str(exc)
        except Exception as exc:  # a timeout or a broken stream: counted even in the warm-up, and the end
            tally.failed(f"session lost: {type(exc).__name__}: {exc}")
            return
        t1 = time.perf_counter()
        if t0 >= tally.start:
            tally.latencies.append(t1 - t0)
            tally.last_done = max(tally.last_done, t1)
            if why:
                tally.failed(why)


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


async def run(job: dict[str, Any]) -> dict[str, Any]:
    tally = Tally(start=float("inf"), stop=float("inf"))
    sessions = await asyncio.gather(*(opened(job, tally) for _ in range(int(job["connections"]))))
    live = [s for s in sessions if s is not None]
    now = time.perf_counter()
    tally.start = now + float(job["warmup"])
    tally.stop = tally.start + float(job["seconds"])
    cpu = [time.process_time()]
    # the loader's CPU is read over the measured window only: from the warm-up's end to the last answer
    asyncio.get_running_loop().call_later(float(job["warmup"]), lambda: cpu.__setitem__(0, time.process_time()))
    tasks = [asyncio.create_task(drive(s, job["calls"], n * 7919, tally)) for n, s in enumerate(live)]
    pending: set[asyncio.Task[None]] = set()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=tally.stop - now + CALL_TIMEOUT + 5)
    for task in pending:
        task.cancel()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            tally.failed(f"session: {outcome!r}")
    cpu_seconds = time.process_time() - cpu[0]
    await asyncio.gather(*(s.close() for s in live), return_exceptions=True)
    lat = sorted(tally.latencies)
    seconds = max(tally.last_done - tally.start, 0.0) if lat else float(job["seconds"])
    return {"requests": len(lat), "errors": tally.errors + len(pending), "seconds": seconds,
            "p50_ms": percentile(lat, 0.5) * 1000, "p99_ms": percentile(lat, 0.99) * 1000,
            "first_error": tally.first_error or (f"{len(pending)} sessions hung" if pending else ""),
            "cpu_seconds": cpu_seconds}


def main() -> None:
    job = json.load(sys.stdin)
    try:
        import uvloop
    except ImportError:
        out = asyncio.run(run(job))
    else:
        out = uvloop.run(run(job))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
