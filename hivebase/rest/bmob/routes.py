"""The Bmob REST API's routes, mounted at ``/1`` (and Parse's ``/parse``); files at ``/2``."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from hivebase.rest.bmob import batch, classes, misc, openapi, schemas
from hivebase.rest.bmob import files as bmob_files
from hivebase.rest.bmob import functions as bmob_functions
from hivebase.rest.bmob import roles as bmob_roles
from hivebase.rest.bmob import users as bmob_users
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
        Route("/users", endpoint(bmob_users.sign_up), methods=["POST"]),
        Route("/users", endpoint(bmob_users.query), methods=["GET"]),
        Route("/users/me", endpoint(bmob_users.me), methods=["GET"]),
        Route("/users/{object_id}", endpoint(bmob_users.get), methods=["GET"]),
        Route("/users/{object_id}", endpoint(bmob_users.update), methods=["PUT"]),
        Route("/users/{object_id}", endpoint(bmob_users.delete), methods=["DELETE"]),
        Route("/login", endpoint(bmob_users.log_in_get), methods=["GET"]),
        Route("/login", endpoint(bmob_users.log_in_post), methods=["POST"]),
        Route("/checkSession/{object_id}", endpoint(bmob_users.check_session), methods=["GET"]),
        Route("/updateUserPassword/{object_id}", endpoint(bmob_users.update_password), methods=["PUT"]),
        Route("/requestSmsCode", endpoint(bmob_users.request_sms_code), methods=["POST"]),
        Route("/verifySmsCode", endpoint(bmob_users.verify_sms_code), methods=["POST"]),
        Route("/verifySmsCode/{code}", endpoint(bmob_users.verify_sms_code_in_path), methods=["POST"]),
        Route("/resetPasswordBySmsCode/{code}", endpoint(bmob_users.reset_password_by_sms), methods=["PUT"]),
        Route("/batch", endpoint(batch.batch), methods=["POST"]),
        Route("/schemas", endpoint(schemas.list_all), methods=["GET"]),
        Route("/schemas/{table}", endpoint(schemas.get), methods=["GET"]),
        Route("/schemas/{table}", endpoint(schemas.create), methods=["POST"]),
        Route("/schemas/{table}", endpoint(schemas.alter), methods=["PUT"]),
        Route("/schemas/{table}", endpoint(schemas.drop), methods=["DELETE"]),
        Route("/roles", endpoint(bmob_roles.list_all), methods=["GET"]),
        Route("/roles", endpoint(bmob_roles.create), methods=["POST"]),
        Route("/roles/{object_id}", endpoint(bmob_roles.get), methods=["GET"]),
        Route("/roles/{object_id}", endpoint(bmob_roles.update), methods=["PUT"]),
        Route("/roles/{object_id}", endpoint(bmob_roles.delete), methods=["DELETE"]),
        Route("/timestamp", endpoint(misc.timestamp), methods=["GET"]),
        Route("/functions", endpoint(bmob_functions.list_functions), methods=["GET"]),
        Route("/functions/{name}", endpoint(bmob_functions.invoke), methods=["POST"]),
        Route("/functions/{name}", endpoint(bmob_functions.deploy), methods=["PUT"]),
        Route("/functions/{name}", endpoint(bmob_functions.remove), methods=["DELETE"]),
        *bmob_files.routes(),
    ]
