"""The OpenAPI 3.1 description of the Bmob REST API, served at ``/1/openapi.json``.

Generated from the mounted routes themselves (each handler's docstring is its summary), so an endpoint
cannot be added or removed without its description following.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from hivebase import __version__
from hivebase.http import ORJSONResponse

OBJ: dict[str, Any] = {"type": "object", "additionalProperties": True}
ERROR = {"type": "object", "properties": {"code": {"type": "integer"}, "error": {"type": "string"}},
         "required": ["code", "error"]}
QUERY_PARAMS = [
    ("where", "JSON object: Bmob query conditions ($lt, $in, $regex, $inQuery, $relatedTo, $nearSphere…)"),
    ("order", "comma-separated fields, '-' for descending"), ("limit", "rows to return (default 100, max 1000)"),
    ("skip", "rows to skip"), ("count", "1: add the total count"), ("keys", "comma-separated fields to return"),
    ("include", "comma-separated Pointer paths to expand"), ("groupby", "aggregate: fields to group by"),
    ("groupcount", "aggregate: add _count"), ("sum", "aggregate: fields to sum"),
    ("average", "aggregate: fields to average"), ("max", "aggregate: maximum of fields"),
    ("min", "aggregate: minimum of fields"), ("having", "aggregate: JSON conditions on result columns"),
]

PATH_PARAM = re.compile(r"\{([A-Za-z_]+)(?::[a-z]+)?\}")


def _operation(method: str, path: str, handler: Any) -> dict[str, Any]:
    doc = inspect.getdoc(handler) or handler.__name__.replace("_", " ")
    status = str(getattr(handler, "status", 200))
    op: dict[str, Any] = {"summary": doc.splitlines()[0], "operationId": f"{handler.__module__.split('.')[-1]}_"
                          f"{handler.__name__}_{method}", "responses": {
        status: {"description": "success", "content": {"application/json": {"schema": OBJ}}},
        "400": {"description": "bad input", "content": {"application/json": {"schema": ERROR}}},
        "401": {"description": "missing or wrong credentials"},
        "403": {"description": "not allowed", "content": {"application/json": {"schema": ERROR}}},
        "404": {"description": "not found", "content": {"application/json": {"schema": ERROR}}}}}
    if len(doc.splitlines()) > 1:
        op["description"] = doc
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in PATH_PARAM.findall(path)]
    if method == "get" and path.rstrip("/").endswith("/classes/{table}"):
        params += [{"name": n, "in": "query", "description": d, "schema": {"type": "string"}} for n, d in QUERY_PARAMS]
    if params:
        op["parameters"] = params
    if method in ("post", "put"):
        op["requestBody"] = {"content": {"application/json": {"schema": OBJ}}}
    op["security"] = [{"applicationId": [], "restApiKey": []}, {"applicationId": [], "masterKey": []}]
    return op


def operations(prefix: str, routes: list[BaseRoute]) -> dict[str, dict[str, Any]]:
    """OpenAPI path items for Bmob endpoints (``Route``s made by ``context.endpoint``) under ``prefix``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        handler = getattr(getattr(route, "endpoint", None), "handler", None)
        if not isinstance(route, Route) or handler is None:
            continue
        path = prefix + PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", route.path)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                paths.setdefault(path, {})[method.lower()] = _operation(method.lower(), path, handler)
    return paths


def document(server_url: str, paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    header = {"type": "apiKey", "in": "header"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "hivebase — Bmob-compatible REST API", "version": __version__,
                 "description": "Parse's X-Parse-* headers are accepted too, and every /1/… path is also "
                                "served under /parse/…."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"securitySchemes": {
            "applicationId": {**header, "name": "X-Bmob-Application-Id"},
            "restApiKey": {**header, "name": "X-Bmob-REST-API-Key"},
            "masterKey": {**header, "name": "X-Bmob-Master-Key"},
            "sessionToken": {**header, "name": "X-Bmob-Session-Token"}}},
    }


def endpoint(paths: dict[str, dict[str, Any]]) -> Any:
    """``GET /1/openapi.json``: public, like any API documentation — it names endpoints, never data."""

    async def openapi(request: Request) -> ORJSONResponse:
        return ORJSONResponse(document(str(request.base_url).rstrip("/"), paths))

    return openapi
