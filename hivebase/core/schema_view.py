"""The schema as a caller may see it: compact, and cut to the tables and fields their role may read.

Agents call this before every write, so it is short (a field without options is just its type) and
it never shows what the caller's role could not read anyway.
"""

from __future__ import annotations

from typing import Any

from hivebase.core import access
from hivebase.core.apps import App
from hivebase.core.model import FieldDef, TableDef
from hivebase.core.principal import Principal
from hivebase.errors import PermissionDenied


def _field(f: FieldDef) -> str | dict[str, Any]:
    shown = f.describe()
    return shown["type"] if len(shown) == 1 else shown


def readable_fields(app: App, principal: Principal, table: str) -> frozenset[str] | bool | None:
    """The fields the caller may read (None: all), or False when it may read no row of the table."""
    seen: list[frozenset[str] | None] = []
    for action in ("list", "get"):
        try:
            seen.append(access.visible_fields(app, principal, action, table))
        except PermissionDenied:
            continue
    if not seen:
        return False
    if any(s is None for s in seen):
        return None
    return frozenset().union(*(s for s in seen if s is not None))


def _table(tdef: TableDef, visible: frozenset[str] | None) -> dict[str, Any]:
    fields = {f.name: _field(f) for f in tdef.user_fields() if visible is None or f.name in visible}
    out: dict[str, Any] = {"fields": fields}
    if tdef.note:
        out["note"] = tdef.note
    return out


async def readable_tables(app: App, principal: Principal) -> list[tuple[TableDef, frozenset[str] | None]]:
    """The tables the caller may read, each with the fields it may see (None: all), by name."""
    access.require_caller(app, principal)
    await app.catalog.refresh()
    out: list[tuple[TableDef, frozenset[str] | None]] = []
    for name in app.catalog.names():
        visible = readable_fields(app, principal, name)
        if visible is not False:
            out.append((app.catalog.get(name), visible if isinstance(visible, frozenset) else None))
    return out


async def compact(app: App, principal: Principal) -> dict[str, Any]:
    """``{table: {"note"?, "fields": {name: "Type" | {type, unique, targetClass, …}}}}`` (built-ins left out)."""
    return {tdef.name: _table(tdef, visible) for tdef, visible in await readable_tables(app, principal)}
