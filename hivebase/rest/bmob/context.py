"""Who is calling a Bmob endpoint, and the one wrapper that turns core results and errors into responses.

Bmob requires ``X-Bmob-Application-Id`` plus the REST API key or the master key on every call (Parse's
``X-Parse-*`` headers are accepted too); a session token adds the signed-in user. Missing or wrong app
credentials answer ``401 {"error":"unauthorized"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hivebase.auth.credentials import Credentials, app_by_id
from hivebase.auth.resolve import resolve_credentials
from hivebase.core.apps import App
from hivebase.core.principal import Principal
from hivebase.errors import HivebaseError, Unauthorized
from hivebase.http import ORJSONResponse
from hivebase.hub import Hub
from hivebase.rest.bmob.errors import error_response, unauthorized

log = logging.getLogger("hivebase.rest.bmob")
APP_CREDENTIALS = ("master_key", "rest_key", "application_id")


@dataclass(slots=True)
class Call:
    """One request, resolved: the hub, the app it names and the principal its credentials prove."""

    request: Request
    hub: Hub
    app: App
    principal: Principal


async def caller(request: Request) -> Call:
    hub: Hub = request.app.state.hub
    creds = Credentials.from_headers(request.headers)
    if not creds.has_app_key or creds.application_id is None:
        raise Unauthorized("application id and REST API key (or master key) are required", reason="application_id")
    app = await app_by_id(hub.apps, creds.application_id)
    principal = await resolve_credentials(hub.apps, app, creds, via="bmob", bearer=False)
    return Call(request, hub, app, principal)


Handler = Callable[[Call], Awaitable[Any]]


def created(call: Call, relative: str, body: dict[str, Any]) -> Response:
    """201 with ``Location`` under the prefix the request came through (``/1`` or ``/parse``)."""
    root = call.request.scope.get("root_path", "") or ""
    location = call.request.url.replace(path=f"{root}{relative}", query="")
    return ORJSONResponse(body, status_code=201, headers={"Location": str(location)})


def endpoint(handler: Handler, *, status: int = 200) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint: resolve the caller, run ``handler``, render its result (a Response passes
    through) or its error in Bmob's shape."""

    async def run(request: Request) -> Response:
        try:
            result = await handler(await caller(request))
        except Unauthorized as exc:
            if exc.reason in ("application_id", *APP_CREDENTIALS) or exc.reason.endswith("_key"):
                return unauthorized()
            return error_response(exc)
        except HivebaseError as exc:
            return error_response(exc)
        except Exception:  # a bug: logged with its traceback here, never shown to the caller
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            return ORJSONResponse({"code": 1, "error": "internal server error"}, status_code=500)
        if isinstance(result, Response):
            return result
        return ORJSONResponse(result, status_code=status)

    run.handler = handler  # type: ignore[attr-defined]  # for the OpenAPI description
    return run
