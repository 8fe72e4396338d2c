"""Plain descriptions of tables, fields and indexes as the catalog records them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

    from hivebase.core.fields.base import FieldType

USER_TABLE = "_User"  # every app's users: a catalog table with the user hooks of core/user_rows.py
BUILTIN_FIELDS = ("objectId", "createdAt", "updatedAt", "ACL", "createdBy", "updatedBy")
_GET_TYPE: list[Callable[[str], FieldType]] = []


def _type_registry() -> Callable[[str], FieldType]:
    """``fields.get_type``, imported once (fields import this module, so not at import time)."""
    if not _GET_TYPE:
        from hivebase.core.fields import get_type

        _GET_TYPE.append(get_type)
    return _GET_TYPE[0]


@dataclass(frozen=True, slots=True)
class FieldDef:
    name: str
    type: str
    required: bool = False
    unique: bool = False
    default: Any = None
    auto_increment: bool = False
    auto_increment_start: int = 1
    target: str | None = None
    note: str = ""
    builtin: bool = False

    @property
    def kind(self) -> FieldType:
        return _type_registry()(self.type)

    def with_name(self, name: str) -> FieldDef:
        return replace(self, name=name)

    def options(self) -> dict[str, Any]:
        """The catalog's JSON record of this field's options (only what differs from the defaults)."""
        out: dict[str, Any] = {}
        if self.required:
            out["required"] = True
        if self.unique:
            out["unique"] = True
        if self.default is not None:
            out["default"] = self.default
        if self.auto_increment:
            out["autoIncrement"] = True
            out["autoIncrementStart"] = self.auto_increment_start
        if self.target:
            out["targetClass"] = self.target
        if self.note:
            out["note"] = self.note
        return out

    def describe(self) -> dict[str, Any]:
        """The field as shown to callers (CLI, schema listings)."""
        out: dict[str, Any] = {"type": self.type}
        if self.required:
            out["required"] = True
        if self.unique:
            out["unique"] = True
        if self.default is not None:
            out["default"] = self.default
        if self.auto_increment:
            out["isAutoIncre"] = True
            out["autoIncreInit"] = self.auto_increment_start
        if self.target:
            out["targetClass"] = self.target
        if self.note:
            out["note"] = self.note
        if self.builtin:
            out["builtin"] = True
        return out


@dataclass(frozen=True, slots=True)
class IndexDef:
    name: str
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(slots=True)
class TableDef:
    name: str
    fields: dict[str, FieldDef]
    note: str = ""
    indexes: list[IndexDef] = field(default_factory=list)
    system: bool = False
    sa_table: sa.Table | None = None
    join_tables: dict[str, sa.Table] = field(default_factory=dict)

    @property
    def table(self) -> sa.Table:
        assert self.sa_table is not None
        return self.sa_table

    def user_fields(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if not f.builtin]

    def field_names(self) -> list[str]:
        return list(self.fields)

    def describe(self) -> dict[str, Any]:
        return {
            "className": self.name,
            "note": self.note,
            "fields": {name: f.describe() for name, f in self.fields.items()},
            "indexes": [{"name": i.name, "fields": list(i.fields), "unique": i.unique} for i in self.indexes],
        }
