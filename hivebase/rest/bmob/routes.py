"""The Bmob REST API's routes, mounted at ``/1`` (and Parse's ``/parse``); files at ``/2``."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from hivebase.rest.bmob import classes, openapi
from hivebase.rest.bmob.context import endpoint


def with_openapi(routes: list[BaseRoute], prefix: str) -> list[BaseRoute]:
    """``routes`` plus ``/openapi.json`` describing them (as served under ``prefix``)."""
    return [*routes, Route("/openapi.json", openapi.endpoint(openapi.operations(prefix, routes)), methods=["GET"])]


def api_routes() -> list[BaseRoute]:
    """Routes relative to ``/1`` (Bmob) or ``/parse`` (Parse)."""
    return [
        Route("/classes/{table}", endpoint(classes.query), methods=["GET"]),
        Route("/classes/{table}", endpoint(classes.create), methods=["POST"]),
        Route("/classes/{table}/{object_id}", endpoint(classes.get), methods=["GET"]),
        Route("/classes/{table}/{object_id}", endpoint(classes.update), methods=["PUT"]),
        Route("/classes/{table}/{object_id}", endpoint(classes.delete), methods=["DELETE"]),
    ]
