"""Bmob's user endpoints: sign up and log in (password or SMS code), the ``_User`` rows, sessions, passwords
and SMS codes. Each handler reads the request, calls one core entry point and renders its answer."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from hivebase.auth.credentials import Credentials
from hivebase.core.bmob_reads import bmob_get, bmob_query
from hivebase.core.bmob_reads import me as bmob_me
from hivebase.core.identity import users
from hivebase.core.model import USER_TABLE
from hivebase.core.render import render_row
from hivebase.rest.bmob import context
from hivebase.rest.bmob.classes import body_object, params, path, updated
from hivebase.rest.bmob.context import Call

OK = {"msg": "ok"}


def _shown(call: Call, row: dict[str, Any]) -> dict[str, Any]:
    """A user row in Bmob's shape, with the ``sessionToken`` the core issued (never a password: the core
    keeps passwords out of rows)."""
    token = row.get("sessionToken")
    shown = render_row(call.app.catalog.get(USER_TABLE), {k: v for k, v in row.items() if k != "sessionToken"},
                       "bmob")
    if token is not None:
        shown["sessionToken"] = token
    return shown


def _created(call: Call, shown: dict[str, Any]) -> Response:
    return context.created(call, f"/users/{shown['objectId']}", shown)


async def sign_up(call: Call) -> Response | dict[str, Any]:
    """``{username, password, …}`` signs up; ``{mobilePhoneNumber, smsCode, …}`` logs in by phone, signing up
    first when the number is new (201 then, 200 when the user existed)."""
    data = await body_object(call)
    if "smsCode" in data:
        row, created = await users.phone_sign_in_or_up(call.app, call.principal, call.hub.sms,
                                                       data.get("mobilePhoneNumber"), data["smsCode"], data)
        shown = _shown(call, row)
        return _created(call, shown) if created else shown
    row = await users.sign_up(call.app, call.principal, data)
    return _created(call, _shown(call, {k: row[k] for k in ("createdAt", "objectId", "sessionToken")}))


async def log_in_get(call: Call) -> dict[str, Any]:
    """``GET /login?username=&password=`` (older Bmob docs and SDKs)."""
    q = call.request.query_params
    return _shown(call, await users.log_in(call.app, call.principal, q.get("username"), q.get("password")))


async def log_in_post(call: Call) -> dict[str, Any]:
    """``POST /login`` with ``{username, password}`` (newer Bmob docs)."""
    data = await body_object(call)
    return _shown(call, await users.log_in(call.app, call.principal, data.get("username"), data.get("password")))


async def query(call: Call) -> Any:
    """Query users, with the parameters of ``/classes/_User`` (where, order, limit, skip, count, keys…)."""
    return await bmob_query(call.app, call.principal, USER_TABLE, params(call))


async def get(call: Call) -> Any:
    """One user by objectId (``keys``, ``include`` as for any table)."""
    return await bmob_get(call.app, call.principal, USER_TABLE, path(call, "object_id"), params(call))


async def me(call: Call) -> dict[str, Any]:
    """The session's user, with the token it was asked with (as Parse answers ``/users/me``)."""
    shown = await bmob_me(call.app, call.principal, params(call))
    token = Credentials.from_headers(call.request.headers).session_token
    if call.principal.credential == "session" and token:
        shown["sessionToken"] = token
    return shown


async def update(call: Call) -> dict[str, Any]:
    """Update a user: needs that user's session token or the master key (the row's ACL decides)."""
    row = await users.update_user(call.app, call.principal, path(call, "object_id"), await body_object(call))
    return updated(call, USER_TABLE, row)


async def delete(call: Call) -> dict[str, Any]:
    """Delete a user and their sessions: needs that user's session token or the master key."""
    await users.delete_user(call.app, call.principal, path(call, "object_id"))
    return OK


async def check_session(call: Call) -> dict[str, Any]:
    """``ok`` when the session token belongs to the user in the path; an expired one never gets here (211)."""
    return {"msg": "ok" if users.session_belongs(call.principal, path(call, "object_id")) else "fail"}


async def update_password(call: Call) -> dict[str, Any]:
    """``{oldPassword, newPassword}``: the user's other sessions end."""
    data = await body_object(call)
    await users.change_password(call.app, call.principal, path(call, "object_id"), data.get("oldPassword"),
                                data.get("newPassword"))
    return OK


async def request_sms_code(call: Call) -> dict[str, Any]:
    """``{mobilePhoneNumber, template?}``: send a code to the number."""
    data = await body_object(call)
    sms_id = await call.hub.sms.request(call.app, call.principal, data.get("mobilePhoneNumber"),
                                        data.get("template"))
    return {"smsId": sms_id}


async def verify_sms_code(call: Call) -> dict[str, Any]:
    """``{mobilePhoneNumber, smsCode}`` (newer Bmob docs): check the code and use it up."""
    data = await body_object(call)
    await users.verify_sms_code(call.app, call.principal, call.hub.sms, data.get("mobilePhoneNumber"),
                                data.get("smsCode"))
    return OK


async def verify_sms_code_in_path(call: Call) -> dict[str, Any]:
    """``{mobilePhoneNumber}`` with the code in the path: check the code and use it up."""
    data = await body_object(call)
    await users.verify_sms_code(call.app, call.principal, call.hub.sms, data.get("mobilePhoneNumber"),
                                path(call, "code"))
    return OK


async def reset_password_by_sms(call: Call) -> dict[str, Any]:
    """``{password}``: the new password of the user whose phone received the code; their sessions end."""
    data = await body_object(call)
    await users.reset_password_by_sms(call.app, call.principal, call.hub.sms, path(call, "code"),
                                      data.get("password"))
    return OK
