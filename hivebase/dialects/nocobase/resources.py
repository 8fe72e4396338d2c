"""The NocoBase dialect's six resource actions (``resource_list`` … ``resource_query``), one core call each.

The MCP tools and the NocoBase REST door both call these with the caller's arguments, so every rule lives
here: argument shapes, ``dataSource``, association resources (see ``associations``), ``whitelist`` /
``blacklist``, and bulk writes. An update or destroy acts on every targeted row the caller may write, in one
transaction, all or nothing. Plain values and Increments on a table other than ``_User`` are ONE ``UPDATE``
whose ``WHERE`` is the target AND the caller's row scope; anything needing the current row (dotted paths,
array and Relation operators) or the ``_User`` hooks goes row by row through ``records.update_in``, at most
``MAX_ROWS`` rows per call. A destroy is ONE ``DELETE`` plus the join-table clean-up of ``records.delete_in``
(``_User``: row by row, for its hooks). Through a to-many association, destroy deletes the related rows
themselves, not just the link. A target filter may name the fields the caller may ``get``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core import access, reads, records
from hivebase.core.access import current_user, require_caller
from hivebase.core.apps import App
from hivebase.core.clock import now
from hivebase.core.identity import user_table
from hivebase.core.model import USER_TABLE, TableDef
from hivebase.core.policy import Action
from hivebase.core.principal import Principal
from hivebase.core.query.compile import Compiler
from hivebase.core.query.filter import parse_filter
from hivebase.core.query.ir import Const, InList, Path, Pred, Select, conj
from hivebase.core.query.nocobase_params import by_key, parse_list, projection
from hivebase.core.render import render_row
from hivebase.core.writes import Plan, plan_write
from hivebase.dialects.nocobase import associations
from hivebase.dialects.nocobase.associations import Resource
from hivebase.dialects.nocobase.queries import nocobase_get, nocobase_list, nocobase_query
from hivebase.errors import InvalidQuery, LimitExceeded, NotFound, PermissionDenied

MAX_ROWS = 1000  # rows written one by one per call, and rows shown in a write's answer
CHUNK = 500  # objectIds per join-table clean-up statement


async def _resource(app: App, principal: Principal, args: Any, tool: str, *, association: bool = True
                    ) -> tuple[Mapping[str, Any], Resource]:
    require_caller(app, principal)  # before any lookup: no credentials, no schema hints
    args = associations.arguments(args, tool)
    return args, await associations.resolve(app, args, association=association)


# -- reads ---------------------------------------------------------------------------------------------------


async def resource_list(app: App, principal: Principal, args: Mapping[str, Any], *,
                        tz_offset_minutes: int = 0) -> dict[str, Any]:
    """``{"data":[…], "meta":{count, page, pageSize, totalPage}}`` (no meta with ``paginate: false``)."""
    args, res = await _resource(app, principal, args, "resource_list")
    if not res.is_association:
        return await nocobase_list(app, principal, res.table.name, args, tz_offset_minutes=tz_offset_minutes)
    if res.kind == "roles":
        associations.no_query_args(args)
        data = await associations.user_roles(app, principal, res)
        return {"data": data, "meta": {"count": len(data), "page": 1, "pageSize": len(data), "totalPage": 1}}
    select, paging = parse_list(app.catalog, res.table, args, current_user=current_user(principal),
                                tz_offset_minutes=tz_offset_minutes)
    select.where = conj(select.where, res.condition())
    async with app.db.read() as conn:
        await associations.check_source(conn, app, principal, res)
    rows, total = await reads.find(app, principal, select, with_count=paging["paginate"])
    if paging["relationAppends"]:
        await reads.append_relations(app, principal, res.table.name, rows, paging["relationAppends"])
    data = [render_row(res.table, r, "nocobase") for r in rows]
    if not paging["paginate"]:
        return {"data": data}
    size, count = paging["pageSize"], total or 0
    return {"data": data, "meta": {"count": count, "page": paging["page"], "pageSize": size,
                                   "totalPage": (count + size - 1) // size}}


async def resource_get(app: App, principal: Principal, args: Mapping[str, Any], *,
                       tz_offset_minutes: int = 0) -> dict[str, Any]:
    """``{"data": {…}}`` (a list when ``filterByTk`` is a list); nothing visible → NotFound. Through an
    association ``filterByTk`` may be left out: the first associated row (a belongs-to's only one)."""
    args, res = await _resource(app, principal, args, "resource_get")
    if not res.is_association:
        return await nocobase_get(app, principal, res.table.name, args, tz_offset_minutes=tz_offset_minutes)
    tk = args.get("filterByTk")
    if res.kind == "roles":
        associations.no_query_args(args)
        held = await associations.user_roles(app, principal, res)
        if tk is None:
            raise InvalidQuery("`users.roles` get needs `filterByTk`: a role name", field="filterByTk")
        found = [r for r in held if r["name"] == tk]
        if not found:
            raise NotFound(f"the user does not hold role {str(tk)[:64]!r}", reason="role", field="filterByTk")
        return {"data": found[0]}
    tdef = res.table
    where = parse_filter(app.catalog, tdef, args.get("filter"), current_user=current_user(principal),
                         tz_offset_minutes=tz_offset_minutes)
    if tk is not None and tk != "":
        where = conj(by_key(tdef, tk), where)
    proj = projection(app.catalog, tdef, args)
    select = Select(tdef.name, where=conj(where, res.condition()), keys=proj.keys, include=proj.include,
                    omit=proj.omit, named=proj.named, limit=max(len(tk), 1) if isinstance(tk, list) else 1)
    async with app.db.read() as conn:
        await associations.check_source(conn, app, principal, res)
    rows, _ = await reads.find(app, principal, select, action="get")
    if proj.relations:
        await reads.append_relations(app, principal, tdef.name, rows, proj.relations)
    data = [render_row(tdef, r, "nocobase") for r in rows]
    if isinstance(tk, list):
        return {"data": data}
    if not data:
        raise NotFound(f"no {tdef.name} row matches in `{res.name[:64]}`", table=tdef.name)
    return {"data": data[0]}


async def resource_query(app: App, principal: Principal, args: Mapping[str, Any]) -> dict[str, Any]:
    """``{"data": [{alias: value…}]}``; association resources are refused."""
    args, res = await _resource(app, principal, args, "resource_query", association=False)
    return await nocobase_query(app, principal, res.table.name, args)


# -- the write engine ----------------------------------------------------------------------------------------


def _target_compiler(app: App, principal: Principal, action: Action, table: str) -> Compiler:
    """A compiler ANDing the caller's ``action`` scope on ``table`` (``list`` on tables a filter joins); the
    filter may name the fields the caller may ``get`` (or, without ``get``, those of ``action``)."""
    access.require(app, principal, action, table)
    if principal.is_root:
        return Compiler(app.catalog, app.db.dialect)
    try:
        access.require(app, principal, "get", table)
        read: Action = "get"
    except PermissionDenied:
        read = action

    def scope_for(t: str) -> Pred:
        return access.row_scope(app, principal, action if t == table else "list", t)

    def fields_for(t: str) -> frozenset[str] | None:
        return access.visible_fields(app, principal, read if t == table else "list", t)

    return Compiler(app.catalog, app.db.dialect, scope_for, fields_for)


def _ids(app: App, principal: Principal, action: Action, tdef: TableDef, where: Pred) -> sa.Select[Any]:
    """``SELECT objectId`` of the targeted rows the caller may ``action`` (ordered by creation)."""
    compiler = _target_compiler(app, principal, action, tdef.name)
    return compiler.rows(Select(tdef.name, where=where, keys=["objectId"], limit=None)).stmt


def _in(tdef: TableDef, ids: sa.Select[Any]) -> Any:
    return tdef.table.c.objectId.in_(sa.select(ids.order_by(None).subquery().c[0]))


async def _capped(conn: AsyncConnection, ids: sa.Select[Any], what: str) -> list[str]:
    found = list((await conn.execute(ids.limit(MAX_ROWS + 1))).scalars())
    if len(found) > MAX_ROWS:
        raise LimitExceeded(f"this {what} matches more than {MAX_ROWS} rows; one call changes at most {MAX_ROWS} "
                            "rows this way (array/Relation operators, dotted paths, users): narrow `filter`",
                            reason="rows", maximum=MAX_ROWS)
    return found


def _plan(app: App, principal: Principal, tdef: TableDef, values: dict[str, Any]) -> Plan:
    """The checked write, before any statement runs (types, read-only fields, writable fields)."""
    data: Any = values
    if tdef.name == USER_TABLE:
        data, _ = user_table.split_password(app, principal, values, creating=False)
    plan = plan_write(tdef, data, creating=False)
    records.check_fields(app, principal, "update", tdef.name, plan)
    return plan


async def _update_all(conn: AsyncConnection, app: App, principal: Principal, tdef: TableDef, plan: Plan,
                      ids: sa.Select[Any]) -> dict[str, dict[str, Any]]:
    """ONE ``UPDATE … WHERE objectId IN (target AND scope)``: plain values and Increments."""
    await records.check_pointers(conn, app, principal, plan, app.db.dialect)
    t = tdef.table
    stamp = now()
    values: dict[str, Any] = {**plan.values, "updatedAt": stamp, "updatedBy": principal.user_id}
    for name, amount in plan.increments.items():
        values[name] = sa.func.coalesce(t.c[name], 0) + amount
    try:
        result = await conn.execute(sa.update(t).where(_in(tdef, ids)).values(values).returning(t.c.objectId))
    except IntegrityError as exc:
        raise records.unique_error(tdef, exc) from None
    return {oid: {"objectId": oid, "updatedAt": stamp} for oid in result.scalars()}


async def _delete_all(conn: AsyncConnection, app: App, tdef: TableDef, ids: sa.Select[Any]) -> list[str]:
    """ONE ``DELETE``, then what ``records.delete_in`` cleans up: the rows' own join-table entries and their
    membership in every Relation pointing at this table."""
    t = tdef.table
    deleted = list((await conn.execute(sa.delete(t).where(_in(tdef, ids)).returning(t.c.objectId))).scalars())
    members = [(app.catalog.get(other).join_tables[f.name], "relatedId") for other, f in
               app.catalog.referrers(tdef.name) if f.type == "Relation"]
    members += [(tdef.join_tables[f.name], "relatedId") for f in tdef.user_fields()
                if f.type == "Relation" and f.target == tdef.name]
    for start in range(0, len(deleted), CHUNK):
        chunk = deleted[start:start + CHUNK]
        for jt in tdef.join_tables.values():
            await conn.execute(sa.delete(jt).where(jt.c.owningId.in_(chunk)))
        for jt, column in members:
            await conn.execute(sa.delete(jt).where(jt.c[column].in_(chunk)))
    return deleted


async def _shown(conn: AsyncConnection, app: App, principal: Principal, tdef: TableDef,
                 written: dict[str, dict[str, Any]], *, whole: bool = False) -> list[dict[str, Any]]:
    """The written rows as the caller may ``get`` them (read in the write's transaction, at most MAX_ROWS);
    a row the caller may not get shows only what ``records.visible_part`` allows of what was written.
    ``whole`` rows (just inserted, every column known) need no read when the caller's scope is everything."""
    ids = list(written)[:MAX_ROWS]
    rows: list[dict[str, Any]] = []
    if ids and whole and _sees_every_row(app, principal, tdef):  # the rows as inserted are the stored rows
        return [render_row(tdef, records.visible_part(app, principal, tdef.name,
                                                      {c.key: written[i].get(c.key) for c in tdef.table.c}),
                           "nocobase") for i in ids]
    if ids:
        try:
            compiler = reads.compiler_for(app, principal, "get", tdef.name)
        except PermissionDenied:
            compiler = None
        if compiler is not None:
            q = Select(tdef.name, where=InList(Path(tdef.fields["objectId"]), tuple(ids)), limit=MAX_ROWS)
            stmt = compiler.rows(q)
            rows = stmt.assemble((await conn.execute(stmt.stmt)).all())
    seen = {r["objectId"] for r in rows}
    rows += [records.visible_part(app, principal, tdef.name, written[i]) for i in ids if i not in seen]
    return [render_row(tdef, r, "nocobase") for r in rows]


def _sees_every_row(app: App, principal: Principal, tdef: TableDef) -> bool:
    """Whether the caller's ``get`` scope on the table is unconditional (root, or a role without scope)."""
    try:
        scope = access.row_scope(app, principal, "get", tdef.name)
    except PermissionDenied:
        return False
    return isinstance(scope, Const) and bool(scope.value)


def _not_found(res: Resource, args: Mapping[str, Any]) -> NotFound:
    tk = args.get("filterByTk")
    which = f"with objectId {str(tk)[:64]!r}" if tk not in (None, "") else "matches"
    where = f" in `{res.name[:64]}`" if res.is_association else ""
    return NotFound(f"no {res.table.name} row {which}{where}", table=res.table.name, reason="object")


# -- writes --------------------------------------------------------------------------------------------------


async def resource_create(app: App, principal: Principal, args: Mapping[str, Any]) -> dict[str, Any]:
    """``{"data": row}``: a new row (linked to the source row through an association, same transaction)."""
    args, res = await _resource(app, principal, args, "resource_create")
    if res.kind == "roles":
        raise associations.refuse_roles_write()
    tdef = res.table
    data = associations.creation_values(res, associations.write_values(args, tdef, updating=False))
    async with app.db.write() as conn:
        await associations.check_source(conn, app, principal, res)
        row = await records.create_in(conn, app, principal, tdef.name, data)
        await associations.link(conn, app, principal, res, row["objectId"])
        shown = await _shown(conn, app, principal, tdef, {row["objectId"]: row}, whole=True)
    return {"data": shown[0]}


async def resource_update(app: App, principal: Principal, args: Mapping[str, Any], *,
                          tz_offset_minutes: int = 0) -> dict[str, Any]:
    """``{"data": row}`` for a scalar ``filterByTk`` (NotFound when nothing visible matched), else
    ``{"data": [rows ≤ MAX_ROWS], "meta": {"count": rows updated}}``."""
    args, res = await _resource(app, principal, args, "resource_update")
    if res.kind == "roles":
        raise associations.refuse_roles_write()
    tdef = res.table
    values = associations.write_values(args, tdef, updating=True)
    associations.update_options(args, tdef)
    where, single = associations.target_rows(app, principal, res, args, tz_offset_minutes)
    plan = _plan(app, principal, tdef, values)
    ids = _ids(app, principal, "update", tdef, where)
    async with app.db.write() as conn:
        await associations.check_source(conn, app, principal, res)
        if tdef.name != USER_TABLE and not plan.path_ops and not plan.relations:
            written = await _update_all(conn, app, principal, tdef, plan, ids)
        else:
            written = {}
            for oid in await _capped(conn, ids, "update"):
                written[oid] = await records.update_in(conn, app, principal, tdef.name, oid, values)
        if single and not written:
            raise _not_found(res, args)
        rows = await _shown(conn, app, principal, tdef, written)
    if single:
        return {"data": rows[0]}
    return {"data": rows, "meta": {"count": len(written)}}


async def resource_destroy(app: App, principal: Principal, args: Mapping[str, Any], *,
                           tz_offset_minutes: int = 0) -> dict[str, Any]:
    """``{"data": {"count": n}}``; a scalar ``filterByTk`` matching nothing visible → NotFound."""
    args, res = await _resource(app, principal, args, "resource_destroy")
    if res.kind == "roles":
        raise associations.refuse_roles_write()
    tdef = res.table
    where, single = associations.target_rows(app, principal, res, args, tz_offset_minutes)
    ids = _ids(app, principal, "destroy", tdef, where)
    async with app.db.write() as conn:
        await associations.check_source(conn, app, principal, res)
        if tdef.name == USER_TABLE:
            deleted = await _capped(conn, ids, "destroy")
            for oid in deleted:
                await records.delete_in(conn, app, principal, tdef.name, oid)
        else:
            deleted = await _delete_all(conn, app, tdef, ids)
        if single and not deleted:
            raise _not_found(res, args)
    return {"data": {"count": len(deleted)}}

