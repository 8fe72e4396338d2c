"""Accounts, sessions, API keys and role management under hostile input.

Sign-up, log-in and passwords (users.py), session tokens (sessions.py), API keys (api_keys.py), roles and
settings (roles.py), phone sign-in and reset by SMS code (with the development outbox), credentials used on
the wrong app, and the promise that no password, token or key ever shows up in an answer or an error.
One app per database serves the whole module; every test signs up the users it needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hivebase.auth.resolve import resolve
from hivebase.core import records, roles, schema
from hivebase.core.apps import App
from hivebase.core.bmob_reads import bmob_get, bmob_query
from hivebase.core.identity import api_keys, sessions, users
from hivebase.core.identity.sms import SmsCodes
from hivebase.core.principal import Principal
from hivebase.dialects.nocobase.queries import nocobase_get, nocobase_list, nocobase_query
from hivebase.errors import (
    Conflict,
    HivebaseError,
    InvalidQuery,
    InvalidValue,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    ReadOnlyField,
    TypeMismatch,
    Unauthorized,
    UniqueViolation,
    UnknownField,
)
from tests.core.access_fixtures import (  # noqa: F401 (anyio_backend, backend: module-scoped fixtures)
    PASSWORD,
    ROOT,
    Actors,
    anyio_backend,
    backend,
    database,
    open_hub,
    refused,
    unchanged,
    unique,
)

pytestmark = pytest.mark.anyio


class World(Actors):
    sms: SmsCodes
    manager: tuple[str, str, str] | None = None  # (objectId, session token, API key) of an admin user

    @property
    def client(self) -> Principal:
        return Principal.client(self.app.name)

    async def user(self, prefix: str = "u", **extra: Any) -> tuple[str, str, str]:
        """A new member: (objectId, username, session token)."""
        name = unique(f"{prefix}-")
        row = await users.sign_up(self.app, self.client, {"username": name, "password": PASSWORD, **extra})
        return row["objectId"], name, row["sessionToken"]

    async def as_token(self, token: str, **extra: Any) -> Principal:
        return await resolve(self.hub.apps, self.app, session_token=token, **extra)

    async def code_for(self, phone: str) -> str:
        await self.sms.request(self.app, self.client, phone)
        return str((await self.sms.outbox(self.app, phone))[0]["code"])


@pytest.fixture(scope="module")
async def world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:  # noqa: F811
    async with open_hub(backend, Path(tmp_path_factory.mktemp("identity"))) as (hub, creds):
        app = await hub.apps.open("main")
        w = World(hub, app, creds)
        w.sms = SmsCodes(hub.settings)
        await schema.create_table(app, ROOT, "Note", {"owner": "String", "text": "String"})
        await users.sign_up(app, w.client, {"username": "taken", "password": PASSWORD, "email": "taken@example.com",
                                            "mobilePhoneNumber": "+8613900000000"})
        yield w


async def stored(app: App, table: str, **where: Any) -> list[dict[str, Any]]:
    t = app.catalog.system(table) if table.startswith("_hb_") else app.catalog.get(table).table
    async with app.db.read() as conn:
        stmt = sa.select(t).where(*(t.c[k] == v for k, v in where.items()))
        return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def refuses(app: App, call: Callable[[], Awaitable[Any]], kind: type[HivebaseError], reason: str | None = None,
                  *, field: str | None = None, secrets: tuple[str, ...] = ()) -> HivebaseError:
    """The call fails with exactly ``kind`` (and reason, field), changes nothing, and its error shows no secret."""
    async with unchanged(app):
        with pytest.raises(HivebaseError) as e:
            await call()
    refused(e.value, kind, reason)
    if field is not None:
        assert e.value.field == field, e.value.to_dict()
    for secret in secrets:
        assert secret not in str(e.value) and secret not in repr(e.value.to_dict())
    return e.value


# -- sign up --------------------------------------------------------------------------------------------


async def test_sign_up_signs_in_and_keeps_the_password_out_of_every_row(world: World) -> None:
    w = world
    password = "s3cret-Passphrase"
    name = unique("signup-")
    row = await users.sign_up(w.app, w.client, {"username": name, "password": password, "email": f"{name}@x.io"})
    uid, token = row["objectId"], row["sessionToken"]
    assert "password" not in row and password not in repr(row)
    assert (row["username"], row["createdBy"], row["ACL"]) == \
        (name, uid, {"*": {"read": True}, uid: {"read": True, "write": True}})
    p = await w.as_token(token)
    assert (p.kind, p.user_id, p.role, p.roles) == ("user", uid, "member", ("member",))
    user_row = (await stored(w.app, "_User", objectId=uid))[0]
    assert "password" not in user_row and password not in repr(user_row)
    (pw_row,) = await stored(w.app, "_hb_passwords", user_id=uid)
    assert pw_row["hash"].startswith("$argon2id$") and password not in pw_row["hash"]
    (session_row,) = await stored(w.app, "_hb_sessions", user_id=uid)
    assert token not in repr(session_row) and len(session_row["token_hash"]) == 64
    for view in (await users.find(w.app, ROOT, name),
                 await bmob_get(w.app, ROOT, "_User", uid),
                 await nocobase_get(w.app, ROOT, "_User", {"filterByTk": uid})):
        assert password not in repr(view) and token not in repr(view) and "password" not in view


def signup_cases() -> list[Any]:
    long = "x" * 10_000
    base = {"username": "fresh-name", "password": PASSWORD}
    cases = [
        ("duplicate-username", {**base, "username": "taken"}, UniqueViolation, "unique", "username"),
        ("duplicate-email", {**base, "email": "taken@example.com"}, UniqueViolation, "unique", "email"),
        ("duplicate-phone", {**base, "mobilePhoneNumber": "+8613900000000"}, UniqueViolation, "unique",
         "mobilePhoneNumber"),
        ("no-password", {"username": "fresh-name"}, InvalidValue, "password_required", "password"),
        ("no-username", {"password": PASSWORD}, InvalidValue, "username_required", "username"),
        ("empty-username", {**base, "username": ""}, InvalidValue, "username_required", "username"),
        ("empty-password", {**base, "password": ""}, InvalidValue, "password_required", "password"),
        ("short-password", {**base, "password": "12345"}, InvalidValue, "password", "password"),
        ("huge-password", {**base, "password": long}, InvalidValue, "password", "password"),
        ("huge-username", {**base, "username": long}, InvalidValue, "username_required", "username"),
        ("numeric-username", {**base, "username": 12345678}, InvalidValue, "username_required", "username"),
        ("numeric-password", {**base, "password": 12345678}, InvalidValue, "password_required", "password"),
        ("list-password", {**base, "password": [PASSWORD]}, InvalidValue, "password_required", "password"),
        ("numeric-email", {**base, "email": 42}, TypeMismatch, "type", "email"),
        ("nul-username", {**base, "username": "a\x00b"}, InvalidValue, "username_required", "username"),
        ("email-verified", {**base, "emailVerified": True}, ReadOnlyField, "read_only", "emailVerified"),
        ("phone-verified", {**base, "mobilePhoneVerified": True}, ReadOnlyField, "read_only", "mobilePhoneVerified"),
        ("objectId", {**base, "objectId": "aaaaaaaaaa"}, ReadOnlyField, "read_only", "objectId"),
        ("createdBy", {**base, "createdBy": "someone"}, ReadOnlyField, "read_only", "createdBy"),
        ("unknown-field", {**base, "nickname": "x"}, UnknownField, "unknown_field", "nickname"),
        ("bad-acl", {**base, "ACL": {"*": {"read": "yes"}}}, InvalidValue, "acl", "ACL"),
        ("string-data", "username=x&password=y", InvalidValue, "json", None),
        ("list-data", [base], InvalidValue, "json", None),
        ("no-data", None, InvalidValue, "json", None),
    ]
    return [pytest.param(*c[1:], id=c[0]) for c in cases]


@pytest.mark.parametrize("data,kind,reason,field", signup_cases())
async def test_sign_up_refuses_bad_input(world: World, data: Any, kind: type[HivebaseError], reason: str,
                                         field: str | None) -> None:
    w = world
    exc = await refuses(w.app, lambda: users.sign_up(w.app, w.client, data), kind, reason, field=field,
                        secrets=(PASSWORD,))
    assert "x" * 200 not in str(exc)  # a huge value is never echoed whole


async def test_sign_up_needs_credentials_of_this_app(world: World) -> None:
    w = world
    data = {"username": unique("who-"), "password": PASSWORD}
    await refuses(w.app, lambda: users.sign_up(w.app, Principal.nobody("main"), data), PermissionDenied,
                  "unauthenticated")
    await refuses(w.app, lambda: users.sign_up(w.app, Principal.client("other"), data), PermissionDenied, "app")


async def test_the_verified_flags_are_set_by_root_only(world: World) -> None:
    w = world
    made = await users.create_user(w.app, ROOT, {"username": unique("v-"), "password": PASSWORD,
                                                 "emailVerified": True})
    assert made["emailVerified"] is True and made["roles"] == ["member"]
    uid, _, token = await w.user()
    me = await w.as_token(token)
    await refuses(w.app, lambda: records.update(w.app, me, "_User", uid, {"emailVerified": True}), ReadOnlyField,
                  field="emailVerified")
    await refuses(w.app, lambda: records.update(w.app, me, "_User", uid, {"password": "new-password-1"}),
                  PermissionDenied, "password_change")
    # a user's own row is theirs to change; another user's is not even there for them
    await records.update(w.app, me, "_User", uid, {"email": f"{uid}@example.com"})
    await refuses(w.app, lambda: records.update(w.app, me, "_User", made["objectId"], {"email": "x@y.z"}), NotFound)


async def test_usernames_are_data_never_sql(world: World) -> None:
    w = world
    for name in ("robert'); DROP TABLE \"_User\"; --", "名前-" + unique(""), "  spaced out  ", "%_\\*"):
        row = await users.sign_up(w.app, w.client, {"username": name, "password": PASSWORD})
        assert row["username"] == name
        logged = await users.log_in(w.app, w.client, name, PASSWORD)
        assert logged["objectId"] == row["objectId"]
    assert (await users.find(w.app, ROOT, "taken"))["username"] == "taken"


# -- log in ---------------------------------------------------------------------------------------------


async def test_log_in_gives_a_fresh_session_and_fails_alike_for_name_and_password(world: World) -> None:
    w = world
    uid, name, first = await w.user()
    row = await users.log_in(w.app, w.client, name, PASSWORD)
    assert row["objectId"] == uid and row["sessionToken"] != first and "password" not in row
    assert (await w.as_token(row["sessionToken"])).user_id == uid
    wrong_password = await refuses(w.app, lambda: users.log_in(w.app, w.client, name, "not-the-password"),
                                   Unauthorized, "login", secrets=("not-the-password", PASSWORD))
    unknown_user = await refuses(w.app, lambda: users.log_in(w.app, w.client, unique("nobody-"), PASSWORD),
                                 Unauthorized, "login", secrets=(PASSWORD,))
    assert wrong_password.to_dict() == unknown_user.to_dict()
    for bad_name, bad_password in ((None, PASSWORD), (name, None), ("", PASSWORD), (name, ""), (5, PASSWORD),
                                   ("x" * 10_000, PASSWORD)):
        await refuses(w.app, lambda n=bad_name, p=bad_password: users.log_in(w.app, w.client, n, p), InvalidValue,
                      "login_required")
    await refuses(w.app, lambda: users.log_in(w.app, Principal.nobody("main"), name, PASSWORD), PermissionDenied,
                  "unauthenticated")


async def test_the_eleventh_failed_log_in_within_a_minute_is_refused(world: World) -> None:
    w = world
    _, name, _ = await w.user("brute")
    for _ in range(10):
        await refuses(w.app, lambda: users.log_in(w.app, w.client, name, "guess-guess"), Unauthorized, "login")
    exc = await refuses(w.app, lambda: users.log_in(w.app, w.client, name, "guess-guess"), LimitExceeded,
                        "rate_limit")
    assert 0 < exc.details["retryAfter"] <= 61
    # even the right password waits now, while other users are not slowed down
    await refuses(w.app, lambda: users.log_in(w.app, w.client, name, PASSWORD), LimitExceeded, "rate_limit")
    _, other, _ = await w.user("bystander")
    assert (await users.log_in(w.app, w.client, other, PASSWORD))["username"] == other


# -- passwords ------------------------------------------------------------------------------------------


async def test_change_password(world: World) -> None:
    w = world
    uid, name, current = await w.user("pw")
    other_session = (await users.log_in(w.app, w.client, name, PASSWORD))["sessionToken"]
    me = await w.as_token(current)
    _, _, stranger_token = await w.user("stranger")
    stranger = await w.as_token(stranger_token)
    new = "a-brand-new-password"
    await refuses(w.app, lambda: users.change_password(w.app, me, uid, "wrong-old-one", new), InvalidValue,
                  "old_password", field="oldPassword", secrets=("wrong-old-one", new, PASSWORD))
    await refuses(w.app, lambda: users.change_password(w.app, me, uid, None, new), InvalidValue, "old_password")
    await refuses(w.app, lambda: users.change_password(w.app, me, uid, PASSWORD, "short"), InvalidValue, "password",
                  field="newPassword", secrets=(PASSWORD,))
    await refuses(w.app, lambda: users.change_password(w.app, me, uid, PASSWORD, 12345678), InvalidValue, "password")
    for caller in (stranger, w.client):
        await refuses(w.app, lambda c=caller: users.change_password(w.app, c, uid, PASSWORD, new), PermissionDenied,
                      "owner")
    await refuses(w.app, lambda: users.change_password(w.app, Principal.nobody("main"), uid, PASSWORD, new),
                  PermissionDenied, "unauthenticated")
    assert (await w.as_token(other_session)).user_id == uid  # nothing above ended a session

    await users.change_password(w.app, me, uid, PASSWORD, new)
    assert (await w.as_token(current)).user_id == uid  # the session that changed it stays
    with pytest.raises(Unauthorized):
        await w.as_token(other_session)
    await refuses(w.app, lambda: users.log_in(w.app, w.client, name, PASSWORD), Unauthorized, "login")
    assert (await users.log_in(w.app, w.client, name, new))["objectId"] == uid

    # root sets one without the old password, and every session of the user ends
    await users.change_password(w.app, ROOT, uid, None, "set-by-root-1")
    with pytest.raises(Unauthorized):
        await w.as_token(current)
    await records.update(w.app, ROOT, "_User", uid, {"password": "set-by-root-2"})
    assert (await users.log_in(w.app, w.client, name, "set-by-root-2"))["objectId"] == uid
    await refuses(w.app, lambda: users.change_password(w.app, ROOT, "no-such-user", None, new), NotFound, "user")


async def test_password_min_length_is_an_app_setting(world: World) -> None:
    w = world
    await roles.set_setting(w.app, ROOT, "passwordMinLength", 20)
    try:
        await refuses(w.app, lambda: users.sign_up(w.app, w.client, {"username": unique("m-"), "password": PASSWORD}),
                      InvalidValue, "password", secrets=(PASSWORD,))
    finally:
        await roles.set_setting(w.app, ROOT, "passwordMinLength", 6)
    for bad in (0, 129, "8", True, None):
        await refuses(w.app, lambda b=bad: roles.set_setting(w.app, ROOT, "passwordMinLength", b), InvalidValue,
                      "setting")
    await refuses(w.app, lambda: roles.set_setting(w.app, ROOT, "noSuchSetting", 1), InvalidValue, "setting")


# -- sessions and API keys ------------------------------------------------------------------------------


async def test_sessions_are_listed_and_ended_by_their_user_or_root_only(world: World) -> None:
    w = world
    uid, name, first = await w.user("sess")
    second = (await users.log_in(w.app, w.client, name, PASSWORD))["sessionToken"]
    me = await w.as_token(first)
    _, _, stranger_token = await w.user("stranger")
    stranger = await w.as_token(stranger_token)
    listed = await sessions.list_for(w.app, me, uid)
    assert len(listed) == 2 and all(set(s) == {"id", "userId", "createdAt", "expiresAt", "via"} for s in listed)
    assert first not in repr(listed) and second not in repr(listed)
    assert [s["id"] for s in await sessions.list_for(w.app, ROOT, uid)] == [s["id"] for s in listed]
    for caller in (stranger, w.client):
        await refuses(w.app, lambda c=caller: sessions.list_for(w.app, c, uid), PermissionDenied, "owner")
        await refuses(w.app, lambda c=caller: sessions.revoke(w.app, c, listed[0]["id"]), PermissionDenied, "owner")
    await refuses(w.app, lambda: sessions.list_for(w.app, Principal.nobody("main"), uid), PermissionDenied,
                  "unauthenticated")
    for bad in ("no-such-session", "x" * 10_000, 42, None):
        await refuses(w.app, lambda b=bad: sessions.revoke(w.app, me, b), NotFound, "session")
    assert (await w.as_token(second)).user_id == uid
    second_id = next(s["id"] for s in listed if s["id"] != me.key_id)
    await sessions.revoke(w.app, me, second_id)
    with pytest.raises(Unauthorized):
        await w.as_token(second)
    assert [s["id"] for s in await sessions.list_for(w.app, me, uid)] == [me.key_id]


async def test_api_keys_are_managed_by_their_user_or_root_only(world: World) -> None:
    w = world
    uid, _, token = await w.user("keys")
    me = await w.as_token(token)
    _, _, stranger_token = await w.user("stranger")
    stranger = await w.as_token(stranger_token)
    made, secret = await api_keys.create(w.app, me, uid, "member", name="laptop")
    assert secret.startswith("hbk_") and set(made) == {"id", "name", "userId", "role", "createdAt", "expiresAt"}
    assert secret not in repr(made)
    assert (await resolve(w.hub.apps, w.app, api_key=secret)).user_id == uid
    for listing in (await api_keys.list_keys(w.app, me), await api_keys.list_keys(w.app, ROOT, uid),
                    await api_keys.list_keys(w.app, ROOT)):
        assert made in listing and secret not in repr(listing)
    assert all(k["userId"] == uid for k in await api_keys.list_keys(w.app, me))
    await refuses(w.app, lambda: api_keys.list_keys(w.app, stranger, uid), PermissionDenied, "owner")
    await refuses(w.app, lambda: api_keys.list_keys(w.app, w.client), PermissionDenied, "owner")
    await refuses(w.app, lambda: api_keys.create(w.app, stranger, uid, "member"), PermissionDenied, "owner")
    await refuses(w.app, lambda: api_keys.revoke(w.app, stranger, made["id"]), PermissionDenied, "owner")
    # a user makes keys for the role they act in only (a key never grants more than its maker); root makes
    # keys for any role the user holds, and for no other
    await refuses(w.app, lambda: api_keys.create(w.app, me, uid, "admin"), PermissionDenied, "role")
    await refuses(w.app, lambda: api_keys.create(w.app, ROOT, uid, "admin"), InvalidValue, "role_not_held")
    await refuses(w.app, lambda: api_keys.create(w.app, me, uid, "member", name="n" * 1000), InvalidValue, "name")
    await refuses(w.app, lambda: api_keys.create(w.app, ROOT, "no-such-user", "member"), NotFound, "user")
    for bad in ("no-such-key", "x" * 10_000, 42):
        await refuses(w.app, lambda b=bad: api_keys.revoke(w.app, me, b), NotFound, "key")
    for wrong in ("hbk_" + "A" * 43, secret[:-1], secret + "x", secret.upper(), "", "hbk_", "x" * 10_000):
        with pytest.raises(Unauthorized) as e:
            await resolve(w.hub.apps, w.app, api_key=wrong)
        refused(e.value, Unauthorized, "api_key")
        assert secret not in str(e.value)
    await api_keys.revoke(w.app, me, made["id"])
    assert await api_keys.list_keys(w.app, me) == []


# -- roles and settings: root only, checked before anything is stored -------------------------------------

ROOT_ONLY: dict[str, Callable[[App, Principal, str], Awaitable[Any]]] = {
    "list_roles": lambda app, p, uid: roles.list_roles(app, p),
    "get_role": lambda app, p, uid: roles.get_role(app, p, "member"),
    "create_role": lambda app, p, uid: roles.create_role(app, p, "sneaky", strategy=list(("list", "createTable"))),
    "delete_role": lambda app, p, uid: roles.delete_role(app, p, "helper"),
    "set_strategy": lambda app, p, uid: roles.set_strategy(app, p, "member", ["list", "dropTable"]),
    "set_table_permissions": lambda app, p, uid: roles.set_table_permissions(app, p, "member", "Note",
                                                                               {"list": True}),
    "grant": lambda app, p, uid: roles.grant(app, p, uid, "admin"),
    "revoke": lambda app, p, uid: roles.revoke(app, p, uid, "member"),
    "user_roles": lambda app, p, uid: roles.user_roles(app, p, uid),
    "settings": lambda app, p, uid: roles.settings(app, p),
    "set_setting": lambda app, p, uid: roles.set_setting(app, p, "clientSchemaChanges", False),
    "find_user": lambda app, p, uid: users.find(app, p, "taken"),
    "create_user": lambda app, p, uid: users.create_user(app, p, {"username": "made", "password": PASSWORD},
                                                         ["admin"]),
    "list_users": lambda app, p, uid: users.list_users(app, p),
}


@pytest.mark.parametrize("operation", list(ROOT_ONLY))
async def test_role_management_is_root_only(world: World, operation: str) -> None:
    w = world
    if "helper" not in w.app.catalog.policy.roles:
        await roles.create_role(w.app, ROOT, "helper", strategy=["list"])
    if w.manager is None:
        uid, _, token = await w.user("mgr")
        await roles.grant(w.app, ROOT, uid, "admin", default=True)
        w.manager = (uid, token, (await api_keys.create(w.app, ROOT, uid, "admin"))[1])
    uid, token, secret = w.manager
    as_admin = await w.as_token(token)
    assert as_admin.role == "admin"
    callers = {"admin": as_admin, "member": await w.as_token(token, role="member"), "client": w.client,
               "admin key": await resolve(w.hub.apps, w.app, api_key=secret)}
    for caller in callers.values():
        await refuses(w.app, lambda c=caller: ROOT_ONLY[operation](w.app, c, uid), PermissionDenied, "root")
    await refuses(w.app, lambda: ROOT_ONLY[operation](w.app, Principal.nobody("main"), uid), PermissionDenied,
                  "unauthenticated")
    # a user acting in the root role is root
    await roles.grant(w.app, ROOT, uid, "root")
    assert (await w.as_token(token, role="root")).is_root
    assert [r["name"] for r in await roles.list_roles(w.app, await w.as_token(token, role="root"))][:1] == ["admin"]


def bad_roles() -> list[Any]:
    huge = "r" * 10_000
    cases = [
        ("sql-name", "list; DROP TABLE", None, InvalidValue, "role_name"),
        ("empty-name", "", None, InvalidValue, "role_name"),
        ("digit-first", "1abc", None, InvalidValue, "role_name"),
        ("too-long-name", "r" * 65, None, InvalidValue, "role_name"),
        ("huge-name", huge, None, InvalidValue, "role_name"),
        ("space-name", "ro le", None, InvalidValue, "role_name"),
        ("accented-name", "rôle", None, InvalidValue, "role_name"),
        ("number-name", 42, None, InvalidValue, "role_name"),
        ("no-name", None, None, InvalidValue, "role_name"),
        ("existing", "member", None, UniqueViolation, "role_exists"),
        ("existing-other-case", "MEMBER", None, UniqueViolation, "role_exists"),
        ("sql-action", "fine", ["list; DROP TABLE"], InvalidValue, "strategy"),
        ("unknown-action", "fine", ["list", "fly"], InvalidValue, "strategy"),
        ("own-create", "fine", ["create:own"], InvalidValue, "strategy"),
        ("own-typo", "fine", ["list:mine"], InvalidValue, "strategy"),
        ("string-strategy", "fine", "list", InvalidValue, "strategy"),
        ("object-strategy", "fine", {"list": True}, InvalidValue, "strategy"),
        ("number-action", "fine", [1], InvalidValue, "strategy"),
        ("huge-strategy", "fine", ["list"] * 10_000, InvalidValue, "strategy"),
        ("huge-action", "fine", [huge], InvalidValue, "strategy"),
    ]
    return [pytest.param(*c[1:], id=c[0]) for c in cases]


@pytest.mark.parametrize("name,strategy,kind,reason", bad_roles())
async def test_create_role_refuses_bad_definitions(world: World, name: Any, strategy: Any,
                                                   kind: type[HivebaseError], reason: str) -> None:
    w = world
    exc = await refuses(w.app, lambda: roles.create_role(w.app, ROOT, name, strategy=strategy), kind, reason)
    assert "r" * 100 not in str(exc)
    assert sorted(w.app.catalog.policy.roles) == sorted(r["name"] for r in await roles.list_roles(w.app, ROOT))
    assert "fine" not in w.app.catalog.policy.roles


async def test_create_role_refuses_a_bad_ignore_acl_and_role_text(world: World) -> None:
    w = world
    await refuses(w.app, lambda: roles.create_role(w.app, ROOT, "fine", ignore_acl="yes"), InvalidValue, "option")
    await refuses(w.app, lambda: roles.create_role(w.app, ROOT, "fine", title="t" * 5000), InvalidValue, "title")
    await refuses(w.app, lambda: roles.set_strategy(w.app, ROOT, "root", ["list"]), Conflict, "system_role")
    await refuses(w.app, lambda: roles.delete_role(w.app, ROOT, "member"), Conflict, "system_role")
    await refuses(w.app, lambda: roles.delete_role(w.app, ROOT, "no-such-role"), NotFound, "role")


def bad_permissions() -> list[Any]:
    cases = [
        ("unknown-field", "Note", {"list": {"fields": ["text", "nope"]}}, UnknownField, "unknown_field"),
        ("unknown-action", "Note", {"fly": True}, InvalidValue, "permissions"),
        ("sql-action", "Note", {"list; DROP TABLE x": True}, InvalidValue, "permissions"),
        ("create-table-on-a-table", "Note", {"createTable": True}, InvalidValue, "permissions"),
        ("scope-unknown-field", "Note", {"list": {"scope": {"nope": 1}}}, UnknownField, "unknown_field"),
        ("scope-unknown-path", "Note", {"get": {"scope": {"owner.name": "x"}}}, InvalidQuery, "query"),
        ("scope-bad-operator", "Note", {"list": {"scope": {"text": {"$fly": 1}}}}, InvalidQuery, None),
        ("scope-unknown-variable", "Note", {"list": {"scope": {"owner": "{{secrets.master}}"}}}, InvalidQuery,
         "variable"),
        ("scope-not-object", "Note", {"list": {"scope": "owner = 1"}}, InvalidValue, "permissions"),
        ("scope-huge", "Note", {"list": {"scope": {"text": {"$in": ["v" * 100] * 300}}}}, InvalidValue,
         "permissions"),
        ("fields-not-list", "Note", {"list": {"fields": "text"}}, InvalidValue, "permissions"),
        ("fields-huge", "Note", {"list": {"fields": ["text"] * 300}}, InvalidValue, "permissions"),
        ("fields-not-names", "Note", {"list": {"fields": [1]}}, InvalidValue, "permissions"),
        ("own-on-create", "Note", {"create": {"own": True}}, InvalidValue, "permissions"),
        ("own-not-bool", "Note", {"list": {"own": "yes"}}, InvalidValue, "permissions"),
        ("extra-key", "Note", {"list": {"fieldz": ["text"]}}, InvalidValue, "permissions"),
        ("rule-is-string", "Note", {"list": "yes"}, InvalidValue, "permissions"),
        ("actions-list", "Note", ["list"], InvalidValue, "permissions"),
        ("unknown-table", "Nope", {"list": True}, NotFound, "table"),
        ("table-not-string", 42, {"list": True}, NotFound, "table"),
    ]
    return [pytest.param(*c[1:], id=c[0]) for c in cases]


@pytest.mark.parametrize("table,actions,kind,reason", bad_permissions())
async def test_set_table_permissions_refuses_bad_rules(world: World, table: Any, actions: Any,
                                                       kind: type[HivebaseError], reason: str | None) -> None:
    w = world
    before = await roles.get_role(w.app, ROOT, "member")
    await refuses(w.app, lambda: roles.set_table_permissions(w.app, ROOT, "member", table, actions), kind, reason)
    assert await roles.get_role(w.app, ROOT, "member") == before


async def test_set_table_permissions_refuses_unknown_and_root_roles(world: World) -> None:
    w = world
    await refuses(w.app, lambda: roles.set_table_permissions(w.app, ROOT, "no-such-role", "Note", {"list": True}),
                  NotFound, "role")
    await refuses(w.app, lambda: roles.set_table_permissions(w.app, ROOT, "root", "Note", {"list": True}), Conflict,
                  "system_role")


async def test_a_scope_may_use_any_field_of_the_current_user(world: World) -> None:
    """``{{currentUser.<field>}}`` in a row scope is accepted when set and matches the caller's own value."""
    w = world
    uid, name, token = await w.user("scoped")
    mine = await records.create(w.app, ROOT, "Note", {"owner": name, "text": "mine"})
    await records.create(w.app, ROOT, "Note", {"owner": "someone else", "text": "theirs"})
    await roles.create_role(w.app, ROOT, "by-name", strategy=[])
    try:
        await roles.set_table_permissions(w.app, ROOT, "by-name", "Note",
                                          {"list": {"scope": {"owner": "{{currentUser.username}}"}}})
        await roles.grant(w.app, ROOT, uid, "by-name")
        p = await w.as_token(token, role="by-name")
        rows = (await nocobase_list(w.app, p, "Note", {}))["data"]
        assert [r["objectId"] for r in rows] == [mine["objectId"]]
    finally:
        await roles.delete_role(w.app, ROOT, "by-name")


