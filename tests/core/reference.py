"""A plain-Python reference for the query engine, used by the property tests.

Written from the documented semantics (ir.py's docstring and node docstrings, the Bmob and NocoBase dialect
references, the parsers' docstrings), never from the compiler: it walks Python values row by row.

Rows are given in *stored form*: a dict of field name → Python value (str, int/float, bool, aware UTC
datetime, list, dict), a missing key or None meaning null. Inside Object/Array values a JSON null and a
missing key are both null.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from hivebase.core.query import ir

UTC = dt.UTC
Row = Mapping[str, Any]


# -- values ---------------------------------------------------------------------------------------------------

def kind(v: Any) -> str:
    """The JSON kind of a value; bools are not numbers."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dt.datetime):
        return "date"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    raise TypeError(f"unexpected value {v!r}")


def same(a: Any, b: Any) -> bool:
    """Typed equality: 1 == 1.0, but 1 != True and 1 != "1"."""
    return a is not None and kind(a) == kind(b) and a == b


def walk(value: Any, keys: tuple[str | int, ...]) -> Any:
    for k in keys:
        if isinstance(k, int) and isinstance(value, list):
            value = value[k] if 0 <= k < len(value) else None
        elif isinstance(k, str) and isinstance(value, dict):
            value = value.get(k)
        else:
            return None
    return value


def dotted(row: Row, key: str) -> Any:
    """The value of a dotted key (``meta.d.k``, ``tags.0``); digit segments index arrays."""
    name, *rest = key.split(".")
    return walk(row.get(name), tuple(int(p) if p.isdigit() else p for p in rest))


def parse_date(text: str, offset_minutes: int = 0) -> dt.datetime:
    """``YYYY-MM-DD HH:MM:SS`` / ISO 8601 → aware UTC; a naive time is read at ``offset_minutes`` east of UTC."""
    s = text.strip().replace(" ", "T", 1)
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    value = dt.datetime.fromisoformat(s)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_minutes)))
    return value.astimezone(UTC)


def wire_date(value: Any) -> dt.datetime:
    """A Bmob Date (``{"__type":"Date","iso":…}``) or a date string → aware UTC."""
    if isinstance(value, dict):
        return parse_date(value["iso"])
    return parse_date(value)


def stored_row(wire: Mapping[str, Any], types: Mapping[str, str]) -> dict[str, Any]:
    """A row as written through the API → its stored form (Dates parsed; everything else as is)."""
    out: dict[str, Any] = {}
    for name, value in wire.items():
        if value is not None and types[name] == "Date":
            value = wire_date(value)
        out[name] = value
    return out


def ordered(op: str, v: Any, operand: Any) -> bool:
    """``v op operand`` for a non-null v of the operand's kind."""
    if op == "lt":
        return bool(v < operand)
    if op == "lte":
        return bool(v <= operand)
    if op == "gt":
        return bool(v > operand)
    if op == "gte":
        return bool(v >= operand)
    raise ValueError(op)


def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE (``%`` any run, ``_`` one character, no escape character) as a Python regex."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def text_match(op: str, value: str, pattern: str, case_insensitive: bool) -> bool:
    if case_insensitive:  # ASCII only, as documented
        value, pattern = value.lower(), pattern.lower()
    if op == "contains":
        return pattern in value
    if op == "startswith":
        return value.startswith(pattern)
    if op == "endswith":
        return value.endswith(pattern)
    if op == "eq":
        return value == pattern
    if op == "like":
        return like_regex(pattern).fullmatch(value) is not None
    raise ValueError(op)


def contains(array: list[Any], x: Any) -> bool:
    return any(same(e, x) for e in array)


def array_has(v: Any, values: tuple[Any, ...] | list[Any], mode: str) -> bool:
    """ArrayHas: any — shares an element; all — holds every value; none — holds none; exact — the same set."""
    if mode == "none":
        return not (isinstance(v, list) and any(contains(v, x) for x in values))
    if not isinstance(v, list):
        return False
    if mode == "any":
        return any(contains(v, x) for x in values)
    holds_all = all(contains(v, x) for x in values)
    if mode == "all":
        return holds_all
    if mode == "exact":
        return holds_all and all(contains(list(values), e) for e in v)
    raise ValueError(mode)


