"""A real hivebase server on a free port for each REST test (uvicorn in a thread: real sockets, real HTTP),
on SQLite and on PostgreSQL, and httpx clients that speak to it with an app's credentials."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from hivebase.app import build_app
from hivebase.config import Settings
from hivebase.core import schema
from hivebase.core.apps import MAIN
from hivebase.core.principal import Principal
from hivebase.hub import Hub
from tests.conftest import drop_prefixed_schemas


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(slots=True)
class Server:
    url: str
    settings: Settings
    apps: dict[str, dict[str, str]] = field(default_factory=dict)  # app → applicationId, restApiKey, masterKey

    def client(self, app: str = MAIN, *, master: bool = False, session: str | None = None,
               **headers: str) -> httpx.Client:
        """A Bmob client of ``app``: application id plus the REST API key (or the master key)."""
        creds = self.apps[app]
        h = {"X-Bmob-Application-Id": creds["applicationId"]}
        if master:
            h["X-Bmob-Master-Key"] = creds["masterKey"]
        else:
            h["X-Bmob-REST-API-Key"] = creds["restApiKey"]
        if session:
            h["X-Bmob-Session-Token"] = session
        h.update(headers)
        return httpx.Client(base_url=self.url, headers=h, timeout=30)

    def make_table(self, name: str, fields: dict[str, Any], app: str = MAIN) -> None:
        """Create a table from a second process-like Hub on the same storage (the server sees it at once)."""

        async def run() -> None:
            async with Hub(self.settings) as hub:
                await schema.create_table(await hub.apps.open(app), Principal.root("test"), name, fields)

        asyncio.run(run())

    def raw(self) -> httpx.Client:
        """A client without any credentials."""
        return httpx.Client(base_url=self.url, timeout=30)


async def _prepare(settings: Settings, extra_apps: tuple[str, ...]) -> dict[str, dict[str, str]]:
    async with Hub(settings) as hub:
        await hub.init_main()
        for name in extra_apps:
            await hub.apps.create(name)
        out = {}
        for name in (MAIN, *extra_apps):
            creds = (await hub.apps.credentials(name)).to_dict()
            out[name] = {k: creds[k] for k in ("applicationId", "restApiKey", "masterKey")}
        return out


def start_uvicorn(settings: Settings) -> tuple[str, uvicorn.Server, threading.Thread]:
    """The real server (uvicorn, real sockets) on a free loopback port, started; its base URL."""
    port = free_port()
    config = uvicorn.Config(build_app(settings), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", srv, thread


def start_server(settings: Settings, extra_apps: tuple[str, ...] = ()) -> tuple[Server, uvicorn.Server,
                                                                               threading.Thread]:
    apps = asyncio.run(_prepare(settings, extra_apps))
    url, srv, thread = start_uvicorn(settings)
    return Server(url, settings, apps), srv, thread


@contextlib.contextmanager
def serving(settings: Settings, **changes: Any) -> Iterator[Server]:
    """A running server for ``settings`` (with ``changes``), the main app and a second app ``other`` (to
    check that one app's keys never open another); stopped and its schemas dropped afterwards."""
    settings = settings.model_copy(update=changes) if changes else settings
    running, srv, thread = start_server(settings, ("other",))
    try:
        yield running
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
        asyncio.run(drop_prefixed_schemas(settings))


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    with serving(settings) as running:
        yield running


def error_of(response: httpx.Response) -> dict[str, Any]:
    """A Bmob error body: ``{"code": n, "error": "…"}``; never a stack trace or SQL."""
    body = response.json()
    assert set(body) == {"code", "error"}, body
    text = body["error"].lower()
    assert "traceback" not in text and "select " not in text and "sqlalchemy" not in text, body
    return dict(body)
