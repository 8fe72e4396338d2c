"""Writing a new revision after changing a module of hivebase/db/tables/ (for developers, not servers):

    python -m hivebase.db.migrations revision app -m "sessions remember the user agent"

compares ``app_tables(None)`` (or ``registry_tables(None)``) with an in-memory SQLite database migrated to the
current head and writes ``versions/<n>_<slug>.py`` with the operations found, each aimed at ``schema`` (the
schema being migrated, None on SQLite). Read it before committing: autogenerate sees tables, columns, indexes
and unique constraints, not renames or data changes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from hivebase.db.migrations import VERSION_TABLE, Tree, script_directory, upgrade_connection
from hivebase.db.tables import app_tables, registry_tables
from hivebase.db.types import UTCDateTime

PLACEHOLDER = "__hb_target_schema__"


def metadata_of(tree: Tree) -> sa.MetaData:
    """What the tree's newest revision must make, as the code defines it today."""
    return registry_tables(None) if tree == "registry" else app_tables(None)


def pending(tree: Tree, metadata: sa.MetaData | None = None, script: ScriptDirectory | None = None) -> ops.UpgradeOps:
    """The operations that take a database at the head of ``tree`` to ``metadata`` (empty when none)."""
    engine = sa.create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            upgrade_connection(conn, tree, None, script)
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
            upgrade = produce_migrations(ctx, metadata if metadata is not None else metadata_of(tree)).upgrade_ops
            assert upgrade is not None
            return upgrade
    finally:
        engine.dispose()


def _aim(op: Any) -> None:
    """Point every operation at the placeholder schema (rendered as the revision's ``schema`` variable)."""
    if hasattr(op, "schema"):
        op.schema = PLACEHOLDER
    for inner in getattr(op, "ops", ()):
        _aim(inner)


def _render_type(type_: str, obj: Any, _autogen: AutogenContext) -> str | Literal[False]:
    """The column types of db/types.py as the names the revision template freezes them under."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "DATETIME"
    if type_ == "type" and isinstance(obj, sa.JSON) and getattr(obj, "_variant_mapping", None):
        return "JSON"
    return False


def render(upgrade: ops.UpgradeOps) -> tuple[str, str]:
    """(upgrade code, downgrade code) for the revision template."""
    downgrade = upgrade.reverse()
    _aim(upgrade)
    _aim(downgrade)
    return tuple(render_python_code(o, render_item=_render_type).replace(repr(PLACEHOLDER), "schema")
                 for o in (upgrade, downgrade))  # type: ignore[return-value]


def new_revision(tree: Tree, message: str, *, metadata: sa.MetaData | None = None,
                 script: ScriptDirectory | None = None) -> Path | None:
    """Write the next revision of ``tree``; None (and no file) when the tables already match."""
    script = script or script_directory(tree)
    upgrade = pending(tree, metadata, script)
    if upgrade.is_empty():
        return None
    previous = script.get_current_head()
    number = int(str(previous).rsplit("_", 1)[-1]) + 1 if previous else 1
    rev_id = f"{tree}_{number:04d}"
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"
    upgrades, downgrades = render(upgrade)
    made = script.generate_revision(rev_id, message, head="head", upgrades=upgrades, downgrades=downgrades)
    assert made is not None
    target = Path(made.path).with_name(f"{number:04d}_{slug}.py")
    Path(made.path).rename(target)
    return target
