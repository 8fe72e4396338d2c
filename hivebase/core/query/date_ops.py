"""NocoBase's date operators: a bare date is a whole period in the caller's offset, a datetime an instant.

Negations include nulls only where NocoBase's name is a negation of membership (``$dateNotOn``);
``$dateNotBefore``/``$dateNotAfter`` are plain comparisons (>= start / < end), as NocoBase compiles them.
"""

from __future__ import annotations

from typing import Any

from hivebase.core.query.dates import Period, parse_period
from hivebase.core.query.ir import And, Or, Pred
from hivebase.core.query.operands import Target, cmp, pair


def period(t: Target, v: Any, tz: int) -> Period:
    return parse_period(v, t.label, tz, t.table)


def op_date_on(t: Target, v: Any, tz: int) -> Pred:
    p = period(t, v, tz)
    if p.end is None:
        return cmp(t, "eq", p.start)
    return And((cmp(t, "gte", p.start), cmp(t, "lt", p.end)))


def op_date_not_on(t: Target, v: Any, tz: int) -> Pred:
    p = period(t, v, tz)
    if p.end is None:
        return cmp(t, "ne", p.start)
    return Or((cmp(t, "lt", p.start), cmp(t, "gte", p.end), cmp(t, "eq", None)))


def op_date_before(t: Target, v: Any, tz: int) -> Pred:
    return cmp(t, "lt", period(t, v, tz).start)


def op_date_not_before(t: Target, v: Any, tz: int) -> Pred:
    return cmp(t, "gte", period(t, v, tz).start)


def op_date_after(t: Target, v: Any, tz: int) -> Pred:
    p = period(t, v, tz)
    return cmp(t, "gte", p.end) if p.end else cmp(t, "gt", p.start)


def op_date_not_after(t: Target, v: Any, tz: int) -> Pred:
    p = period(t, v, tz)
    return cmp(t, "lt", p.end) if p.end else cmp(t, "lte", p.start)


def op_date_between(t: Target, v: Any, tz: int) -> Pred:
    if not isinstance(v, list):
        return op_date_on(t, v, tz)
    lo, hi = pair(t, "$dateBetween", v)
    start, end = period(t, lo, tz), period(t, hi, tz)
    upper = cmp(t, "lt", end.end) if end.end else cmp(t, "lte", end.start)
    return And((cmp(t, "gte", start.start), upper))
