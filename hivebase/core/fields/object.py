from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hivebase.core.fields import register
from hivebase.core.fields._json import check_json
from hivebase.core.fields.base import FieldType
from hivebase.core.model import FieldDef
from hivebase.db.types import JSONType


@register
class ObjectType(FieldType):
    name = "Object"
    description = "a JSON object"
    orderable = False

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return JSONType

    def validate(self, value: Any, field: FieldDef, table: str | None = None) -> dict[str, Any]:
        if not isinstance(value, dict) or "__type" in value or "__op" in value:
            raise self.mismatch(field, table, value, "an object")
        check_json(value, field, table)
        return value
