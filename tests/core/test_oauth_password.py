"""A new password ends the user's OAuth grants: every path that writes one (the user's own change, root's set,
root writing ``password`` on the user row, the reset by SMS code) revokes all of the user's access and refresh
tokens in that app and drops their unexchanged codes, in the password's own transaction. Another user's tokens,
a same-id user's tokens in another app, and the user's tokens after an unrelated update all live on; a refused
change revokes nothing. (hivebase has no reset by e-mail.)

One app per database serves the module, as in test_oauth.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp.server.auth.provider import RefreshToken, TokenError

from hivebase.auth.resolve import resolve
from hivebase.core import oauth
from hivebase.core.apps import App
from hivebase.core.identity import users
from hivebase.core.identity.sms import SmsCodes
from hivebase.core.principal import Principal
from hivebase.errors import HivebaseError, InvalidValue, NotFound, PermissionDenied, Unauthorized
from hivebase.oauth.provider import AppContext, Provider, use
from tests.core.access_fixtures import (  # noqa: F401 (anyio_backend, backend: module-scoped fixtures)
    PASSWORD,
    ROOT,
    Actors,
    anyio_backend,
    backend,
    open_hub,
    refused,
    set_columns,
    unique,
)
from tests.core.test_oauth import code_for, dead, nothing_changes, sdk_metadata, tokens_for

pytestmark = pytest.mark.anyio

NEW = "a-brand-new-pass-1"


class World(Actors):
    other: App
    sms: SmsCodes

    async def user(self, app: App | None = None, **extra: Any) -> tuple[str, str, str]:
        """A new member signed up by a client: (objectId, username, session token)."""
        app = app or self.app
        name = unique("pw-")
        row = await users.sign_up(app, Principal.client(app.name), {"username": name, "password": PASSWORD, **extra})
        return row["objectId"], name, row["sessionToken"]

    async def as_token(self, token: str) -> Principal:
        return await resolve(self.hub.apps, self.app, session_token=token)


@pytest.fixture(scope="module")
async def world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:  # noqa: F811
    async with open_hub(backend, Path(tmp_path_factory.mktemp("oauth-password"))) as (hub, creds):
        w = World(hub, await hub.apps.open("main"), creds)
        await hub.apps.create("other")
        w.other = await hub.apps.open("other")
        w.sms = SmsCodes(hub.settings)
        yield w


@dataclass
class Grants:
    """What one user holds (which a new password must end) and what others hold (which must live on)."""

    client: dict[str, Any]
    second_client: dict[str, Any]
    first: dict[str, Any]  # the first approval's answer; its refresh token was rotated into ``rotated``
    rotated: dict[str, Any]
    parallel: dict[str, Any]  # another approval, through another client
    code: str  # approved, not exchanged yet
    bystander: dict[str, Any]  # another user of the app, same client
    twin_client: dict[str, Any]
    twin: dict[str, Any]  # a user of the other app with the same objectId


async def grants(w: World, uid: str) -> Grants:
    client, first = await tokens_for(w.app, uid)
    rotated = await oauth.exchange_refresh(w.app, client["client_id"], first["refresh_token"], [])
    second_client, parallel = await tokens_for(w.app, uid)
    code = await code_for(w.app, client, uid)
    stranger, _, _ = await w.user()
    _, bystander = await tokens_for(w.app, stranger, client=client)
    # ids are random, so only a copy made in storage can give the other app a user with this objectId
    try:
        await users.find(w.other, ROOT, uid)
    except NotFound:
        twin_id, _, _ = await w.user(w.other)
        await set_columns(w.other, "_User", twin_id, objectId=uid)
    twin_client, twin = await tokens_for(w.other, uid)
    return Grants(client, second_client, first, rotated, parallel, code, bystander, twin_client, twin)


async def alive(app: App, client: dict[str, Any], answer: dict[str, Any], uid: str | None = None) -> dict[str, Any]:
    """The access token works and the refresh token refreshes; returns the new answer."""
    grant = await oauth.check_access(app, answer["access_token"])
    assert uid is None or grant.user_id == uid
    return await oauth.exchange_refresh(app, client["client_id"], answer["refresh_token"], [])


async def refused_at_the_door(w: World, client: dict[str, Any], refresh: str) -> None:
    """What the token endpoint does with a refresh token: the SDK loads it (None: ``invalid_grant``) and, had it
    loaded, the exchange fails with ``invalid_grant`` too."""
    context = AppContext(hub=w.hub, app=w.app, issuer="http://127.0.0.1:1/api",
                         resources=("http://127.0.0.1:1/api/mcp",))
    provider = Provider()
    with use(context):
        info = await provider.get_client(client["client_id"])
        assert info is not None
        assert await provider.load_refresh_token(info, refresh) is None
        with pytest.raises(TokenError) as e:
            await provider.exchange_refresh_token(info, RefreshToken(token=refresh, client_id=client["client_id"],
                                                                     scopes=["mcp", "offline_access"]), [])
    assert e.value.error == "invalid_grant"


async def ended(w: World, uid: str, g: Grants) -> None:
    """Every token and code of ``uid`` in the main app is dead; the others live on."""
    cid = g.client["client_id"]
    for answer, client in ((g.first, g.client), (g.rotated, g.client), (g.parallel, g.second_client)):
        assert await dead(w.app, answer, client["client_id"])
    for answer, client in ((g.rotated, g.client), (g.parallel, g.second_client)):
        with pytest.raises(Unauthorized) as e:
            await oauth.exchange_refresh(w.app, client["client_id"], answer["refresh_token"], [])
        refused(e.value, Unauthorized, "invalid_grant")
        await refused_at_the_door(w, client, answer["refresh_token"])
    with pytest.raises(Unauthorized) as e:
        await oauth.exchange_code(w.app, cid, g.code)
    refused(e.value, Unauthorized, "invalid_grant")
    listed = await oauth.list_tokens(w.app, ROOT, uid)
    assert listed and {t["state"] for t in listed} == {"revoked"}
    await alive(w.app, g.client, g.bystander)
    await alive(w.other, g.twin_client, g.twin, uid)


async def untouched(w: World, uid: str, g: Grants) -> None:
    """Nothing of ``uid``'s ended (each answer is refreshed once, so call it once per ``Grants``)."""
    for answer, client in ((g.rotated, g.client), (g.parallel, g.second_client)):
        await alive(w.app, client, answer, uid)
    assert (await oauth.exchange_code(w.app, g.client["client_id"], g.code))["access_token"]


