"""The NocoBase 2.2.15 peer on PostgreSQL: installed with yarn 1 into the bench cache, run as `nocobase start`
in node launch mode on a fresh database, with the 100,000 rows copied straight into its table."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import secrets
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import orjson

from bench import dataset
from bench.peers import nocobase_workloads as workloads
from bench.peers.base import PeerUnavailable, Running, free_port
from bench.peers.node import check, installed, log_line, mark_installed, node_server, npm_env, npm_install, run_logged

VERSION = "2.2.15"
YARN = "1.22.22"

# create-nocobase-app 2.2.15's template package.json as `--skip-dev-dependencies` writes it (no devtools, which
# is not on the registry, nor the antd/react/rollup resolutions), trimmed to PostgreSQL's driver, plus `xlsx`
# pinned to a registry version (the import/export plugins ask for a CDN tarball that cannot be reached).
PACKAGE_JSON: dict[str, object] = {
    "name": "nocobase-bench",
    "private": True,
    "workspaces": ["packages/*/*", "packages/*/*/*"],
    "engines": {"node": ">=18"},
    "scripts": {"nocobase": "nocobase-v1", "pm": "nocobase-v1 pm", "start": "nocobase-v1 start",
                "postinstall": "nocobase-v1 postinstall"},
    "resolutions": {"cytoscape": "3.28.0", "async": "^3.2.6", "semver": "^7.7.1", "xlsx": "0.18.5"},
    "dependencies": {"@nocobase/app": VERSION, "pm2": "^6.0.5", "pg": "^8.14.1", "pg-hstore": "^2.3.4"},
}


DB_NAME = "hivebase_bench_nocobase"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN = {"account": "admin@nocobase.com", "password": "admin123"}  # INIT_ROOT_* below
NEEDED_PLUGINS = ("api-keys", "mcp-server")
# The general template's system fields are registered as fields too: resource_query drops measures on
# fields the collection does not know (count(id) would vanish silently).
COLLECTION = {
    "name": "players", "title": "Players", "autoGenId": False, "createdAt": True, "updatedAt": True,
    "sortable": False,
    "fields": [
        {"name": "id", "type": "bigInt", "autoIncrement": True, "primaryKey": True, "allowNull": False,
         "interface": "id"},
        {"name": "createdAt", "type": "date", "field": "createdAt", "interface": "createdAt"},
        {"name": "updatedAt", "type": "date", "field": "updatedAt", "interface": "updatedAt"},
        {"name": "name", "type": "string", "interface": "input"},
        {"name": "team", "type": "string", "interface": "input"},
        {"name": "score", "type": "integer", "interface": "integer"},
        {"name": "level", "type": "integer", "interface": "integer"},
    ],
}


def paths(cache: Path) -> tuple[Path, Path, Path]:
    """The peer's folder, its app and the yarn 1 script inside the cache."""
    root = cache / "nocobase"
    return root, root / "app", root / "yarn" / "node_modules" / "yarn" / "bin" / "yarn.js"


def yarn_env(cache: Path) -> dict[str, str]:
    """yarn 1 first on PATH (NocoBase's CLI shells out to `yarn`), its download cache inside the bench cache."""
    root, _, yarn = paths(cache)
    env = npm_env(cache)
    env["PATH"] = f"{yarn.parent}{os.pathsep}{env.get('PATH', '')}"
    env["YARN_CACHE_FOLDER"] = str(root / "yarn-cache")
    env["YARN_ENABLE_TELEMETRY"] = "0"
    env["DISABLE_OPENCOLLECTIVE"] = "1"
    return env


def install(cache: Path, log: Path) -> None:
    """Installs yarn 1 locally, then the app; the marker is written last so a partial install is redone."""
    root, app, yarn = paths(cache)
    if installed(root, VERSION):
        return
    try:
        if not installed(root / "yarn", YARN) or not yarn.exists():
            npm_install(root / "yarn", {"name": "hivebase-bench-yarn", "private": True,
                                        "dependencies": {"yarn": YARN}}, cache, log, what=f"npm install yarn@{YARN}")
            mark_installed(root / "yarn", YARN)
        install_app(app, yarn, cache, log)
    except PeerUnavailable as exc:
        raise PeerUnavailable(f"{exc}: {last_error(log)}") from exc
    mark_installed(root, VERSION)