# -- deleting users, other apps -------------------------------------------------------------------------


@pytest.mark.parametrize("deleted_by", ["root", "themself"])
async def test_deleting_a_user_removes_every_credential(world: World, deleted_by: str) -> None:
    w = world
    uid, name, token = await w.user("gone")
    second = (await users.log_in(w.app, w.client, name, PASSWORD))["sessionToken"]
    if "helper" not in w.app.catalog.policy.roles:
        await roles.create_role(w.app, ROOT, "helper", strategy=["list"])
    await roles.grant(w.app, ROOT, uid, "helper")
    _, secret = await api_keys.create(w.app, ROOT, uid, "helper")
    tables = ("_hb_sessions", "_hb_api_keys", "_hb_user_roles", "_hb_passwords")
    assert all([await stored(w.app, t, user_id=uid) for t in tables])
    await records.delete(w.app, ROOT if deleted_by == "root" else await w.as_token(token), "_User", uid)
    for t in tables:
        assert await stored(w.app, t, user_id=uid) == [], t
    for creds in ({"session_token": token}, {"session_token": second}, {"api_key": secret}):
        with pytest.raises(Unauthorized):
            await resolve(w.hub.apps, w.app, **creds)
    await refuses(w.app, lambda: users.log_in(w.app, w.client, name, PASSWORD), Unauthorized, "login")
    # the name is free again, and the new account inherits nothing
    again = await users.sign_up(w.app, w.client, {"username": name, "password": PASSWORD})
    assert again["objectId"] != uid and (await w.as_token(again["sessionToken"])).roles == ("member",)


