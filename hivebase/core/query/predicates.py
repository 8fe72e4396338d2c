"""IR predicates → SQL boolean expressions, for SQLite and PostgreSQL.

Leaves may evaluate to NULL on missing values; in positive context that is the same as false (AND/OR
are monotone), and ``Not`` coalesces its operand first, so SQL follows the two-valued semantics of ir.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from hivebase.core.catalog import Catalog
from hivebase.core.model import FieldDef, TableDef
from hivebase.core.query import ir, regex
from hivebase.core.query.joins import Joins
from hivebase.core.query.sqlvalues import json_literal, json_node, json_scalar, scalar_kind, sqlite_json_path
from hivebase.errors import InvalidQuery, PermissionDenied

EARTH_KM = 6371.0


def _or_false(cond: Any) -> Any:
    """A condition that is false, never NULL, for missing values (what ``Not`` negates)."""
    return sa.func.coalesce(cond, sa.false(), type_=sa.Boolean)


def _bool_order(expr: Any, op: str, value: bool) -> Any:
    """Booleans order false < true, but SQL has no order on them: rewrite to equalities."""
    is_true, is_false = expr == sa.true(), expr == sa.false()
    either = sa.or_(is_true, is_false)
    return {("gt", False): is_true, ("gt", True): sa.false(), ("gte", False): either, ("gte", True): is_true,
            ("lt", True): is_false, ("lt", False): sa.false(), ("lte", True): either,
            ("lte", False): is_false}[(op, value)]


def _same_type(values: list[Any]) -> list[Any]:
    """Numbers of an IN list as one type: PostgreSQL binds them all with the first one's type."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values) and any(
            isinstance(v, float) for v in values):
        return [float(v) for v in values]
    return values


class Context:
    """What every part of one statement shares: the catalog, the dialect, the caller's row scopes and
    visible fields, and a counter that keeps table aliases unique across nested sub-queries."""

    def __init__(self, catalog: Catalog, dialect: str, scope_for: Callable[[str], ir.Pred] | None = None,
                 fields_for: Callable[[str], frozenset[str] | None] | None = None) -> None:
        self.catalog = catalog
        self.dialect = dialect
        self._scope_for = scope_for
        self._fields_for = fields_for
        self._trusted = 0  # >0 while compiling a row scope: the operator's own conditions see every field
        self._count = 0
        self._visible: dict[str, Any] = {}

    def fresh_name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def scope(self, table: str) -> ir.Pred:
        return ir.Const(True) if self._scope_for is None else self._scope_for(table)

    def visible_fields(self, table: str) -> frozenset[str] | None:
        """The fields of ``table`` the caller may see (None: all)."""
        return None if self._fields_for is None else self._fields_for(table)

    def check_field(self, table: str, name: str) -> None:
        """Refuse a hidden field wherever a statement would read it: selected, filtered, sorted or grouped."""
        allowed = None if self._trusted else self.visible_fields(table)
        if allowed is not None and name not in allowed:
            raise PermissionDenied(f"`{name}` of {table} is not visible to this role", field=name, table=table,
                                   reason="field")

    def check_path(self, base: TableDef, hops: tuple[FieldDef, ...], name: str) -> None:
        table = base
        for hop in hops:
            self.check_field(table.name, hop.name)
            table = self.catalog.get(hop.target or "")
        self.check_field(table.name, name)

    def joins(self, table: str, *, top: bool = False) -> Joins:
        return Joins(self.catalog, self.catalog.get(table), alias=None if top else self.fresh_name("s"),
                     visible=self.visible_ids, fresh_name=self.fresh_name)

    def visible_ids(self, table: str) -> Any:
        """``SELECT objectId`` of the rows of ``table`` the caller may see; None when all are visible."""
        scope = self.scope(table)
        if isinstance(scope, ir.Const) and scope.value:
            return None
        joins = self.joins(table)
        cond = Predicates(joins, self).compile_scope(scope)
        return sa.select(joins.base_table.c.objectId).select_from(joins.from_clause()).where(cond)


