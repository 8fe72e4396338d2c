"""Rules for the names callers give tables, fields and indexes (they become quoted SQL identifiers)."""

from __future__ import annotations

import re
from typing import Any, TypeGuard

from hivebase.core.model import BUILTIN_FIELDS
from hivebase.errors import InvalidName

RULE = "use 1-40 letters, digits or '_', starting with a letter"
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
RESERVED_TABLES = {"sqlite_master", "sqlite_sequence"}
RESERVED_FIELDS = {b.lower() for b in BUILTIN_FIELDS} | {"id", "__type", "__op"}


def is_key(value: Any, max_length: int = 64) -> TypeGuard[str]:
    """Whether a caller's id, username or key could be stored at all: a non-empty string without NUL (which
    PostgreSQL text cannot hold) of at most ``max_length`` characters. Anything else matches no row."""
    return isinstance(value, str) and 0 < len(value) <= max_length and "\x00" not in value


def _shown(name: Any) -> str:
    s = str(name)
    return s if len(s) <= 64 else s[:61] + "..."


def check_table_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidName(f"invalid table name {_shown(name)!r}: {RULE}", reason="table_name", table=_shown(name))
    if name.lower() in RESERVED_TABLES or name.lower().startswith("sqlite_"):
        raise InvalidName(f"table name {name!r} is reserved", reason="table_name", table=name)
    return name


def check_field_name(name: Any, table: str | None = None) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidName(f"invalid field name {_shown(name)!r}: {RULE}", reason="field_name", field=_shown(name),
                          table=table)
    if name.lower() in RESERVED_FIELDS:
        raise InvalidName(f"`{name}` is a built-in or reserved field name and cannot be declared",
                          reason="reserved_field", field=name, table=table)
    return name