async def test_credentials_of_one_app_are_refused_by_another(world: World) -> None:
    w = world
    other_creds = await w.hub.apps.create(unique("other-"))
    other = await w.hub.apps.open(other_creds.app)
    try:
        uid, name, token = await w.user("a-only")
        _, secret = await api_keys.create(w.app, ROOT, uid, "member")
        wrong = {"master_key": w.creds.master_key, "rest_key": w.creds.rest_api_key, "session_token": token,
                 "api_key": secret}
        reasons = {"master_key": "master_key", "rest_key": "rest_key", "session_token": "session",
                   "api_key": "api_key"}
        for kind, value in wrong.items():
            with pytest.raises(Unauthorized) as e:
                await resolve(w.hub.apps, other, **{kind: value})
            refused(e.value, Unauthorized, reasons[kind])
            assert str(value) not in str(e.value)
        with pytest.raises(Unauthorized):
            await resolve(w.hub.apps, w.app, master_key=other_creds.master_key)
        # principals resolved on app A are refused by app B's core, root included
        mine = await w.as_token(token)
        root_of_a = await resolve(w.hub.apps, w.app, master_key=w.creds.master_key)
        client_of_a = await resolve(w.hub.apps, w.app, rest_key=w.creds.rest_api_key)
        attempts = [
            lambda: bmob_query(other, mine, "_User", {}),
            lambda: nocobase_list(other, client_of_a, "_User", {}),
            lambda: records.create(other, root_of_a, "_User", {"username": "x", "password": PASSWORD}),
            lambda: schema.create_table(other, root_of_a, "Stolen", {}),
            lambda: users.sign_up(other, client_of_a, {"username": unique("x-"), "password": PASSWORD}),
            lambda: users.log_in(other, client_of_a, name, PASSWORD),
            lambda: sessions.list_for(other, mine, uid),
            lambda: api_keys.list_keys(other, mine),
            lambda: roles.list_roles(other, root_of_a),
            lambda: users.list_users(other, root_of_a),
        ]
        for attempt in attempts:
            await refuses(other, attempt, PermissionDenied, "app")
        # the same name and password mean nothing on the other app
        await refuses(other, lambda: users.log_in(other, Principal.client(other.name), name, PASSWORD), Unauthorized,
                      "login")
    finally:
        await w.hub.apps.delete(other_creds.app)


