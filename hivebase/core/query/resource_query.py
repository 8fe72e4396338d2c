"""NocoBase ``resource_query`` (measures, dimensions, orders, filter, having) → an IR ``Aggregate``.

``field`` is ``"author.name"`` or ``["author", "name"]`` (joins through Pointers; never through to-many
Relations). A result column's alias defaults to its dotted field as written (``count`` for a row count);
aliases are unique and plain (letters, digits, ``_ . -``) because they name result columns. ``having`` keys
are aliases, or fields of exactly one measure/dimension. The time zone applies to date grains and to
date operands of ``filter``/``having``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, cast

from hivebase.core.catalog import Catalog
from hivebase.core.model import FieldDef, TableDef
from hivebase.core.query.dates import parse_timezone
from hivebase.core.query.filter import FilterParser, decode_object, parse_filter, resolve_name
from hivebase.core.query.filter_ops import Target
from hivebase.core.query.ir import (
    Aggregate,
    AliasRef,
    Const,
    DateGrain,
    Dimension,
    Measure,
    Order,
    Path,
    Pred,
)
from hivebase.core.query.paths import MAX_SEGMENTS
from hivebase.errors import HivebaseError, InvalidQuery, suggest, type_of

Func = Literal["count", "sum", "avg", "min", "max"]
DEFAULT_LIMIT = 2000
MAX_LIMIT = 10_000
MAX_OFFSET = 10_000_000
MAX_COLUMNS = 50
ALIAS = re.compile(r"^[^\W\d][\w.\-]{0,63}$")
AGGREGATIONS = ("count", "sum", "avg", "min", "max")
SUM_TYPES = ("Number",)
MINMAX_TYPES = ("Number", "Date", "String")
GRAINS: dict[str, DateGrain] = {
    "YYYY": "year", "YYYY-MM": "month", "YYYY-MM-DD": "day", "YYYY-MM-DD HH": "hour",
    "YYYY-MM-DD HH:00": "hour", "YYYY-MM-DD HH:mm": "minute", "YYYY-MM-DD HH:mm:ss": "second",
}


def parse_resource_query(catalog: Catalog, table: TableDef, args: Mapping[str, Any], *,
                         current_user: Mapping[str, Any] | None = None) -> Aggregate:
    tz = parse_timezone(args.get("timezone"))
    measures = [_measure(catalog, table, m, i) for i, m in enumerate(_items(args, "measures"))]
    dimensions = [_dimension(catalog, table, d, i) for i, d in enumerate(_items(args, "dimensions"))]
    if not measures and not dimensions:
        raise InvalidQuery("resource_query needs at least one measure or dimension", field="measures")
    columns = Columns(table, measures, dimensions)
    where = parse_filter(catalog, table, args.get("filter"), current_user=current_user, tz_offset_minutes=tz)
    having = _having(catalog, table, columns, args.get("having"), current_user, tz)
    order = [_order(catalog, table, columns, o, i) for i, o in enumerate(_items(args, "orders"))]
    limit = _count(args.get("limit"), "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _count(args.get("offset"), "offset", 0, MAX_OFFSET)
    return Aggregate(table.name, where=where, dimensions=dimensions, measures=measures, having=having,
                     order=order, limit=limit, offset=offset, tz_offset_minutes=tz)


def _items(args: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = args.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidQuery(f"`{key}` must be a list of objects, received {type_of(value)}", field=key)
    if len(value) > MAX_COLUMNS:
        raise InvalidQuery(f"`{key}` takes at most {MAX_COLUMNS} items", field=key)
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidQuery(f"`{key}[{i}]` must be an object, received {type_of(item)}", field=key)
    return value


def field_name(spec: Any, where: str) -> str:
    """``"author.name"`` or ``["author", "name"]`` → ``author.name``."""
    if isinstance(spec, str) and spec:
        return spec
    if isinstance(spec, list) and 0 < len(spec) <= MAX_SEGMENTS and all(
            isinstance(p, str) and p and "." not in p for p in spec):
        return ".".join(spec)
    raise InvalidQuery(f"`{where}.field` must be a field name or a list of names, received "
                       f"{str(spec)[:80]!r}", field=f"{where}.field")


def _alias(value: Any, default: str, where: str) -> str:
    if value is None or value == "":
        return default
    if not isinstance(value, str) or not ALIAS.match(value):
        raise InvalidQuery(f"`{where}.alias` {str(value)[:80]!r} must start with a letter or _ and hold only "
                           "letters, digits, _, . and - (at most 64)", field=f"{where}.alias")
    return value


def _measure(catalog: Catalog, table: TableDef, spec: Mapping[str, Any], i: int) -> Measure:
    where = f"measures[{i}]"
    func = spec.get("aggregation")
    if not isinstance(func, str) or func.lower() not in AGGREGATIONS:
        raise InvalidQuery(f"`{where}.aggregation` must be one of {', '.join(AGGREGATIONS)}, received "
                           f"{str(func)[:40]!r}", field=f"{where}.aggregation")
    func = func.lower()
    distinct = spec.get("distinct", False)
    if not isinstance(distinct, bool):
        raise InvalidQuery(f"`{where}.distinct` must be true or false", field=f"{where}.distinct")
    raw = spec.get("field")
    if raw is None or raw == "*" or raw == ["*"]:
        if func != "count" or distinct:
            raise InvalidQuery(f"`{where}` needs a field (only a plain count counts rows)",
                               field=f"{where}.field")
        return Measure("count", _alias(spec.get("alias"), "count", where))
    name = field_name(raw, where)
    path = resolve_name(catalog, table, name)
    kind = "json" if path.json else path.field.type
    allowed = SUM_TYPES if func in ("sum", "avg") else MINMAX_TYPES if func in ("min", "max") else None
    if allowed is not None and kind not in (*allowed, "json"):
        raise InvalidQuery(f"`{func}` does not apply to `{path.dotted}` (a {kind} field); it needs "
                           f"{' or '.join(allowed)}", field=path.dotted)
    return Measure(cast(Func, func), _alias(spec.get("alias"), name, where), path, distinct)


def _dimension(catalog: Catalog, table: TableDef, spec: Mapping[str, Any], i: int) -> Dimension:
    where = f"dimensions[{i}]"
    name = field_name(spec.get("field"), where)
    path = resolve_name(catalog, table, name)
    fmt = spec.get("format")
    grain: DateGrain | None = None
    if fmt is not None and fmt != "":
        if path.field.type != "Date" or path.json:
            raise InvalidQuery(f"`{where}.format` applies only to Date fields; `{path.dotted}` is a "
                               f"{path.field.type} field", field=f"{where}.format")
        if not isinstance(fmt, str) or fmt not in GRAINS:
            raise InvalidQuery(f"`{where}.format` {str(fmt)[:40]!r} is not supported; use one of "
                               f"{', '.join(GRAINS)}", field=f"{where}.format")
        grain = GRAINS[fmt]
    return Dimension(path, _alias(spec.get("alias"), name, where), grain)


class Columns:
    """The result columns by alias, with the field type of each (for ``having`` operands)."""

    def __init__(self, table: TableDef, measures: list[Measure], dimensions: list[Dimension]) -> None:
        self.table = table
        self.types: dict[str, tuple[str, bool]] = {}
        self.by_field: dict[str, list[str]] = {}
        self.dimensions = dimensions
        for d in dimensions:
            self._add(d.alias, d.path.field.type, bool(d.path.json), d.path)
        for m in measures:
            if m.func in ("min", "max") and m.path is not None:
                self._add(m.alias, m.path.field.type, bool(m.path.json), m.path)
            else:
                self._add(m.alias, "Number", False, m.path)

    def _add(self, alias: str, type_: str, json: bool, path: Path | None) -> None:
        if alias in self.types:
            raise InvalidQuery(f"alias `{alias}` is used twice; give each measure and dimension its own "
                               "alias", field=alias)
        self.types[alias] = (type_, json)
        if path is not None:
            self.by_field.setdefault(path.dotted, []).append(alias)

    def lookup(self, catalog: Catalog, key: str, what: str) -> str:
        """An alias, or the field of exactly one column → that column's alias."""
        if key in self.types:
            return key
        try:
            dotted = resolve_name(catalog, self.table, key).dotted
        except HivebaseError:
            dotted = key
        aliases = self.by_field.get(dotted, [])
        if len(aliases) == 1:
            return aliases[0]
        if aliases:
            raise InvalidQuery(f"`{what}`: `{key[:80]}` is the field of several columns "
                               f"({', '.join(aliases)}); name one by its alias", field=key[:80])
        hint = suggest(key, list(self.types))
        known = f"; did you mean `{hint}`?" if hint else f"; aliases are {', '.join(self.types)}"
        raise InvalidQuery(f"`{what}`: `{key[:80]}` is not a measure or dimension alias{known}",
                           field=key[:80], suggestion=hint)

    def target(self, alias: str) -> Target:
        type_, json = self.types[alias]
        return Target(cast(Path, AliasRef(alias)), FieldDef(alias, type_), None, json, alias)


