"""Stored rows → each dialect's wire shape: one encoder per dialect, the field types' own conversions.

Bmob writes typed JSON (``{"__type": "Date"|"Pointer"|…}``), omits unset fields, shows each Relation as a
descriptor and an expanded Pointer as ``{"__type": "Object", "className", …}``; NocoBase writes plain JSON
(ISO dates, ids as values) and shows unset fields as null. Callers name the dialect by its ``Style``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any, Literal

from hivebase.core.fields.base import FieldType
from hivebase.core.fields.date import format_bmob, format_iso
from hivebase.core.model import FieldDef, TableDef
from hivebase.core.query.compile import Embedded

Style = Literal["bmob", "nocobase"]
NULLABLE_BUILTINS = ("ACL", "createdBy", "updatedBy")


class Encoder:
    """How one dialect writes stored values; subclasses differ only where the dialects do."""

    shows_null = True  # an unset field appears as null (else it is left out)
    shows_relations = False  # every Relation field appears as a descriptor

    def value(self, kind: FieldType, value: Any, field: FieldDef) -> Any:
        return kind.to_json(value, field)

    def embedded(self, table: TableDef, inner: dict[str, Any]) -> dict[str, Any]:
        return inner

    def date(self, value: dt.datetime) -> Any:
        return format_iso(value)


class BmobEncoder(Encoder):
    shows_null = False
    shows_relations = True

    def value(self, kind: FieldType, value: Any, field: FieldDef) -> Any:
        return kind.to_bmob(value, field)

    def embedded(self, table: TableDef, inner: dict[str, Any]) -> dict[str, Any]:
        return {"__type": "Object", "className": table.name, **inner}

    def date(self, value: dt.datetime) -> Any:
        return {"__type": "Date", "iso": format_bmob(value)}


ENCODERS: dict[str, Encoder] = {"bmob": BmobEncoder(), "nocobase": Encoder()}


def render_row(tdef: TableDef, row: dict[str, Any], style: Style, *,
               relations: bool | Collection[str] = True) -> dict[str, Any]:
    """One row in a dialect's shape; ``relations``: which Relation descriptors Bmob shows (all, or the keys
    asked for)."""
    enc = ENCODERS[style]
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
            if enc.shows_null:
                out[name] = None
        else:
            out[name] = enc.value(f.kind, value, f)
    if relations and enc.shows_relations:
        for f in tdef.user_fields():
            if f.type == "Relation" and f.name not in out and (relations is True or f.name in relations):
                out[f.name] = enc.value(f.kind, None, f)
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
    return ENCODERS[style].embedded(value.table, inner)


def render_plain(value: Any, style: Style) -> Any:
    """A computed value (aggregate result, incremented number) in a dialect's shape."""
    if isinstance(value, dt.datetime):
        return ENCODERS[style].date(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value
