"""OAuth 2.1 with a real third-party client: npm's ``mcp-remote`` (0.15.x) run as a stdio MCP server and driven by
the official Python client. mcp-remote discovers the server from its 401, registers, and opens "the browser"
through the ``open`` package, whose bundled ``xdg-open`` runs ``$BROWSER``: a double this test writes, which signs
in and approves on hivebase's consent page and follows the redirect to mcp-remote's loopback callback.

Then tools run through mcp-remote as the signed-in user; the tokens it stored exist on the server only as
hashes; a second run, its access token made to look expired, refreshes (rotation) without a browser; and after
``hivebase oauth revoke`` the next call fails (the refresh token died with its family, and the person, asked to
sign in again, denies).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from hivebase.core import records, schema
from hivebase.core.apps import MAIN
from hivebase.core.identity import users
from hivebase.core.secrets import hash_key
from hivebase.hub import Hub
from tests.conftest import IN_CI
from tests.mcp.conftest import ROOT, blocking, ok
from tests.mcp.test_oauth_flow import cli
from tests.mcp.test_tool_inputs import snapshot
from tests.rest.conftest import Server, free_port

pytestmark = pytest.mark.anyio

PACKAGE, SERIES = "mcp-remote@0.15", "0.15."
PASSWORD = "s3cret-pass"

# The person at the browser: reads what to do from browser.json beside it, appends what happened to
# browser.log (one JSON line per visit), never prints (xdg-open's stdio is closed) and is bounded in time.
BROWSER = r'''
import json, os, re, sys, time, httpx
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

here = Path(__file__).parent
plan = json.loads((here / "browser.json").read_text())
seen = {"pgid": os.getpgid(0), "authorize": sys.argv[1]}
try:
    with httpx.Client(timeout=20) as web:
        page = web.get(sys.argv[1], follow_redirects=True)
        seen["consent"], seen["consent_status"] = str(page.url), page.status_code
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
        answer = web.post(str(page.url), data={**fields, "username": plan["username"],
                                               "password": plan["password"], "decision": plan["decision"]})
        seen["answer_status"] = answer.status_code
        target = answer.headers["location"]
        seen["callback"] = target.split("?")[0]
        seen["callback_params"] = sorted(parse_qs(urlsplit(target).query))
        for attempt in range(100):  # like a person pressing reload: the loopback listener may start late
            try:
                back = web.get(target)
                break
            except httpx.ConnectError:
                seen["callback_refused"] = attempt + 1
                time.sleep(0.2)
        else:
            raise ConnectionError("the loopback callback never answered")
        seen["callback_status"], seen["callback_page"] = back.status_code, back.text[:300]
except Exception as exc:
    seen["error"] = repr(exc)
with open(here / "browser.log", "a") as log:
    log.write(json.dumps(seen) + "\n")
sys.exit(1 if "error" in seen else 0)
'''


def cache_dir() -> Path:
    base = os.environ.get("HIVEBASE_TEST_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "hivebase-tests") / "npm"


def installed_version(prefix: Path) -> str | None:
    meta = prefix / "node_modules" / "mcp-remote" / "package.json"
    return str(json.loads(meta.read_text())["version"]) if meta.is_file() else None


def mcp_remote() -> Path:
    """mcp-remote's entry point, installed once into the test cache (outside the repository)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if IN_CI:
            pytest.fail("CI=true but node/npm are missing: the mcp-remote OAuth test must run in CI")
        pytest.skip("node and npm are not installed: the mcp-remote OAuth test needs them")
    prefix = cache_dir()
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix / ".install.lock", "w") as lock:  # two test runs at once install only once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (installed_version(prefix) or "").startswith(SERIES):
            done = subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                                   "--loglevel=error", PACKAGE], capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"npm install {PACKAGE} failed:\n{done.stdout}\n{done.stderr}"
    version = installed_version(prefix)
    assert version is not None and version.startswith(SERIES), version
    return prefix / "node_modules" / "mcp-remote" / "dist" / "proxy.js"