class HavingParser(FilterParser):
    """``having``: keys name result columns; conditions compare the aggregated values (``AliasRef``)."""

    def __init__(self, catalog: Catalog, columns: Columns, *, current_user: Mapping[str, Any] | None,
                 tz_offset_minutes: int) -> None:
        super().__init__(catalog, current_user=current_user, tz_offset_minutes=tz_offset_minutes)
        self.columns = columns

    def key_condition(self, table: TableDef, key: str, value: Any) -> Pred:
        alias = self.columns.lookup(self.catalog, key, "having")
        return self.field_value(table, alias, self.columns.target(alias), value)


def _having(catalog: Catalog, table: TableDef, columns: Columns, raw: Any,
            current_user: Mapping[str, Any] | None, tz: int) -> Pred:
    data = decode_object(raw, "having")
    if data is None:
        return Const(True)
    parser = HavingParser(catalog, columns, current_user=current_user, tz_offset_minutes=tz)
    return parser.condition(table, data)


def _order(catalog: Catalog, table: TableDef, columns: Columns, spec: Mapping[str, Any], i: int) -> Order:
    where = f"orders[{i}]"
    direction = spec.get("order", "asc")
    if not isinstance(direction, str) or direction.lower() not in ("asc", "desc"):
        raise InvalidQuery(f"`{where}.order` must be asc or desc", field=f"{where}.order")
    nulls = spec.get("nulls", "default")
    if nulls not in ("default", "first", "last"):
        raise InvalidQuery(f"`{where}.nulls` must be default, first or last", field=f"{where}.nulls")
    alias = spec.get("alias")
    if isinstance(alias, str) and alias in columns.types:
        name = alias
    else:
        key = field_name(spec.get("field"), where)
        if key in columns.types:
            name = key
        else:
            path = resolve_name(catalog, table, key)
            dims = [d.alias for d in columns.dimensions if d.path == path]
            if not dims:
                raise InvalidQuery(f"`{where}`: `{key[:80]}` is neither an alias nor the field of a "
                                   f"dimension; aliases are {', '.join(columns.types)}", field=key[:80])
            name = dims[0]
    return Order(alias=name, desc=direction.lower() == "desc", nulls=nulls)


def _count(value: Any, what: str, default: int, maximum: int) -> int:
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value) < 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidQuery(f"`{what}` must be a whole number ≥ 0, received {str(value)[:40]!r}", field=what)
    if value > maximum:
        raise InvalidQuery(f"`{what}` may be at most {maximum}", field=what, maximum=maximum)
    return value
