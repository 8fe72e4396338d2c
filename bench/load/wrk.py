"""Request/response HTTP load with Debian's ``wrk``: C event loops, so the client costs far less CPU per
request than any Python client and the figures are the server's. ``workload.lua`` replays the workload's
requests and counts failed answers; one warm-up run precedes the measured one."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from bench.load.spec import Result, Workload

SCRIPT = Path(__file__).with_name("workload.lua")
GRACE = 30.0  # seconds past the run's length after which a wrk process is killed


class WrkUnavailable(RuntimeError):
    """wrk is not installed and cannot be installed here."""


def ensure_wrk() -> str:
    """The path of ``wrk``, installed with apt-get when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise WrkUnavailable("wrk is not installed; run `sudo apt-get install -y wrk` (Debian/Ubuntu)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, text=True, env=env)
    if done.returncode != 0:  # a fresh machine may not have read the package lists yet
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
        done = subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, text=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise WrkUnavailable(f"apt-get install -y wrk failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return found


def _netstrings(w: Workload) -> Iterator[bytes]:
    """The fields of the requests file, in the order ``workload.lua`` reads them."""
    yield " ".join(map(str, sorted(w.ok_status))).encode()
    yield str(len(w.error_markers)).encode()
    yield from w.error_markers
    yield str(len(w.requests)).encode()
    for r in w.requests:
        yield r.method.encode()
        yield r.path.encode()
        yield str(len(r.headers)).encode()
        for name, value in r.headers.items():
            yield name.encode()
            yield value.encode()
        yield r.body


def write_requests(w: Workload, path: Path) -> None:
    path.write_bytes(b"".join(b"%d:%s" % (len(f), f) for f in _netstrings(w)))


def _url(base_url: str) -> str:
    # wrk wants a path in its URL; the script sends each request's own path anyway
    return base_url if base_url.count("/") > 2 else base_url + "/"


def _run(wrk: str, args: list[str], limit: float) -> tuple[str, float]:
    """Run wrk, returning its stdout and the CPU seconds (user + system) it used, from wait4's rusage."""
    proc = subprocess.Popen([wrk, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killer = threading.Timer(limit, proc.kill)
    killer.start()
    try:
        out = proc.stdout.read()  # type: ignore[union-attr]
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        killer.cancel()
        proc.stdout.close()  # type: ignore[union-attr]
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}: {out.decode(errors='replace').strip()[-500:]}")
    return out.decode(errors="replace"), usage.ru_utime + usage.ru_stime


def parse_result(stdout: str, *, check: bool = True) -> Result:
    """The ``Result`` of the ``RESULT {...}`` line ``workload.lua`` prints in ``done``."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"no RESULT line in wrk's output:\n{stdout[-2000:]}")
    r = json.loads(line.removeprefix("RESULT "))
    socket_errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    # without response() only wrk's own count of statuses >= 400 is known
    errors = (r["errors"] if check else r["non2xx"]) + socket_errors
    first = r["first_error"] or (f"socket errors: {socket_errors} (connect {r['connect']}, read {r['read']}, "
                                 f"write {r['write']}, timeout {r['timeout']})" if socket_errors else "")
    seconds = r["duration_us"] / 1e6
    return Result(requests=r["requests"], errors=errors, seconds=seconds,
                  rps=r["requests"] / seconds if seconds else 0.0, p50_ms=r["p50_us"] / 1000,
                  p99_ms=r["p99_us"] / 1000, first_error=first)


def measure_wrk(w: Workload, *, connections: int, seconds: float, threads: int = 1, warmup: float = 1.0,
                check: bool = True) -> tuple[Result, float]:
    """``run_wrk`` plus the CPU seconds the measured wrk process used (the loader's own cost)."""
    if not w.requests:
        raise ValueError("a workload needs at least one request")
    if connections < threads:
        raise ValueError(f"wrk needs at least one connection per thread ({connections} < {threads})")
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="hivebase-wrk-") as tmp:
        reqs = Path(tmp) / "requests"
        write_requests(w, reqs)

        def run(duration: float) -> tuple[str, float]:
            whole = max(1, math.ceil(duration))  # wrk's -d takes whole seconds
            return _run(wrk, ["-t", str(threads), "-c", str(connections), "-d", f"{whole}s", "--timeout", "30s",
                              "-s", str(SCRIPT), _url(w.base_url), "--", str(reqs), "1" if check else "0"],
                        whole + GRACE)

        if warmup > 0:
            run(warmup)
        out, cpu = run(seconds)
    return parse_result(out, check=check), cpu


def run_wrk(w: Workload, *, connections: int, seconds: float, threads: int = 1, warmup: float = 1.0,
            check: bool = True) -> Result:
    """Drive ``w`` with wrk for ``seconds`` (rounded up to whole seconds) after ``warmup`` seconds not counted.
    ``check=False`` drops the Lua ``response`` callback (faster; only statuses >= 400 count as errors)."""
    return measure_wrk(w, connections=connections, seconds=seconds, threads=threads, warmup=warmup,
                       check=check)[0]