async def refuses(app: App, call: Callable[[], Awaitable[Any]], kind: type[HivebaseError], reason: str) -> None:
    """The call fails as ``kind``/``reason`` and changes nothing (OAuth tables and every other table)."""
    async with nothing_changes(app):
        with pytest.raises(HivebaseError) as e:
            await call()
    refused(e.value, kind, reason)


async def test_the_users_own_change_ends_their_tokens(world: World) -> None:
    w = world
    uid, _, token = await w.user()
    me = await w.as_token(token)
    g = await grants(w, uid)
    await refuses(w.app, lambda: users.change_password(w.app, me, uid, "not-the-password", NEW), InvalidValue,
                  "old_password")
    await users.change_password(w.app, me, uid, PASSWORD, NEW)
    await ended(w, uid, g)
    assert (await w.as_token(token)).user_id == uid  # the session that changed it stays, as before
    # a new sign-in and consent after the change works as usual
    client, answer = await tokens_for(w.app, uid, client=g.client)
    await alive(w.app, client, answer, uid)


async def test_root_setting_the_password_ends_the_users_tokens(world: World) -> None:
    """``hivebase user set-password`` and the root path of ``updateUserPassword``."""
    w = world
    uid, _, token = await w.user()
    g = await grants(w, uid)
    await users.change_password(w.app, ROOT, uid, None, NEW)
    await ended(w, uid, g)
    with pytest.raises(Unauthorized):
        await w.as_token(token)


async def test_root_writing_password_on_the_user_row_ends_the_users_tokens(world: World) -> None:
    """``PUT /users/<id>`` with the master key, batch, MCP ``resource_update`` on users: ``records.update``."""
    w = world
    uid, _, token = await w.user()
    me = await w.as_token(token)
    g = await grants(w, uid)
    await refuses(w.app, lambda: users.update_user(w.app, me, uid, {"password": NEW}), PermissionDenied,
                  "password_change")
    await users.update_user(w.app, ROOT, uid, {"email": f"{unique('e')}@example.com"})  # no password: no change
    await untouched(w, uid, g)
    g = await grants(w, uid)
    await users.update_user(w.app, ROOT, uid, {"password": NEW})
    await ended(w, uid, g)
    assert (await users.log_in(w.app, Principal.client(w.app.name), (await users.find(w.app, ROOT, uid))["username"],
                               NEW))["objectId"] == uid


async def test_a_reset_by_sms_code_ends_the_users_tokens(world: World) -> None:
    w = world
    phone = "+86137" + unique("")[:8].translate(str.maketrans("abcdef", "123456"))
    uid, _, _ = await w.user(mobilePhoneNumber=phone)
    g = await grants(w, uid)
    client = Principal.client(w.app.name)
    await w.sms.request(w.app, client, phone)
    code = str((await w.sms.outbox(w.app, phone))[0]["code"])
    wrong = "000000" if code != "000000" else "111111"
    await refuses(w.app, lambda: users.reset_password_by_sms(w.app, client, w.sms, wrong, NEW), InvalidValue,
                  "sms_code")
    await w.sms.settle()
    await untouched(w, uid, g)
    g = await grants(w, uid)
    await users.reset_password_by_sms(w.app, client, w.sms, code, NEW)
    await ended(w, uid, g)


async def test_other_users_and_apps_keep_their_tokens_across_many_changes(world: World) -> None:
    """One user's changes, over and over, never reach another user's family or another app."""
    w = world
    uid, _, _ = await w.user()
    other_uid, _, _ = await w.user()
    client = await oauth.register_client(w.app, sdk_metadata())
    _, kept = await tokens_for(w.app, other_uid, client=client)
    for _ in range(3):
        _, answer = await tokens_for(w.app, uid, client=client)
        await users.change_password(w.app, ROOT, uid, None, NEW)
        assert await dead(w.app, answer, client["client_id"])
        kept = await alive(w.app, client, kept, other_uid)
