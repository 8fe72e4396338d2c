"""The load generators' own ceiling: wrk and the SSE loader against a server that does nothing
(``bench.load.trivial_server``), so a figure near these means the loader, not the server, was the limit.
Run ``python -m bench.load.ceiling``."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

from bench.load.spec import Request, Result, SseWorkload, Workload
from bench.load.sse import ROOT, measure_sse
from bench.load.wrk import measure_wrk
from bench.peers.base import free_port

CONNECTIONS = 16
SECONDS = 3.0
MARKERS = (b'"isError":true',)


@contextlib.contextmanager
def trivial_server() -> Iterator[tuple[str, int]]:
    """The trivial server on a free port: its base URL and pid."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.load.trivial_server", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the trivial server did not start")
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure_ceiling_cpu() -> dict[str, tuple[Result, float]]:
    """Per loader configuration: the result and the CPU seconds the loader used over the measured run."""
    with trivial_server() as (url, _):
        many = Workload(url, [Request("POST", f"/ok/{i}", {"Content-Type": "application/json"},
                                      b'{"jsonrpc":"2.0","id":%d,"method":"tools/call"}' % i) for i in range(100)],
                        error_markers=MARKERS)
        one = Workload(url, many.requests[:1], error_markers=MARKERS)
        sse = SseWorkload(url, "/sse", {"X-Bench": "1"}, [{"name": "echo", "arguments": {"n": i}} for i in range(10)])
        runs = {
            "wrk, 1 request (static), no response()": lambda: measure_wrk(
                one, connections=CONNECTIONS, seconds=SECONDS, check=False),
            "wrk, 100 requests (request()), no response()": lambda: measure_wrk(
                many, connections=CONNECTIONS, seconds=SECONDS, check=False),
            "wrk, 100 requests (request()), response() check": lambda: measure_wrk(
                many, connections=CONNECTIONS, seconds=SECONDS, check=True),
            "SSE loader (legacy MCP echo)": lambda: measure_sse(sse, connections=CONNECTIONS, seconds=SECONDS),
        }
        return {name: run() for name, run in runs.items()}


def measure_ceiling() -> dict[str, Result]:
    """The loaders' figures against the trivial server (16 connections, 3 s each)."""
    return {name: row[0] for name, row in measure_ceiling_cpu().items()}


def main() -> None:
    print(f"load generators against a trivial server, {CONNECTIONS} connections x {SECONDS:g} s, "
          f"{os.cpu_count()} CPUs")
    print(f"{'loader':<50} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'loader µs/req':>14}")
    for name, (r, loader_cpu) in measure_ceiling_cpu().items():
        print(f"{name:<50} {r.rps:>9,.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>7} "
              f"{loader_cpu / max(r.requests, 1) * 1e6:>14.1f}")


if __name__ == "__main__":
    main()
