"""Legacy MCP (HTTP+SSE) load: the answers come back on another connection than the request, which wrk cannot
follow, so a Python client (``bench.load.sse_worker``) runs it in its own process, whose CPU is then neither
the benchmark's nor the server's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.load.spec import Result, SseWorkload
from bench.load.sse_worker import CALL_TIMEOUT, SETUP_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]  # the directory holding the ``bench`` package


def measure_sse(w: SseWorkload, *, connections: int, seconds: float, warmup: float = 1.0) -> tuple[Result, float]:
    """``run_sse`` plus the CPU seconds the loader process used over the measured window."""
    if not w.calls:
        raise ValueError("an SSE workload needs at least one call")
    job = {"base_url": w.base_url, "sse_path": w.sse_path, "headers": dict(w.headers),
           "calls": [dict(c) for c in w.calls], "connections": connections, "seconds": seconds, "warmup": warmup}
    # set-up, warm-up, the run, the last call's timeout, and the worker's own margin
    limit = SETUP_TIMEOUT + 2 * CALL_TIMEOUT + warmup + seconds + 30
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run([sys.executable, "-m", "bench.load.sse_worker"], input=json.dumps(job), text=True,
                              capture_output=True, timeout=limit, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the SSE loader did not finish within {limit:.0f} s") from None
    if done.returncode != 0:
        raise RuntimeError(f"the SSE loader failed ({done.returncode}): {done.stderr.strip()[-1000:]}")
    out = json.loads(done.stdout)
    result = Result(requests=out["requests"], errors=out["errors"], seconds=out["seconds"],
                    rps=out["requests"] / out["seconds"] if out["seconds"] else 0.0, p50_ms=out["p50_ms"],
                    p99_ms=out["p99_ms"], first_error=out["first_error"])
    return result, out["cpu_seconds"]


def run_sse(w: SseWorkload, *, connections: int, seconds: float, warmup: float = 1.0) -> Result:
    """Run ``connections`` legacy-MCP sessions, each calling ``w.calls`` one at a time, for ``seconds`` after
    ``warmup`` seconds not counted (sessions are opened before either)."""
    return measure_sse(w, connections=connections, seconds=seconds, warmup=warmup)[0]
