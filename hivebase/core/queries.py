"""Query entry points in each dialect's terms: wire parameters in, wire-shaped JSON out.

Doors (REST, MCP) call these with what their callers sent; parsing, permissions, the single SQL statement
and rendering all happen here, so every door answers the same question the same way. ``{{currentUser.x}}``
in a caller's filter means the principal's user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hivebase.core import reads
from hivebase.core.access import current_user, require_caller
from hivebase.core.apps import App
from hivebase.core.fields.base import Style
from hivebase.core.model import TableDef
from hivebase.core.names import is_key
from hivebase.core.principals import Principal
from hivebase.core.query.bmob_params import parse_aggregate, parse_find, parse_include, parse_keys
from hivebase.core.query.nocobase_params import parse_get, parse_list, relation_appends
from hivebase.core.query.resource_query import parse_resource_query
from hivebase.core.render import render_plain, render_row
from hivebase.errors import NotFound


def _render(tdef: TableDef, rows: list[dict[str, Any]], style: Style,
            keys: list[str] | None = None) -> list[dict[str, Any]]:
    relations = True if keys is None else keys
    return [render_row(tdef, r, style, relations=relations) for r in rows]


def _render_groups(rows: list[dict[str, Any]], style: Style) -> list[dict[str, Any]]:
    return [{k: render_plain(v, style) for k, v in r.items()} for r in rows]


async def bmob_query(app: App, principal: Principal, table: str, params: Mapping[str, Any]
                     ) -> dict[str, Any] | list[dict[str, Any]]:
    """``GET /1/classes/<Table>``: ``{"results":[…], "count"?}``, or a bare array for aggregations."""
    require_caller(app, principal)  # before any lookup: no credentials, no schema hints
    tdef = await app.catalog.table(table)
    agg = parse_aggregate(app.catalog, tdef, params)
    if agg is not None:
        return _render_groups(await reads.aggregate(app, principal, agg), "bmob")
    select, with_count = parse_find(app.catalog, tdef, params)
    rows, total = await reads.find(app, principal, select, with_count=with_count)
    out: dict[str, Any] = {"results": _render(tdef, rows, "bmob", select.keys)}
    if with_count:
        out["count"] = total
    return out


async def bmob_get(app: App, principal: Principal, table: str, object_id: Any,
                   params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``GET /1/classes/<Table>/<objectId>`` with optional ``keys`` and ``include``."""
    require_caller(app, principal)  # before any lookup: no credentials, no schema hints
    params = params or {}
    tdef = await app.catalog.table(table)
    keys = parse_keys(tdef, params.get("keys"))
    include = parse_include(app.catalog, tdef, params.get("include"))
    row = await reads.get(app, principal, table, object_id, keys=keys, include=include)
    return render_row(tdef, row, "bmob", relations=True if keys is None else keys)


async def nocobase_list(app: App, principal: Principal, resource: str, params: Mapping[str, Any], *,
                        tz_offset_minutes: int = 0) -> dict[str, Any]:
    """``<resource>:list`` → ``{"data":[…], "meta":{count, page, pageSize, totalPage}}``."""
    require_caller(app, principal)  # before any lookup: no credentials, no schema hints
    tdef = await app.catalog.table(resource)
    select, paging = parse_list(app.catalog, tdef, params, current_user=current_user(principal),
                                tz_offset_minutes=tz_offset_minutes)
    rows, total = await reads.find(app, principal, select, with_count=paging["paginate"])
    if paging["relationAppends"]:
        await reads.append_relations(app, principal, resource, rows, paging["relationAppends"])
    data = _render(tdef, rows, "nocobase")
    if not paging["paginate"]:
        return {"data": data}
    size = paging["pageSize"]
    count = total or 0
    return {"data": data, "meta": {"count": count, "page": paging["page"], "pageSize": size,
                                   "totalPage": (count + size - 1) // size}}


async def nocobase_get(app: App, principal: Principal, resource: str, params: Mapping[str, Any], *,
                       tz_offset_minutes: int = 0) -> dict[str, Any]:
    """``<resource>:get`` → ``{"data": {…}}`` (a list when ``filterByTk`` is a list); missing → NotFound."""
    require_caller(app, principal)  # before any lookup: no credentials, no schema hints
    tdef = await app.catalog.table(resource)
    tk = params.get("filterByTk")
    if params.keys() <= {"filterByTk", "resource"} and isinstance(tk, str) and is_key(tk):  # cached statement
        try:
            return {"data": render_row(tdef, await reads.get(app, principal, resource, tk), "nocobase")}
        except NotFound:
            raise NotFound(f"no {resource} row matches", table=resource) from None
    select = parse_get(app.catalog, tdef, params, current_user=current_user(principal),
                       tz_offset_minutes=tz_offset_minutes)
    rows, _ = await reads.find(app, principal, select, action="get")
    appends = relation_appends(app.catalog, tdef, params)
    if appends:
        await reads.append_relations(app, principal, resource, rows, appends)
    data = _render(tdef, rows, "nocobase")
    if isinstance(params.get("filterByTk"), list):
        return {"data": data}
    if not data:
        raise NotFound(f"no {resource} row matches", table=resource)
    return {"data": data[0]}


async def nocobase_query(app: App, principal: Principal, resource: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """``resource_query`` → ``{"data": [ {alias: value…} ]}``."""
    require_caller(app, principal)  # before any lookup: no credentials, no schema hints
    tdef = await app.catalog.table(resource)
    agg = parse_resource_query(app.catalog, tdef, args, current_user=current_user(principal))
    return {"data": _render_groups(await reads.aggregate(app, principal, agg), "nocobase")}
