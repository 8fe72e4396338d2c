"""The ``@hivebase/plugin-data-source-main`` package: NocoBase's collection and field operations as tools.

Names follow NocoBase's generated tools (``/collections/{collectionName}/fields:create`` →
``collections_fields_create``): path and query parameters are top-level arguments, the request body is
``requestBody``. Each tool is one call of
``hivebase.dialects.nocobase.collections``; answers are NocoBase's ``{"data": …}``.
"""

from __future__ import annotations

from typing import Any

from hivebase.dialects.nocobase import collections
from hivebase.mcp.context import McpCall
from hivebase.mcp.packages import Package, ToolSpec

NAME = {"type": "string", "description": "collection (table) name"}
FIELD = {"type": "object", "required": ["name"],
         "properties": {"name": {"type": "string"}, "type": {"type": "string"}, "interface": {"type": "string"},
                        "title": {"type": "string"}, "target": {"type": "string"}, "unique": {"type": "boolean"},
                        "allowNull": {"type": "boolean"}, "autoIncrement": {"type": "boolean"},
                        "uiSchema": {"type": "object"}}}
COLLECTION = {"type": "object", "required": ["name"],
              "properties": {"name": {"type": "string"}, "title": {"type": "string"},
                             "fields": {"type": "array", "items": {"type": "object"}}}}
TYPES_HELP = ("Types: string, integer, double, boolean, date, json, array, point, belongsTo/belongsToMany (+target;"
              " one-to-many: a belongsTo on the other side)")


def _schema(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


async def collections_list(call: McpCall, args: dict[str, Any]) -> Any:
    return await collections.list_collections(call.app, call.principal)


async def collections_get(call: McpCall, args: dict[str, Any]) -> Any:
    return await collections.get_collection(call.app, call.principal, args["filterByTk"])


async def collections_create(call: McpCall, args: dict[str, Any]) -> Any:
    body = dict(args["requestBody"])
    return await collections.create_collection(call.app, call.principal, body.pop("name", None),
                                               body.pop("title", None), body.pop("fields", None), options=body)


async def collections_destroy(call: McpCall, args: dict[str, Any]) -> Any:
    return await collections.destroy_collection(call.app, call.principal, args["filterByTk"],
                                                cascade=args.get("cascade", False))


async def collections_fields_list(call: McpCall, args: dict[str, Any]) -> Any:
    return await collections.list_fields(call.app, call.principal, args["collectionName"])


async def collections_fields_create(call: McpCall, args: dict[str, Any]) -> Any:
    return await collections.create_field(call.app, call.principal, args["collectionName"], args["requestBody"])


async def collections_fields_destroy(call: McpCall, args: dict[str, Any]) -> Any:
    return await collections.destroy_field(call.app, call.principal, args["collectionName"], args["filterByTk"])


TOOLS = (
    ToolSpec("collections_list",
             "List collections (tables) with their fields: {data:[{name,title,fields:[{name,type,interface,target"
             "…}]}]}. Every collection also has objectId (the key), createdAt, updatedAt, createdBy, updatedBy.",
             _schema({}), collections_list, read_only=True, idempotent=True),
    ToolSpec("collections_get",
             "One collection and its fields. Example: {\"filterByTk\":\"orders\"}",
             _schema({"filterByTk": NAME}, "filterByTk"), collections_get, read_only=True, idempotent=True),
    ToolSpec("collections_create",
             "Create a collection and its fields, all or nothing. Field keys: name, type, title, unique, "
             "allowNull, defaultValue. " + TYPES_HELP + ". Example: {\"requestBody\":"
             "{\"name\":\"orders\",\"fields\":[{\"name\":\"total\",\"type\":"
             "\"double\"},{\"name\":\"customer\",\"type\":\"belongsTo\",\"target\":\"customers\"}]}}",
             _schema({"requestBody": COLLECTION}, "requestBody"), collections_create),
    ToolSpec("collections_destroy",
             "Drop a collection and all its rows, for good; cascade:true also removes other collections' fields "
             "pointing to it. Ask the user first. Example: {\"filterByTk\":\"orders\"}",
             _schema({"filterByTk": NAME, "cascade": {"type": "boolean"}}, "filterByTk"), collections_destroy,
             destructive=True, idempotent=True),
    ToolSpec("collections_fields_list",
             "The fields of one collection. Example: {\"collectionName\":\"orders\"}",
             _schema({"collectionName": NAME}, "collectionName"), collections_fields_list, read_only=True,
             idempotent=True),
    ToolSpec("collections_fields_create",
             "Add one field to a collection (keys as in collections_create). Example: {\"collectionName\":"
             "\"orders\",\"requestBody\":{\"name\":\"paid\",\"type\":\"boolean\",\"defaultValue\":false}}",
             _schema({"collectionName": NAME, "requestBody": FIELD}, "collectionName", "requestBody"),
             collections_fields_create),
    ToolSpec("collections_fields_destroy",
             "Remove a field and its values from every row, for good. Ask the user first. Example: "
             "{\"collectionName\":\"orders\",\"filterByTk\":\"paid\"}",
             _schema({"collectionName": NAME, "filterByTk": {"type": "string", "description": "field name"}},
                     "collectionName", "filterByTk"), collections_fields_destroy, destructive=True, idempotent=True),
)


def package() -> Package:
    return Package("@hivebase/plugin-data-source-main", "NocoBase's collections and fields: create, list and drop "
                   "tables and fields.", "nocobase", TOOLS)