async def test_no_secret_shows_up_in_any_answer_or_error(world: World) -> None:
    w = world
    password = "Unmistakable-Pass-77"
    uid, name, _ = await w.user("quiet")
    await users.change_password(w.app, ROOT, uid, None, password)
    logged = await users.log_in(w.app, w.client, name, password)
    token = logged["sessionToken"]
    _, api_key = await api_keys.create(w.app, ROOT, uid, "member", name="ci")
    secrets = (password, token, api_key, w.creds.master_key or "", w.creds.rest_api_key or "")
    me = await w.as_token(token)
    answers = [
        {k: v for k, v in logged.items() if k != "sessionToken"},
        await roles.list_roles(w.app, ROOT), await roles.user_roles(w.app, ROOT, uid),
        await api_keys.list_keys(w.app, ROOT), await api_keys.list_keys(w.app, me),
        await sessions.list_for(w.app, me, uid), await sessions.list_for(w.app, ROOT, uid),
        await users.find(w.app, ROOT, name), await users.list_users(w.app, ROOT, limit=1000),
        await bmob_query(w.app, ROOT, "_User", {"limit": 1000}),
        await nocobase_list(w.app, me, "_User", {"paginate": False}),
        await nocobase_query(w.app, ROOT, "_User", {"dimensions": [{"field": "username"}],
                                                            "measures": [{"aggregation": "count"}]}),
        await roles.settings(w.app, ROOT),
    ]
    for answer in answers:
        for secret in secrets:
            assert secret not in repr(answer)
    failures = [
        lambda: users.log_in(w.app, w.client, name, password + "x"),
        lambda: users.sign_up(w.app, w.client, {"username": name, "password": password}),
        lambda: users.sign_up(w.app, w.client, {"username": unique("q-"), "password": password[:3]}),
        lambda: users.change_password(w.app, me, uid, password + "x", password + "y"),
        lambda: resolve(w.hub.apps, w.app, session_token=token + "x"),
        lambda: resolve(w.hub.apps, w.app, api_key=api_key + "x"),
        lambda: resolve(w.hub.apps, w.app, master_key=(w.creds.master_key or "") + "x"),
        lambda: resolve(w.hub.apps, w.app, rest_key=(w.creds.rest_api_key or "") + "x"),
    ]
    for failure in failures:
        with pytest.raises(HivebaseError) as e:
            await failure()
        text = str(e.value) + repr(e.value.to_dict())
        for secret in secrets:
            assert secret[:12] not in text, (secret, text)


