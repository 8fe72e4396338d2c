from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa

from hivebase.core.fields import register
from hivebase.core.fields.base import FieldType
from hivebase.core.model import FieldDef
from hivebase.errors import InvalidSchema, InvalidValue

INT64_MAX = 2**63 - 1


@register
class NumberType(FieldType):
    name = "Number"
    description = "a number (integer or decimal)"

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        # Auto-increment values are exact integers; other numbers are IEEE doubles like JSON's.
        return sa.BigInteger() if field.auto_increment else sa.Float(precision=53)

    def check_definition(self, field: FieldDef) -> FieldDef:
        if field.target:
            raise InvalidSchema(f"`{field.name}`: targetClass is only for Pointer and Relation fields",
                                field=field.name, reason="target")
        if field.auto_increment:
            start = field.auto_increment_start
            if isinstance(start, bool) or not isinstance(start, int) or abs(start) > INT64_MAX // 2:
                raise InvalidSchema(f"`{field.name}`: autoIncreInit must be an integer", field=field.name,
                                    reason="auto_increment")
            if field.default is not None:
                raise InvalidSchema(f"`{field.name}`: an auto-increment field cannot have a default",
                                    field=field.name, reason="auto_increment")
        return field

    def validate(self, value: Any, field: FieldDef, table: str | None = None) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.mismatch(field, table, value, "a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidValue(f"`{field.name}` must be a finite number", field=field.name, table=table)
        if isinstance(value, int) and abs(value) > INT64_MAX:
            raise InvalidValue(f"`{field.name}` is out of range (±{INT64_MAX})", field=field.name, table=table,
                               reason="out_of_range")
        return value

    def to_json(self, value: Any, field: FieldDef) -> Any:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
