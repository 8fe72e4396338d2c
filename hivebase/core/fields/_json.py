"""Shared limits for the JSON-backed types (Array, Object, File, Geo)."""

from __future__ import annotations

from typing import Any

import orjson

from hivebase.core.model import FieldDef
from hivebase.errors import InvalidValue

MAX_JSON_BYTES = 1_000_000
MAX_DEPTH = 32


def check_depth(value: Any, field: FieldDef, table: str | None) -> None:
    """Refuse values nested deeper than ``MAX_DEPTH`` (without recursion): stored, they could not be read back."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise InvalidValue(f"`{field.name}` nests more than {MAX_DEPTH} levels", field=field.name,
                                   table=table, reason="too_deep")
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))


def check_json(value: Any, field: FieldDef, table: str | None) -> None:
    check_depth(value, field, table)
    try:
        encoded = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidValue(f"`{field.name}` holds a value that is not JSON", field=field.name, table=table) from exc
    if len(encoded) > MAX_JSON_BYTES:
        raise InvalidValue(f"`{field.name}` is larger than {MAX_JSON_BYTES} bytes", field=field.name, table=table,
                           reason="too_long")
