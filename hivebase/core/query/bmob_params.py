"""Bmob query parameters (``where order limit skip keys include count`` and the aggregation ones) → IR.

Values arrive as strings from a URL (``limit=10``, ``order=score,-name``) or as native JSON values from MCP
tools (``10``, ``["score","-name"]``); both are accepted. A door calls ``parse_aggregate`` first: it returns
None when the request asks for no aggregation, and the request is then a plain find (``parse_find``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from hivebase.core.catalog import Catalog
from hivebase.core.model import FieldDef, TableDef
from hivebase.core.query import ir, paths
from hivebase.core.query.ir import Cmp, Const, InList, Or, Order, Path, Pred, conj
from hivebase.core.query.where import MAX_DEPTH, MAX_LIST, MAX_NODES, load_json, nearest_order, parse_where
from hivebase.core.query.where import refuse_operator as refuse
from hivebase.errors import InvalidQuery, UnknownField, type_of

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SKIP = 10_000_000
MAX_INCLUDE_DEPTH = 3
MAX_NAMES = 100  # names in one of order/keys/include/groupby/sum…
INTEGER = re.compile(r"[+-]?\d{1,19}")
TRUE, FALSE = ("1", "true"), ("0", "false", "")
# parameter → (function, alias prefix)
MEASURES: dict[str, tuple[Literal["sum", "avg", "min", "max"], str]] = {
    "sum": ("sum", "_sum"), "average": ("avg", "_avg"), "max": ("max", "_max"), "min": ("min", "_min")}
HAVING_OPS = ("$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin")


def parse_find(catalog: Catalog, table: TableDef, params: Mapping[str, Any]) -> tuple[ir.Select, bool]:
    """A find's Select, and whether a count was asked (``count=1``/``true``). ``$nearSphere`` sorts by
    distance unless an explicit order is given."""
    where = parse_where(catalog, table, params.get("where"))
    order = parse_order(catalog, table, params.get("order"))
    near = nearest_order(where)
    if not order and near is not None:
        order = [near]
    select = ir.Select(table=table.name, where=where, order=order,
                       limit=int_param(params, "limit", DEFAULT_LIMIT, MAX_LIMIT),
                       offset=int_param(params, "skip", 0, MAX_SKIP),
                       keys=parse_keys(table, params.get("keys")),
                       include=parse_include(catalog, table, params.get("include")))
    return select, flag(params, "count")


def names(value: Any, param: str) -> list[str]:
    """``a,b`` or ``["a","b"]`` → stripped, non-empty names."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        items = [part for v in value for part in v.split(",")]
    else:
        raise InvalidQuery(f"`{param}` takes comma-separated field names, received {type_of(value)}",
                           field=param)
    out = [i.strip() for i in items if i.strip()]
    if len(out) > MAX_NAMES:
        raise InvalidQuery(f"`{param}` takes at most {MAX_NAMES} names", field=param, reason="too_large")
    return out


def int_param(params: Mapping[str, Any], name: str, default: int, maximum: int) -> int:
    """A non-negative integer parameter within ``maximum`` (an error above it, never a silent clamp)."""
    value = params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and INTEGER.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuery(f"`{name}` must be an integer, received {type_of(params.get(name))}", field=name)
    if value < 0:
        raise InvalidQuery(f"`{name}` must be 0 or more", field=name)
    if value > maximum:
        raise InvalidQuery(f"`{name}` may be at most {maximum}", field=name, maximum=maximum)
    return value


def flag(params: Mapping[str, Any], name: str) -> bool:
    """``1``/``true`` or ``0``/``false`` (absent: false)."""
    value = params.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = value.strip().lower() if isinstance(value, str) else None
    if text in TRUE or text in FALSE:
        return text in TRUE
    raise InvalidQuery(f"`{name}` takes 1/true or 0/false", field=name)


def parse_order(catalog: Catalog, table: TableDef, value: Any) -> list[Order]:
    """``score,-name``: fields (or values inside Object fields) of orderable types; ``-`` for descending."""
    out: list[Order] = []
    for item in names(value, "order"):
        desc, name = item.startswith("-"), item.lstrip("+-").strip()
        if not name:
            raise InvalidQuery("`order` takes field names, each optionally preceded by `-`", field="order")
        path = paths.resolve(catalog, table, name, follow_pointers=False)
        if not path.json and not path.field.kind.orderable:
            raise InvalidQuery(f"`{path.dotted}` is a {path.field.type} field: it cannot be ordered",
                               field=path.dotted)
        if any(o.path == path for o in out):
            raise InvalidQuery(f"`order` names `{path.dotted}` twice", field=path.dotted)
        out.append(Order(path=path, desc=desc))
    return out