# -- SMS: phone sign-in and reset --------------------------------------------------------------------------


async def test_phone_sign_in_signs_up_once_then_logs_in(world: World) -> None:
    w = world
    phone = "+86138" + unique("")[:8].translate(str.maketrans("abcdef", "123456"))
    first = await users.phone_sign_in(w.app, w.client, w.sms, phone, await w.code_for(phone))
    assert (first["username"], first["mobilePhoneNumber"], first["mobilePhoneVerified"]) == (phone, phone, True)
    assert (await w.as_token(first["sessionToken"])).roles == ("member",)
    again = await users.phone_sign_in(w.app, w.client, w.sms, phone, await w.code_for(phone))
    assert again["objectId"] == first["objectId"] and again["sessionToken"] != first["sessionToken"]
    code = await w.code_for(phone)
    wrong = "000000" if code != "000000" else "111111"
    await refuses(w.app, lambda: users.phone_sign_in(w.app, w.client, w.sms, phone, wrong), InvalidValue, "sms_code")
    await refuses(w.app, lambda: users.phone_sign_in(w.app, w.client, w.sms, phone, "12ab"), InvalidValue, "sms_code")
    await refuses(w.app, lambda: users.phone_sign_in(w.app, Principal.nobody("main"), w.sms, phone, code),
                  PermissionDenied, "unauthenticated")
    used = await users.phone_sign_in(w.app, w.client, w.sms, phone, code)
    assert used["objectId"] == first["objectId"]
    await refuses(w.app, lambda: users.phone_sign_in(w.app, w.client, w.sms, phone, code), InvalidValue, "sms_code")
    await w.sms.settle()


