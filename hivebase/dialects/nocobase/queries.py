"""NocoBase's query entry points (``list``, ``get``, ``resource_query``): wire parameters in, NocoBase-shaped
JSON out. Parsing, permissions, the single SQL statement and rendering happen in the core, so every door answers
the same question the same way. ``{{currentUser.x}}`` in a caller's filter means the principal's user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hivebase.core import reads
from hivebase.core.access import current_user, require_caller
from hivebase.core.apps import App
from hivebase.core.names import is_key
from hivebase.core.principal import Principal
from hivebase.core.query.nocobase_params import parse_get, parse_list, relation_appends
from hivebase.core.query.resource_query import parse_resource_query
from hivebase.core.render import render_groups, render_row, render_rows
from hivebase.errors import NotFound


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
    data = render_rows(tdef, rows, "nocobase")
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
    data = render_rows(tdef, rows, "nocobase")
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
    return {"data": render_groups(await reads.aggregate(app, principal, agg), "nocobase")}

