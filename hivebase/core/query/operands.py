"""What filter operators work on: the target of a condition and its operands in stored form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hivebase.core.model import FieldDef
from hivebase.core.query.dates import parse_instant
from hivebase.core.query.ir import Cmp, CmpOp, Const, Or, Path, Pred
from hivebase.errors import InvalidQuery, TypeMismatch, type_of

MAX_LIST = 1000
MAX_PATTERN = 10_000


@dataclass(frozen=True, slots=True)
class Target:
    """What an operator applies to: a path (or an AliasRef in ``having``), the field typing its operands."""

    path: Path
    field: FieldDef
    table: str | None = None
    json: bool = False  # a value inside an Object/Array: any JSON scalar
    name: str = ""

    @property
    def kind(self) -> str:
        return "json" if self.json else self.field.type

    @property
    def label(self) -> str:
        return self.name or self.field.name


def disj(*preds: Pred) -> Pred:
    """OR of predicates: ``Const(False)`` dropped, nested ORs flattened, empty → false."""
    items: list[Pred] = []
    for p in preds:
        if isinstance(p, Const):
            if p.value:
                return Const(True)
            continue
        items.extend(p.items if isinstance(p, Or) else (p,))
    if not items:
        return Const(False)
    return items[0] if len(items) == 1 else Or(tuple(items))


def err(t: Target, message: str) -> InvalidQuery:
    return InvalidQuery(f"`{t.label}`: {message}", field=t.label, table=t.table)


def convert(t: Target, value: Any, tz: int) -> Any:
    """One non-null operand → the stored form of the target's field."""
    if t.json:
        if isinstance(value, str | bool | int | float):
            return value
        raise TypeMismatch(t.table, t.label, "a string, number or boolean", type_of(value))
    if t.kind == "Date":
        return parse_instant(value, t.label, tz, t.table)
    if t.kind in ("Object", "File", "Geo"):
        raise err(t, f"a whole {t.kind} value cannot be compared; compare a key inside it "
                      f"(`{t.label}.key`) or use $empty/$exists")
    if isinstance(value, list | dict) and t.kind != "Pointer":
        raise TypeMismatch(t.table, t.label, t.field.kind.description, type_of(value))
    field = t.field if t.label == t.field.name else t.field.with_name(t.label)
    return field.kind.query_value(value, field, t.table)


def element(t: Target, value: Any) -> Any:
    """An element of an Array field: a JSON scalar."""
    if isinstance(value, str | bool | int | float):
        return value
    raise TypeMismatch(t.table, t.label, "array elements (strings, numbers or booleans)", type_of(value))


def as_list(t: Target, op: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeMismatch(t.table, t.label, f"a list for `{op}`", type_of(value))
    if len(value) > MAX_LIST:
        raise err(t, f"`{op}` takes at most {MAX_LIST} values, received {len(value)}")
    return value


def flag(value: Any) -> bool:
    """Flag operators: only an explicit false turns them around."""
    return value is not False


def cmp(t: Target, op: CmpOp, value: Any) -> Cmp:
    return Cmp(t.path, op, value)


def text_operand(t: Target, op: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeMismatch(t.table, t.label, f"a string for `{op}`", type_of(value))
    if len(value) > MAX_PATTERN or "\x00" in value:
        raise err(t, f"the `{op}` text must be under {MAX_PATTERN} characters without NUL")
    return value


def pair(t: Target, op: str, v: Any) -> tuple[Any, Any]:
    if not isinstance(v, list) or len(v) != 2 or v[0] is None or v[1] is None:
        raise TypeMismatch(t.table, t.label, f"a list of two values for `{op}`", type_of(v))
    return v[0], v[1]