def install_app(app: Path, yarn: Path, cache: Path, log: Path) -> None:
    """The app folder create-nocobase-app would make, then `yarn install` (its postinstall runs NocoBase's)."""
    for sub in ("packages/plugins", "storage/uploads", "storage/db", "storage/plugins"):
        (app / sub).mkdir(parents=True, exist_ok=True)
    (app / "package.json").write_bytes(orjson.dumps(PACKAGE_JSON, option=orjson.OPT_INDENT_2))
    # The CLI reads an e2e env file on every command (the template ships one); start() writes `.env`.
    (app / ".env.e2e").write_text("# not used by the bench\n")
    log_line(log, f"installing NocoBase {VERSION} into {app}")
    run_logged(["node", str(yarn), "install", "--ignore-engines", "--non-interactive", "--no-progress",
                "--network-timeout", "600000"], app, log, yarn_env(cache), f"yarn install (NocoBase {VERSION})",
               timeout=3600)
    for package in ("app", "plugin-api-keys", "plugin-mcp-server"):
        if not (app / "node_modules" / "@nocobase" / package / "package.json").exists():
            raise PeerUnavailable(f"yarn install left out @nocobase/{package}; see {log}")
    if not (app / "node_modules" / "@nocobase" / "app" / "lib" / "index.js").exists():
        raise PeerUnavailable(f"yarn install left no @nocobase/app/lib/index.js; see {log}")


def last_error(log: Path) -> str:
    """The first telling error line of the last command in the log (npm's or yarn's reason for a registry or
    network failure), so the PeerUnavailable reason fits on one line."""
    lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("[bench] $ ")]
    tail = [ln.strip() for ln in lines[starts[-1] + 1 if starts else 0:]]
    errors = [ln for ln in tail if ln.startswith(("error ", "Error:", "npm error "))
              and not ln.startswith(("npm error code ", "npm error syscall ", "npm error errno "))]
    return (errors or tail or ["no output"])[0][:300]


class NocoBase:
    name = f"NocoBase {VERSION}"
    database = "PostgreSQL"

    def install(self, cache: Path, log: Path) -> None:
        install(cache, log)

    def start(self, cache: Path, log: Path) -> contextlib.AbstractContextManager[Running]:
        return running(cache, log)


def settings(port: int) -> dict[str, str]:
    """The app's .env; also passed in the environment, since NocoBase's CLI lets inherited variables win."""
    return {
        "APP_ENV": "production", "APP_KEY": secrets.token_hex(32), "APP_HOST": "127.0.0.1", "APP_PORT": str(port),
        "API_BASE_PATH": "/api/", "DB_DIALECT": "postgres", "DB_HOST": "127.0.0.1", "DB_PORT": "5432",
        "DB_DATABASE": DB_NAME, "DB_USER": "postgres", "DB_PASSWORD": "", "DB_LOGGING": "off",
        "INIT_ROOT_EMAIL": ADMIN["account"], "INIT_ROOT_PASSWORD": ADMIN["password"],
        "INIT_ROOT_NICKNAME": "Super Admin", "INIT_ROOT_USERNAME": "nocobase",
    }


@contextlib.contextmanager
def running(cache: Path, log: Path) -> Iterator[Running]:
    """Fresh database, `nocobase install`, the server, an API key, the players table and its rows; on exit
    the server's process group is stopped and the database dropped."""
    root, app, yarn = paths(cache)
    if not installed(root, VERSION):
        raise PeerUnavailable(f"NocoBase {VERSION} is not installed in {root}; run install() first")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    conf = settings(port)
    env = {**yarn_env(cache), **conf}
    (app / ".env").write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
    shutil.rmtree(app / "storage" / "logs", ignore_errors=True)  # NocoBase's own logs from earlier runs
    asyncio.run(recreate_database())
    pid = 0
    try:
        began = time.monotonic()
        run_logged(["node", str(yarn), "nocobase", "install"], app, log, env, "nocobase install", timeout=600)
        log_line(log, f"nocobase install took {time.monotonic() - began:.1f}s")
        began = time.monotonic()
        with node_server(["node", str(yarn), "nocobase", "start", "--launch-mode", "node"], app, env, log,
                         f"{base_url}/api/__health_check", f"NocoBase {VERSION}", timeout=300) as proc:
            pid = serving_pid(proc.pid)
            log_line(log, f"NocoBase ready on {base_url} after {time.monotonic() - began:.1f}s (server pid {pid})")
            began = time.monotonic()
            key = set_up(base_url, log)
            loaded = list(dataset.rows())
            ids = asyncio.run(load(loaded))
            log_line(log, f"API key, players and {len(ids)} rows loaded in {time.monotonic() - began:.1f}s")
            work = workloads.build(base_url, key, ids)
            workloads.probe(work, workloads.expected(loaded))
            yield Running(base_url, pid, work, dict(workloads.NOTES))
    finally:
        if pid:
            reap(pid)
        asyncio.run(drop_database())