def array_empty(v: Any) -> bool:
    """True for null or []."""
    return v is None or v == []


def non_empty_array(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 0


# -- IR -------------------------------------------------------------------------------------------------------

def ir_value(row: Row, path: ir.Path) -> Any:
    assert not path.hops, "the property tests query one table"
    return walk(row.get(path.field.name), path.json)


def typed(path: ir.Path, v: Any, operand: Any) -> Any:
    """Inside JSON the operand's kind picks the comparison: a value of another kind counts as null."""
    if path.json and kind(v) != kind(operand):
        return None
    return v


def eval_ir(p: ir.Pred, row: Row) -> bool:
    if isinstance(p, ir.Const):
        return p.value
    if isinstance(p, ir.And):
        return all(eval_ir(i, row) for i in p.items)
    if isinstance(p, ir.Or):
        return any(eval_ir(i, row) for i in p.items)
    if isinstance(p, ir.Not):
        return not eval_ir(p.item, row)
    if isinstance(p, ir.Cmp):
        raw = ir_value(row, p.path)
        if p.value is None:
            return (raw is None) if p.op == "eq" else (raw is not None)
        v = typed(p.path, raw, p.value)
        if v is None:
            return p.op == "ne"  # ne is true for nulls, every other comparison false
        if p.op == "eq":
            return same(v, p.value)
        if p.op == "ne":
            return not same(v, p.value)
        return ordered(p.op, v, p.value)
    if isinstance(p, ir.InList):
        raw = ir_value(row, p.path)
        hit = (raw is None and None in p.values) or (
            raw is not None and any(x is not None and same(typed(p.path, raw, x), x) for x in p.values))
        return hit != p.negate
    if isinstance(p, ir.Text):
        v = ir_value(row, p.path)
        hit = isinstance(v, str) and text_match(p.op, v, p.pattern, p.case_insensitive)
        return hit != p.negate
    if isinstance(p, ir.Regex):
        v = ir_value(row, p.path)
        flags = re.IGNORECASE if p.case_insensitive else 0
        hit = isinstance(v, str) and re.search(p.pattern, v, flags) is not None
        return hit != p.negate
    if isinstance(p, ir.ArrayHas):
        return array_has(ir_value(row, p.path), p.values, p.mode)
    if isinstance(p, ir.ArrayEmpty):
        v = ir_value(row, p.path)
        return non_empty_array(v) if p.negate else array_empty(v)
    raise TypeError(f"no reference for {type(p).__name__}")


# -- Bmob where -----------------------------------------------------------------------------------------------

class BmobRef:
    """Parse/Mongo ``where`` semantics over stored rows, with ir.py's null rules (missing = null; ``$ne`` and
    ``$nin`` hold for nulls; ``$exists`` is "not null"). On a whole Array field a scalar operand means
    "contains", an array operand "exactly this set", ``$in``/``$nin`` "shares an element"/"shares none"."""

    def __init__(self, types: Mapping[str, str]) -> None:
        self.types = types

    def operand(self, key: str, value: Any) -> Any:
        """A wire operand → the stored form of the key's field (JSON values inside Objects stay as they are)."""
        if value is None or "." in key:
            return value
        if self.types[key] == "Date":
            return wire_date(value)
        return value

    def matches(self, where: Mapping[str, Any], row: Row) -> bool:
        return all(self.term(k, v, row) for k, v in where.items())

    def term(self, key: str, value: Any, row: Row) -> bool:
        if key == "$or":
            return any(self.matches(w, row) for w in value)
        if key == "$and":
            return all(self.matches(w, row) for w in value)
        v = dotted(row, key)
        if isinstance(value, dict) and value and all(k.startswith("$") for k in value):
            return all(self.op(key, op, operand, value, v) for op, operand in value.items() if op != "$options")
        return self.equal(key, v, value)

    def whole_array(self, key: str) -> bool:
        return "." not in key and self.types[key] == "Array"

    def equal(self, key: str, v: Any, operand: Any) -> bool:
        if operand is None:
            return v is None
        if self.whole_array(key):
            if isinstance(operand, list):
                return array_has(v, operand, "exact")
            return array_has(v, (operand,), "any")
        return same(v, self.operand(key, operand))

    def in_list(self, key: str, v: Any, operand: list[Any]) -> bool:
        if self.whole_array(key):
            return array_has(v, operand, "any")
        if v is None:
            return None in operand
        return any(same(v, self.operand(key, x)) for x in operand if x is not None)

    def op(self, key: str, op: str, operand: Any, ops: Mapping[str, Any], v: Any) -> bool:
        if op == "$eq":
            return self.equal(key, v, operand)
        if op == "$ne":
            return not self.equal(key, v, operand)
        if op in ("$lt", "$lte", "$gt", "$gte"):
            x = self.operand(key, operand)
            return v is not None and kind(v) == kind(x) and ordered(op[1:], v, x)
        if op == "$in":
            return self.in_list(key, v, operand)
        if op == "$nin":
            return not self.in_list(key, v, operand)
        if op == "$exists":
            return (v is not None) == operand
        if op == "$all":
            return bool(operand) and array_has(v, operand, "all")
        if op == "$regex":
            flags = re.IGNORECASE if "i" in ops.get("$options", "") else 0
            return isinstance(v, str) and re.search(operand, v, flags) is not None
        raise ValueError(op)


# -- NocoBase filter ------------------------------------------------------------------------------------------

PERIOD = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class NocoRef:
    """NocoBase filter semantics (dialect reference + filter_ops' docstring): negative operators hold for
    nulls; text operators are case-insensitive substring tests (a list: any of them / none of them); a bare
    date is that whole day (month, year) at the caller's offset, compared by its start for $gt/$eq…; flag
    operators turn around only on ``false``."""

    def __init__(self, types: Mapping[str, str], tz_minutes: int = 0) -> None:
        self.types = types
        self.tz = tz_minutes

    def kind_of(self, key: str) -> str:
        return "json" if "." in key else self.types[key]

    def period(self, text: str) -> tuple[dt.datetime, dt.datetime | None]:
        """[start, end) of a bare date, or (instant, None)."""
        m = PERIOD.match(text)
        if m is None:
            return parse_date(text, self.tz), None
        tz = dt.timezone(dt.timedelta(minutes=self.tz))
        year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
        start = dt.datetime(year, month, day, tzinfo=tz)
        if m[3]:
            end = start + dt.timedelta(days=1)
        elif m[2]:
            end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
        else:
            end = dt.datetime(year + 1, 1, 1, tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    def operand(self, key: str, value: Any) -> Any:
        if self.kind_of(key) == "Date":
            return self.period(value)[0]
        return value

    def matches(self, flt: Mapping[str, Any], row: Row, prefix: str = "") -> bool:
        return all(self.entry(prefix, k, v, row) for k, v in flt.items())

    def entry(self, prefix: str, key: str, value: Any, row: Row) -> bool:
        if key in ("$and", "$or"):
            items = value if isinstance(value, list) else [{k: v} for k, v in value.items()]
            results = [self.condition(prefix, item, row) if prefix else self.matches(item, row) for item in items]
            return all(results) if key == "$and" else any(results)
        if key.startswith("$"):
            return self.op(prefix, key, value, dotted(row, prefix))
        return self.condition(f"{prefix}.{key}" if prefix else key, value, row)

    def condition(self, key: str, value: Any, row: Row) -> bool:
        if isinstance(value, dict):
            return all(self.entry(key, k, v, row) for k, v in value.items())
        return self.op(key, "$eq", value, dotted(row, key))

    def equal(self, key: str, v: Any, operand: Any) -> bool:
        if operand is None:
            return v is None
        if self.kind_of(key) == "Array":
            if isinstance(operand, list):
                return array_empty(v) if not operand else array_has(v, operand, "exact")
            return array_has(v, (operand,), "any")
        if isinstance(operand, list):
            return self.in_list(key, v, operand)
        return same(v, self.operand(key, operand))

    def in_list(self, key: str, v: Any, operand: list[Any]) -> bool:
        if self.kind_of(key) == "Array":
            return array_has(v, operand, "any")
        if v is None:
            return None in operand
        return any(same(v, self.operand(key, x)) for x in operand if x is not None)

    def empty(self, key: str, v: Any) -> bool:
        k = self.kind_of(key)
        if k == "Array":
            return array_empty(v)
        if k in ("String", "json"):
            return v is None or v == ""
        return v is None

    def text(self, op: str, v: Any, operand: Any) -> bool:
        items = operand if isinstance(operand, list) else [operand]
        hits = [isinstance(v, str) and text_match(op, v, x, True) for x in items]
        return any(hits)

    def between(self, key: str, v: Any, operand: list[Any]) -> bool:
        lo, hi = operand
        if self.kind_of(key) == "Date":
            start, _ = self.period(lo)
            hi_start, hi_end = self.period(hi)
            return v is not None and v >= start and (v < hi_end if hi_end else v <= hi_start)
        return v is not None and kind(v) == kind(lo) == kind(hi) and lo <= v <= hi

    def op(self, key: str, op: str, operand: Any, v: Any) -> bool:
        on = operand is not False  # flag operators
        if op == "$eq":
            return self.equal(key, v, operand)
        if op == "$ne":
            return not self.equal(key, v, operand)
        if op in ("$in", "$anyOf"):
            return self.in_list(key, v, operand)
        if op in ("$notIn", "$noneOf"):
            return not self.in_list(key, v, operand)
        if op in ("$gt", "$gte", "$lt", "$lte"):
            x = self.operand(key, operand)
            return v is not None and kind(v) == kind(x) and ordered(op[1:], v, x)
        if op == "$between":
            return self.between(key, v, operand)
        if op == "$notBetween":
            return not self.between(key, v, operand)
        if op in ("$like", "$iLike", "$notLike", "$notILike"):
            hit = isinstance(v, str) and text_match("like", v, operand, op in ("$iLike", "$notILike"))
            return hit != op.startswith("$not")
        if op == "$is":
            return v is None if operand is None else same(v, operand)
        if op == "$not":
            return v is not None if operand is None else not same(v, operand)
        if op in ("$includes", "$startsWith", "$endWith"):
            return self.text(TEXT_OPS[op], v, operand)
        if op in ("$notIncludes", "$notStartsWith", "$notEndWith"):
            return not self.text(TEXT_OPS[op], v, operand)
        if op == "$empty":
            return self.empty(key, v) == on
        if op == "$notEmpty":
            return self.empty(key, v) != on
        if op == "$exists":
            return (v is not None) == on
        if op == "$notExists":
            return (v is None) == on
        if op in ("$isTruly", "$isFalsy"):  # false turns each into the other
            return v is True if (op == "$isTruly") == on else (v is None or v is False)
        if op == "$arrayEmpty":
            return array_empty(v) if on else non_empty_array(v)
        if op == "$arrayNotEmpty":
            return non_empty_array(v) if on else array_empty(v)
        if op in ("$dateOn", "$dateNotOn"):
            start, end = self.period(operand)
            on_day = v is not None and (start <= v < end if end else v == start)
            return on_day if op == "$dateOn" else not on_day
        if op == "$dateBefore":
            return v is not None and v < self.period(operand)[0]
        if op == "$dateNotBefore":
            return v is not None and v >= self.period(operand)[0]
        if op == "$dateAfter":
            start, end = self.period(operand)
            return v is not None and (v >= end if end else v > start)
        if op == "$dateNotAfter":
            start, end = self.period(operand)
            return v is not None and (v < end if end else v <= start)
        if op == "$dateBetween":
            return self.between(key, v, operand if isinstance(operand, list) else [operand, operand])
        raise ValueError(op)


TEXT_OPS = {"$includes": "contains", "$startsWith": "startswith", "$endWith": "endswith",
            "$notIncludes": "contains", "$notStartsWith": "startswith", "$notEndWith": "endswith"}
