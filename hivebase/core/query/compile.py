"""IR queries → one SQLAlchemy Core statement each (rows, count, or aggregate)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hivebase.core.catalog import Catalog
from hivebase.core.model import TableDef
from hivebase.core.query import ir
from hivebase.core.query.joins import Joins
from hivebase.core.query.predicates import Context, Predicates
from hivebase.core.query.sqlvalues import json_node
from hivebase.db.types import UTCDateTime
from hivebase.errors import InvalidQuery

ALWAYS = ("objectId", "createdAt", "updatedAt")


class Embedded(dict[str, Any]):
    """The row of a Pointer's target, expanded in place by ``include``."""

    def __init__(self, table: TableDef, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.table = table


@dataclass(slots=True)
class _Slot:
    """Where a selected column lands in the assembled row: a nesting path of Pointer names and a field."""

    label: str
    nest: tuple[str, ...]
    field: str


class RowsStatement:
    """A compiled row query and the recipe to turn its result rows into nested dicts."""

    def __init__(self, stmt: sa.Select[Any], slots: list[_Slot], tables: dict[tuple[str, ...], TableDef]) -> None:
        self.stmt = stmt
        self._slots = slots
        self._tables = tables

    def top_level_labels(self) -> dict[str, str]:
        """Result label → field name for the queried table's own columns (for re-selecting the statement)."""
        return {s.label: s.field for s in self._slots if not s.nest}

    def assemble(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            m = row._mapping
            top: dict[str, Any] = {}
            nested: dict[tuple[str, ...], dict[str, Any]] = {(): top}
            for slot in self._slots:
                nested.setdefault(slot.nest, {})[slot.field] = m[slot.label]
            for nest in sorted((n for n in nested if n), key=len, reverse=True):
                values = nested[nest]
                parent = nested.setdefault(nest[:-1], {})
                if values.get("objectId") is not None:  # a dangling Pointer keeps its bare objectId
                    parent[nest[-1]] = Embedded(self._tables[nest], values)
            out.append(top)
        return out


class Compiler:
    """Compiles statements for one caller: ``scope_for(table)`` is the row scope ANDed wherever that
    table's rows are read — the queried table, joined Pointers, includes and every sub-query — and
    ``fields_for(table)`` the fields of it the caller may see (None: all)."""

    def __init__(self, catalog: Catalog, dialect: str, scope_for: Callable[[str], ir.Pred] | None = None,
                 fields_for: Callable[[str], frozenset[str] | None] | None = None) -> None:
        self.catalog = catalog
        self.dialect = dialect
        self.scope_for = scope_for
        self.fields_for = fields_for

    def _start(self, table: str) -> tuple[Joins, Predicates]:
        ctx = Context(self.catalog, self.dialect, self.scope_for, self.fields_for)
        joins = ctx.joins(table, top=True)
        return joins, Predicates(joins, ctx)

    def order_by(self, preds: Predicates, order: Sequence[ir.Order], alias_expr: Any = None) -> list[Any]:
        clauses = []
        for o in order:
            if o.near is not None:
                expr = preds.distance_km(o.near)
            elif o.alias is not None:
                if alias_expr is None:
                    raise InvalidQuery(f"cannot order by `{o.alias}` here")
                expr = alias_expr(o.alias)
            elif o.path is not None:
                col = preds.column(o.path)
                expr = json_node(self.dialect, col, o.path.json) if o.path.json else col
            else:
                continue
            clause = expr.desc() if o.desc else expr.asc()
            nulls = o.nulls if o.nulls != "default" else ("last" if o.desc else "first")
            clauses.append(clause.nulls_first() if nulls == "first" else clause.nulls_last())
        return clauses

    def rows(self, q: ir.Select) -> RowsStatement:
        tdef = self.catalog.get(q.table)
        joins, preds = self._start(q.table)
        where = preds.scoped(q.where, q.table)
        slots: list[_Slot] = []
        cols: list[Any] = []
        tables: dict[tuple[str, ...], TableDef] = {}

        def add_columns(table: Any, t: TableDef, nest: tuple[str, ...], keys: list[str] | None,
                        omit: Sequence[str] = ()) -> None:
            visible = preds.ctx.visible_fields(t.name)
            for name in keys or ():
                preds.ctx.check_field(t.name, name)
            for name, f in t.fields.items():
                if not f.kind.has_column or (keys is not None and name not in keys and name not in ALWAYS):
                    continue
                if name in omit:
                    continue
                if visible is not None and name not in visible:
                    continue
                label = f"c{len(cols)}"
                cols.append(table.c[name].label(label))
                slots.append(_Slot(label, nest, name))

        keys = list(q.keys) if q.keys is not None else None
        for path in q.named:
            preds.ctx.check_path(tdef, path.hops, path.field.name)
        add_columns(joins.base_table, tdef, (), keys, q.omit)

        def add_include(inc: ir.Include, hops: tuple[Any, ...]) -> None:
            path = (*hops, inc.field)
            preds.ctx.check_path(tdef, hops, inc.field.name)
            alias, target = joins.table_for(path)
            nest = tuple(h.name for h in path)
            tables[nest] = target
            add_columns(alias, target, nest, None)
            for child in inc.children:
                add_include(child, path)

        for inc in q.include:
            if keys is not None and inc.field.name not in keys:
                keys.append(inc.field.name)
                add_columns(joins.base_table, tdef, (), [inc.field.name])
            add_include(inc, ())
        order = self.order_by(preds, q.order)
        if not q.order:  # insertion order by default (createdAt is indexed on every table)
            order.append(joins.base_table.c.createdAt.asc())
        if not any(o.path is not None and o.path.field.name == "objectId" and not o.path.hops for o in q.order):
            order.append(joins.base_table.c.objectId.asc())  # a total order, so paging never skips rows
        stmt = sa.select(*cols).select_from(joins.from_clause()).where(where).order_by(*order)
        if q.limit is not None:
            stmt = stmt.limit(q.limit)
        if q.offset:
            stmt = stmt.offset(q.offset)
        return RowsStatement(stmt, slots, tables)

    def count(self, table: str, where: ir.Pred) -> sa.Select[Any]:
        joins, preds = self._start(table)
        cond = preds.scoped(where, table)
        return sa.select(sa.func.count()).select_from(joins.from_clause()).where(cond)

    def aggregate(self, agg: ir.Aggregate) -> sa.Select[Any]:
        joins, preds = self._start(agg.table)
        where = preds.scoped(agg.where, agg.table)
        exprs: dict[str, Any] = {}
        group_by = []
        for d in agg.dimensions:
            expr = self._dimension(preds, d, agg.tz_offset_minutes)
            exprs[d.alias] = expr
            group_by.append(expr)
        for m in agg.measures:
            exprs[m.alias] = self._measure(preds, m)

        def alias_expr(alias: str) -> Any:
            if alias not in exprs:
                raise InvalidQuery(f"`{alias[:64]}` is not a result column; columns are {', '.join(exprs)}")
            return exprs[alias]

        having_preds = Predicates(joins, preds.ctx, alias_expr)
        stmt = sa.select(*(e.label(a) for a, e in exprs.items())).select_from(joins.from_clause()).where(where)
        if group_by:
            stmt = stmt.group_by(*group_by)
        if not (isinstance(agg.having, ir.Const) and agg.having.value):
            stmt = stmt.having(having_preds.compile(agg.having))
        stmt = stmt.order_by(*self.order_by(having_preds, agg.order, alias_expr))
        if agg.limit is not None:
            stmt = stmt.limit(agg.limit)
        if agg.offset:
            stmt = stmt.offset(agg.offset)
        return stmt

    def _dimension(self, preds: Predicates, d: ir.Dimension, tz_minutes: int) -> Any:
        col = preds.column(d.path)
        if d.path.json:
            return json_node(self.dialect, col, d.path.json)
        if d.grain is None:
            return col
        if d.path.field.type != "Date":
            raise InvalidQuery(f"`{d.path.dotted}` is not a Date: it cannot be grouped by {d.grain}")
        if self.dialect == "postgresql":
            fmt = {"year": "YYYY", "month": "YYYY-MM", "day": "YYYY-MM-DD", "hour": "YYYY-MM-DD HH24:00",
                   "minute": "YYYY-MM-DD HH24:MI", "second": "YYYY-MM-DD HH24:MI:SS"}[d.grain]
            local = sa.func.timezone("UTC", col) + sa.func.make_interval(0, 0, 0, 0, 0, tz_minutes)
            return sa.func.to_char(local, fmt)
        fmt = {"year": "%Y", "month": "%Y-%m", "day": "%Y-%m-%d", "hour": "%Y-%m-%d %H:00",
               "minute": "%Y-%m-%d %H:%M", "second": "%Y-%m-%d %H:%M:%S"}[d.grain]
        return sa.func.strftime(fmt, col, f"{tz_minutes:+d} minutes")

    def _measure(self, preds: Predicates, m: ir.Measure) -> Any:
        if m.path is None:
            if m.func != "count":
                raise InvalidQuery(f"`{m.alias}`: {m.func} needs a field")
            return sa.func.count()
        col = preds.column(m.path)
        if m.path.json:
            col = preds.operand_expr(m.path, 0.0)
        arg = col.distinct() if m.distinct else col
        if m.func == "count":
            return sa.func.count(arg)
        if m.func in ("sum", "avg"):
            if m.path.field.type != "Number" and not m.path.json:
                raise InvalidQuery(f"`{m.path.dotted}` is a {m.path.field.type} field: {m.func} needs a Number")
            return getattr(sa.func, m.func)(arg, type_=sa.Float)
        fn = getattr(sa.func, m.func)
        if m.path.field.type == "Date" and not m.path.json:
            return sa.type_coerce(fn(arg), UTCDateTime())
        return fn(arg, type_=col.type)
