"""The login and consent page a person sees during an MCP client's OAuth flow: server-rendered, no
JavaScript, CSRF-protected (a tag of the request id only this server can make), framing refused.

The user signs in with the app's username and password (the core's check, with its brake on repeated
failures; no session is created), sees which client asks for what and where they will be sent, then
allows or denies. A request that fails sign-in five times is denied for good.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from mcp.server.auth.provider import construct_redirect_uri
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hivebase.core import oauth
from hivebase.core.identity import users
from hivebase.core.principal import Principal
from hivebase.errors import HivebaseError, LimitExceeded
from hivebase.oauth.provider import current

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(["html"]))
HEADERS = {"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
           "form-action 'self'; frame-ancestors 'none'", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
MAX_FAILURES = 5
_failures: dict[str, int] = {}  # request id → failed sign-ins (requests live 10 minutes)


def _csrf(request_id: str) -> str:
    return current().hub.vault.mac("oauth-consent", f"{current().app.name}\0{request_id}")


def _page(status: int = 200, **values: Any) -> HTMLResponse:
    html = TEMPLATES.get_template("consent.html").render(app=current().app.name, **values)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _form(pending: dict[str, Any], request_id: str, **extra: Any) -> dict[str, Any]:
    scopes = list(pending.get("scopes") or [])
    return {"client": pending.get("client_name") or pending.get("client_id"), "redirect": pending["redirect_uri"],
            "scopes": scopes, "offline": "offline_access" in scopes, "request_id": request_id,
            "csrf": _csrf(request_id), "username": "", "error": None, **extra}


async def consent(request: Request) -> Response:
    ctx = current()
    if request.method == "GET":
        request_id = request.query_params.get("request", "")
        pending = await oauth.pending_authorization(ctx.app, request_id) if request_id else None
        if pending is None:
            return _page(400, expired=True)
        return _page(**_form(pending, request_id))
    form = await request.form()
    request_id = str(form.get("request", ""))[:200]
    pending = await oauth.pending_authorization(ctx.app, request_id) if request_id else None
    if pending is None:
        return _page(400, expired=True)
    if not hmac.compare_digest(str(form.get("csrf", "")), _csrf(request_id)):
        return _page(403, **_form(pending, request_id, error="This form is stale; reload the page and try again."))
    if form.get("decision") != "approve":
        return _redirect(await oauth.deny(ctx.app, request_id), error="access_denied")
    username = str(form.get("username", ""))[:200]
    try:
        user_id = await users.check_password(ctx.app, Principal.client(ctx.app.name, via="oauth"), username,
                                             str(form.get("password", "")))
    except LimitExceeded:
        return _page(429, **_form(pending, request_id, username=username,
                                  error="Too many failed sign-ins; wait a minute and try again."))
    except HivebaseError:
        _failures[request_id] = _failures.get(request_id, 0) + 1
        if _failures[request_id] >= MAX_FAILURES:
            _failures.pop(request_id, None)
            return _redirect(await oauth.deny(ctx.app, request_id), error="access_denied")
        return _page(400, **_form(pending, request_id, username=username,
                                  error="The username or password is incorrect."))
    _failures.pop(request_id, None)
    return _redirect(await oauth.approve(ctx.app, request_id, user_id))


def _redirect(outcome: dict[str, Any], **params: str) -> Response:
    """Back to the client's redirect URI (checked against its registration when the flow started)."""
    target = construct_redirect_uri(outcome["redirect_uri"], code=outcome.get("code"), state=outcome.get("state"),
                                    iss=current().issuer, **params)
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})
