"""``hivebase serve`` as a real process on a free port: it initialises, answers /health and stops cleanly."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hivebase.config import Settings
from tests.cli import COMMAND, HEX32, KEYS, clean_env
from tests.conftest import drop_prefixed_schemas

STARTUP_LIMIT = 30.0  # seconds to wait for /health before giving up (a loaded CI box is slow, not broken)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(settings: Settings) -> dict[str, str]:
    extra = {"PYTHONUNBUFFERED": "1"}
    if settings.database_url:
        extra.update(HIVEBASE_DATABASE_URL=settings.database_url,
                     HIVEBASE_SCHEMA_PREFIX=settings.schema_prefix)
    return clean_env(**extra)


def wait_for_health(proc: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"serve exited with {proc.returncode}:\n{out}\n{err}")
        try:
            response = httpx.get(f"{url}/health", timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        assert response.status_code == 200 and response.json() == {"status": "ok"}
        assert response.headers["content-type"] == "application/json"
        return
    proc.kill()
    pytest.fail(f"/health did not answer within {STARTUP_LIMIT}s: {proc.communicate()}")


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM, as a service manager would: the lifespan (and its Hub) must shut down before the process ends.

    uvicorn re-raises the signal after a graceful shutdown, so the exit status is "terminated by SIGTERM"."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"serve ignored SIGTERM:\n{out}\n{err}")
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err and "Traceback" not in out + err, err
    return out, err


def printed_credentials(out: str) -> dict[str, str]:
    found = {key: re.search(rf"{label}\W+([0-9a-f]{{32}})", out)
             for key, label in zip(KEYS, ("Application ID", "REST API key", "Master key"), strict=True)}
    assert all(found.values()), out
    return {k: m.group(1) for k, m in found.items() if m}


def credentials(data_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([*COMMAND, "app", "credentials", "main", "--json", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def test_serve_init_answers_health_and_prints_credentials(settings: Settings) -> None:
    port, env = free_port(), env_for(settings)
    proc = subprocess.Popen([*COMMAND, "serve", "--init", "--data-dir", str(settings.data_dir),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for_health(proc, f"http://127.0.0.1:{port}")
        current = credentials(settings.data_dir, env)  # a second process reads the same storage meanwhile
        out, _ = stop(proc)
        shown = printed_credentials(out)
        assert shown == {k: current[k] for k in KEYS} and all(HEX32.match(v) for v in shown.values())
        assert f"http://127.0.0.1:{port}" in out and f"http://127.0.0.1:{port}/1/openapi.json" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        asyncio.run(drop_prefixed_schemas(settings))


def test_serve_json_prints_one_document(tmp_path: Path) -> None:
    data_dir, port, env = tmp_path / "data", free_port(), clean_env(PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([*COMMAND, "serve", "--init", "--json", "--data-dir", str(data_dir),
                             "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for_health(proc, f"http://127.0.0.1:{port}")
        out, _ = stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    doc = json.loads(out)
    assert doc["created"] is True and doc["url"] == f"http://127.0.0.1:{port}"
    assert {k: doc[k] for k in KEYS} == {k: v for k, v in credentials(data_dir, env).items() if k in KEYS}


def test_serve_refuses_an_uninitialised_data_dir(tmp_path: Path) -> None:
    argv = [*COMMAND, "serve", "--data-dir", str(tmp_path / "empty"), "--port", str(free_port())]
    proc = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("Error: ") and "hivebase init" in proc.stderr
