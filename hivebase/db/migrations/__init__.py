"""Alembic migrations of the system tables, run by the server itself (no ``alembic.ini``, no ``env.py``).

Two trees: ``registry`` (the registry database: ``hivebase.sqlite3`` or schema ``hivebase``) and ``app`` (each
app's SQLite file or schema). Each database or schema keeps its own version in ``_hb_alembic_version`` (a name
no user table can take). ``upgrade`` brings one to the head of its tree: one ``SELECT`` when it is already there;
otherwise, under a lock (SQLite: the write lock, ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock on the
schema's name, held until the transaction ends), it re-reads the version and runs what is missing, all in one
transaction. A database made before migrations existed (system tables present, no version) is stamped with the
first revision, which creates exactly what ``create_all`` made then, and upgraded from there. Alembic itself is
imported only when something has to run: the head revision is read from the ``revision`` lines of the files.

Revisions take their schema from ``target_schema()`` (None on SQLite); see docs/operations.md for adding one.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.db.engine import Database

if TYPE_CHECKING:  # Alembic is imported only when a migration runs: a current database never needs it
    from alembic.runtime.migration import MigrationContext, RevisionStep
    from alembic.script import ScriptDirectory

Tree = Literal["registry", "app"]
TREES: tuple[Tree, ...] = ("registry", "app")
VERSION_TABLE = "_hb_alembic_version"
#: a table every database of the tree had before migrations: its presence without a version means "made by 0.1"
LEGACY_MARKER: dict[Tree, str] = {"registry": "_hb_apps", "app": "_hb_tables"}
#: the first revision of each tree: exactly the tables ``create_all`` made before migrations
BASELINE: dict[Tree, str] = {"registry": "registry_0001", "app": "app_0001"}
HERE = Path(__file__).parent
Action = Literal["created", "stamped", "upgraded", "current", "behind", "ahead"]


class UnknownRevision(RuntimeError):
    """The database is at a revision this version of hivebase does not have: a newer one migrated it."""


def tree_dir(tree: Tree) -> Path:
    return HERE / tree


@functools.cache
def script_directory(tree: Tree) -> ScriptDirectory:
    """The tree's revisions as Alembic reads them, once per process."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(tree_dir(tree)))


_REVISION = re.compile(r"^revision: str = ['\"]([\w-]+)['\"]$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision: str \| None = (?:['\"]([\w-]+)['\"]|None)$", re.MULTILINE)


def read_graph(versions: Path) -> dict[str, str | None]:
    """Revision → the revision it follows, from the ``revision`` / ``down_revision`` lines of ``versions/*.py``
    (without importing Alembic or the revisions; a test checks Alembic agrees)."""
    graph: dict[str, str | None] = {}
    for path in sorted(versions.glob("*.py")):
        if path.name == "__init__.py":
            continue
        text = path.read_text(encoding="utf-8")
        rev, down = _REVISION.search(text), _DOWN_REVISION.search(text)
        if rev is None or down is None:
            raise RuntimeError(f"{path}: needs the lines `revision: str = '…'` and `down_revision: str | None = …` "
                               "(one parent: the history is a line)")
        graph[rev.group(1)] = down.group(1)
    return graph


@functools.cache
def known(tree: Tree) -> frozenset[str]:
    """Every revision of the tree."""
    return frozenset(read_graph(tree_dir(tree) / "versions"))


@functools.cache
def head(tree: Tree) -> str:
    """The tree's newest revision."""
    graph = read_graph(tree_dir(tree) / "versions")
    heads = sorted(set(graph) - set(graph.values()))
    if len(heads) != 1:
        raise RuntimeError(f"the {tree} migrations have {len(heads)} heads {heads}: there must be exactly one")
    return heads[0]


