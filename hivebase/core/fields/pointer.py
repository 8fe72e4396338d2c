from __future__ import annotations

from typing import Any, TypeGuard

import sqlalchemy as sa

from hivebase.core.fields import register
from hivebase.core.fields.base import FieldType
from hivebase.core.model import FieldDef
from hivebase.errors import InvalidSchema, InvalidValue

OBJECT_ID_MAX = 64


def check_object_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= OBJECT_ID_MAX and value.isascii() and value.isprintable()


@register
class PointerType(FieldType):
    name = "Pointer"
    description = 'a Pointer ({"__type":"Pointer","className":…,"objectId":…})'

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.String(OBJECT_ID_MAX)

    def check_definition(self, field: FieldDef) -> FieldDef:
        if not field.target:
            raise InvalidSchema(f"`{field.name}`: a Pointer needs a targetClass", field=field.name,
                                reason="target_missing")
        if field.auto_increment:
            raise InvalidSchema(f"`{field.name}`: only Number fields can auto-increment", field=field.name,
                                reason="auto_increment")
        return field

    def expected(self, field: FieldDef) -> str:
        return f'a Pointer ({{"__type":"Pointer","className":"{field.target}","objectId":"…"}})'

    def validate(self, value: Any, field: FieldDef, table: str | None = None) -> str:
        if isinstance(value, str):
            exc = self.mismatch(field, table, value, self.expected(field), "a bare objectId string is not a Pointer")
            exc.reason = "pointer"  # Bmob's "invalid Pointer" (106), not a plain type error
            raise exc
        if not isinstance(value, dict) or value.get("__type") != "Pointer":
            raise self.mismatch(field, table, value, self.expected(field))
        if value.get("className") != field.target:
            raise InvalidValue(f"`{field.name}` points to {field.target}, not {str(value.get('className'))[:64]}",
                               field=field.name, table=table, reason="pointer")
        oid = value.get("objectId")
        if not check_object_id(oid):
            raise InvalidValue(f"`{field.name}`: the Pointer has no valid objectId", field=field.name,
                               table=table, reason="pointer")
        return oid

    def query_value(self, value: Any, field: FieldDef, table: str | None = None) -> str:
        if check_object_id(value):
            return value
        if isinstance(value, dict) and "__type" not in value and check_object_id(value.get("objectId")):
            return value["objectId"]  # type: ignore[no-any-return]
        return self.validate(value, field, table)

    def to_bmob(self, value: Any, field: FieldDef) -> Any:
        return {"__type": "Pointer", "className": field.target, "objectId": value}
