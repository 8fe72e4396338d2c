from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hivebase.core.fields import register
from hivebase.core.fields.base import FieldType
from hivebase.core.model import FieldDef
from hivebase.errors import InvalidValue

MAX_STRING = 1_000_000


@register
class StringType(FieldType):
    name = "String"
    description = "text"

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Text()

    def validate(self, value: Any, field: FieldDef, table: str | None = None) -> str:
        if not isinstance(value, str):
            raise self.mismatch(field, table, value, "a string")
        if len(value) > MAX_STRING:
            raise InvalidValue(f"`{field.name}` is longer than {MAX_STRING} characters", field=field.name,
                               table=table, reason="too_long")
        if "\x00" in value:
            raise InvalidValue(f"`{field.name}` contains a NUL character", field=field.name, table=table)
        return value