def target_schema() -> str | None:
    """Inside a revision: the schema being migrated (None: an SQLite file)."""
    from alembic import op

    return op.get_context().version_table_schema


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``upgrade`` (or ``status``) found and left: revisions ``before`` → ``after`` (None: no version)."""

    tree: Tree
    before: str | None
    after: str | None
    action: Action

    @property
    def head(self) -> str:
        """The newest revision of the tree."""
        return head(self.tree)

    @property
    def at_head(self) -> bool:
        return self.after == self.head

    def to_dict(self) -> dict[str, Any]:
        return {"tree": self.tree, "from": self.before, "to": self.after, "action": self.action, "head": self.head}


def _version_table(schema: str | None) -> sa.Table:
    return sa.Table(VERSION_TABLE, sa.MetaData(schema=schema), sa.Column("version_num", sa.String(32)))


async def current(db: Database) -> str | None:
    """The revision the database is at; None when it has no version (new, or made before migrations)."""
    t = _version_table(db.schema)
    try:
        async with db.read() as conn:
            return await conn.scalar(sa.select(t.c.version_num).limit(1))
    except DBAPIError:  # no such table (or schema) yet
        return None


def _context(conn: Connection, script: ScriptDirectory, schema: str | None, **opts: Any) -> MigrationContext:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "version_table_schema": schema,
                                                  "script": script, **opts})


def _is_legacy(conn: Connection, tree: Tree, schema: str | None) -> bool:
    return sa.inspect(conn).has_table(LEGACY_MARKER[tree], schema=schema)


def upgrade_connection(conn: Connection, tree: Tree, schema: str | None,
                       script: ScriptDirectory | None = None) -> Outcome:
    """Bring the database behind ``conn`` (in a transaction the caller holds and commits) to the tree's head
    (``script``: another directory of the tree's revisions, for writing a new one)."""
    script = script or script_directory(tree)
    target = head(tree) if script is script_directory(tree) else str(script.get_current_head())
    ctx = _context(conn, script, schema)
    before = ctx.get_current_revision()
    if before == target:
        return Outcome(tree, before, before, "current")
    if before is not None and before not in {r.revision for r in script.walk_revisions()}:
        where = f"schema {schema}" if schema else "this database"
        raise UnknownRevision(f"{where} is at {tree} revision {before!r}, which this version of hivebase does not "
                              "know: a newer version migrated it; run that version, or restore a backup")
    stamped = before is None and _is_legacy(conn, tree, schema)
    if stamped:
        ctx.stamp(script, BASELINE[tree])
    start = ctx.get_current_revision()
    if start != target:
        revisions = script

        def steps(rev: Iterable[str], _ctx: MigrationContext) -> list[RevisionStep]:
            return revisions._upgrade_revs(target, rev)  # type: ignore[arg-type]

        from alembic.operations import Operations

        ctx = _context(conn, script, schema, fn=steps)
        with Operations.context(ctx):
            ctx.run_migrations()
    return Outcome(tree, before, target, "stamped" if stamped else "created" if before is None else "upgraded")


@contextlib.asynccontextmanager
async def _locked(db: Database) -> AsyncIterator[AsyncConnection]:
    """A write transaction that no other process's migration of the same database runs beside."""
    async with db.write() as conn:  # SQLite: BEGIN IMMEDIATE, one writer across processes
        if db.dialect == "postgresql" and db.schema is not None:
            # Released at commit or rollback; a second process waits here, then finds the work done.
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('hivebase.migrate'), hashtext(:s))"),
                               {"s": db.schema})
            quote = conn.dialect.identifier_preparer.quote_schema
            await conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {quote(db.schema)}"))
        yield conn


async def upgrade(db: Database, tree: Tree) -> Outcome:
    """Bring ``db`` to the head of ``tree``; a single read when it is there already."""
    found = await current(db)
    if found == head(tree):
        return Outcome(tree, found, found, "current")
    async with _locked(db) as conn:
        # re-read under the lock: another process may have done it meanwhile (then "current")
        outcome: Outcome = await conn.run_sync(upgrade_connection, tree, db.schema)
    return outcome


async def status(db: Database, tree: Tree) -> Outcome:
    """Where ``db`` stands, changing nothing: ``current``, ``behind`` (``after`` is its revision, None for
    a database made before migrations or never made) or ``ahead`` (at a revision this version lacks)."""
    found = await current(db)
    if found == head(tree):
        return Outcome(tree, found, found, "current")
    return Outcome(tree, found, found, "ahead" if found is not None and found not in known(tree) else "behind")


__all__ = ["BASELINE", "TREES", "VERSION_TABLE", "Outcome", "Tree", "UnknownRevision", "head", "status",
           "target_schema", "upgrade"]
