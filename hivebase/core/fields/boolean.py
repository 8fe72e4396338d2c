from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hivebase.core.fields import register
from hivebase.core.fields.base import FieldType
from hivebase.core.model import FieldDef


@register
class BoolType(FieldType):
    name = "Bool"
    description = "true or false"

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Boolean()

    def validate(self, value: Any, field: FieldDef, table: str | None = None) -> bool:
        if not isinstance(value, bool):
            raise self.mismatch(field, table, value, "a boolean (true or false)")
        return value