class Predicates:
    """Compiles predicates against one FROM clause (``joins``); sub-queries get their own, scoped."""

    def __init__(self, joins: Joins, ctx: Context, alias_expr: Callable[[str], Any] | None = None) -> None:
        self.joins = joins
        self.ctx = ctx
        self.dialect = ctx.dialect
        self.alias_expr = alias_expr

    def compile_scope(self, scope: ir.Pred) -> Any:
        """A row scope (role scope, own records, ACL): compiled without the caller's field limits."""
        self.ctx._trusted += 1
        try:
            return self.compile(scope)
        finally:
            self.ctx._trusted -= 1

    def scoped(self, where: ir.Pred, table: str) -> Any:
        """The caller's condition on ``table`` AND the caller's row scope there."""
        scope = self.ctx.scope(table)
        if isinstance(scope, ir.Const) and scope.value:
            return self.compile(where)
        return sa.and_(self.compile(where), self.compile_scope(scope))

    def sub(self, table: str) -> tuple[Joins, Predicates]:
        joins = self.ctx.joins(table)
        return joins, Predicates(joins, self.ctx)

    # -- paths ------------------------------------------------------------------------------------------

    def column(self, path: ir.Path) -> Any:
        self.ctx.check_path(self.joins.base, path.hops, path.field.name)
        table, _ = self.joins.table_for(path.hops)
        return table.c[path.field.name]

    def operand_expr(self, path: ir.Path | ir.AliasRef, value: Any) -> Any:
        """The SQL value a path compares with ``value`` (typed by the operand when inside JSON)."""
        if isinstance(path, ir.AliasRef):
            if self.alias_expr is None:
                raise InvalidQuery(f"`{path.alias}` is a result column, usable only in having")
            return self.alias_expr(path.alias)
        col = self.column(path)
        if not path.json:
            if path.field.type in ("Object", "Array", "File", "Geo", "Relation"):
                raise InvalidQuery(f"`{path.dotted}` is a {path.field.type} field: compare a key inside it "
                                   "or use an array operator", field=path.field.name)
            return col
        return json_scalar(self.dialect, col, path.json, scalar_kind(value))

    # -- dispatch ---------------------------------------------------------------------------------------

    def compile(self, pred: ir.Pred) -> Any:
        method = getattr(self, "_" + type(pred).__name__.lower(), None)
        if method is None:
            raise InvalidQuery(f"unsupported condition {type(pred).__name__}")
        return method(pred)

    def _const(self, p: ir.Const) -> Any:
        return sa.true() if p.value else sa.false()

    def _and(self, p: ir.And) -> Any:
        return sa.and_(*(self.compile(i) for i in p.items)) if p.items else sa.true()

    def _or(self, p: ir.Or) -> Any:
        return sa.or_(*(self.compile(i) for i in p.items)) if p.items else sa.false()

    def _not(self, p: ir.Not) -> Any:
        return sa.not_(_or_false(self.compile(p.item)))

    def is_null(self, path: ir.Path | ir.AliasRef) -> Any:
        if isinstance(path, ir.AliasRef):
            return self.operand_expr(path, None).is_(None)
        col = self.column(path)
        if not path.json:
            return col.is_(None)
        if self.dialect == "postgresql":
            node = json_node(self.dialect, col, path.json)
            return sa.or_(node.is_(None), sa.func.jsonb_typeof(node) == "null")
        jtype = sa.func.json_type(col, sqlite_json_path(path.json))
        return sa.or_(jtype.is_(None), jtype == "null")

    def _cmp(self, p: ir.Cmp) -> Any:
        if p.value is None:
            return self.is_null(p.path) if p.op == "eq" else sa.not_(self.is_null(p.path))
        expr = self.operand_expr(p.path, p.value)
        value = p.value
        if p.op == "eq":
            return expr == value
        if p.op == "ne":
            return expr.is_distinct_from(value)
        if isinstance(value, bool):
            return _bool_order(expr, p.op, value)
        if p.op == "lt":
            return expr < value
        if p.op == "lte":
            return expr <= value
        if p.op == "gt":
            return expr > value
        return expr >= value

    def _inlist(self, p: ir.InList) -> Any:
        values = [v for v in p.values if v is not None]
        has_null = len(values) != len(p.values)
        base: Any = sa.false()
        if values and isinstance(p.path, ir.Path) and p.path.json:
            kinds = {scalar_kind(v) for v in values}
            if len(kinds) > 1:
                base = sa.or_(*(self.operand_expr(p.path, v) == v for v in values))
            else:
                base = self.operand_expr(p.path, values[0]).in_(_same_type(values))
        elif values:
            base = self.operand_expr(p.path, values[0]).in_(_same_type(values))
        if has_null:
            base = sa.or_(base, self.is_null(p.path))
        if not p.negate:
            return base
        return sa.not_(_or_false(base))

    def _text(self, p: ir.Text) -> Any:
        expr = self.operand_expr(p.path, "")
        pat = p.pattern
        if p.case_insensitive:
            expr, pat = sa.func.lower(expr), pat.lower()
        if p.op == "contains":
            cond = expr.contains(pat, autoescape=True)
        elif p.op == "startswith":
            cond = expr.startswith(pat, autoescape=True)
        elif p.op == "endswith":
            cond = expr.endswith(pat, autoescape=True)
        elif p.op == "eq":
            cond = expr == pat
        else:  # the caller's own LIKE pattern: only % and _ are special, as on SQLite
            cond = expr.like(pat.replace("\\", "\\\\") if self.dialect == "postgresql" else pat)
        return sa.not_(_or_false(cond)) if p.negate else cond

    def _regex(self, p: ir.Regex) -> Any:
        """RE2 on SQLite, ``~`` on PostgreSQL, each given the pattern as core/query/regex/ writes it for that engine
        (case-insensitivity is written into it: both run case-sensitively)."""
        expr = self.operand_expr(p.path, "")
        try:
            pattern = regex.translate(p.pattern, p.case_insensitive, self.dialect)
        except regex.PatternError as exc:
            raise InvalidQuery(f"`$regex`: {exc}", operator="$regex") from None
        if self.dialect == "postgresql":
            cond = expr.op("~")(pattern)
        else:
            cond = sa.func.hb_regexp(pattern, expr) == 1
        return sa.not_(_or_false(cond)) if p.negate else cond

    # -- arrays -----------------------------------------------------------------------------------------
    # A JSON array is read in place (SQLite: json_each/json_type with a path; PostgreSQL: ``#>``), so a
    # string that merely looks like JSON is never parsed as an array.

    def _array_at(self, path: ir.Path) -> tuple[Any, str]:
        if path.field.type not in ("Array", "Object") or (path.field.type == "Object" and not path.json):
            raise InvalidQuery(f"`{path.dotted}` is not an array", field=path.field.name)
        col = self.column(path)
        if self.dialect == "postgresql":
            return json_node(self.dialect, col, path.json), ""
        return col, sqlite_json_path(path.json)

    def _is_array(self, node: Any, jpath: str) -> Any:
        if self.dialect == "postgresql":
            return sa.func.jsonb_typeof(node) == "array"
        return sa.func.json_type(node, jpath) == "array"

    def _length(self, node: Any, jpath: str) -> Any:
        if self.dialect == "postgresql":
            return sa.func.jsonb_array_length(node)
        return sa.func.json_array_length(node, jpath)

    def _elements(self, node: Any, jpath: str) -> Any:
        return sa.func.json_each(node, jpath).table_valued("value", "type").alias(self.ctx.fresh_name("e"))

    def _element_is(self, each: Any, value: Any) -> Any:
        if isinstance(value, bool):
            return each.c.type == ("true" if value else "false")
        if isinstance(value, int | float):
            return sa.and_(each.c.type.in_(["integer", "real"]), each.c.value == value)
        return sa.and_(each.c.type == "text", each.c.value == value)

    def _contains_one(self, node: Any, jpath: str, value: Any) -> Any:
        scalar_kind(value)
        if self.dialect == "postgresql":
            return sa.and_(self._is_array(node, jpath), node.op("@>")(json_literal(self.dialect, [value])))
        each = self._elements(node, jpath)
        return sa.and_(self._is_array(node, jpath),
                       sa.exists(sa.select(1).select_from(each).where(self._element_is(each, value))))

    def _arrayhas(self, p: ir.ArrayHas) -> Any:
        node, jpath = self._array_at(p.path)
        parts = [self._contains_one(node, jpath, v) for v in p.values]
        if p.mode == "any":
            return sa.or_(*parts) if parts else sa.false()
        if p.mode == "none":
            return sa.not_(_or_false(sa.or_(*parts))) if parts else sa.true()
        contains_all = sa.and_(*parts) if parts else self._is_array(node, jpath)
        if p.mode == "all":
            return contains_all
        return sa.and_(contains_all, self._only_from(node, jpath, p.values))

    def _only_from(self, node: Any, jpath: str, values: tuple[Any, ...]) -> Any:
        """Every element of the array is one of ``values``."""
        if self.dialect == "postgresql":
            return json_literal(self.dialect, list(values)).op("@>")(node)
        each = self._elements(node, jpath)
        allowed = [self._element_is(each, v) for v in values]
        other = sa.not_(sa.or_(*allowed)) if allowed else sa.true()
        return sa.not_(sa.exists(sa.select(1).select_from(each).where(other)))

    def _arrayempty(self, p: ir.ArrayEmpty) -> Any:
        """null, JSON null or [] — or, negated, an array with at least one element (a scalar is neither)."""
        node, jpath = self._array_at(p.path)
        length = sa.case((self._is_array(node, jpath), self._length(node, jpath)))
        if p.negate:
            return _or_false(length > 0)
        return sa.or_(self.is_null(p.path), length == 0)

    # -- sub-queries and relations ----------------------------------------------------------------------

    def _insubquery(self, p: ir.InSubquery) -> Any:
        sub_joins, sub_preds = self.sub(p.sub.table)
        if p.sub.key is None:
            key = sub_joins.base_table.c.objectId
            left = self.column(p.path)
        else:
            key = sub_preds.column(p.sub.key)
            if p.sub.key.json:
                raise InvalidQuery("a sub-query key must be a field, not a path inside one")
            left = self.column(p.path)
        where = sub_preds.scoped(p.sub.where, p.sub.table)
        sub = sa.select(key).select_from(sub_joins.from_clause()).where(where, key.is_not(None))
        cond = left.in_(sub)
        return sa.not_(_or_false(cond)) if p.negate else cond

    def _relatedto(self, p: ir.RelatedTo) -> Any:
        owner = self.ctx.catalog.get(p.owner_table)
        self.ctx.check_field(owner.name, p.field.name)
        jt = owner.join_tables[p.field.name]
        sub = sa.select(jt.c.relatedId).where(jt.c.owningId == p.owner_id)
        visible = self.ctx.visible_ids(p.owner_table)
        if visible is not None:  # an owner the caller cannot see relates to nothing
            sub = sub.where(jt.c.owningId.in_(visible))
        return self.joins.base_table.c.objectId.in_(sub)

    def _relationhas(self, p: ir.RelationHas) -> Any:
        self.ctx.check_field(self.joins.base.name, p.field.name)
        jt = self.joins.base.join_tables[p.field.name]
        target_name = p.field.target or ""
        sub_joins, sub_preds = self.sub(target_name)
        target = sub_joins.base_table
        cond = sub_preds.scoped(p.where, target_name)
        jt_alias = jt.alias(self.ctx.fresh_name("r"))
        sub = (sa.select(1).select_from(jt_alias.join(sub_joins.from_clause(),
                                                     target.c.objectId == jt_alias.c.relatedId))
               .where(jt_alias.c.owningId == self.joins.base_table.c.objectId, cond))
        return ~sa.exists(sub) if p.negate else sa.exists(sub)

    # -- geo ----------------------------------------------------------------------------------------------

    def latlng(self, path: ir.Path) -> tuple[Any, Any]:
        if path.field.type != "Geo":
            raise InvalidQuery(f"`{path.dotted}` is not a Geo field", field=path.field.name)
        col = self.column(path)
        return (json_scalar(self.dialect, col, ("latitude",), "number"),
                json_scalar(self.dialect, col, ("longitude",), "number"))

    def distance_km(self, near: ir.GeoNear) -> Any:
        lat, lng = self.latlng(near.path)
        f = sa.func
        pre = "" if self.dialect == "postgresql" else "hb_"

        def fn(name: str, *args: Any) -> Any:
            return getattr(f, pre + name)(*args)

        rad = 3.141592653589793 / 180.0
        dlat = (lat - near.latitude) * rad / 2
        dlng = (lng - near.longitude) * rad / 2
        a = (fn("sin", dlat) * fn("sin", dlat)
             + fn("cos", lat * rad) * math.cos(math.radians(near.latitude))
             * fn("sin", dlng) * fn("sin", dlng))
        a = sa.case((a > 1.0, 1.0), else_=a)
        return 2 * EARTH_KM * fn("asin", fn("sqrt", a))

    def _geonear(self, p: ir.GeoNear) -> Any:
        lat, _ = self.latlng(p.path)
        if p.max_km is None:
            return lat.is_not(None)
        return self.distance_km(p) <= p.max_km

    def _geobox(self, p: ir.GeoBox) -> Any:
        lat, lng = self.latlng(p.path)
        lng_cond = (lng.between(p.west, p.east) if p.west <= p.east
                    else sa.or_(lng >= p.west, lng <= p.east))
        return sa.and_(lat.between(p.south, p.north), lng_cond)


__all__ = ["Predicates"]
