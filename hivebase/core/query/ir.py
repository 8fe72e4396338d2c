"""The one internal query representation.

Bmob ``where``, NocoBase ``filter``, role scopes and object ACLs all compile into these nodes, and one
compiler (``compile.py``) turns them into a single SQLAlchemy statement. Operand values are already
validated and converted to the stored Python form of their field (datetime for Date, objectId string for
Pointer, float/int for Number…) by the dialect parsers, so the compiler never sees wire formats.

Null semantics, the same in SQL and in the reference evaluator of the property tests:
- ``Cmp`` eq/lt/lte/gt/gte with a null (missing) stored value is false; ``Cmp(op="ne")`` is true for nulls.
- ``InList(negate=True)`` is true for nulls. ``Text``/``Regex`` on null is false (true when negated).
- ``Cmp(value=None)`` means "is null" (eq) or "is not null" (ne).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hivebase.core.model import FieldDef

CmpOp = Literal["eq", "ne", "lt", "lte", "gt", "gte"]


@dataclass(frozen=True, slots=True)
class Path:
    """A value reachable from a row of the queried table.

    ``hops`` are Pointer fields followed from the base table (each to its ``target`` table); ``field`` is a
    field of the last table reached; ``json`` walks into an Object/Array value (str keys, int indexes).
    """

    field: FieldDef
    hops: tuple[FieldDef, ...] = ()
    json: tuple[str | int, ...] = ()

    @property
    def dotted(self) -> str:
        parts = [h.name for h in self.hops] + [self.field.name] + [str(j) for j in self.json]
        return ".".join(parts)


@dataclass(frozen=True, slots=True)
class AliasRef:
    """A result column of an aggregate, used as a ``Path`` stand-in inside ``having`` predicates."""

    alias: str


Operand = Path | AliasRef


class Pred:
    """Base of predicate nodes."""


@dataclass(frozen=True, slots=True)
class Const(Pred):
    value: bool


@dataclass(frozen=True, slots=True)
class And(Pred):
    items: tuple[Pred, ...]


@dataclass(frozen=True, slots=True)
class Or(Pred):
    items: tuple[Pred, ...]


@dataclass(frozen=True, slots=True)
class Not(Pred):
    item: Pred


@dataclass(frozen=True, slots=True)
class Cmp(Pred):
    """Scalar comparison. For a JSON path the operand's Python type picks the comparison (number, string, bool)."""

    path: Operand
    op: CmpOp
    value: Any


@dataclass(frozen=True, slots=True)
class InList(Pred):
    path: Operand
    values: tuple[Any, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Text(Pred):
    """String matching. ``op='like'`` takes a SQL LIKE pattern (``%``/``_``) from the caller as is."""

    path: Operand
    op: Literal["contains", "startswith", "endswith", "like", "eq"]
    pattern: str
    case_insensitive: bool = False
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Regex(Pred):
    path: Path
    pattern: str
    case_insensitive: bool = False
    negate: bool = False


@dataclass(frozen=True, slots=True)
class ArrayHas(Pred):
    """Array membership. any: shares an element; all: holds every value; none: holds none of them;
    exact: holds exactly this set (order and duplicates ignored)."""

    path: Path
    values: tuple[Any, ...]
    mode: Literal["any", "all", "none", "exact"]


@dataclass(frozen=True, slots=True)
class ArrayEmpty(Pred):
    """True for null or [] (``negate``: a non-empty array)."""

    path: Path
    negate: bool = False


@dataclass(frozen=True, slots=True)
class SubQuery:
    """The values of ``key`` (a Path on ``table``; None means objectId) of the rows of ``table`` matching ``where``."""

    table: str
    where: Pred
    key: Path | None = None


@dataclass(frozen=True, slots=True)
class InSubquery(Pred):
    """``$select``/``$inQuery`` (``negate``: ``$dontSelect``/``$notInQuery``). For $inQuery, path is the Pointer
    field and the subquery key is None (objectId)."""

    path: Path
    sub: SubQuery
    negate: bool = False


@dataclass(frozen=True, slots=True)
class RelatedTo(Pred):
    """Rows of the queried table held in ``owner_table``'s Relation ``field`` of row ``owner_id``."""

    owner_table: str
    field: FieldDef
    owner_id: str


@dataclass(frozen=True, slots=True)
class RelationHas(Pred):
    """Rows whose Relation ``field`` holds at least one (``negate``: no) target row matching ``where``."""

    field: FieldDef
    where: Pred
    negate: bool = False


@dataclass(frozen=True, slots=True)
class GeoNear(Pred):
    """Within ``max_km`` kilometres (great-circle, earth radius 6371 km) of a point; None: no limit."""

    path: Path
    latitude: float
    longitude: float
    max_km: float | None


@dataclass(frozen=True, slots=True)
class GeoBox(Pred):
    path: Path
    south: float
    west: float
    north: float
    east: float


@dataclass(frozen=True, slots=True)
class Order:
    """Sort key: a Path, the alias of an aggregate column, or the distance to a point (``near``)."""

    path: Path | None = None
    alias: str | None = None
    desc: bool = False
    nulls: Literal["default", "first", "last"] = "default"
    near: GeoNear | None = None


@dataclass(frozen=True, slots=True)
class Include:
    """A Pointer to expand in place, with nested includes of the target table."""

    field: FieldDef
    children: tuple[Include, ...] = ()


@dataclass(slots=True)
class Select:
    """Rows of ``table``: projection, filter, order, paging, Pointer expansion."""

    table: str
    where: Pred = field(default_factory=lambda: Const(True))
    order: list[Order] = field(default_factory=list)
    limit: int | None = 100
    offset: int = 0
    keys: list[str] | None = None  # field names to return; None means all (built-ins always included)
    include: list[Include] = field(default_factory=list)
    omit: list[str] = field(default_factory=list)  # with keys=None: every visible field but these
    named: list[Path] = field(default_factory=list)  # paths the caller asked to see: each must be visible


DateGrain = Literal["year", "month", "day", "hour", "minute", "second"]


@dataclass(frozen=True, slots=True)
class Dimension:
    path: Path
    alias: str
    grain: DateGrain | None = None  # truncate a Date to this grain (in ``Aggregate.tz_offset_minutes``)


@dataclass(frozen=True, slots=True)
class Measure:
    func: Literal["count", "sum", "avg", "min", "max"]
    alias: str
    path: Path | None = None  # None with count means count(*)
    distinct: bool = False


@dataclass(slots=True)
class Aggregate:
    """GROUP BY ``dimensions`` with ``measures``; ``having`` is a predicate whose paths are ``AliasRef``s."""

    table: str
    where: Pred = field(default_factory=lambda: Const(True))
    dimensions: list[Dimension] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    having: Pred = field(default_factory=lambda: Const(True))
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    tz_offset_minutes: int = 0


def conj(*preds: Pred) -> Pred:
    """AND of predicates, dropping ``Const(True)`` and flattening nested ANDs."""
    items: list[Pred] = []
    for p in preds:
        if isinstance(p, Const) and p.value:
            continue
        if isinstance(p, And):
            items.extend(p.items)
        else:
            items.append(p)
    if not items:
        return Const(True)
    return items[0] if len(items) == 1 else And(tuple(items))
