"""Reads in Bmob's shapes: ``where``/``keys``/``include``/aggregation parameters in, Bmob-shaped JSON out.

The core's own read API speaks Bmob (cloud functions' ``ctx.records``, ``/users/me``), so these live in the
core; NocoBase's entry points are in ``hivebase.dialects.nocobase.queries``. Parsing, permissions, the single
SQL statement and rendering happen here, so every door answers the same question the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hivebase.core import reads
from hivebase.core.access import require_caller
from hivebase.core.apps import App
from hivebase.core.model import USER_TABLE
from hivebase.core.principal import Principal
from hivebase.core.query.bmob_params import parse_aggregate, parse_find, parse_include, parse_keys
from hivebase.core.render import render_groups, render_row, render_rows
from hivebase.errors import Unauthorized


async def bmob_query(app: App, principal: Principal, table: str, params: Mapping[str, Any]
                     ) -> dict[str, Any] | list[dict[str, Any]]:
    """``GET /1/classes/<Table>``: ``{"results":[…], "count"?}``, or a bare array for aggregations."""
    require_caller(app, principal)  # before any lookup: no credentials, no schema hints
    tdef = await app.catalog.table(table)
    agg = parse_aggregate(app.catalog, tdef, params)
    if agg is not None:
        return render_groups(await reads.aggregate(app, principal, agg), "bmob")
    select, with_count = parse_find(app.catalog, tdef, params)
    rows, total = await reads.find(app, principal, select, with_count=with_count)
    out: dict[str, Any] = {"results": render_rows(tdef, rows, "bmob", select.keys)}
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


async def me(app: App, principal: Principal, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``GET /users/me``: the caller's own user row in Bmob's shape, as their role may see it."""
    p = require_caller(app, principal)
    if p.user_id is None:
        raise Unauthorized("this needs a user's session token; log in first", reason="session")
    return await bmob_get(app, p, USER_TABLE, p.user_id, params)
