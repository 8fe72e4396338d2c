"""``/1/functions[/<name>]``: invoke a cloud function (any credential of the app); deploy, remove and list
them (master key).

As in Bmob, an invocation answers 200 with the function's JSON result itself as the body (``{"a":1}``,
``42``, ``null``); Parse wraps it as ``{"result": …}`` — we follow Bmob on both mounts. Deploy takes the
source as the raw body (``text/plain``, ``application/x-python``, ``text/x-python``, or no Content-Type)
or as JSON ``{"code": "…"}``.
"""

from __future__ import annotations

from typing import Any

from hivebase.core.fields.date import format_bmob
from hivebase.core.functions.sources import MAX_DEPLOY_BODY
from hivebase.errors import InvalidValue, type_of
from hivebase.http import BadBody, ORJSONResponse, read_body, read_json, read_object
from hivebase.rest.bmob.context import Call

SOURCE_TYPES = ("", "text/plain", "application/x-python", "text/x-python", "text/x-script.python")


def _name(call: Call) -> str:
    return str(call.request.path_params["name"])


def _shown(info: dict[str, Any]) -> dict[str, Any]:
    out = dict(info)
    if "updatedAt" in out:
        out["updatedAt"] = format_bmob(out["updatedAt"])
    return out


async def _source(call: Call) -> Any:
    ctype = call.request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        data = await read_json(call.request, limit=MAX_DEPLOY_BODY, empty={})
        if not isinstance(data, dict):
            raise InvalidValue(f"the body must be a JSON object {{\"code\": \"…\"}}, received {type_of(data)}",
                               reason="json")
        if "code" not in data:
            raise InvalidValue("`code` is required: the function's Python source", field="code", reason="missing")
        return data["code"]
    if ctype not in SOURCE_TYPES:
        raise BadBody("send the source as text/plain or application/x-python, or JSON {\"code\": \"…\"}",
                      reason="content_type")
    return await read_body(call.request, MAX_DEPLOY_BODY)


async def invoke(call: Call) -> ORJSONResponse:
    """Run a cloud function with the JSON body as its parameters; its JSON result is the response body."""
    params = await read_object(call.request, limit=call.hub.settings.max_body_bytes, what="the parameters")
    result = await call.hub.functions.invoke(call.app, call.principal, _name(call), params)
    return ORJSONResponse(result)


async def deploy(call: Call) -> Any:
    """Deploy (or replace) a cloud function: the body is its Python source defining main(ctx). Master key."""
    info = await call.hub.functions.deploy(call.app, call.principal, _name(call), lambda: _source(call))
    return {"msg": "ok", **_shown(info)}


async def remove(call: Call) -> Any:
    """Remove a deployed cloud function (a file function of the same name takes over again). Master key."""
    await call.hub.functions.remove(call.app, call.principal, _name(call))
    return {"msg": "ok"}


async def list_functions(call: Call) -> Any:
    """List the app's cloud functions and where each comes from (deployed or file). Master key."""
    return {"results": [_shown(f) for f in await call.hub.functions.list_all(call.app, call.principal)]}
