"""The ``@hivebase/resources`` package: NocoBase's six general data tools, with NocoBase's input schemas
(``additionalProperties: false``) and answers (``{data, meta}``). Each tool is one core call."""

from __future__ import annotations

from typing import Any

from hivebase.core.query.dates import parse_timezone
from hivebase.dialects.nocobase import resources
from hivebase.mcp.context import McpCall
from hivebase.mcp.packages import Package, Run, ToolSpec

STRINGS = {"type": "array", "items": {"type": "string"}}
KEY = {"type": ["string", "number"]}
COMMON: dict[str, Any] = {
    "dataSource": {"type": "string", "description": "data source key; default main"},
    "resource": {"type": "string",
                 "description": "a table (\"orders\") or an association \"<table>.<field>\" with sourceId"},
}
FIELD_PATH = {"type": ["string", "array"], "items": {"type": "string"}}


def _schema(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {"type": "object", "properties": {**COMMON, **properties}, "required": ["resource", *required],
            "additionalProperties": False}


LIST = _schema({"sourceId": KEY, "filter": {"type": "object"}, "fields": STRINGS, "appends": STRINGS,
                "except": STRINGS, "sort": STRINGS, "page": {"type": "integer"}, "pageSize": {"type": "integer"},
                "paginate": {"type": "boolean"}})
GET = _schema({"sourceId": KEY, "filterByTk": {"type": ["string", "number", "array"]}, "fields": STRINGS,
               "appends": STRINGS, "except": STRINGS})
CREATE = _schema({"sourceId": KEY, "values": {"type": "object"}, "whitelist": STRINGS, "blacklist": STRINGS},
                 "values")
UPDATE = _schema({"sourceId": KEY, "filterByTk": {"type": ["string", "number", "array"]},
                  "filter": {"type": "object"}, "values": {"type": "object"}, "whitelist": STRINGS,
                  "blacklist": STRINGS, "updateAssociationValues": STRINGS, "forceUpdate": {"type": "boolean"}},
                 "values")
DESTROY = _schema({"sourceId": KEY, "filterByTk": {"type": ["string", "number", "array"]},
                   "filter": {"type": "object"}})
MEASURE = {"type": "object", "additionalProperties": False, "required": ["field"],
           "properties": {"field": FIELD_PATH, "type": {"type": "string"},
                          "aggregation": {"type": "string", "enum": ["sum", "count", "avg", "min", "max"]},
                          "alias": {"type": "string"}, "distinct": {"type": "boolean"}}}
DIMENSION = {"type": "object", "additionalProperties": False, "required": ["field"],
             "properties": {"field": FIELD_PATH, "type": {"type": "string"}, "alias": {"type": "string"},
                            "format": {"type": "string"}, "options": {"type": "object"}}}
ORDER = {"type": "object", "additionalProperties": False, "required": ["field"],
         "properties": {"field": FIELD_PATH, "alias": {"type": "string"},
                        "order": {"type": "string", "enum": ["asc", "desc"]},
                        "nulls": {"type": "string", "enum": ["default", "first", "last"]}}}
QUERY = {"type": "object", "additionalProperties": False, "required": ["resource"],
         "properties": {**COMMON, "measures": {"type": "array", "items": MEASURE},
                        "dimensions": {"type": "array", "items": DIMENSION},
                        "orders": {"type": "array", "items": ORDER}, "filter": {"type": "object"},
                        "having": {"type": "object"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
                        "timezone": {"type": "string"}}}

FILTER_HELP = ('filter: {"status":"open","amount":{"$gt":10},"author.name":{"$includes":"li"}} — operators '
               "$eq $ne $gt $gte $lt $lte $in $notIn $like $includes $startsWith $empty $notEmpty $dateOn "
               "$between …, combine with $and/$or.")


def _core(fn: Any, *, zoned: bool = True) -> Run:
    """The tool as one core call; ``x-timezone`` (e.g. ``+08:00``) sets the day boundaries of date filters."""

    async def run(call: McpCall, args: dict[str, Any]) -> Any:
        if not zoned:
            return await fn(call.app, call.principal, args)
        return await fn(call.app, call.principal, args, tz_offset_minutes=parse_timezone(call.timezone))

    return run


def _query_tool() -> Run:
    """``resource_query`` takes its own ``timezone`` argument; the header stands in when it is absent."""

    async def run(call: McpCall, args: dict[str, Any]) -> Any:
        if "timezone" not in args and call.timezone is not None:
            args = {**args, "timezone": call.timezone}
        return await resources.resource_query(call.app, call.principal, args)

    return run


TOOLS = (
    ToolSpec("resource_list",
             "List rows of a table (or of an association with sourceId): paged {data, meta:{count,page,pageSize,"
             "totalPage}}. fields/except pick fields, appends loads related rows, sort [\"-createdAt\"], page from "
             "1, pageSize ≤ 1000. " + FILTER_HELP,
             LIST, _core(resources.resource_list), read_only=True, idempotent=True),
    ToolSpec("resource_get",
             "Get one row by key (filterByTk = its objectId; a list gives several): {data}. fields/appends/except "
             "as in resource_list.",
             GET, _core(resources.resource_get), read_only=True, idempotent=True),
    ToolSpec("resource_create",
             "Create a row from `values` (field → value; unknown fields are refused): {data: the new row}. "
             "whitelist/blacklist limit which fields may be written. Example: {\"resource\":\"orders\","
             "\"values\":{\"title\":\"A\",\"amount\":3}}",
             CREATE, _core(resources.resource_create, zoned=False)),
    ToolSpec("resource_update",
             "Update the rows chosen by filterByTk and/or filter (one is required) with `values`, all or nothing. "
             "Example: {\"resource\":\"orders\",\"filterByTk\":\"a1b2\",\"values\":{\"status\":\"paid\"}}",
             UPDATE, _core(resources.resource_update), idempotent=True),
    ToolSpec("resource_destroy",
             "Delete the rows chosen by filterByTk and/or filter (one is required), for good. Ask the user "
             "to confirm first.",
             DESTROY, _core(resources.resource_destroy), destructive=True, idempotent=True),
    ToolSpec("resource_query",
             "Aggregate in the database: measures [{field, aggregation sum|count|avg|min|max, alias}], dimensions "
             "[{field, alias, format}], orders, filter, having (by alias), limit (default 2000), offset. field may "
             "be a path through associations (\"author.name\"). Example: {\"resource\":\"orders\",\"measures\":"
             "[{\"field\":\"amount\",\"aggregation\":\"sum\",\"alias\":\"total\"}],\"dimensions\":[{\"field\":"
             "\"status\"}]}",
             QUERY, _query_tool(), read_only=True, idempotent=True),
)


def package() -> Package:
    return Package("@hivebase/resources", "NocoBase's general data tools: list, get, create, update, destroy and "
                   "aggregate rows of any table.", "nocobase", TOOLS)
