"""Column expressions for paths: a plain column, or a typed value extracted from a JSON document.

Extraction is type-guarded (a string where a number is compared yields NULL, not an error), so the
database never fails on mixed JSON content and the comparison semantics match the reference evaluator.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from hivebase.db.types import JSONType
from hivebase.errors import InvalidQuery

JSONB = postgresql.JSONB()


def sqlite_json_path(path: tuple[str | int, ...]) -> str:
    out = "$"
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += "." + '"' + p.replace('"', '""') + '"'
    return out


def scalar_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    raise InvalidQuery("only strings, numbers, booleans and null can be compared inside an Object or Array")


def json_scalar(dialect: str, col: Any, path: tuple[str | int, ...], kind: str) -> Any:
    """The value at ``path`` in JSON column ``col`` when it is of ``kind`` (number/string/bool), else NULL."""
    if dialect == "postgresql":
        keys = [str(p) for p in path]
        node = col.op("#>")(sa.literal(keys, postgresql.ARRAY(sa.Text)))
        text = col.op("#>>", return_type=sa.Text)(sa.literal(keys, postgresql.ARRAY(sa.Text)))
        jtype = sa.func.jsonb_typeof(node)
        if kind == "number":
            return sa.case((jtype == "number", sa.cast(text, sa.Float)))
        if kind == "bool":
            return sa.case((jtype == "boolean", sa.cast(text, sa.Boolean)))
        return sa.case((jtype == "string", text))
    jpath = sqlite_json_path(path)
    jtype = sa.func.json_type(col, jpath)
    value = sa.func.json_extract(col, jpath)
    if kind == "number":
        return sa.case((jtype.in_(["integer", "real"]), value))
    if kind == "bool":
        return sa.case((jtype == "true", sa.true()), (jtype == "false", sa.false()))
    return sa.case((jtype == "text", value))


def json_node(dialect: str, col: Any, path: tuple[str | int, ...]) -> Any:
    """The JSON sub-document at ``path`` (for array tests and ordering)."""
    if not path:
        return col
    if dialect == "postgresql":
        return col.op("#>", return_type=JSONB)(sa.literal([str(p) for p in path], postgresql.ARRAY(sa.Text)))
    return sa.func.json_extract(col, sqlite_json_path(path), type_=JSONType)


def json_literal(dialect: str, value: Any) -> Any:
    text = orjson.dumps(value).decode()
    if dialect == "postgresql":
        return sa.cast(sa.literal(text, sa.Text), JSONB)
    return sa.func.json(sa.literal(text, sa.Text))
