"""Reading rows: find, get, count and aggregate, each one SQL statement (plus one batched statement per
Relation level when relations are appended)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hivebase.core import access
from hivebase.core.apps import App
from hivebase.core.model import TableDef
from hivebase.core.names import is_key
from hivebase.core.policy import Action
from hivebase.core.principal import Principal
from hivebase.core.query import ir
from hivebase.core.query.compile import Compiler, Embedded, RowsStatement
from hivebase.errors import NotFound, PermissionDenied


def compiler_for(app: App, principal: Principal, action: Action, table: str) -> Compiler:
    """A compiler that ANDs the principal's row scope for ``action`` on ``table`` — and for reading any other
    table the statement touches (joins, includes, sub-queries) — and refuses fields the role may not see."""
    access.require(app, principal, action, table)
    if principal.is_root:
        return Compiler(app.catalog, app.db.dialect)

    def scope_for(t: str) -> ir.Pred:
        return access.row_scope(app, principal, action if t == table else "list", t)

    def fields_for(t: str) -> frozenset[str] | None:
        return access.visible_fields(app, principal, action if t == table else "list", t)

    return Compiler(app.catalog, app.db.dialect, scope_for, fields_for)


async def find(app: App, principal: Principal, q: ir.Select, *, with_count: bool = False,
               action: Action = "list") -> tuple[list[dict[str, Any]], int | None]:
    """Rows matching ``q`` (and the total matching count when asked, ignoring limit/offset)."""
    access.require_caller(app, principal)
    await app.catalog.table(q.table)
    compiler = compiler_for(app, principal, action, q.table)
    rows: list[dict[str, Any]] = []
    total = None
    async with app.db.read() as conn:
        if q.limit != 0:
            stmt = _remember(app, ("rows", action, repr(_shape(q)), _who(principal)), lambda: compiler.rows(q))
            rows = stmt.assemble((await conn.execute(stmt.stmt)).all())
        if with_count:
            counting = _remember(app, ("count", action, q.table, repr(q.where), _who(principal)),
                                 lambda: compiler.count(q.table, q.where))
            total = int((await conn.execute(counting)).scalar_one())
    return rows, total


async def get(app: App, principal: Principal, table: str, object_id: Any, *, keys: list[str] | None = None,
              include: list[ir.Include] | None = None) -> dict[str, Any]:
    access.require_caller(app, principal)
    tdef = await app.catalog.table(table)
    if not is_key(object_id):
        raise NotFound(f"no {table} row with objectId {str(object_id)[:64]!r}", table=table)
    stmt = _get_statement(app, principal, tdef, keys, include or [])
    async with app.db.read() as conn:
        rows = stmt.assemble((await conn.execute(stmt.stmt, {"oid": object_id})).all())
    if not rows:
        raise NotFound(f"no {table} row with objectId {object_id[:64]!r}", table=table)
    return rows[0]


STATEMENTS = 1024  # compiled statements cached per app
MAX_KEY = 16_384  # characters of IR a cached statement may be keyed by


def _who(principal: Principal) -> Any:
    """Whom a compiled statement was compiled for: root, or a role with its user (whose scopes may name
    them; a scope may name the user's fields too, so their row's ``updatedAt`` is part of it)."""
    if principal.is_root:
        return "root"
    return principal.role, principal.roles, principal.user_id, (principal.user or {}).get("updatedAt")


def _shape(q: ir.Select) -> tuple[Any, ...]:
    return (q.table, q.where, q.order, q.limit, q.offset, q.keys, q.include, q.omit, q.named)


def _remember(app: App, key: Any, build: Any) -> Any:
    """The statement cached under ``key`` in the app's catalog, else ``build()``'s, cached. Keys hold the
    query's IR by ``repr`` (which tells 1 from True and 1.0, where equality does not). Role definitions live
    in the catalog, whose reload empties the cache; the oldest entries make room past STATEMENTS."""
    if sum(len(part) for part in key if isinstance(part, str)) > MAX_KEY:  # a huge filter: compile, keep nothing
        return build()
    cache = app.catalog.statements
    found = cache.get(key)
    if found is None:
        found = build()
        while len(cache) >= STATEMENTS:
            del cache[next(iter(cache))]
        cache[key] = found
    return found


def _get_statement(app: App, principal: Principal, tdef: TableDef, keys: list[str] | None,
                   include: list[ir.Include]) -> RowsStatement:
    """The get-by-id statement with the objectId as a bound parameter, compiled once per shape and caller."""
    compiler = compiler_for(app, principal, "get", tdef.name)
    oid = ir.Path(tdef.fields["objectId"])
    q = ir.Select(tdef.name, where=ir.Cmp(oid, "eq", sa.bindparam("oid", type_=sa.String())), limit=1,
                  keys=keys, include=include, order=[ir.Order(path=oid)])
    key = ("get", tdef.name, tuple(keys) if keys is not None else None, repr(include), _who(principal))
    return _remember(app, key, lambda: compiler.rows(q))  # type: ignore[no-any-return]


async def count(app: App, principal: Principal, table: str, where: ir.Pred = ir.Const(True)) -> int:
    access.require_caller(app, principal)
    await app.catalog.table(table)
    compiler = compiler_for(app, principal, "list", table)
    stmt = _remember(app, ("count", "list", table, repr(where), _who(principal)), lambda: compiler.count(table, where))
    async with app.db.read() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def aggregate(app: App, principal: Principal, agg: ir.Aggregate) -> list[dict[str, Any]]:
    access.require_caller(app, principal)
    await app.catalog.table(agg.table)
    stmt = compiler_for(app, principal, "query", agg.table).aggregate(agg)
    async with app.db.read() as conn:
        return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


async def append_relations(app: App, principal: Principal, table: str, rows: list[dict[str, Any]],
                           fields: list[str]) -> None:
    """Load Relation members for ``rows`` in place: one statement per field, whatever the number of rows."""
    tdef = app.catalog.get(table)
    visible = access.visible_fields(app, principal, "list", table)
    for name in fields:
        if visible is not None and name not in visible:
            raise PermissionDenied(f"`{name}` of {table} is not visible to this role", field=name, table=table,
                                   reason="field")
    ids = [r["objectId"] for r in rows if r.get("objectId")]
    if not ids:
        return
    for name in fields:
        f = tdef.fields[name]
        target = app.catalog.get(f.target or "")
        jt = tdef.join_tables[name]
        inner = compiler_for(app, principal, "list", target.name).rows(ir.Select(target.name, limit=None))
        sub = inner.stmt.order_by(None).subquery()
        cols = [c for c in sub.c]
        stmt = (sa.select(jt.c.owningId.label("owner"), *cols)
                .select_from(jt.join(sub, sub.c[0] == jt.c.relatedId))
                .where(jt.c.owningId.in_(ids)).order_by(jt.c.owningId, sub.c[0]))
        members: dict[str, list[Embedded]] = {i: [] for i in ids}
        async with app.db.read() as conn:
            result = (await conn.execute(stmt)).all()
        labels = inner.top_level_labels()
        for r in result:
            m = r._mapping
            values = {labels[c.name]: m[c.name] for c in cols if c.name in labels}
            members[m["owner"]].append(Embedded(target, values))
        for row in rows:
            row[name] = members.get(row["objectId"], [])
