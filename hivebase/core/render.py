"""Stored rows → each dialect's wire shape, by the field types' own encoders."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from hivebase.core.fields.base import Style
from hivebase.core.model import TableDef
from hivebase.core.query.compile import Embedded

NULLABLE_BUILTINS = ("ACL", "createdBy", "updatedBy")


def render_row(tdef: TableDef, row: dict[str, Any], style: Style, *,
               relations: bool | Collection[str] = True) -> dict[str, Any]:
    """One row in a dialect's shape. Bmob: Dates as {"__type":"Date"}, Pointers as Pointer objects,
    expanded Pointers as {"__type":"Object","className":…}; NocoBase: ISO dates, ids as plain values."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        f = tdef.fields.get(name)
        if f is None:
            continue
        if value is None and name in NULLABLE_BUILTINS:
            continue
        if isinstance(value, Embedded):
            out[name] = render_embedded(value, style)
        elif isinstance(value, list) and f.type == "Relation":
            out[name] = [render_embedded(v, style) for v in value]
        elif value is None:
            if style != "bmob":  # Bmob omits unset fields; NocoBase shows them as null
                out[name] = None
        else:
            out[name] = f.kind.encode(value, f, style)
    if relations and style == "bmob":  # Bmob shows each Relation as a descriptor (of the keys asked for)
        for f in tdef.user_fields():
            if f.type == "Relation" and f.name not in out and (relations is True or f.name in relations):
                out[f.name] = f.kind.encode(None, f, style)
    return out


def render_rows(tdef: TableDef, rows: list[dict[str, Any]], style: Style,
                keys: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows in a dialect's shape; with ``keys``, Bmob's Relation descriptors only for the keys asked for."""
    relations = True if keys is None else keys
    return [render_row(tdef, r, style, relations=relations) for r in rows]


def render_groups(rows: list[dict[str, Any]], style: Style) -> list[dict[str, Any]]:
    """Aggregate rows (alias → computed value) in a dialect's shape."""
    return [{k: render_plain(v, style) for k, v in r.items()} for r in rows]


def render_embedded(value: Embedded, style: Style) -> dict[str, Any]:
    inner = render_row(value.table, dict(value), style, relations=False)
    if style == "bmob":
        return {"__type": "Object", "className": value.table.name, **inner}
    return inner


def render_value(tdef: TableDef, name: str, value: Any, style: Style) -> Any:
    f = tdef.fields[name]
    return None if value is None else f.kind.encode(value, f, style)


def render_plain(value: Any, style: Style) -> Any:
    """A computed value (aggregate result, incremented number) in a dialect's shape."""
    import datetime as dt

    from hivebase.core.fields.date import format_bmob, format_iso

    if isinstance(value, dt.datetime):
        return {"__type": "Date", "iso": format_bmob(value)} if style == "bmob" else format_iso(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value
