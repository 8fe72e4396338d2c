"""What every field type knows: its SQL column, how to validate an incoming value, how to encode it."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import sqlalchemy as sa

from hivebase.core.model import FieldDef
from hivebase.errors import InvalidSchema, TypeMismatch, type_of

Style = Literal["bmob", "nocobase"]


class FieldType:
    """Base of the 10 field types. Subclasses register themselves in ``hivebase.core.fields``."""

    name: ClassVar[str]
    orderable: ClassVar[bool] = True
    has_column: ClassVar[bool] = True
    #: the Python storage types a where/filter operand may take after ``query_value``
    description: ClassVar[str] = ""

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        raise NotImplementedError

    def check_definition(self, field: FieldDef) -> FieldDef:
        """Validate type-specific options at schema time; return the normalized definition."""
        if field.auto_increment:
            raise InvalidSchema(f"`{field.name}`: only Number fields can auto-increment", field=field.name,
                                reason="auto_increment")
        if field.target:
            raise InvalidSchema(f"`{field.name}`: targetClass is only for Pointer and Relation fields",
                                field=field.name, reason="target")
        return field

    def validate(self, value: Any, field: FieldDef, table: str | None = None) -> Any:
        """An incoming wire value (never None) → the Python value stored. Raises TypeMismatch/InvalidValue."""
        raise NotImplementedError

    def query_value(self, value: Any, field: FieldDef, table: str | None = None) -> Any:
        """A where/filter operand → a value comparable with the stored one."""
        return self.validate(value, field, table)

    def to_json(self, value: Any, field: FieldDef) -> Any:
        """A stored Python value (never None) → plain JSON: ISO dates, ids as strings (NocoBase's shape)."""
        return value

    def to_bmob(self, value: Any, field: FieldDef) -> Any:
        """A stored Python value → Bmob's typed JSON (``{"__type": …}``); plain JSON unless a type differs."""
        return self.to_json(value, field)

    def mismatch(self, field: FieldDef, table: str | None, value: Any, expected: str, hint: str = "") -> TypeMismatch:
        return TypeMismatch(table, field.name, expected, type_of(value), hint)
