"""The system tables' migrations: they make what ``create_all`` made, adopt a data dir or schema made before
them, run once when several processes start together, cost one read when current, and ``hivebase migrate``.

``tests/fixtures/datadir-0.1`` is a data dir made by hivebase 0.1 (tables from ``create_all``, no version
table) with rows in every system table; ``datadir-0.1.json`` holds its secrets and rows as read back then, and
``datadir-0.1-postgresql.sql`` the DDL 0.1 ran on PostgreSQL. ``tests/fixtures/make_datadir.py`` made them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hivebase.config import Settings
from hivebase.core.apps import MAIN
from hivebase.core.secrets import Vault, hash_key, random_key
from hivebase.db import migrations
from hivebase.db.engine import Database, Engines, drop_schemas, normalize_url, sqlite_engine
from hivebase.db.migrations import VERSION_TABLE, Tree, authoring
from hivebase.db.tables import app_tables, registry_tables
from hivebase.hub import Hub
from tests.cli import COMMAND, clean_env
from tests.conftest import PG_URL, drop_prefixed_schemas, require_postgres
from tests.rest.conftest import start_uvicorn

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OLD = FIXTURES / "datadir-0.1"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "datadir-0.1.json").read_text())
OLD_PG_DDL = (FIXTURES / "datadir-0.1-postgresql.sql").read_text()
HEADS = {tree: migrations.head(tree) for tree in migrations.TREES}


def system_tables(tree: Tree) -> set[str]:
    return set((registry_tables if tree == "registry" else app_tables)(None).tables)


def metadata(tree: Tree, schema: str | None) -> sa.MetaData:
    return (registry_tables if tree == "registry" else app_tables)(schema)


# -- what a database holds ------------------------------------------------------------------------------------


def sqlite_structure(path: Path, tables: set[str]) -> dict[str, str]:
    """``sqlite_master``'s SQL of the given tables and their indexes, whitespace folded."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    return {f"{kind} {name}": " ".join(sql.split()) for kind, name, table, sql in rows if table in tables}


def sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of an SQLite file, in a stable order."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}


async def pg_structure(conn: AsyncConnection, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Columns, indexes and constraints of a schema's tables (not the version table), the schema's name
    replaced by ``S`` (index names derive from it)."""
    def fold(value: Any) -> Any:
        return value.replace(schema, "S") if isinstance(value, str) else value

    queries = {
        "columns": "SELECT table_name, column_name, ordinal_position, data_type, udt_name, character_maximum_length,"
                   " is_nullable, column_default FROM information_schema.columns WHERE table_schema = :s",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :s",
        "constraints": "SELECT rel.relname, con.conname, con.contype, pg_get_constraintdef(con.oid) "
                       "FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid "
                       "JOIN pg_namespace ns ON ns.oid = rel.relnamespace WHERE ns.nspname = :s",
    }
    out = {}
    for key, sql in queries.items():
        rows = (await conn.execute(sa.text(sql), {"s": schema})).all()
        out[key] = sorted((tuple(fold(v) for v in row) for row in rows if row[0] != VERSION_TABLE), key=repr)
    return out


def differences(conn: sa.Connection, md: sa.MetaData, schema: str | None = None) -> list[Any]:
    """Alembic's autogenerate comparison of the system tables (not user tables) with ``md``."""
    ours = {t.name for t in md.tables.values()}

    def include(name: str | None, kind: str, _parents: Any) -> bool:
        return name == schema if kind == "schema" else kind != "table" or name in ours

    ctx = MigrationContext.configure(conn, opts={
        "version_table": VERSION_TABLE, "version_table_schema": schema, "compare_type": True,
        "include_schemas": schema is not None, "include_name": include})
    return list(compare_metadata(ctx, md))


async def no_differences(conn: AsyncConnection, tree: Tree, schema: str | None) -> list[Any]:
    """``differences`` with the table definitions of today's code."""
    return await conn.run_sync(differences, metadata(tree, schema), schema)


@contextlib.asynccontextmanager
async def pg_database(prefix: str) -> AsyncIterator[tuple[AsyncEngine, str]]:
    engine = create_async_engine(normalize_url(PG_URL), pool_size=4)
    try:
        yield engine, prefix
    finally:
        await engine.dispose()
        await drop_schemas(PG_URL, prefix)


def unique_prefix() -> str:
    return f"t{secrets.token_hex(4)}_"


@pytest.fixture
def postgres() -> None:
    """PostgreSQL only (a sync fixture: ``require_postgres`` probes with its own event loop)."""
    require_postgres()


@pytest.mark.parametrize("tree", migrations.TREES)
def test_heads_read_without_alembic_agree_with_alembic(tree: Tree) -> None:
    script = ScriptDirectory(str(migrations.tree_dir(tree)))
    assert migrations.head(tree) == script.get_current_head()
    assert migrations.known(tree) == {r.revision for r in script.walk_revisions()}
    assert migrations.BASELINE[tree] in migrations.known(tree)


# -- the first revision is what create_all made ----------------------------------------------------------------


@pytest.mark.parametrize("tree", migrations.TREES)
async def test_migrations_make_what_create_all_makes_sqlite(tree: Tree, tmp_path: Path) -> None:
    made = {}
    for how in ("create_all", "migrations"):
        db = Database(sqlite_engine(tmp_path / f"{how}.sqlite3"), "sqlite", None)
        try:
            if how == "create_all":
                async with db.write() as conn:
                    await conn.run_sync(metadata(tree, None).create_all)
            else:
                assert (await migrations.upgrade(db, tree)).action == "created"
                async with db.read() as conn:
                    assert await no_differences(conn, tree, None) == []
        finally:
            await db.dispose()
        made[how] = sqlite_structure(tmp_path / f"{how}.sqlite3", system_tables(tree))
    assert made["migrations"] == made["create_all"]
    assert sum(k.startswith("table ") for k in made["migrations"]) == len(system_tables(tree))


@pytest.mark.parametrize("tree", migrations.TREES)
@pytest.mark.usefixtures("postgres")
async def test_migrations_make_what_create_all_makes_postgres(tree: Tree) -> None:
    async with pg_database(unique_prefix()) as (engine, prefix):
        a, b = prefix + "app_a", prefix + "app_b"
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'CREATE SCHEMA "{a}"'))
            await conn.run_sync(metadata(tree, a).create_all)
        outcome = await migrations.upgrade(Database(engine, "postgresql", b), tree)
        assert (outcome.before, outcome.after, outcome.action) == (None, HEADS[tree], "created")
        async with engine.connect() as conn:
            old, new = await pg_structure(conn, a), await pg_structure(conn, b)
            assert await no_differences(conn, tree, b) == []
        assert new == old
        assert {row[0] for row in new["columns"]} == system_tables(tree)