def reap(pid: int, grace: float = 15) -> None:
    """Waits for the server itself to be gone (its group got SIGTERM; the wrappers may exit first), then
    SIGKILLs that one pid, so the database can be dropped under a stopped server."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except OSError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def serving_pid(leader: int) -> int:
    """The node process that runs NocoBase's server (yarn → sh → the CLI → sh → node lib/index.js start), found
    among the processes of the session the server was started in."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        session = int(stat.rsplit(")", 1)[1].split()[3])  # after comm: state, ppid, pgrp, session
        if (session == leader and len(argv) > 2 and os.path.basename(argv[0]) == b"node"
                and argv[1].endswith(b"@nocobase/app/lib/index.js") and argv[2] == b"start"):
            found.append(int(entry.name))
    if len(found) != 1:
        raise PeerUnavailable(f"expected one NocoBase server process in session {leader}, found {found}")
    return found[0]


def set_up(base_url: str, log: Path) -> str:
    """Signs in as the default admin, makes sure the MCP plugins are on, creates a never-expiring API key of
    the root role and the players collection; returns the key."""
    with httpx.Client(base_url=base_url, timeout=120) as client:
        signed = sign_in(client)
        admin = {"Authorization": f"Bearer {signed}", "X-Role": "root"}
        off = [p for p in NEEDED_PLUGINS
               if not check(client.get("/api/pm:get", params={"filterByTk": p}, headers=admin),
                            f"plugin {p}").json()["data"].get("enabled")]
        if off:
            log_line(log, f"enabling plugins {off}")
            check(client.post("/api/pm:enable", params={"filterByTk": ",".join(off), "awaitResponse": "true"},
                              headers=admin), f"enable {off}")
            signed = sign_in(client)
            admin["Authorization"] = f"Bearer {signed}"
        answer = check(client.post("/api/apiKeys:create", headers=admin, json={
            "name": "hivebase-bench", "role": {"name": "root"}, "expiresIn": "never"}), "create API key")
        key = str(answer.json()["data"]["token"])
        check(client.post("/api/collections:create", headers={"Authorization": f"Bearer {key}"}, json=COLLECTION),
              "create collection players")
        return key


def sign_in(client: httpx.Client, timeout: float = 120) -> str:
    """The admin's token; retried while the app is still (re)starting and answers 503."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.post("/api/auth:signIn", json=ADMIN, headers={"X-Authenticator": "basic"})
        if answer.is_success or time.monotonic() > deadline or answer.status_code < 500:
            return str(check(answer, "sign in as admin").json()["data"]["token"])
        time.sleep(0.5)


async def recreate_database() -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    except (OSError, asyncpg.PostgresError) as exc:
        raise PeerUnavailable(f"cannot create database {DB_NAME}: {exc}") from exc
    finally:
        await conn.close()


async def drop_database() -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    finally:
        await conn.close()


async def load(rows: list[dict[str, object]]) -> list[int]:
    """COPY the rows into NocoBase's players table (its id sequence numbers them), ANALYZE, and return the ids."""
    now = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{DB_NAME}")
    try:
        await conn.copy_records_to_table(
            "players", columns=["name", "team", "score", "level", "createdAt", "updatedAt"],
            records=[(r["name"], r["team"], r["score"], r["level"], now, now) for r in rows])
        await conn.execute("ANALYZE players")
        ids = [int(r["id"]) for r in await conn.fetch("SELECT id FROM players ORDER BY id")]
    finally:
        await conn.close()
    if len(ids) != len(rows):
        raise PeerUnavailable(f"loaded {len(ids)} rows into players, expected {len(rows)}")
    return ids
