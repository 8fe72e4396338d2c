"""The ``@hivebase/bmob`` package: Bmob's MCP tools (same names, arguments and answers), plus the two reads
Bmob leaves out (``get_single_data``, ``query_data``) so an agent can check what it wrote.

Arguments that carry JSON (``fields``, ``data``, ``where``) may be JSON text, as Bmob documents, or an
object. Every tool calls one core function; the answers are Bmob's REST answers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from hivebase.core import records, schema, schema_view
from hivebase.core.bmob_reads import bmob_get, bmob_query
from hivebase.core.fields.date import format_bmob
from hivebase.dialects.bmob import answers
from hivebase.errors import InvalidValue, type_of
from hivebase.mcp import codegen
from hivebase.mcp.context import McpCall
from hivebase.mcp.packages import Package, ToolSpec

JSON_ARG = {"type": ["object", "string"]}
TABLE = {"type": "string", "description": "table name, exactly as get_project_tables lists it"}
OBJECT_ID = {"type": "string", "description": "the row's objectId"}


def _schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


def json_object(value: Any, name: str) -> dict[str, Any]:
    """An object argument given as an object or as JSON text."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value) if value.strip() else {}
        except orjson.JSONDecodeError:
            raise InvalidValue(f"`{name}` is not valid JSON; send an object or its JSON text", field=name,
                               reason="json") from None
    if not isinstance(value, dict):
        raise InvalidValue(f"`{name}` must be a JSON object, received {type_of(value)}", field=name, reason="json")
    return value


async def get_project_tables(call: McpCall, args: dict[str, Any]) -> dict[str, Any]:
    return await schema_view.compact(call.app, call.principal)


async def create_table(call: McpCall, args: dict[str, Any]) -> dict[str, Any]:
    fields = json_object(args.get("fields", {}), "fields")
    tdef = await schema.create_table(call.app, call.principal, args["tableName"], fields,
                                     note=args.get("classNote") or "")
    return {"tableName": tdef.name, **(await schema_view.compact(call.app, call.principal)).get(tdef.name, {})}


async def add_single_data(call: McpCall, args: dict[str, Any]) -> dict[str, Any]:
    table = args["tableName"]
    row = await records.create(call.app, call.principal, table, json_object(args["data"], "data"))
    return answers.created(call.app.catalog.get(table), row)


async def update_single_data(call: McpCall, args: dict[str, Any]) -> dict[str, Any]:
    table = args["tableName"]
    row = await records.update(call.app, call.principal, table, args["objectId"], json_object(args["data"], "data"))
    return answers.updated(call.app.catalog.get(table), row)


async def delete_single_data(call: McpCall, args: dict[str, Any]) -> dict[str, Any]:
    await records.delete(call.app, call.principal, args["tableName"], args["objectId"])
    return answers.deleted()


