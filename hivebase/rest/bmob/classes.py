"""``/1/classes/<Table>[/<objectId>]``: create, query, get, update and delete rows."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from hivebase.core import records
from hivebase.core.bmob_reads import bmob_get, bmob_query
from hivebase.dialects.bmob import answers
from hivebase.http import read_object
from hivebase.rest.bmob.context import Call, created


def params(call: Call) -> dict[str, str]:
    return dict(call.request.query_params)


def path(call: Call, name: str) -> str:
    return str(call.request.path_params[name])


async def body_object(call: Call) -> dict[str, Any]:
    return await read_object(call.request)


def created_row(call: Call, table: str, row: dict[str, Any]) -> Response:
    """201 with ``Location`` and ``{"createdAt", "objectId"}``."""
    shown = answers.created(call.app.catalog.get(table), row)
    return created(call, f"/classes/{table}/{row['objectId']}", shown)


def updated(call: Call, table: str, row: dict[str, Any]) -> dict[str, Any]:
    """``{"updatedAt"}`` plus the new value of every incremented field (as Parse answers)."""
    return answers.updated(call.app.catalog.get(table), row)


async def create(call: Call) -> Response:
    """Create a row: 201 with Location and {createdAt, objectId}."""
    table = path(call, "table")
    row = await records.create(call.app, call.principal, table, await body_object(call))
    return created_row(call, table, row)


create.status = 201  # type: ignore[attr-defined]  # for the OpenAPI description


async def query(call: Call) -> Any:
    """Query rows ({results, count?}), or aggregate them (groupby, sum, average…: a bare array)."""
    return await bmob_query(call.app, call.principal, path(call, "table"), params(call))


async def get(call: Call) -> Any:
    """Get one row (keys, include)."""
    return await bmob_get(call.app, call.principal, path(call, "table"), path(call, "object_id"),
                                  params(call))


async def update(call: Call) -> Any:
    """Update a row: fields, __op operators, dotted paths; {updatedAt}."""
    table = path(call, "table")
    row = await records.update(call.app, call.principal, table, path(call, "object_id"), await body_object(call))
    return updated(call, table, row)


async def delete(call: Call) -> Any:
    """Delete a row: {"msg":"ok"}."""
    await records.delete(call.app, call.principal, path(call, "table"), path(call, "object_id"))
    return answers.deleted()