async def test_phone_sign_up_checks_its_extra_fields(world: World) -> None:
    w = world
    phone = "+86137" + unique("")[:8].translate(str.maketrans("abcdef", "123456"))
    for extra, kind in (({"nickname": "x"}, UnknownField), ({"email": 5}, TypeMismatch), ("x", InvalidValue)):
        code = await w.code_for(phone)
        await refuses(w.app, lambda e=extra, c=code: users.phone_sign_in(w.app, w.client, w.sms, phone, c, e), kind)
    code = await w.code_for(phone)
    row = await users.phone_sign_in(w.app, w.client, w.sms, phone, code, {"email": f"{phone}@example.com"})
    assert row["email"] == f"{phone}@example.com"


async def test_phone_sign_up_cannot_set_the_verified_flags(world: World) -> None:
    """The extra data of a phone sign-up obeys the same rules as a sign-up: no client sets emailVerified."""
    w = world
    phone = "+86136" + unique("")[:8].translate(str.maketrans("abcdef", "123456"))
    code = await w.code_for(phone)
    await refuses(w.app, lambda: users.phone_sign_in(w.app, w.client, w.sms, phone, code,
                                                     {"email": "claimed@example.com", "emailVerified": True}),
                  ReadOnlyField, field="emailVerified")


async def test_reset_password_by_sms(world: World) -> None:
    w = world
    phone = "+86135" + unique("")[:8].translate(str.maketrans("abcdef", "123456"))
    uid, name, token = await w.user("phone", mobilePhoneNumber=phone)
    code = await w.code_for(phone)
    new = "reset-by-sms-99"
    await refuses(w.app, lambda: users.reset_password_by_sms(w.app, w.client, w.sms, code, "short"), InvalidValue,
                  "password")
    await refuses(w.app, lambda: users.reset_password_by_sms(w.app, Principal.nobody("main"), w.sms, code, new),
                  PermissionDenied, "unauthenticated")
    await users.reset_password_by_sms(w.app, w.client, w.sms, code, new)  # the code survived the refusals
    with pytest.raises(Unauthorized):
        await w.as_token(token)
    await refuses(w.app, lambda: users.log_in(w.app, w.client, name, PASSWORD), Unauthorized, "login")
    assert (await users.log_in(w.app, w.client, name, new))["objectId"] == uid
    await refuses(w.app, lambda: users.reset_password_by_sms(w.app, w.client, w.sms, code, "another-one-1"),
                  InvalidValue, "sms_code")
    await refuses(w.app, lambda: users.reset_password_by_sms(w.app, w.client, w.sms, None, "another-one-1"),
                  InvalidValue, "sms_code")
    await w.sms.settle()