async def get_single_data(call: McpCall, args: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {k: args[k] for k in ("keys", "include") if k in args}
    return await bmob_get(call.app, call.principal, args["tableName"], args["objectId"], params)


async def query_data(call: McpCall, args: dict[str, Any]) -> Any:
    params = {k: v for k, v in args.items() if k != "tableName"}
    if "where" in params:
        params["where"] = json_object(params["where"], "where")
    if "having" in params:
        params["having"] = json_object(params["having"], "having")
    result = await bmob_query(call.app, call.principal, args["tableName"], params)
    return {"results": result} if isinstance(result, list) else result


async def invoke_cloud_function(call: McpCall, args: dict[str, Any]) -> Any:
    params = json_object(args.get("params", {}), "params")
    result = await call.hub.functions.invoke(call.app, call.principal, args["funcName"], params)
    return result if isinstance(result, dict) else {"result": result}


async def deploy_cloud_function(call: McpCall, args: dict[str, Any]) -> dict[str, Any]:
    async def source() -> Any:
        return args["code"]

    info = await call.hub.functions.deploy(call.app, call.principal, args["funcName"], source)
    return {"msg": "ok", **{k: (format_bmob(v) if isinstance(v, dt.datetime) else v) for k, v in info.items()}}


async def generate_code(call: McpCall, args: dict[str, Any]) -> str:
    kind = args.pop("type")
    language = args.pop("language", "curl")
    return codegen.generate(kind, args, base_url=call.base_url, application_id=call.app.application_id,
                            rest_api_key=await call.rest_api_key(), language=language)


NAMES = {"type": ["string", "array"], "items": {"type": "string"}}

TOOLS = (
    ToolSpec("get_project_tables",
             "List this app's tables and their fields (name → type, with unique/targetClass/autoIncrement "
             "options). Call it first: writes must use these exact names. Every table also has objectId, "
             "createdAt, updatedAt and ACL.",
             _schema({}), get_project_tables, read_only=True, idempotent=True),
    ToolSpec("create_table",
             "Create a table. `fields` maps names to definitions; types: String, Number, Bool, Date, File, Geo, "
             "Array, Object, Pointer, Relation. Options: unique, required, default, note, targetClass (Pointer, "
             "Relation), isAutoIncre + autoIncreInit (Number). Do not declare objectId/createdAt/updatedAt/ACL. "
             'Example: {"tableName":"Player","classNote":"players","fields":{"nickname":{"type":"String",'
             '"unique":true},"score":{"type":"Number","isAutoIncre":true,"autoIncreInit":1000},"team":{"type":'
             '"Pointer","targetClass":"Team"}}}',
             _schema({"tableName": TABLE, "classNote": {"type": "string"}, "fields": JSON_ARG}, ("tableName",)),
             create_table),
    ToolSpec("add_single_data",
             "Add one row; answers {objectId, createdAt}. `data` maps field names to values; unknown fields are "
             'refused. Pointer: {"__type":"Pointer","className":"Team","objectId":"…"}; Date: {"__type":"Date",'
             '"iso":"2024-01-02 03:04:05"}. Example: {"tableName":"Player","data":{"nickname":"li","score":3}}',
             _schema({"tableName": TABLE, "data": JSON_ARG}, ("tableName", "data")), add_single_data),
    ToolSpec("update_single_data",
             "Update one row: the given fields are replaced whole; operators such as "
             '{"__op":"Increment","amount":1}, {"__op":"Add","objects":[…]} and {"__op":"Delete"} work too. '
             'Answers {updatedAt}. Example: {"tableName":"Player","objectId":"a1b2c3","data":{"score":10}}',
             _schema({"tableName": TABLE, "objectId": OBJECT_ID, "data": JSON_ARG},
                     ("tableName", "objectId", "data")), update_single_data, idempotent=True),
    ToolSpec("delete_single_data",
             "Delete one row for good (no undo). Ask the user to confirm first. Answers {msg:\"ok\"}.",
             _schema({"tableName": TABLE, "objectId": OBJECT_ID}, ("tableName", "objectId")),
             delete_single_data, destructive=True, idempotent=True),
    ToolSpec("get_single_data",
             "Read one row by objectId; `keys` picks fields, `include` expands Pointers (\"team\").",
             _schema({"tableName": TABLE, "objectId": OBJECT_ID, "keys": NAMES, "include": NAMES},
                     ("tableName", "objectId")), get_single_data, read_only=True, idempotent=True),
    ToolSpec("query_data",
             "Query rows with Bmob's `where` ($lt $gt $in $regex $or $exists …), order (\"-score,name\"), "
             "limit (≤1000), skip, count, keys, include; or aggregate: groupby, groupcount, sum/average/max/min "
             "(field names), having. Answers {results:[…], count?}. Example: {\"tableName\":\"Player\","
             "\"where\":{\"score\":{\"$gte\":10}},\"order\":\"-score\",\"limit\":20}",
             _schema({"tableName": TABLE, "where": JSON_ARG, "order": NAMES, "limit": {"type": "integer"},
                      "skip": {"type": "integer"}, "count": {"type": ["boolean", "integer"]}, "keys": NAMES,
                      "include": NAMES, "groupby": NAMES, "groupcount": {"type": "boolean"}, "sum": NAMES,
                      "average": NAMES, "max": NAMES, "min": NAMES, "having": JSON_ARG}, ("tableName",)),
             query_data, read_only=True, idempotent=True),
    ToolSpec("invoke_cloud_function",
             "Run one of the app's cloud functions with `params` (an object, or its JSON text) as the caller; "
             "answers the function's JSON result. Example: {\"funcName\":\"hello\",\"params\":{\"name\":\"li\"}}",
             _schema({"funcName": {"type": "string"}, "params": JSON_ARG}, ("funcName",)), invoke_cloud_function),
    ToolSpec("deploy_cloud_function",
             "Deploy or replace a cloud function (master key only): `code` is Python source defining "
             "main(ctx), which gets ctx.params and ctx.user and returns JSON. Example: {\"funcName\":\"hello\","
             "\"code\":\"def main(ctx):\\n    return {'hi': ctx.params.get('name')}\"}",
             _schema({"funcName": {"type": "string"}, "code": {"type": "string"}}, ("funcName", "code")),
             deploy_cloud_function, idempotent=True),
)


def generate_code_tool() -> ToolSpec:
    text = {"type": "string"}
    props: dict[str, Any] = {"type": {"type": "string", "description": "operation: " + ", ".join(codegen.REQUIREMENTS)},
                             "language": {"type": "string", "enum": ["curl", "python", "javascript"]},
                             "objectId": text, "data": JSON_ARG, "tableName": text, "where": JSON_ARG,
                             "skip": {"type": "integer"}, "limit": {"type": "integer"},
                             "count": {"type": ["boolean", "integer"]}, "fileName": text, "content_Type": text,
                             "username": text, "password": text, "mobilePhoneNumber": text, "smsCode": text,
                             "sessionToken": text, "funcName": text}
    return ToolSpec("generate_code",
                    "Print a ready-to-run request against this server (curl by default; language python or "
                    "javascript) using the app's id and REST API key. `type` (Chinese labels accepted) and what "
                    "each needs:\n" + codegen.describe_types(),
                    _schema(props, ("type",)), generate_code, read_only=True, idempotent=True)


def package() -> Package:
    return Package("@hivebase/bmob", "Bmob's MCP tools: tables, rows and ready-to-run client code.", "bmob",
                   (*TOOLS, generate_code_tool()))
