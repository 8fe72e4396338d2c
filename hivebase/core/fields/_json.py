"""Shared limits for the JSON-backed types (Array, Object, File, Geo)."""

from __future__ import annotations

from typing import Any

import orjson

from hivebase.core.model import FieldDef
from hivebase.errors import InvalidValue

MAX_JSON_BYTES = 1_000_000
MAX_DEPTH = 32


def check_json(value: Any, field: FieldDef, table: str | None) -> None:
    try:
        encoded = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidValue(f"`{field.name}` holds a value that is not JSON", field=field.name, table=table) from exc
    if len(encoded) > MAX_JSON_BYTES:
        raise InvalidValue(f"`{field.name}` is larger than {MAX_JSON_BYTES} bytes", field=field.name, table=table,
                           reason="too_long")