def seed(server: Server) -> dict[str, str]:
    """User ``agent`` (member, with a password) and ``mallory``; table Note with a row only each can read."""

    async def run() -> dict[str, str]:
        async with Hub(server.settings) as hub:
            main = await hub.apps.open(MAIN)
            await schema.create_table(main, ROOT, "Note", {"title": {"type": "String"}})
            ids = {}
            for name in ("agent", "mallory"):
                user = await users.create_user(main, ROOT, {"username": name, "password": PASSWORD}, ["member"])
                ids[name] = user["objectId"]
                await records.create(main, ROOT, "Note", {"title": f"for {name}",
                                                          "ACL": {user["objectId"]: {"read": True}}})
            return ids

    return dict(blocking(lambda: anyio.run(run)))


class Scratch:
    """The temporary home of one mcp-remote run: its config dir, the browser double, the logs."""

    def __init__(self, root: Path) -> None:
        self.root, self.home, self.config = root, root / "home", root / "mcp-auth"
        self.browser_dir = root / "browser"
        for d in (self.home, self.config, self.browser_dir):
            d.mkdir(parents=True)
        (self.browser_dir / "browser.py").write_text(BROWSER)
        self.browser = self.browser_dir / "browser"
        self.browser.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{self.browser_dir / "browser.py"}" "$@"\n')
        self.browser.chmod(0o755)
        self.pidfile, self.stderr = root / "mcp-remote.pid", root / "mcp-remote.log"
        self.act("approve")

    def act(self, decision: str, username: str = "agent") -> None:
        """What the person does at the next visit to the consent page."""
        (self.browser_dir / "browser.json").write_text(json.dumps(
            {"username": username, "password": PASSWORD, "decision": decision}))

    def visits(self) -> list[dict[str, Any]]:
        log = self.browser_dir / "browser.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    async def wait_visits(self, count: int, seconds: float = 15) -> list[dict[str, Any]]:
        """The visits once ``count`` are logged (the double logs after mcp-remote has already answered)."""
        with anyio.fail_after(seconds):
            while len(self.visits()) < count:
                await anyio.sleep(0.1)
        return self.visits()

    def env(self) -> dict[str, str]:
        """No desktop, so ``xdg-open`` takes its generic path and runs ``$BROWSER``; nothing in the real home."""
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TERM", "SYSTEMROOT")}
        return {**keep, "HOME": str(self.home), "MCP_REMOTE_CONFIG_DIR": str(self.config),
                "BROWSER": str(self.browser), "XDG_CONFIG_HOME": str(self.home / ".config"),
                "XDG_RUNTIME_DIR": str(self.root), "TMPDIR": str(self.root)}

    def stored_tokens(self) -> dict[str, Any]:
        found = list((self.config / "mcp-remote-v1").glob("*_tokens.json"))
        assert len(found) == 1, found
        return dict(json.loads(found[0].read_text()))

    def expire_tokens(self) -> None:
        """Make mcp-remote believe its access token has expired (the server still holds it live)."""
        path = next((self.config / "mcp-remote-v1").glob("*_tokens.json"))
        path.write_text(json.dumps({**json.loads(path.read_text()), "expires_at": 1000, "expires_in": 0}))

    def kill_all(self) -> None:
        """Whatever is left of mcp-remote's and the browser double's process groups."""
        groups = [int(v["pgid"]) for v in self.visits()]
        if self.pidfile.exists():
            groups += [int(line) for line in self.pidfile.read_text().split()]
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)

    def report(self) -> str:
        log = self.stderr.read_text(errors="replace") if self.stderr.exists() else ""
        return f"browser visits: {self.visits()}\nmcp-remote stderr (tail):\n{log[-4000:]}"


