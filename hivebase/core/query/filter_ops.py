"""NocoBase filter operators on one field → IR predicates.

Semantics chosen here (ir.py gives the null rules these rely on):
- negative operators include rows where the field is null: ``$ne``, ``$notIn``, ``$noneOf``, ``$notLike``,
  ``$notILike``, ``$notIncludes``, ``$notStartsWith``, ``$notEndWith``, ``$notBetween``, ``$dateNotOn``,
  ``$notMatch``. ``$dateNotBefore``/``$dateNotAfter`` are plain comparisons (>= / <=) as in NocoBase.
- ``$includes``/``$startsWith``/``$endWith`` (and negations) are case-insensitive like NocoBase's ILIKE; a
  list operand means any of them (negated: none of them); the operand is plain text, not a pattern.
- ``$like``/``$iLike`` take a SQL LIKE pattern as is.
- ``$eq`` with a list means ``$in``; on an Array field a list means exactly that set and a scalar means
  "holds this element". ``$anyOf``/``$noneOf`` are IN / NOT IN on scalar fields.
- Flag operators (``$empty``, ``$exists``, ``$isTruly``…) ignore their operand except ``false``, which turns
  them into their opposite (``{"$exists": false}`` = ``$notExists``).
- Date fields: a bare date (``2024-01-05``, ``2024-01``, ``2024``) is that whole period in the caller's
  offset; ``$between`` on a Date field is ``$dateBetween``. ``$gt``/``$lt``… compare with the period's start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from hivebase.core.query.date_ops import (
    op_date_after,
    op_date_before,
    op_date_between,
    op_date_not_after,
    op_date_not_before,
    op_date_not_on,
    op_date_on,
)
from hivebase.core.query.ir import And, ArrayEmpty, ArrayHas, CmpOp, Const, InList, Not, Or, Pred, Text, conj
from hivebase.core.query.operands import (
    Target,
    as_list,
    cmp,
    convert,
    disj,
    element,
    err,
    flag,
    pair,
    text_operand,
)
from hivebase.errors import InvalidQuery, TypeMismatch, suggest, type_of

__all__ = ["Target", "apply", "check", "disj", "flag"]


# -- equality and lists ------------------------------------------------------------------------------------

def op_eq(t: Target, v: Any, tz: int) -> Pred:
    if v is None:
        return cmp(t, "eq", None)
    if t.kind == "Array":
        return op_match(t, v, tz) if isinstance(v, list) else ArrayHas(t.path, (element(t, v),), "any")
    if isinstance(v, list):
        return op_in(t, v, tz)
    return cmp(t, "eq", convert(t, v, tz))


def op_ne(t: Target, v: Any, tz: int) -> Pred:
    if v is None:
        return cmp(t, "ne", None)
    if t.kind == "Array":
        return op_not_match(t, v, tz) if isinstance(v, list) else ArrayHas(t.path, (element(t, v),), "none")
    if isinstance(v, list):
        return op_not_in(t, v, tz)
    return cmp(t, "ne", convert(t, v, tz))


def op_in(t: Target, v: Any, tz: int) -> Pred:
    items = as_list(t, "$in", v)
    if t.kind == "Array":
        return ArrayHas(t.path, tuple(element(t, x) for x in items), "any") if items else Const(False)
    values = tuple(convert(t, x, tz) for x in items if x is not None)
    preds: list[Pred] = [InList(t.path, values)] if values else []
    if any(x is None for x in items):
        preds.append(cmp(t, "eq", None))
    return disj(*preds)


def op_not_in(t: Target, v: Any, tz: int) -> Pred:
    items = as_list(t, "$notIn", v)
    if t.kind == "Array":
        return ArrayHas(t.path, tuple(element(t, x) for x in items), "none") if items else Const(True)
    values = tuple(convert(t, x, tz) for x in items if x is not None)
    preds: list[Pred] = [InList(t.path, values, negate=True)] if values else []
    if any(x is None for x in items):
        preds.append(cmp(t, "ne", None))
    return conj(*preds)


def op_is(t: Target, v: Any, tz: int) -> Pred:
    if v is None:
        return cmp(t, "eq", None)
    if isinstance(v, bool) and t.kind in ("Bool", "json"):
        return cmp(t, "eq", v)
    raise err(t, "`$is` takes null (or true/false on a Bool field)")


def op_not(t: Target, v: Any, tz: int) -> Pred:
    if v is None:
        return cmp(t, "ne", None)
    if isinstance(v, bool) and t.kind in ("Bool", "json"):
        return cmp(t, "ne", v)
    raise err(t, "`$not` takes null (or true/false on a Bool field)")


# -- order ------------------------------------------------------------------------------------------------

def _ordered(op: str, relation: CmpOp) -> Callable[[Target, Any, int], Pred]:
    def apply(t: Target, v: Any, tz: int) -> Pred:
        if v is None or isinstance(v, list):
            raise TypeMismatch(t.table, t.label, f"one value for `{op}`", type_of(v))
        return cmp(t, relation, convert(t, v, tz))
    return apply


def op_between(t: Target, v: Any, tz: int) -> Pred:
    if t.kind == "Date":
        return op_date_between(t, v, tz)
    lo, hi = pair(t, "$between", v)
    return And((cmp(t, "gte", convert(t, lo, tz)), cmp(t, "lte", convert(t, hi, tz))))


def op_not_between(t: Target, v: Any, tz: int) -> Pred:
    """Everything ``$between`` does not match: nulls and, inside JSON, values of another kind included."""
    if t.kind == "Date":
        return Not(op_date_between(t, v, tz))
    lo, hi = pair(t, "$notBetween", v)
    return Not(And((cmp(t, "gte", convert(t, lo, tz)), cmp(t, "lte", convert(t, hi, tz)))))


# -- text -------------------------------------------------------------------------------------------------

def _like(case_insensitive: bool, negate: bool, op: str) -> Callable[[Target, Any, int], Pred]:
    def apply(t: Target, v: Any, tz: int) -> Pred:
        return Text(t.path, "like", text_operand(t, op, v), case_insensitive, negate)
    return apply


TextKind = Literal["contains", "startswith", "endswith"]


def _substring(kind: TextKind, negate: bool, op: str) -> Callable[[Target, Any, int], Pred]:
    def apply(t: Target, v: Any, tz: int) -> Pred:
        if v is None:
            return cmp(t, "ne" if negate else "eq", None)
        items = as_list(t, op, v) if isinstance(v, list) else [v]
        preds = [Text(t.path, kind, text_operand(t, op, x), True, negate) for x in items]
        return conj(*preds) if negate else disj(*preds)
    return apply


def op_empty(t: Target, v: Any, tz: int) -> Pred:
    if not flag(v):
        return op_not_empty(t, True, tz)
    if t.kind == "Array":
        return ArrayEmpty(t.path)
    if t.kind in ("String", "json"):
        return Or((cmp(t, "eq", None), cmp(t, "eq", "")))
    return cmp(t, "eq", None)


def op_not_empty(t: Target, v: Any, tz: int) -> Pred:
    if not flag(v):
        return op_empty(t, True, tz)
    if t.kind == "Array":
        return ArrayEmpty(t.path, negate=True)
    if t.kind in ("String", "json"):
        return And((cmp(t, "ne", None), cmp(t, "ne", "")))
    return cmp(t, "ne", None)


def op_exists(t: Target, v: Any, tz: int) -> Pred:
    return cmp(t, "ne" if flag(v) else "eq", None)


def op_not_exists(t: Target, v: Any, tz: int) -> Pred:
    return cmp(t, "eq" if flag(v) else "ne", None)


# -- arrays and booleans ----------------------------------------------------------------------------------

def op_match(t: Target, v: Any, tz: int) -> Pred:
    items = as_list(t, "$match", v)
    return ArrayHas(t.path, tuple(element(t, x) for x in items), "exact") if items else ArrayEmpty(t.path)


def op_not_match(t: Target, v: Any, tz: int) -> Pred:
    items = as_list(t, "$notMatch", v)
    if not items:
        return ArrayEmpty(t.path, negate=True)
    exact = ArrayHas(t.path, tuple(element(t, x) for x in items), "exact")
    return Or((Not(exact), ArrayEmpty(t.path)))


def op_any_of(t: Target, v: Any, tz: int) -> Pred:
    as_list(t, "$anyOf", v)
    return op_in(t, v, tz)


def op_none_of(t: Target, v: Any, tz: int) -> Pred:
    as_list(t, "$noneOf", v)
    return op_not_in(t, v, tz)


def op_array_empty(t: Target, v: Any, tz: int) -> Pred:
    return ArrayEmpty(t.path, negate=not flag(v))


def op_array_not_empty(t: Target, v: Any, tz: int) -> Pred:
    return ArrayEmpty(t.path, negate=flag(v))


def op_is_falsy(t: Target, v: Any, tz: int) -> Pred:
    if not flag(v):
        return op_is_truly(t, True, tz)
    return Or((cmp(t, "eq", None), cmp(t, "eq", False)))


def op_is_truly(t: Target, v: Any, tz: int) -> Pred:
    if not flag(v):
        return op_is_falsy(t, True, tz)
    return cmp(t, "eq", True)


# -- the table --------------------------------------------------------------------------------------------

ANY = frozenset({"String", "Number", "Bool", "Date", "Pointer", "Array", "Object", "File", "Geo", "json"})
SCALAR = frozenset({"String", "Number", "Bool", "Date", "Pointer", "Array", "json"})
ORDERED = frozenset({"String", "Number", "Date", "json"})
TEXT = frozenset({"String", "json"})
DATE = frozenset({"Date"})
ARRAY = frozenset({"Array"})
BOOL = frozenset({"Bool", "json"})

Op = Callable[[Target, Any, int], Pred]
OPERATORS: dict[str, tuple[Op, frozenset[str]]] = {
    "$eq": (op_eq, ANY), "$ne": (op_ne, ANY), "$in": (op_in, SCALAR), "$notIn": (op_not_in, SCALAR),
    "$is": (op_is, ANY), "$not": (op_not, ANY),
    "$gt": (_ordered("$gt", "gt"), ORDERED), "$gte": (_ordered("$gte", "gte"), ORDERED),
    "$lt": (_ordered("$lt", "lt"), ORDERED), "$lte": (_ordered("$lte", "lte"), ORDERED),
    "$between": (op_between, ORDERED), "$notBetween": (op_not_between, ORDERED),
    "$like": (_like(False, False, "$like"), TEXT), "$notLike": (_like(False, True, "$notLike"), TEXT),
    "$iLike": (_like(True, False, "$iLike"), TEXT), "$notILike": (_like(True, True, "$notILike"), TEXT),
    "$includes": (_substring("contains", False, "$includes"), TEXT),
    "$notIncludes": (_substring("contains", True, "$notIncludes"), TEXT),
    "$startsWith": (_substring("startswith", False, "$startsWith"), TEXT),
    "$notStartsWith": (_substring("startswith", True, "$notStartsWith"), TEXT),
    "$endWith": (_substring("endswith", False, "$endWith"), TEXT),
    "$notEndWith": (_substring("endswith", True, "$notEndWith"), TEXT),
    "$empty": (op_empty, ANY), "$notEmpty": (op_not_empty, ANY),
    "$exists": (op_exists, ANY), "$notExists": (op_not_exists, ANY),
    "$dateOn": (op_date_on, DATE), "$dateNotOn": (op_date_not_on, DATE),
    "$dateBefore": (op_date_before, DATE), "$dateAfter": (op_date_after, DATE),
    "$dateNotBefore": (op_date_not_before, DATE), "$dateNotAfter": (op_date_not_after, DATE),
    "$dateBetween": (op_date_between, DATE),
    "$match": (op_match, ARRAY), "$notMatch": (op_not_match, ARRAY),
    "$anyOf": (op_any_of, SCALAR), "$noneOf": (op_none_of, SCALAR),
    "$arrayEmpty": (op_array_empty, ARRAY), "$arrayNotEmpty": (op_array_not_empty, ARRAY),
    "$isFalsy": (op_is_falsy, BOOL), "$isTruly": (op_is_truly, BOOL),
}
ALIASES = {"$endsWith": "$endWith", "$notEndsWith": "$notEndWith"}


def check(op: str, t: Target) -> Op:
    """The operator's function; unknown operators and operators on the wrong kind of field are refused."""
    entry = OPERATORS.get(ALIASES.get(op, op))
    if entry is None:
        hint = suggest(op, list(OPERATORS))
        shown = op[:40]
        msg = f"unknown filter operator `{shown}` on `{t.label}`"
        msg += f"; did you mean `{hint}`?" if hint else f"; operators for it are {', '.join(usable(t.kind))}"
        raise InvalidQuery(msg, field=t.label, table=t.table, operator=shown, suggestion=hint)
    fn, kinds = entry
    if t.kind not in kinds:
        what = "a value inside a JSON field" if t.json else f"a {t.kind} field"
        raise InvalidQuery(f"`{op}` does not apply to `{t.label}` ({what}); operators for it are "
                           f"{', '.join(usable(t.kind))}", field=t.label, table=t.table, operator=op)
    return fn


def apply(op: str, t: Target, value: Any, tz: int = 0) -> Pred:
    """Operator ``op`` with operand ``value`` on ``t``."""
    return check(op, t)(t, value, tz)


def usable(kind: str) -> list[str]:
    return [name for name, (_, kinds) in OPERATORS.items() if kind in kinds]