def parse_keys(table: TableDef, value: Any) -> list[str] | None:
    """``keys=a,b``: the fields to return (None: all). Names are checked; duplicates dropped."""
    out: list[str] = []
    for name in names(value, "keys"):
        if "." in name:
            raise InvalidQuery(f"`keys` takes field names; `{name[:80]}` is a path", field="keys")
        f = paths.field_of(table, name)
        if f.name not in out:
            out.append(f.name)
    return out or None


def parse_include(catalog: Catalog, table: TableDef, value: Any) -> list[ir.Include]:
    """``include=author,post.author``: Pointers to expand in place, nested up to 3 deep, duplicates merged."""
    tree: dict[str, tuple[FieldDef, dict[str, Any]]] = {}
    for item in names(value, "include"):
        parts = item.split(".")
        if len(parts) > MAX_INCLUDE_DEPTH or not all(parts):
            raise InvalidQuery(f"`include`: `{item[:80]}` must be Pointer fields joined by dots, at most "
                               f"{MAX_INCLUDE_DEPTH} deep", field="include")
        current, node = table, tree
        for seg in parts:
            f = paths.field_of(current, seg)
            if f.type != "Pointer":
                raise InvalidQuery(f"`include`: `{current.name}.{f.name}` is a {f.type} field, not a Pointer",
                                   field=f.name, table=current.name)
            node = node.setdefault(seg, (f, {}))[1]
            current = catalog.get(f.target or "")
    return _includes(tree)


def _includes(node: dict[str, tuple[FieldDef, dict[str, Any]]]) -> list[ir.Include]:
    return [ir.Include(f, tuple(_includes(children))) for f, children in node.values()]


# -- aggregation ------------------------------------------------------------------------------------------


def parse_aggregate(catalog: Catalog, table: TableDef, params: Mapping[str, Any]) -> ir.Aggregate | None:
    """Bmob's aggregation parameters → Aggregate; None when none of groupby/groupcount/sum/average/max/min
    asks for one. Result columns: groupby fields under their own names, ``_count``, ``_sumScore``…"""
    groupby = names(params.get("groupby"), "groupby")
    counted = flag(params, "groupcount")
    asked = {p: names(params.get(p), p) for p in MEASURES}
    if not groupby and not counted and not any(asked.values()):
        return None
    dimensions: list[ir.Dimension] = []
    columns: dict[str, Column] = {}
    for name in groupby:
        f = paths.field_of(table, name)
        if not f.kind.orderable:
            raise InvalidQuery(f"`groupby`: `{f.name}` is a {f.type} field: it cannot be grouped",
                               field=f.name)
        add_column(columns, Column(f, day=f.type == "Date"))
        dimensions.append(ir.Dimension(Path(f), alias=f.name, grain="day" if f.type == "Date" else None))
    measures = [ir.Measure("count", "_count")] if counted else []
    if counted:
        add_column(columns, Column(FieldDef("_count", "Number")))
    for param, fields in asked.items():
        func, prefix = MEASURES[param]
        allowed = ("Number",) if func in ("sum", "avg") else ("Number", "Date")
        for name in fields:
            f = paths.field_of(table, name)
            if f.type not in allowed:
                raise InvalidQuery(f"`{param}`: `{f.name}` is a {f.type} field; {param} takes "
                                   f"{' or '.join(allowed)} fields", field=f.name)
            alias = prefix + f.name[0].upper() + f.name[1:]
            add_column(columns, Column(FieldDef(alias, "Number" if func in ("sum", "avg") else f.type)))
            measures.append(ir.Measure(func, alias, Path(f)))
    order: list[Order] = []
    for item in names(params.get("order"), "order"):
        alias = column(table, columns, item.lstrip("+-").strip())
        if any(o.alias == alias for o in order):
            raise InvalidQuery(f"`order` names `{alias}` twice", field=alias)
        order.append(Order(alias=alias, desc=item.startswith("-")))
    return ir.Aggregate(table=table.name, where=parse_where(catalog, table, params.get("where")),
                        dimensions=dimensions, measures=measures,
                        having=parse_having(table, columns, params.get("having")), order=order,
                        limit=int_param(params, "limit", DEFAULT_LIMIT, MAX_LIMIT),
                        offset=int_param(params, "skip", 0, MAX_SKIP))


