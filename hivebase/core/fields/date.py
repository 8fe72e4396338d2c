from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from hivebase.core.fields import register
from hivebase.core.fields.base import FieldType
from hivebase.core.model import FieldDef
from hivebase.db.types import UTCDateTime
from hivebase.errors import InvalidValue

BMOB_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse_datetime(text: str) -> dt.datetime | None:
    """Bmob's ``YYYY-MM-DD HH:MM:SS``, a bare date, or ISO 8601 with ``T``/``Z``/offset; naive means UTC."""
    s = text.strip()
    if not 10 <= len(s) <= 40:
        return None
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        value = dt.datetime.fromisoformat(s)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def format_bmob(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime(BMOB_FORMAT)


def format_iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@register
class DateType(FieldType):
    name = "Date"
    description = 'a date: {"__type":"Date","iso":"YYYY-MM-DD HH:MM:SS"} or an ISO 8601 string'

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return UTCDateTime()

    def validate(self, value: Any, field: FieldDef, table: str | None = None) -> dt.datetime:
        raw = value
        if isinstance(value, dict):
            if value.get("__type") != "Date" or not isinstance(value.get("iso"), str):
                raise self.mismatch(field, table, value, 'a Date ({"__type":"Date","iso":"YYYY-MM-DD HH:MM:SS"})')
            raw = value["iso"]
        elif isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        elif not isinstance(value, str):
            raise self.mismatch(field, table, value, 'a Date ({"__type":"Date","iso":"YYYY-MM-DD HH:MM:SS"})')
        parsed = parse_datetime(raw)
        if parsed is None:
            raise InvalidValue(f"`{field.name}`: {raw[:40]!r} is not a date (use YYYY-MM-DD HH:MM:SS or ISO 8601)",
                               field=field.name, table=table, reason="date")
        return parsed

    def to_json(self, value: Any, field: FieldDef) -> Any:
        return format_iso(value)

    def to_bmob(self, value: Any, field: FieldDef) -> Any:
        """createdAt/updatedAt as Bmob's bare strings; a Date field as ``{"__type": "Date", "iso"}``."""
        return format_bmob(value) if field.builtin else {"__type": "Date", "iso": format_bmob(value)}
