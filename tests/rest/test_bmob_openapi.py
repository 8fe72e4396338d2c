"""``/1/openapi.json`` describes exactly the mounted Bmob endpoints."""

from __future__ import annotations

from hivebase.rest.bmob.openapi import PATH_PARAM
from hivebase.rest.bmob.routes import api_routes
from tests.rest.conftest import Server


def test_openapi_matches_the_routes(server: Server) -> None:
    with server.raw() as raw:
        r = raw.get("/1/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["openapi"].startswith("3.1") and doc["servers"] == [{"url": server.url}]
    described = {(m, p) for p, item in doc["paths"].items() for m in item}
    mounted = {(m.lower(), "/1" + PATH_PARAM.sub(lambda x: "{" + x.group(1) + "}", route.path))
               for route in api_routes() if hasattr(getattr(route, "endpoint", None), "handler")
               for m in getattr(route, "methods", ()) if m != "HEAD"}
    assert described == mounted
    for item in doc["paths"].values():
        for op in item.values():
            assert op["summary"] and op["responses"] and op["security"]
    assert doc["paths"]["/1/classes/{table}"]["post"]["responses"].keys() >= {"201", "400"}
    assert {p["name"] for p in doc["paths"]["/1/classes/{table}"]["get"]["parameters"]} >= {"where", "groupby"}