# -- cheap when current, once when many start together ----------------------------------------------------------


async def test_a_current_database_costs_one_read(settings: Settings) -> None:
    engines = Engines(settings.data_dir, settings.database_url, schema_prefix=settings.schema_prefix)
    try:
        db = engines.for_app("cheap")
        assert (await migrations.upgrade(db, "app")).action == "created"
        statements: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        sa.event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        outcome = await migrations.upgrade(db, "app")
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        assert (outcome.before, outcome.after, outcome.action) == (HEADS["app"], HEADS["app"], "current")
        assert len(statements) == 1 and VERSION_TABLE in statements[0], statements
    finally:
        await engines.dispose()
        await drop_prefixed_schemas(settings)


async def test_processes_starting_together_migrate_once(settings: Settings) -> None:
    """Five engines (as five processes would have) upgrade one new app at once: one creates, four wait for
    the lock and find the work done."""
    many = [Engines(settings.data_dir, settings.database_url, schema_prefix=settings.schema_prefix)
            for _ in range(5)]
    try:
        outcomes = await asyncio.gather(*(migrations.upgrade(e.for_app("racy"), "app") for e in many))
        assert sorted(o.action for o in outcomes) == ["created", "current", "current", "current", "current"]
        db = many[0].for_app("racy")
        assert await migrations.current(db) == HEADS["app"]
        meta = app_tables(db.schema).tables[f"{db.schema}._hb_meta" if db.schema else "_hb_meta"]
        async with db.read() as conn:
            assert (await conn.execute(sa.select(meta.c.key, meta.c.value))).all() == [("schema_version", 0)]
    finally:
        for e in many:
            await e.dispose()
        await drop_prefixed_schemas(settings)


async def test_a_database_from_a_newer_hivebase_is_refused(settings: Settings) -> None:
    engines = Engines(settings.data_dir, settings.database_url, schema_prefix=settings.schema_prefix)
    try:
        db = engines.for_app("future")
        await migrations.upgrade(db, "app")
        version = migrations._version_table(db.schema)
        async with db.write() as conn:
            await conn.execute(sa.update(version).values(version_num="app_9999"))
        assert (await migrations.status(db, "app")).action == "ahead"
        with pytest.raises(migrations.UnknownRevision, match=r"app_9999.*newer version"):
            await migrations.upgrade(db, "app")
        assert await migrations.current(db) == "app_9999"
    finally:
        await engines.dispose()
        await drop_prefixed_schemas(settings)