@contextlib.asynccontextmanager
async def through_mcp_remote(proxy: Path, url: str, port: int, scratch: Scratch) -> AsyncIterator[ClientSession]:
    """An initialised session with mcp-remote as the stdio server, its OAuth callback on ``port`` (each run in a
    process group of its own, noted in the pidfile)."""
    args = ["-c", 'echo $$ >> "$0"; exec "$@"', str(scratch.pidfile), shutil.which("node") or "node", str(proxy),
            url, str(port), "--auth-timeout", "30", "--connect-timeout", "10"]
    params = StdioServerParameters(command="/bin/sh", args=args, env=scratch.env(), cwd=scratch.root)
    with open(scratch.stderr, "a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            with anyio.fail_after(90):
                await session.initialize()
            yield session


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    made = Scratch(tmp_path / "scratch")
    try:
        yield made
    finally:
        made.kill_all()


async def notes_through(session: ClientSession) -> list[str]:
    with anyio.fail_after(60):
        found = ok(await session.call_tool("resource_list", {"resource": "Note", "fields": ["title"]}))
    return [n["title"] for n in found["data"]]


async def hashed_only(server: Server, *tokens: str) -> None:
    """No token appears in clear in any row of any table (registry and apps); each is stored as its hash."""
    everything = repr(await anyio.to_thread.run_sync(snapshot, server))
    for token in tokens:
        assert token not in everything and hash_key(token) in everything


async def test_mcp_remote_signs_in_refreshes_and_is_revoked(mcp_server: Server, scratch: Scratch) -> None:
    proxy, ids = mcp_remote(), seed(mcp_server)
    url, port = f"{mcp_server.url}/api/mcp", free_port()
    try:
        async with through_mcp_remote(proxy, url, port, scratch) as session:
            with anyio.fail_after(60):
                tools = {t.name for t in (await session.list_tools()).tools}
            assert {"resource_list", "resource_get"} <= tools
            # only the row agent's ACL opens: the calls ran as the user who signed in, not anonymous or root
            assert await notes_through(session) == ["for agent"]
        [visit] = await scratch.wait_visits(1)
        assert visit["authorize"].startswith(f"{mcp_server.url}/api/authorize?")
        assert visit["consent"].startswith(f"{mcp_server.url}/api/oauth/consent?")
        assert visit["answer_status"] == 302 and {"code", "state", "iss"} <= set(visit["callback_params"])
        assert visit["callback"] == f"http://localhost:{port}/oauth/callback" and visit["callback_status"] == 200
        first = scratch.stored_tokens()
        assert first["access_token"].startswith("hbo_") and first["refresh_token"].startswith("hbr_")
        await hashed_only(mcp_server, first["access_token"], first["refresh_token"])

        # an hour later (as mcp-remote sees it): the next run refreshes on its own, with no browser
        scratch.expire_tokens()
        async with through_mcp_remote(proxy, url, port, scratch) as session:
            assert await notes_through(session) == ["for agent"]
            second = scratch.stored_tokens()
            assert second["access_token"] != first["access_token"]
            assert second["refresh_token"] != first["refresh_token"]  # rotated
            assert len(scratch.visits()) == 1
            await hashed_only(mcp_server, second["access_token"], second["refresh_token"])

            listed = (await anyio.to_thread.run_sync(cli, mcp_server, "oauth", "tokens"))["tokens"]
            live = [t for t in listed if t["kind"] == "access" and t["state"] == "active"]
            assert len(live) == 2 and {t["userId"] for t in live} == {ids["agent"]}, listed
            await anyio.to_thread.run_sync(cli, mcp_server, "oauth", "revoke", live[0]["id"])  # the whole family

            # mcp-remote meets a 401 and its refresh token died with the family, so it sends the person to the
            # consent page again; they deny, and the call fails instead of running
            scratch.act("deny")
            with anyio.fail_after(60), pytest.raises(Exception) as refused:
                result = await session.call_tool("resource_list", {"resource": "Note"})
                if result.is_error:
                    raise RuntimeError(result.content)
            assert "access_denied" in repr(refused.value) and "for agent" not in repr(refused.value)
            visits = await scratch.wait_visits(2)
            assert visits[1]["callback_params"] == ["error", "iss", "state"], visits
    except BaseException:
        print(scratch.report())
        raise
