from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hivebase.core.fields import register
from hivebase.core.fields._json import check_json
from hivebase.core.fields.base import FieldType
from hivebase.core.model import FieldDef
from hivebase.db.types import JSONType

EXPECTED = 'a File ({"__type":"File","filename":"a.png","url":"…"}, as returned by an upload)'


@register
class FileType(FieldType):
    name = "File"
    description = EXPECTED
    orderable = False

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return JSONType

    def validate(self, value: Any, field: FieldDef, table: str | None = None) -> dict[str, str]:
        if not isinstance(value, dict) or value.get("__type", "File") != "File":
            raise self.mismatch(field, table, value, EXPECTED)
        url, name = value.get("url"), value.get("filename")
        if not isinstance(url, str) or not url or not isinstance(name, str) or not name:
            raise self.mismatch(field, table, value, EXPECTED, "both `filename` and `url` are needed")
        stored = {"filename": name, "url": url}
        if isinstance(value.get("cdn"), str):
            stored["cdn"] = value["cdn"]
        check_json(stored, field, table)
        return stored

    def to_bmob(self, value: Any, field: FieldDef) -> Any:
        return {"__type": "File", **value}