@dataclass(frozen=True, slots=True)
class Column:
    """A result column of an aggregate (``field`` is named after it), and how having operands convert."""

    field: FieldDef
    day: bool = False  # a Date grouped by day: the compiler yields "YYYY-MM-DD" text, so operands become that

    def convert(self, value: Any, table: str) -> Any:
        stored = self.field.kind.query_value(value, self.field, table)
        return stored.strftime("%Y-%m-%d") if self.day else stored


def add_column(columns: dict[str, Column], c: Column) -> None:
    if c.field.name in columns:
        raise InvalidQuery(f"the result column `{c.field.name}` is asked twice", field=c.field.name)
    columns[c.field.name] = c


def column(table: TableDef, columns: dict[str, Column], name: str) -> str:
    if name not in columns:
        raise UnknownField(table.name, name[:64], list(columns), reason="unknown_column")
    return name


def parse_having(table: TableDef, columns: dict[str, Column], having: Any) -> Pred:
    """A where-style filter on result columns; its paths are ``AliasRef``s standing in for ``Path``s."""
    if having is None or (isinstance(having, str) and not having.strip()):
        return Const(True)
    return _having(table, columns, load_json(having, "having"), 1, [0])


def _having(table: TableDef, columns: dict[str, Column], doc: Any, depth: int, budget: list[int]) -> Pred:
    if depth > MAX_DEPTH:
        raise InvalidQuery(f"having nests $and/$or more than {MAX_DEPTH} levels deep", reason="too_large")
    if not isinstance(doc, dict):
        raise InvalidQuery(f"having must be a JSON object, received {type_of(doc)}")
    preds: list[Pred] = []
    for key, value in doc.items():
        budget[0] += 1
        if budget[0] > MAX_NODES:
            raise InvalidQuery(f"having holds more than {MAX_NODES} conditions", reason="too_large")
        if not isinstance(key, str):
            raise InvalidQuery("having keys must be result column names")
        if key in ("$or", "$and"):
            if not isinstance(value, list) or not value:
                raise InvalidQuery(f"`{key}` takes a non-empty array of filters", operator=key)
            items = [_having(table, columns, v, depth + 1, budget) for v in value]
            preds.append(conj(*items) if key == "$and" else items[0] if len(items) == 1 else Or(tuple(items)))
        elif key.startswith("$"):
            raise refuse(key, ("$or", "$and"))
        else:
            preds.append(_having_column(table, columns[column(table, columns, key)], value))
    return conj(*preds)


def _having_column(table: TableDef, c: Column, value: Any) -> Pred:
    f = c.field
    ref = cast(Path, ir.AliasRef(f.name))  # the compiler resolves AliasRef wherever a Path may stand
    is_ops = isinstance(value, dict) and bool(value) and all(str(k).startswith("$") for k in value)
    preds: list[Pred] = []
    for op, operand in (value.items() if is_ops else [("$eq", value)]):
        if op not in HAVING_OPS:
            raise refuse(op, HAVING_OPS)
        if op in ("$in", "$nin"):
            if not isinstance(operand, list) or len(operand) > MAX_LIST:
                raise InvalidQuery(f"`{f.name}`: {op} takes an array of at most {MAX_LIST} values",
                                   field=f.name, operator=op)
            items = tuple(c.convert(v, table.name) for v in operand if v is not None)
            nulls = [Cmp(ref, "eq" if op == "$in" else "ne", None)] if None in operand else []
            if op == "$in":
                alts: list[Pred] = [*([InList(ref, items)] if items else []), *nulls]
                preds.append(Const(False) if not alts else alts[0] if len(alts) == 1 else Or(tuple(alts)))
            else:
                preds.append(conj(InList(ref, items, negate=True) if items else Const(True), *nulls))
        elif operand is None:
            if op not in ("$eq", "$ne"):
                raise InvalidQuery(f"`{f.name}`: {op} needs a value, not null", field=f.name, operator=op)
            preds.append(Cmp(ref, "eq" if op == "$eq" else "ne", None))
        else:
            preds.append(Cmp(ref, op[1:], c.convert(operand, table.name)))  # type: ignore[arg-type]
    return conj(*preds)
