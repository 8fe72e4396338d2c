from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa

from hivebase.core.fields import register
from hivebase.core.fields.base import FieldType
from hivebase.core.model import FieldDef
from hivebase.db.types import JSONType
from hivebase.errors import InvalidValue

EXPECTED = 'a GeoPoint ({"__type":"GeoPoint","latitude":…,"longitude":…})'


def parse_point(value: Any) -> tuple[float, float] | None:
    """(latitude, longitude) of a GeoPoint-like object, or None when it is not one; ranges unchecked."""
    if not isinstance(value, dict) or value.get("__type", "GeoPoint") != "GeoPoint":
        return None
    lat, lng = value.get("latitude"), value.get("longitude")
    for v in (lat, lng):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return None
    return float(lat), float(lng)  # type: ignore[arg-type]


def check_range(lat: float, lng: float, name: str, table: str | None = None) -> None:
    if not -90 <= lat <= 90 or not -180 <= lng <= 180:
        raise InvalidValue(f"`{name}`: latitude must be within ±90 and longitude within ±180",
                           field=name, table=table, reason="geo_range")


@register
class GeoType(FieldType):
    name = "Geo"
    description = EXPECTED
    orderable = False

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return JSONType

    def validate(self, value: Any, field: FieldDef, table: str | None = None) -> dict[str, float]:
        point = parse_point(value)
        if point is None:
            raise self.mismatch(field, table, value, EXPECTED)
        check_range(*point, field.name, table)
        return {"latitude": point[0], "longitude": point[1]}

    def to_bmob(self, value: Any, field: FieldDef) -> Any:
        return {"__type": "GeoPoint", **value}