# -- a data dir made by hivebase 0.1 --------------------------------------------------------------------------


def copy_old(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(OLD, target)
    return target


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The real server on the data dir (nothing prepared first: the old data must stay as it was); its URL."""
    url, server, thread = start_uvicorn(settings)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def bmob(url: str, app: str, **headers: str) -> httpx.Client:
    creds = MANIFEST[app]["credentials"]
    return httpx.Client(base_url=url, timeout=30, headers={"X-Bmob-Application-Id": creds["applicationId"],
                                                           **headers})


async def test_an_old_data_dir_upgrades_in_place(tmp_path: Path) -> None:
    data = copy_old(tmp_path)
    files = {p.name: p for p in (data / "db").glob("*.sqlite3")}
    before = {name: sqlite_rows(path) for name, path in files.items()}
    assert {name: {t: len(rows) for t, rows in tables.items()} for name, tables in before.items()} \
        == MANIFEST["counts"]
    empty = {t for t, rows in before["app_main.sqlite3"].items() if not rows}
    assert not empty, f"the fixture should have a row in every table of app main: {empty}"
    assert all(VERSION_TABLE not in tables for tables in before.values())

    # A Hub starting on it (as `hivebase serve` does) migrates the registry, opening an app migrates the app.
    settings = Settings(data_dir=data, catalog_refresh_seconds=0)
    async with Hub(settings) as hub:
        assert await migrations.current(hub.apps.system) == HEADS["registry"]
        for name in ("main", "shop"):
            await hub.apps.open(name)
            assert await migrations.current(hub.engines.for_app(name)) == HEADS["app"]
    after = {name: sqlite_rows(path) for name, path in files.items()}
    for name, tables in before.items():
        assert set(after[name]) == set(tables) | {VERSION_TABLE}
        for table, rows in tables.items():
            assert after[name][table] == rows, f"{name} {table} changed"
        assert after[name][VERSION_TABLE] == [(HEADS["app" if name.startswith("app_") else "registry"],)]

    # What was stamped is what a new app (and a new registry) is made with.
    async with Hub(settings) as hub:
        await hub.apps.create("fresh")
    assert sqlite_structure(files["app_main.sqlite3"], system_tables("app")) == \
        sqlite_structure(data / "db" / "app_fresh.sqlite3", system_tables("app"))
    fresh_registry = Database(sqlite_engine(tmp_path / "registry.sqlite3"), "sqlite", None)
    await migrations.upgrade(fresh_registry, "registry")
    await fresh_registry.dispose()
    assert sqlite_structure(files["hivebase.sqlite3"], system_tables("registry")) == \
        sqlite_structure(tmp_path / "registry.sqlite3", system_tables("registry"))

    # The real server answers from the old rows, old passwords and the old API key.
    main, shop = MANIFEST["main"], MANIFEST["shop"]
    with serving(settings) as url:
        master = {"X-Bmob-Master-Key": main["credentials"]["masterKey"]}
        with bmob(url, "main", **master) as client:
            r = client.get("/1/classes/Book", params={"order": "title"})
            assert r.status_code == 200 and r.json() == main["books"], r.text
        with bmob(url, "main", **{"X-Bmob-REST-API-Key": main["credentials"]["restApiKey"]}) as client:
            for name in ("alice", "bob"):
                r = client.post("/1/login", json={"username": name, "password": main["users"][name]["password"]})
                assert r.status_code == 200 and r.json()["objectId"] == main["users"][name]["objectId"], r.text
            r = client.post("/1/login", json={"username": "admin", "password": MANIFEST["admin"]["password"]})
            assert r.status_code == 200, r.text
            r = client.post("/1/login", json={"username": "alice", "password": "not-the-password"})
            assert r.status_code != 200
        # API keys open the MCP door: an MCP session starts with an old key, not with a wrong one
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        for key, status in ((main["users"]["alice"]["apiKey"], 200), (MANIFEST["adminApiKey"], 200),
                            (main["users"]["alice"]["apiKey"][:-4] + "0000", 401)):
            r = httpx.post(f"{url}/api/mcp", json=initialize, timeout=30, headers={
                "Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream"})
            assert r.status_code == status, r.text
        with bmob(url, "shop", **{"X-Bmob-REST-API-Key": shop["credentials"]["restApiKey"]}) as client:
            r = client.get("/1/classes/Item", params={"order": "name"})
            assert r.status_code == 200 and r.json() == shop["items"], r.text
            r = client.post("/1/login", json={"username": "carol", "password": shop["users"]["carol"]["password"]})
            assert r.status_code == 200, r.text


# -- hivebase migrate -------------------------------------------------------------------------------------------


def migrate(data: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, "migrate", "--data-dir", str(data), "--json", *args], capture_output=True,
                          text=True, env=env or clean_env(), timeout=120)


def actions(proc: subprocess.CompletedProcess[str], code: int = 0) -> dict[str, tuple[Any, Any, str]]:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    doc = json.loads(proc.stdout)
    return {d["database"]: (d["from"], d["to"], d["action"]) for d in doc["databases"]}


def test_migrate_adopts_an_old_data_dir_once(tmp_path: Path) -> None:
    data = copy_old(tmp_path)
    before = {p.name: sqlite_rows(p) for p in (data / "db").glob("*.sqlite3")}
    behind = {"registry": (None, None, "behind"), "app main": (None, None, "behind"),
              "app shop": (None, None, "behind")}
    assert actions(migrate(data, "--check"), code=1) == behind
    assert {p.name: sqlite_rows(p) for p in (data / "db").glob("*.sqlite3")} == before  # --check changed nothing

    # three at once, as three servers starting on one data dir would: each database is adopted exactly once
    procs = [subprocess.Popen([*COMMAND, "migrate", "--data-dir", str(data), "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=clean_env()) for _ in range(3)]
    results = [subprocess.CompletedProcess(p.args, p.wait(timeout=120), *p.communicate()) for p in procs]
    per_database: dict[str, list[str]] = {}
    for result in results:
        for database, (_, to, action) in actions(result).items():
            assert to == HEADS["registry" if database == "registry" else "app"]
            per_database.setdefault(database, []).append(action)
    assert {d: sorted(a) for d, a in per_database.items()} == {
        d: ["current", "current", "stamped"] for d in ("registry", "app main", "app shop")}

    again = actions(migrate(data))
    assert again == {"registry": (HEADS["registry"], HEADS["registry"], "current"),
                     "app main": (HEADS["app"], HEADS["app"], "current"),
                     "app shop": (HEADS["app"], HEADS["app"], "current")}
    assert actions(migrate(data, "--check")) == again
    after = {p.name: sqlite_rows(p) for p in (data / "db").glob("*.sqlite3")}
    assert {n: {t: r for t, r in tables.items() if t != VERSION_TABLE} for n, tables in after.items()} == before


def test_migrate_a_new_data_dir(settings: Settings) -> None:
    env = clean_env()
    if settings.database_url:
        env.update(HIVEBASE_DATABASE_URL=settings.database_url, HIVEBASE_SCHEMA_PREFIX=settings.schema_prefix)
    try:
        not_yet = migrate(settings.data_dir, env=env)
        assert not_yet.returncode == 1 and json.loads(not_yet.stdout)["error"]["reason"] == "not_initialised"
        init = subprocess.run([*COMMAND, "init", "--data-dir", str(settings.data_dir), "--json"], capture_output=True,
                              text=True, env=env, timeout=120)
        assert init.returncode == 0, init.stderr
        current = {"registry": (HEADS["registry"], HEADS["registry"], "current"),
                   "app main": (HEADS["app"], HEADS["app"], "current")}
        assert actions(migrate(settings.data_dir, env=env)) == current  # init ran them already
        text = subprocess.run([*COMMAND, "migrate", "--check", "--data-dir", str(settings.data_dir)],
                              capture_output=True, text=True, env=env, timeout=120)
        assert text.returncode == 0 and "already current" in text.stdout and HEADS["app"] in text.stdout, text
    finally:
        asyncio.run(drop_prefixed_schemas(settings))


# -- PostgreSQL: a schema made by 0.1 ---------------------------------------------------------------------------


@pytest.mark.usefixtures("postgres")
async def test_postgres_schemas_made_by_0_1_are_stamped_and_new_ones_created(tmp_path: Path) -> None:
    prefix = unique_prefix()
    settings = Settings(data_dir=tmp_path / "data", database_url=PG_URL, schema_prefix=prefix,
                        catalog_refresh_seconds=0)
    registry, main = prefix + "hivebase", prefix + "app_main"
    vault = Vault.for_data_dir(settings.data_dir, None)
    rest, master = random_key(), random_key()
    async with pg_database(prefix) as (engine, _):
        async with engine.begin() as conn:  # what 0.1 left: its DDL, an app row, the catalog's version row
            for schema in (registry, main):
                await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            ddl = OLD_PG_DDL.replace("xregistryx", registry).replace("xappx", main)
            for statement in filter(None, (s.strip() for s in ddl.split(";"))):
                await conn.execute(sa.text(statement))
            await conn.execute(sa.text(
                f'INSERT INTO "{registry}"._hb_apps VALUES (:n, :a, :rh, :mh, :rs, :ms, \'{{}}\', now())'),
                {"n": MAIN, "a": random_key(), "rh": hash_key(rest), "mh": hash_key(master),
                 "rs": vault.seal(rest), "ms": vault.seal(master)})
            await conn.execute(sa.text(f'INSERT INTO "{main}"._hb_meta VALUES (\'schema_version\', 0)'))
            await conn.execute(sa.text(f'INSERT INTO "{main}"._hb_functions VALUES (\'f\', \'src\', now(), NULL)'))
        olds: tuple[tuple[Tree, str], ...] = (("registry", registry), ("app", main))
        for tree, schema in olds:
            assert await migrations.current(Database(engine, "postgresql", schema)) is None
            assert (await migrations.status(Database(engine, "postgresql", schema), tree)).action == "behind"

        async with Hub(settings) as hub:
            app = await hub.apps.open(MAIN)
            assert await hub.apps.check_key(MAIN, master, "master")
            await hub.apps.create("fresh")
            assert [m.outcome.action for m in await hub.apps.migrate()] == ["current"] * 3
            assert [m.outcome.action for m in await hub.apps.migrate(check=True)] == ["current"] * 3
            functions = app.catalog.system("_hb_functions")
            async with app.db.read() as conn:
                assert (await conn.execute(sa.select(functions.c.name, functions.c.source))).all() == [("f", "src")]
        async with engine.connect() as conn:
            for schema, head in ((registry, HEADS["registry"]), (main, HEADS["app"]), (prefix + "app_fresh",
                                                                                      HEADS["app"])):
                version = await conn.scalar(sa.text(f'SELECT version_num FROM "{schema}".{VERSION_TABLE}'))
                assert version == head
            assert await pg_structure(conn, main) == await pg_structure(conn, prefix + "app_fresh")
            assert await no_differences(conn, "app", main) == []
            assert await no_differences(conn, "registry", registry) == []


# -- writing a revision ---------------------------------------------------------------------------------------


async def test_a_new_revision_from_changed_tables(tmp_path: Path) -> None:
    """What ``python -m hivebase.db.migrations revision`` writes upgrades a current and a 0.1 database."""
    tree_copy = tmp_path / "app"
    shutil.copytree(migrations.tree_dir("app"), tree_copy, ignore=shutil.ignore_patterns("__pycache__"))
    script = ScriptDirectory(str(tree_copy))
    changed = app_tables(None)
    changed.tables["_hb_sessions"].append_column(sa.Column("agent", sa.String(200), nullable=True, index=True))
    assert authoring.new_revision("app", "nothing", script=script) is None
    path = authoring.new_revision("app", "Sessions remember the agent", metadata=changed, script=script)
    assert path is not None and path.name == "0002_sessions_remember_the_agent.py"
    code = path.read_text()
    assert "revision: str = 'app_0002'" in code and "down_revision: str | None = 'app_0001'" in code
    assert "op.add_column('_hb_sessions', sa.Column('agent', sa.String(length=200), nullable=True), " \
           "schema=schema)" in code
    script = ScriptDirectory(str(tree_copy))
    assert migrations.read_graph(tree_copy / "versions") == {"app_0001": None, "app_0002": "app_0001"}
    for start in ("new", "old"):
        path = tmp_path / f"{start}.sqlite3"
        if start == "old":
            shutil.copy(OLD / "db" / "app_main.sqlite3", path)
        engine = sa.create_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            outcome = migrations.upgrade_connection(conn, "app", None, script)
            assert (outcome.after, outcome.action) == ("app_0002", "created" if start == "new" else "stamped")
            assert differences(conn, changed) == []
        engine.dispose()


def test_migrations_ship_with_the_package() -> None:
    """Every file of the trees is a module of a package or package data (what a non-editable install ships)."""
    root = migrations.HERE
    for path in root.rglob("*"):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        if path.suffix == ".py":
            assert (path.parent / "__init__.py").exists(), f"{path} is in no package"
        else:
            assert path.name == "script.py.mako", f"{path}: add it to [tool.setuptools.package-data]"
    pyproject = (root.parents[2] / "pyproject.toml").read_text()
    assert '"hivebase.db.migrations" = ["*/script.py.mako"]' in pyproject
    assert '"alembic>=' in pyproject
