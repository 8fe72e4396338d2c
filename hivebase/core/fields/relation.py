from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hivebase.core.fields import register
from hivebase.core.fields.base import FieldType
from hivebase.core.model import FieldDef
from hivebase.errors import InvalidSchema, TypeMismatch, type_of


@register
class RelationType(FieldType):
    """Many-to-many: no column of its own, a join table per field (see ``hivebase.db.ddl``)."""

    name = "Relation"
    description = 'a Relation, changed with {"__op":"AddRelation"|"RemoveRelation","objects":[Pointer,…]}'
    orderable = False
    has_column = False

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        raise TypeError("Relation fields have no column")

    def check_definition(self, field: FieldDef) -> FieldDef:
        if not field.target:
            raise InvalidSchema(f"`{field.name}`: a Relation needs a targetClass", field=field.name,
                                reason="target_missing")
        if field.unique or field.auto_increment or field.default is not None or field.required:
            raise InvalidSchema(f"`{field.name}`: a Relation takes no unique/required/default/auto-increment",
                                field=field.name)
        return field

    def validate(self, value: Any, field: FieldDef, table: str | None = None) -> Any:
        raise TypeMismatch(table, field.name, 'a relation operation ({"__op":"AddRelation","objects":[…]})',
                           type_of(value))

    def to_bmob(self, value: Any, field: FieldDef) -> Any:
        """Bmob shows a Relation as a descriptor, never its rows (those come by ``$relatedTo``)."""
        return {"__type": "Relation", "className": field.target}
