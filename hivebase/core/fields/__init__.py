"""Field types: one module per type, each registering itself here."""

from __future__ import annotations

from hivebase.core.fields.base import FieldType
from hivebase.errors import InvalidSchema, suggest

_TYPES: dict[str, FieldType] = {}


def register(cls: type[FieldType]) -> type[FieldType]:
    _TYPES[cls.name] = cls()
    return cls


def get_type(name: str) -> FieldType:
    t = _TYPES.get(name)
    if t is None:
        hint = suggest(name, list(_TYPES))
        msg = f"unknown field type `{name}`; types are {', '.join(_TYPES)}"
        if hint:
            msg = f"unknown field type `{name}`; did you mean `{hint}`?"
        raise InvalidSchema(msg, reason="unknown_type", suggestion=hint)
    return t


def canonical_type_name(name: str) -> str:
    """Accept any capitalisation of a type name (``string``, ``GEO``…) and return the canonical one."""
    for known in _TYPES:
        if known.lower() == name.lower():
            return known
    return get_type(name).name


def type_names() -> list[str]:
    return list(_TYPES)


from hivebase.core.fields import (  # noqa: E402  (each module registers itself on import)
    array,
    boolean,
    date,
    file,
    geo,
    number,
    object,
    pointer,
    relation,
    string,
)

__all__ = ["FieldType", "array", "boolean", "canonical_type_name", "date", "file", "geo", "get_type", "number",
           "object", "pointer", "register", "relation", "string", "type_names"]