# -- hostile strings reaching the database -----------------------------------------------------------------

NUL = "a\x00b"
NUL_CALLS: dict[str, tuple[Callable[[World], Awaitable[Any]], type[HivebaseError] | None]] = {
    # name: (call, refusal (None: an empty answer is fine too))
    "log_in-username": (lambda w: users.log_in(w.app, w.client, NUL, PASSWORD), InvalidValue),
    "log_in-password": (lambda w: users.log_in(w.app, w.client, "taken", NUL), InvalidValue),
    "find": (lambda w: users.find(w.app, ROOT, NUL), NotFound),
    "bmob_get": (lambda w: bmob_get(w.app, w.client, "_User", NUL), NotFound),
    "update": (lambda w: records.update(w.app, ROOT, "_User", NUL, {"email": "n@example.com"}), NotFound),
    "delete": (lambda w: records.delete(w.app, ROOT, "_User", NUL), NotFound),
    "grant": (lambda w: roles.grant(w.app, ROOT, NUL, "member"), NotFound),
    "change_password": (lambda w: users.change_password(w.app, ROOT, NUL, None, PASSWORD), NotFound),
    "sessions.revoke": (lambda w: sessions.revoke(w.app, ROOT, NUL), NotFound),
    "sessions.list_for": (lambda w: sessions.list_for(w.app, ROOT, NUL), None),
    "api_keys.revoke": (lambda w: api_keys.revoke(w.app, ROOT, NUL), NotFound),
    "session_token": (lambda w: resolve(w.hub.apps, w.app, session_token=NUL), Unauthorized),
    "api_key": (lambda w: resolve(w.hub.apps, w.app, api_key="hbk_" + NUL), Unauthorized),
    "rest_key": (lambda w: resolve(w.hub.apps, w.app, rest_key=NUL), Unauthorized),
    "nocobase_get": (lambda w: nocobase_get(w.app, w.client, "_User", {"filterByTk": NUL}), InvalidValue),
}


@pytest.mark.parametrize("name", list(NUL_CALLS))
async def test_a_nul_character_is_refused_cleanly(world: World, name: str) -> None:
    """PostgreSQL cannot store or compare text holding NUL: every entry point must refuse it as bad input (or as
    not found) before it reaches the driver, never with a driver error carrying SQL text."""
    w = world
    call, kind = NUL_CALLS[name]
    try:
        answer = await call(w)
    except Exception as exc:
        assert isinstance(exc, HivebaseError), f"{type(exc).__name__}: {str(exc)[:200]}"
        if kind is not None:
            refused(exc, kind)
    else:
        assert kind is None, f"expected {kind}, got the answer {answer!r}"
        assert answer == []
