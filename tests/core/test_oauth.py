"""The OAuth 2.1 authorization server's core (hivebase.core.oauth): registration policies, the code flow,
single-use codes, expiry, refresh rotation with reuse detection, scopes, revocation, dead users and
clients, app isolation, hostile input, and no plaintext secret in storage.

The SDK's HTTP handlers are not involved: these call the core exactly as the door does, with plain dicts
shaped like the SDK's models. Expiry is tested by moving stored expiry columns into the past (no clock
patching, no sleeping). One app per database serves the module, as in test_identity.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hivebase.auth.resolve import resolve
from hivebase.core import oauth, roles
from hivebase.core.apps import App
from hivebase.core.identity import users
from hivebase.core.oauth import clients as oauth_clients
from hivebase.core.oauth import grants as oauth_grants
from hivebase.core.principal import Principal
from hivebase.core.secrets import hash_key
from hivebase.errors import (
    HivebaseError,
    InvalidValue,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    Unauthorized,
    UniqueViolation,
)
from tests.core.access_fixtures import (  # noqa: F401 (anyio_backend, backend: module-scoped fixtures)
    PASSWORD,
    ROOT,
    Actors,
    anyio_backend,
    backend,
    open_hub,
    refused,
    unchanged,
    unique,
)

pytestmark = pytest.mark.anyio

OAUTH_TABLES = ("_hb_oauth_clients", "_hb_oauth_requests", "_hb_oauth_codes", "_hb_oauth_tokens")
LONG = "x" * 10_000


class World(Actors):
    other: App
    member: str  # a user who stays

    async def user(self) -> tuple[str, Principal]:
        """A new member: (objectId, their principal as a session token proves it)."""
        row = await users.sign_up(self.app, Principal.client(self.app.name),
                                  {"username": unique("o-"), "password": PASSWORD})
        return row["objectId"], await resolve(self.hub.apps, self.app, session_token=row["sessionToken"])


@pytest.fixture(scope="module")
async def world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:  # noqa: F811
    async with open_hub(backend, Path(tmp_path_factory.mktemp("oauth"))) as (hub, creds):
        w = World(hub, await hub.apps.open("main"), creds)
        await hub.apps.create("other")
        w.other = await hub.apps.open("other")
        w.member = (await w.user())[0]
        yield w


# -- helpers ------------------------------------------------------------------------------------------------


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), as a client makes them."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def sdk_metadata(**changes: Any) -> dict[str, Any]:
    """Client metadata as the SDK's registration handler passes it on (``model_dump(mode="json")``)."""
    meta: dict[str, Any] = {
        "redirect_uris": ["http://127.0.0.1:33418/callback"], "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "scope": "mcp offline_access", "client_name": "Test Agent", "client_uri": None, "logo_uri": None,
        "contacts": None, "tos_uri": None, "policy_uri": None, "jwks_uri": None, "jwks": None, "software_id": None,
        "software_version": None, "application_type": "native", "client_id": str(uuid.uuid4()),
        "client_secret": secrets.token_hex(32), "client_id_issued_at": int(time.time()),
        "client_secret_expires_at": 0, "issuer": None}
    meta.update(changes)
    return {k: v for k, v in meta.items() if v is not ...}


def params(challenge: str, **changes: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"scopes": ["mcp", "offline_access"], "code_challenge": challenge,
                         "redirect_uri": "http://127.0.0.1:33418/callback", "redirect_uri_provided_explicitly": True,
                         "state": "st-" + secrets.token_hex(4), "resource": "http://127.0.0.1:8000/api/mcp"}
    p.update(changes)
    return p


async def code_for(app: App, client: dict[str, Any], user_id: str, **changes: Any) -> str:
    _, challenge = pkce()
    request_id = await oauth.start_authorization(app, client["client_id"], params(challenge, **changes))
    return str((await oauth.approve(app, request_id, user_id))["code"])


async def tokens_for(app: App, user_id: str, *, client: dict[str, Any] | None = None,
                     **changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(client, token answer) after a complete code flow."""
    client = client or await oauth.register_client(app, sdk_metadata())
    code = await code_for(app, client, user_id, **changes)
    return client, await oauth.exchange_code(app, client["client_id"], code)


async def oauth_rows(app: App) -> dict[str, list[dict[str, Any]]]:
    async with app.db.read() as conn:
        return {name: sorted((dict(r) for r in (await conn.execute(sa.select(app.catalog.system(name)))).mappings()),
                             key=repr) for name in OAUTH_TABLES}


@asynccontextmanager
async def nothing_changes(app: App) -> AsyncIterator[None]:
    before = await oauth_rows(app)
    async with unchanged(app):
        yield
    assert await oauth_rows(app) == before, "a refused call changed the OAuth tables"


async def refuses(app: App, call: Callable[[], Awaitable[Any]], kind: type[HivebaseError],
                  reason: str | None = None) -> HivebaseError:
    async with nothing_changes(app):
        with pytest.raises(HivebaseError) as e:
            await call()
    refused(e.value, kind, reason)
    assert LONG[:200] not in str(e.value)
    return e.value


async def dead(app: App, answer: dict[str, Any], client_id: str) -> bool:
    """Whether both tokens of an answer are refused."""
    with pytest.raises(Unauthorized):
        await oauth.check_access(app, answer["access_token"])
    return "refresh_token" not in answer or await oauth.load_refresh(app, client_id, answer["refresh_token"]) is None


async def expire(app: App, table: str, secret: str) -> None:
    """Move one stored row (found by its secret's hash) past its expiry, as time would."""
    t = app.catalog.system(table)
    column = {"_hb_oauth_requests": "id_hash", "_hb_oauth_codes": "code_hash"}.get(table, "token_hash")
    async with app.db.write() as conn:
        done = await conn.execute(sa.update(t).where(t.c[column] == hash_key(secret))
                                  .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)))
    assert done.rowcount == 1


@asynccontextmanager
async def setting(app: App, key: str, value: Any) -> AsyncIterator[None]:
    old = (await roles.settings(app, ROOT))[key]
    await roles.set_setting(app, ROOT, key, value)
    try:
        yield
    finally:
        await roles.set_setting(app, ROOT, key, old)


# -- settings and registration --------------------------------------------------------------------------------


async def test_oauth_settings_are_checked(world: World) -> None:
    w = world
    current = await roles.settings(w.app, ROOT)
    assert (current["oauthRegistration"], current["oauthAccessSeconds"], current["oauthRefreshDays"]) == \
        ("open", 3600, 30)
    for key, bad in (("oauthRegistration", "closed"), ("oauthRegistration", 1), ("oauthRegistration", None),
                     ("oauthRegistration", "OFF"), ("oauthAccessSeconds", 59), ("oauthAccessSeconds", 86_401),
                     ("oauthAccessSeconds", "3600"), ("oauthAccessSeconds", True), ("oauthRefreshDays", 0),
                     ("oauthRefreshDays", 366), ("oauthRefreshDays", 1.5)):
        await refuses(w.app, lambda k=key, b=bad: roles.set_setting(w.app, ROOT, k, b), InvalidValue, "setting")


async def test_open_registration_keeps_only_a_hash_of_the_secret(world: World) -> None:
    w = world
    meta = sdk_metadata(redirect_uris=["https://agent.example.com/cb", "http://localhost:1455/auth/callback"])
    answer = await oauth.register_client(w.app, dict(meta))
    assert answer == meta  # the SDK answers with the record it minted, unchanged
    stored = await oauth.get_client(w.app, meta["client_id"])
    assert stored is not None and "client_secret" not in stored and meta["client_secret"] not in repr(stored)
    assert {k: stored[k] for k in ("client_id", "redirect_uris", "token_endpoint_auth_method", "grant_types",
                                   "response_types", "scope", "client_name", "client_id_issued_at")} == \
        {k: meta[k] for k in ("client_id", "redirect_uris", "token_endpoint_auth_method", "grant_types",
                              "response_types", "scope", "client_name", "client_id_issued_at")}
    (row,) = [r for r in (await oauth_rows(w.app))["_hb_oauth_clients"] if r["client_id"] == meta["client_id"]]
    assert row["secret_hash"] == hash_key(meta["client_secret"])
    assert await oauth.check_client_secret(w.app, meta["client_id"], meta["client_secret"]) is True
    other_end = "1" if meta["client_secret"].endswith("0") else "0"  # a different secret, whatever it ends in
    for wrong in (meta["client_secret"][:-1] + other_end, "", None, 42, LONG, meta["client_secret"] + "\x00"):
        assert await oauth.check_client_secret(w.app, meta["client_id"], wrong) is False
    assert await oauth.check_client_secret(w.app, "no-such-client", meta["client_secret"]) is False
    await refuses(w.app, lambda: oauth.register_client(w.app, dict(meta)), UniqueViolation, "client_exists")

    public = await oauth.register_client(w.app, sdk_metadata(token_endpoint_auth_method="none", client_secret=None,
                                                             client_secret_expires_at=None))
    assert public.get("client_secret") is None
    assert await oauth.check_client_secret(w.app, public["client_id"], "anything-at-all-long") is False
    # a caller without the SDK (the CLI) gets an id and a secret made here, shown once
    made = await oauth.register_client(w.app, {"redirect_uris": ["http://127.0.0.1/cb"]})
    assert made["client_secret"] and await oauth.check_client_secret(w.app, made["client_id"], made["client_secret"])
    assert (await oauth.get_client(w.app, made["client_id"]) or {})["token_endpoint_auth_method"] == \
        "client_secret_post"


async def test_loopback_registration_accepts_only_this_machine(world: World) -> None:
    w = world
    async with setting(w.app, "oauthRegistration", "loopback"):
        for uri in ("http://127.0.0.1:5173/cb", "http://localhost/cb", "http://[::1]:8080/callback",
                    "http://LOCALHOST:1/x"):
            assert (await oauth.register_client(w.app, sdk_metadata(redirect_uris=[uri])))["redirect_uris"] == [uri]
        for uris in (["https://agent.example.com/cb"], ["http://127.0.0.1/cb", "https://evil.example/cb"],
                     ["http://127.0.0.1.evil.example/cb"], ["http://localhost.evil.example/cb"],
                     ["http://localhost@evil.example/cb"], ["http://evil.example/?x=http://127.0.0.1/"],
                     ["cursor://anysphere.cursor-retrieval/oauth/callback"], ["http://[::2]/cb"]):
            await refuses(w.app, lambda u=uris: oauth.register_client(w.app, sdk_metadata(redirect_uris=u)),
                          InvalidValue, "invalid_redirect_uri")


async def test_registration_off_refuses_everyone(world: World) -> None:
    w = world
    async with setting(w.app, "oauthRegistration", "off"):
        exc = await refuses(w.app, lambda: oauth.register_client(w.app, sdk_metadata()), PermissionDenied,
                            "registration_closed")
        assert "oauthRegistration" in str(exc)
    assert (await oauth.register_client(w.app, sdk_metadata()))["client_id"]


async def test_open_registration_is_capped_and_forgets_clients_that_never_came_back(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    t = w.app.catalog.system("_hb_oauth_clients")
    async with w.app.db.read() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(t))
    monkeypatch.setattr(oauth_clients, "MAX_CLIENTS", count + 2)
    unused = await oauth.register_client(w.app, sdk_metadata())
    used, _ = await tokens_for(w.app, w.member)
    exc = await refuses(w.app, lambda: oauth.register_client(w.app, sdk_metadata()), LimitExceeded, "clients")
    assert "hivebase oauth clients" in str(exc)
    async with w.app.db.write() as conn:  # a day and more later, without a single authorization
        await conn.execute(sa.update(t).where(t.c.client_id.in_([unused["client_id"], used["client_id"]]))
                           .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)))
    await oauth.register_client(w.app, sdk_metadata())
    assert await oauth.get_client(w.app, unused["client_id"]) is None
    assert await oauth.get_client(w.app, used["client_id"]) is not None  # it has tokens: kept


async def test_pending_requests_are_capped(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    client = await oauth.register_client(w.app, sdk_metadata())
    t = w.app.catalog.system("_hb_oauth_requests")
    async with w.app.db.read() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(t))
    monkeypatch.setattr(oauth_grants, "MAX_PENDING", count + 1)
    first = await oauth.start_authorization(w.app, client["client_id"], params(pkce()[1]))
    await refuses(w.app, lambda: oauth.start_authorization(w.app, client["client_id"], params(pkce()[1])),
                  LimitExceeded, "rate_limit")
    await expire(w.app, "_hb_oauth_requests", first)  # expired requests are swept before counting
    await oauth.start_authorization(w.app, client["client_id"], params(pkce()[1]))


def metadata_cases() -> list[Any]:
    deep: Any = "x"
    for _ in range(1000):
        deep = [deep]
    cases: list[tuple[str, Any, str]] = [
        ("not-an-object", ["http://127.0.0.1/cb"], "invalid_client_metadata"),
        ("none", None, "invalid_client_metadata"),
        ("no-redirects", sdk_metadata(redirect_uris=...), "invalid_redirect_uri"),
        ("empty-redirects", sdk_metadata(redirect_uris=[]), "invalid_redirect_uri"),
        ("redirects-string", sdk_metadata(redirect_uris="http://127.0.0.1/cb"), "invalid_redirect_uri"),
        ("redirect-number", sdk_metadata(redirect_uris=[42]), "invalid_redirect_uri"),
        ("redirect-javascript", sdk_metadata(redirect_uris=["javascript:alert(1)"]), "invalid_redirect_uri"),
        ("redirect-data", sdk_metadata(redirect_uris=["data:text/html,<script>x</script>"]), "invalid_redirect_uri"),
        ("redirect-relative", sdk_metadata(redirect_uris=["/callback"]), "invalid_redirect_uri"),
        ("redirect-fragment", sdk_metadata(redirect_uris=["http://127.0.0.1/cb#frag"]), "invalid_redirect_uri"),
        ("redirect-space", sdk_metadata(redirect_uris=["http://127.0.0.1/c b"]), "invalid_redirect_uri"),
        ("redirect-backslash", sdk_metadata(redirect_uris=["http://127.0.0.1\\@evil.example/"]),
         "invalid_redirect_uri"),
        ("redirect-nul", sdk_metadata(redirect_uris=["http://127.0.0.1/\x00"]), "invalid_redirect_uri"),
        ("redirect-huge", sdk_metadata(redirect_uris=["http://127.0.0.1/" + LONG]), "invalid_redirect_uri"),
        ("redirect-userinfo", sdk_metadata(redirect_uris=["https://user:pw@example.com/cb"]), "invalid_redirect_uri"),
        ("too-many-redirects", sdk_metadata(redirect_uris=[f"http://127.0.0.1/{i}" for i in range(21)]),
         "invalid_redirect_uri"),
        ("auth-private-key-jwt", sdk_metadata(token_endpoint_auth_method="private_key_jwt"), "invalid_client_metadata"),
        ("auth-number", sdk_metadata(token_endpoint_auth_method=1), "invalid_client_metadata"),
        ("no-code-grant", sdk_metadata(grant_types=["refresh_token"]), "invalid_client_metadata"),
        ("jwt-bearer-grant", sdk_metadata(grant_types=["authorization_code",
                                                       "urn:ietf:params:oauth:grant-type:jwt-bearer"]),
         "invalid_client_metadata"),
        ("implicit", sdk_metadata(response_types=["token"]), "invalid_client_metadata"),
        ("grants-string", sdk_metadata(grant_types="authorization_code"), "invalid_client_metadata"),
        ("unknown-scope", sdk_metadata(scope="mcp admin"), "invalid_scope"),
        ("scope-list", sdk_metadata(scope=["mcp"]), "invalid_scope"),
        ("name-huge", sdk_metadata(client_name=LONG), "invalid_client_metadata"),
        ("name-nul", sdk_metadata(client_name="a\x00b"), "invalid_client_metadata"),
        ("name-newline", sdk_metadata(client_name="Evil\nApproved by admin"), "invalid_client_metadata"),
        ("name-number", sdk_metadata(client_name=7), "invalid_client_metadata"),
        ("name-surrogate", sdk_metadata(client_name="a\udc00"), "invalid_client_metadata"),
        ("redirect-surrogate", sdk_metadata(redirect_uris=["http://127.0.0.1/\ud800"]), "invalid_redirect_uri"),
        ("client-id-path", sdk_metadata(client_id="../../etc"), "invalid_client_metadata"),
        ("client-id-huge", sdk_metadata(client_id="a" * 10_000), "invalid_client_metadata"),
        ("client-id-sql", sdk_metadata(client_id="x' OR '1'='1"), "invalid_client_metadata"),
        ("client-id-number", sdk_metadata(client_id=5), "invalid_client_metadata"),
        ("secret-short", sdk_metadata(client_secret="abc"), "invalid_client_metadata"),
        ("secret-number", sdk_metadata(client_secret=12345678901234567890), "invalid_client_metadata"),
        ("public-with-secret", sdk_metadata(token_endpoint_auth_method="none"), "invalid_client_metadata"),
        ("issued-at-string", sdk_metadata(client_id_issued_at="now"), "invalid_client_metadata"),
        ("huge-metadata", sdk_metadata(software_id=LONG * 2), "invalid_client_metadata"),
        ("deep-metadata", sdk_metadata(jwks=deep), "invalid_client_metadata"),
        ("nul-anywhere", sdk_metadata(software_version="1\x00"), "invalid_client_metadata"),
        ("bytes-value", sdk_metadata(software_id=b"raw"), "invalid_client_metadata"),
    ]
    return [pytest.param(m, r, id=i) for i, m, r in cases]


@pytest.mark.parametrize("metadata,reason", metadata_cases())
async def test_registration_refuses_bad_metadata(world: World, metadata: Any, reason: str) -> None:
    await refuses(world.app, lambda: oauth.register_client(world.app, metadata), InvalidValue, reason)


# -- the authorization-code flow ----------------------------------------------------------------------------


async def test_the_full_code_flow(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client = await oauth.register_client(w.app, sdk_metadata(client_name="Claude Code"))
    verifier, challenge = pkce()
    asked = params(challenge)
    request_id = await oauth.start_authorization(w.app, client["client_id"], dict(asked))
    assert len(request_id) > 40 and request_id != await oauth.start_authorization(w.app, client["client_id"],
                                                                                 dict(asked))
    shown = await oauth.pending_authorization(w.app, request_id)
    assert shown is not None
    assert {k: shown[k] for k in ("client_id", "client_name", "redirect_uri", "scopes", "state", "resource")} == {
        "client_id": client["client_id"], "client_name": "Claude Code", "redirect_uri": asked["redirect_uri"],
        "scopes": ["mcp", "offline_access"], "state": asked["state"], "resource": asked["resource"]}
    approved = await oauth.approve(w.app, request_id, uid)
    assert approved["code"].startswith("hbc_") and (approved["redirect_uri"], approved["state"]) == \
        (asked["redirect_uri"], asked["state"])
    assert await oauth.pending_authorization(w.app, request_id) is None

    loaded = await oauth.load_code(w.app, client["client_id"], approved["code"])
    assert loaded is not None
    assert time.time() < loaded["expires_at"] <= time.time() + 300
    assert {k: v for k, v in loaded.items() if k != "expires_at"} == {
        "code": approved["code"], "scopes": ["mcp", "offline_access"], "client_id": client["client_id"],
        "code_challenge": challenge, "redirect_uri": asked["redirect_uri"], "redirect_uri_provided_explicitly": True,
        "resource": asked["resource"], "subject": uid}
    # what the SDK checks before it exchanges: the verifier matches the stored challenge
    assert base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=") == \
        loaded["code_challenge"]
    answer = await oauth.exchange_code(w.app, client["client_id"], approved["code"])
    assert set(answer) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert answer["access_token"].startswith("hbo_") and answer["refresh_token"].startswith("hbr_")
    assert (answer["token_type"], answer["expires_in"], answer["scope"]) == ("Bearer", 3600, "mcp offline_access")
    grant = await oauth.check_access(w.app, answer["access_token"])
    assert (grant.client_id, grant.user_id, grant.scopes, grant.resource) == \
        (client["client_id"], uid, ("mcp", "offline_access"), asked["resource"])
    assert time.time() + 3500 < grant.expires_at <= time.time() + 3600
    refresh = await oauth.load_refresh(w.app, client["client_id"], answer["refresh_token"])
    assert refresh is not None and (refresh["client_id"], refresh["scopes"], refresh["subject"], refresh["resource"]) \
        == (client["client_id"], ["mcp", "offline_access"], uid, asked["resource"])
    assert time.time() + 29 * 86400 < refresh["expires_at"] <= time.time() + 30 * 86400


async def test_offline_access_alone_brings_a_refresh_token(world: World) -> None:
    w = world
    uid, _ = await w.user()
    _, answer = await tokens_for(w.app, uid, scopes=["mcp"])
    assert "refresh_token" not in answer and answer["scope"] == "mcp"
    no_refresh_grant = await oauth.register_client(w.app, sdk_metadata(grant_types=["authorization_code"]))
    _, answer = await tokens_for(w.app, uid, client=no_refresh_grant)
    assert "refresh_token" not in answer
    # scopes left out: the client's registered ones
    narrow = await oauth.register_client(w.app, sdk_metadata(scope="mcp"))
    _, answer = await tokens_for(w.app, uid, client=narrow, scopes=None)
    assert answer["scope"] == "mcp" and "refresh_token" not in answer


async def test_a_request_is_answered_once_and_denial_forgets_it(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client = await oauth.register_client(w.app, sdk_metadata())
    _, challenge = pkce()
    first = await oauth.start_authorization(w.app, client["client_id"], params(challenge, state=None))
    await oauth.approve(w.app, first, uid)
    await refuses(w.app, lambda: oauth.approve(w.app, first, uid), NotFound, "oauth_request")
    await refuses(w.app, lambda: oauth.deny(w.app, first), NotFound, "oauth_request")
    second = await oauth.start_authorization(w.app, client["client_id"], params(challenge, state="keep-me"))
    assert await oauth.deny(w.app, second) == {"redirect_uri": "http://127.0.0.1:33418/callback", "state": "keep-me"}
    assert await oauth.pending_authorization(w.app, second) is None
    await refuses(w.app, lambda: oauth.approve(w.app, second, uid), NotFound, "oauth_request")
    third = await oauth.start_authorization(w.app, client["client_id"], params(challenge))
    await refuses(w.app, lambda: oauth.approve(w.app, third, "no-such-user"), NotFound, "user")
    assert await oauth.pending_authorization(w.app, third) is not None  # a failed approval keeps the request
    await refuses(w.app, lambda: oauth.start_authorization(w.app, "no-such-client", params(challenge)), NotFound,
                  "oauth_client")


async def test_a_code_is_single_use_and_a_replay_revokes_its_tokens(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client = await oauth.register_client(w.app, sdk_metadata())
    code = await code_for(w.app, client, uid)
    answer = await oauth.exchange_code(w.app, client["client_id"], code)
    await oauth.check_access(w.app, answer["access_token"])
    with pytest.raises(Unauthorized) as e:
        await oauth.exchange_code(w.app, client["client_id"], code)
    refused(e.value, Unauthorized, "invalid_grant")
    assert "revoked" in str(e.value)
    assert await dead(w.app, answer, client["client_id"])
    # the SDK loads a code before exchanging it: a replay already fails (and revokes) there
    code = await code_for(w.app, client, uid)
    answer = await oauth.exchange_code(w.app, client["client_id"], code)
    assert await oauth.load_code(w.app, client["client_id"], code) is None
    assert await dead(w.app, answer, client["client_id"])
    # another user's tokens from the same client live on
    other_uid, _ = await w.user()
    _, bystander = await tokens_for(w.app, other_uid, client=client)
    assert (await oauth.check_access(w.app, bystander["access_token"])).user_id == other_uid


async def test_a_code_belongs_to_its_client(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client = await oauth.register_client(w.app, sdk_metadata())
    thief = await oauth.register_client(w.app, sdk_metadata())
    code = await code_for(w.app, client, uid)
    async with nothing_changes(w.app):
        assert await oauth.load_code(w.app, thief["client_id"], code) is None
        with pytest.raises(Unauthorized):
            await oauth.exchange_code(w.app, thief["client_id"], code)
    answer = await oauth.exchange_code(w.app, client["client_id"], code)  # the real client is unharmed
    await oauth.check_access(w.app, answer["access_token"])


async def test_expiry(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client = await oauth.register_client(w.app, sdk_metadata())
    _, challenge = pkce()
    request_id = await oauth.start_authorization(w.app, client["client_id"], params(challenge))
    await expire(w.app, "_hb_oauth_requests", request_id)
    assert await oauth.pending_authorization(w.app, request_id) is None
    await refuses(w.app, lambda: oauth.approve(w.app, request_id, uid), NotFound, "oauth_request")

    code = await code_for(w.app, client, uid)
    await expire(w.app, "_hb_oauth_codes", code)
    loaded = await oauth.load_code(w.app, client["client_id"], code)
    assert loaded is not None and loaded["expires_at"] < time.time()  # the SDK answers "code has expired"
    await refuses(w.app, lambda: oauth.exchange_code(w.app, client["client_id"], code), Unauthorized,
                  "invalid_grant")

    _, answer = await tokens_for(w.app, uid, client=client)
    await expire(w.app, "_hb_oauth_tokens", answer["access_token"])
    await refuses(w.app, lambda: oauth.check_access(w.app, answer["access_token"]), Unauthorized, "oauth_token")
    fresh = await oauth.exchange_refresh(w.app, client["client_id"], answer["refresh_token"], [])
    await oauth.check_access(w.app, fresh["access_token"])  # an expired access token is what refreshing is for
    await expire(w.app, "_hb_oauth_tokens", fresh["refresh_token"])
    loaded_refresh = await oauth.load_refresh(w.app, client["client_id"], fresh["refresh_token"])
    assert loaded_refresh is not None and loaded_refresh["expires_at"] < time.time()
    await refuses(w.app, lambda: oauth.exchange_refresh(w.app, client["client_id"], fresh["refresh_token"], []),
                  Unauthorized, "invalid_grant")


async def test_lifetimes_follow_the_app_settings(world: World) -> None:
    w = world
    uid, _ = await w.user()
    async with setting(w.app, "oauthAccessSeconds", 60), setting(w.app, "oauthRefreshDays", 1):
        client, answer = await tokens_for(w.app, uid)
        assert answer["expires_in"] == 60
        assert (await oauth.check_access(w.app, answer["access_token"])).expires_at <= time.time() + 60
        refresh = await oauth.load_refresh(w.app, client["client_id"], answer["refresh_token"])
        assert refresh is not None and refresh["expires_at"] <= time.time() + 86400


# -- refresh ------------------------------------------------------------------------------------------------


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client, first = await tokens_for(w.app, uid)
    cid = client["client_id"]
    second = await oauth.exchange_refresh(w.app, cid, first["refresh_token"], ["mcp", "offline_access"])
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    third = await oauth.exchange_refresh(w.app, cid, second["refresh_token"], [])
    for answer in (first, second, third):  # access tokens live until they expire
        assert (await oauth.check_access(w.app, answer["access_token"])).user_id == uid
    # a parallel family (another approval of the same client and user) is not touched by what follows
    _, parallel = await tokens_for(w.app, uid, client=client)
    with pytest.raises(Unauthorized) as e:
        await oauth.exchange_refresh(w.app, cid, first["refresh_token"], [])
    refused(e.value, Unauthorized, "invalid_grant")
    assert "reused" in str(e.value)
    for answer in (first, second, third):
        assert await dead(w.app, answer, cid)
    await oauth.check_access(w.app, parallel["access_token"])
    assert await oauth.load_refresh(w.app, cid, parallel["refresh_token"]) is not None
    # reuse noticed when the SDK loads the token, before any exchange
    newer = await oauth.exchange_refresh(w.app, cid, parallel["refresh_token"], [])
    assert await oauth.load_refresh(w.app, cid, parallel["refresh_token"]) is None
    assert await dead(w.app, newer, cid)


async def test_refresh_scopes_may_narrow_never_widen(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client, answer = await tokens_for(w.app, uid)
    cid = client["client_id"]
    narrowed = await oauth.exchange_refresh(w.app, cid, answer["refresh_token"], ["mcp"])
    assert narrowed["scope"] == "mcp" and (await oauth.check_access(w.app, narrowed["access_token"])).scopes == \
        ("mcp",)
    # the new refresh token keeps the scopes of the grant (RFC 6749 §6)
    again = await oauth.exchange_refresh(w.app, cid, narrowed["refresh_token"], [])
    assert again["scope"] == "mcp offline_access"
    _, offline_only = await tokens_for(w.app, uid, client=client, scopes=["offline_access"])
    for bad in (["mcp", "offline_access"], ["mcp"], ["admin"], ["offline_access", "root"]):
        await refuses(w.app, lambda b=bad: oauth.exchange_refresh(w.app, cid, offline_only["refresh_token"], b),
                      InvalidValue, "invalid_scope")
    for bad in ("mcp", None, [1], [["mcp"]], {"mcp": True}, ["mcp"] * 11):
        await refuses(w.app, lambda b=bad: oauth.exchange_refresh(w.app, cid, again["refresh_token"], b),
                      InvalidValue, "invalid_scope")
    # the refused requests used nothing up
    assert "refresh_token" in await oauth.exchange_refresh(w.app, cid, offline_only["refresh_token"], [])
    assert "refresh_token" in await oauth.exchange_refresh(w.app, cid, again["refresh_token"], ["mcp"])


async def test_a_refresh_token_belongs_to_its_client(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client, answer = await tokens_for(w.app, uid)
    thief = await oauth.register_client(w.app, sdk_metadata())
    async with nothing_changes(w.app):
        assert await oauth.load_refresh(w.app, thief["client_id"], answer["refresh_token"]) is None
        with pytest.raises(Unauthorized):
            await oauth.exchange_refresh(w.app, thief["client_id"], answer["refresh_token"], [])
        with pytest.raises(Unauthorized):  # an access token is no refresh token
            await oauth.exchange_refresh(w.app, client["client_id"], answer["access_token"], [])
    await oauth.exchange_refresh(w.app, client["client_id"], answer["refresh_token"], [])


async def test_racing_uses_of_one_code_or_refresh_token_leave_nothing_alive(world: World) -> None:
    """Two exchanges at once: one may win, then the loser's replay revokes what the winner got."""
    w = world
    client = await oauth.register_client(w.app, sdk_metadata())
    cid = client["client_id"]
    code = await code_for(w.app, client, w.member)
    results = await asyncio.gather(*(oauth.exchange_code(w.app, cid, code) for _ in range(2)), return_exceptions=True)
    won = [r for r in results if isinstance(r, dict)]
    assert len(won) == 1 and sum(isinstance(r, Unauthorized) for r in results) == 1
    assert await dead(w.app, won[0], cid)

    _, answer = await tokens_for(w.app, w.member, client=client)
    results = await asyncio.gather(*(oauth.exchange_refresh(w.app, cid, answer["refresh_token"], [])
                                     for _ in range(2)), return_exceptions=True)
    won = [r for r in results if isinstance(r, dict)]
    assert len(won) == 1 and sum(isinstance(r, Unauthorized) for r in results) == 1
    assert await dead(w.app, won[0], cid) and await dead(w.app, answer, cid)


# -- revocation ---------------------------------------------------------------------------------------------


async def test_revoking_either_token_revokes_both(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client, answer = await tokens_for(w.app, uid)
    cid = client["client_id"]
    await oauth.revoke(w.app, answer["access_token"])
    assert await dead(w.app, answer, cid)
    _, answer = await tokens_for(w.app, uid, client=client)
    await oauth.revoke(w.app, answer["refresh_token"])
    assert await dead(w.app, answer, cid)
    await refuses(w.app, lambda: oauth.exchange_refresh(w.app, cid, answer["refresh_token"], []), Unauthorized,
                  "invalid_grant")
    _, answer = await tokens_for(w.app, uid, client=client)
    other = await oauth.register_client(w.app, sdk_metadata())
    async with nothing_changes(w.app):
        await oauth.revoke(w.app, answer["access_token"], client_id=other["client_id"])  # not that client's token
        for junk in (None, 42, "", "hbo_", "hbo_unknown", "hbr_" + LONG, "hbk_" + secrets.token_urlsafe(32),
                     "hbo_\x00", ["hbo_x"], "hbo_' OR 1=1 --"):
            await oauth.revoke(w.app, junk)
    await oauth.check_access(w.app, answer["access_token"])
    await oauth.revoke(w.app, answer["refresh_token"], client_id=cid)
    assert await dead(w.app, answer, cid)
    await oauth.revoke(w.app, answer["refresh_token"])  # twice is fine


async def test_tokens_are_listed_and_revoked_by_their_user_or_root(world: World) -> None:
    w = world
    uid, me = await w.user()
    stranger_id, stranger = await w.user()
    client, answer = await tokens_for(w.app, uid)
    _, theirs = await tokens_for(w.app, stranger_id, client=client)
    mine = await oauth.list_tokens(w.app, me)
    assert sorted(t["kind"] for t in mine) == ["access", "refresh"]
    assert all(t["userId"] == uid and t["clientId"] == client["client_id"] and t["clientName"] == "Test Agent"
               and t["state"] == "active" and t["revoked"] is False and t["scopes"] == ["mcp", "offline_access"]
               for t in mine)
    assert answer["access_token"] not in repr(mine) and answer["refresh_token"] not in repr(mine)
    assert hash_key(answer["access_token"]) not in repr(mine)
    assert {t["id"] for t in await oauth.list_tokens(w.app, ROOT, uid)} == {t["id"] for t in mine}
    assert {uid, stranger_id} <= {t["userId"] for t in await oauth.list_tokens(w.app, ROOT)}
    await refuses(w.app, lambda: oauth.list_tokens(w.app, stranger, uid), PermissionDenied, "owner")
    await refuses(w.app, lambda: oauth.list_tokens(w.app, Principal.nobody("main")), PermissionDenied,
                  "unauthenticated")
    await refuses(w.app, lambda: oauth.list_tokens(w.app, Principal.root(app="other")), PermissionDenied, "app")
    await refuses(w.app, lambda: oauth.revoke_token_id(w.app, stranger, mine[0]["id"]), PermissionDenied, "owner")
    for bad in ("no-such-token", LONG, 42, None, "x\x00"):
        await refuses(w.app, lambda b=bad: oauth.revoke_token_id(w.app, me, b), NotFound, "oauth_token")
    assert await oauth.list_tokens(w.app, ROOT, LONG) == []
    await oauth.revoke_token_id(w.app, me, mine[0]["id"])
    assert await dead(w.app, answer, client["client_id"])
    assert {t["state"] for t in await oauth.list_tokens(w.app, me)} == {"revoked"}
    await oauth.revoke_token_id(w.app, ROOT, (await oauth.list_tokens(w.app, stranger))[0]["id"])
    assert await dead(w.app, theirs, client["client_id"])


# -- clients and users that go away, other apps ------------------------------------------------------------


async def test_deleting_a_client_kills_its_tokens(world: World) -> None:
    w = world
    uid, me = await w.user()
    client, answer = await tokens_for(w.app, uid)
    cid = client["client_id"]
    pending_code = await code_for(w.app, client, uid)
    listed = {c["client_id"]: c for c in await oauth.list_clients(w.app, ROOT)}
    assert listed[cid]["liveTokens"] == 2 and "client_secret" not in listed[cid]
    assert client["client_secret"] not in repr(listed)
    await refuses(w.app, lambda: oauth.list_clients(w.app, me), PermissionDenied, "root")
    await refuses(w.app, lambda: oauth.delete_client(w.app, me, cid), PermissionDenied, "root")
    for bad in ("no-such-client", LONG, None, 3):
        await refuses(w.app, lambda b=bad: oauth.delete_client(w.app, ROOT, b), NotFound, "oauth_client")
    await oauth.delete_client(w.app, ROOT, cid)
    assert await dead(w.app, answer, cid)
    assert await oauth.get_client(w.app, cid) is None and cid not in {c["client_id"] for c in
                                                                       await oauth.list_clients(w.app, ROOT)}
    assert await oauth.load_code(w.app, cid, pending_code) is None
    assert await oauth.check_client_secret(w.app, cid, client["client_secret"]) is False
    # a client deleted straight from storage (no revocation at all) is still enough to stop its tokens
    client, answer = await tokens_for(w.app, uid)
    t = w.app.catalog.system("_hb_oauth_clients")
    async with w.app.db.write() as conn:
        await conn.execute(sa.delete(t).where(t.c.client_id == client["client_id"]))
    assert await dead(w.app, answer, client["client_id"])


async def test_deleting_a_user_kills_their_tokens(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client, answer = await tokens_for(w.app, uid)
    pending_code = await code_for(w.app, client, uid)
    _, challenge = pkce()
    request_id = await oauth.start_authorization(w.app, client["client_id"], params(challenge))
    await users.delete_user(w.app, ROOT, uid)
    assert await dead(w.app, answer, client["client_id"])
    await refuses(w.app, lambda: oauth.exchange_refresh(w.app, client["client_id"], answer["refresh_token"], []),
                  Unauthorized, "invalid_grant")
    with pytest.raises(Unauthorized):
        await oauth.exchange_code(w.app, client["client_id"], pending_code)
    await refuses(w.app, lambda: oauth.approve(w.app, request_id, uid), NotFound, "user")
    # forget_user (for the user-deletion hook) also ends what is stored
    uid2, _ = await w.user()
    _, answer2 = await tokens_for(w.app, uid2, client=client)
    async with w.app.db.write() as conn:
        await oauth.forget_user(conn, w.app, uid2)
    assert await dead(w.app, answer2, client["client_id"])


async def test_another_apps_credentials_are_unknown(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client, answer = await tokens_for(w.app, uid)
    code = await code_for(w.app, client, uid)
    _, challenge = pkce()
    request_id = await oauth.start_authorization(w.app, client["client_id"], params(challenge))
    cid = client["client_id"]
    async with nothing_changes(w.other):
        assert await oauth.get_client(w.other, cid) is None
        assert await oauth.check_client_secret(w.other, cid, client["client_secret"]) is False
        with pytest.raises(Unauthorized):
            await oauth.check_access(w.other, answer["access_token"])
        assert await oauth.load_refresh(w.other, cid, answer["refresh_token"]) is None
        assert await oauth.load_code(w.other, cid, code) is None
        assert await oauth.pending_authorization(w.other, request_id) is None
        with pytest.raises(NotFound):
            await oauth.approve(w.other, request_id, uid)
        with pytest.raises(NotFound):
            await oauth.start_authorization(w.other, cid, params(challenge))
        await oauth.revoke(w.other, answer["access_token"])
        assert await oauth.list_tokens(w.other, ROOT) == []
    await oauth.check_access(w.app, answer["access_token"])  # untouched by all of the above
    assert (await oauth.exchange_code(w.app, cid, code))["access_token"]


# -- hostile input ------------------------------------------------------------------------------------------

JUNK = [None, 42, 4.2, True, b"hbo_bytes", ["hbo_x"], {"token": "x"}, "", "hbo_", "hbr_", "hbc_", "hbq_",
        "hbo_" + LONG, "hbr_" + LONG, "hbc_" + LONG, "hbq_" + LONG, LONG, "hbo_\x00", "hbr_a\x00b", "hbc_\x00",
        "hbo_' OR '1'='1", "hbr_\"; DROP TABLE _hb_oauth_tokens; --", "hbo_\ud800", "hbk_" + "a" * 43]


@pytest.mark.parametrize("junk", JUNK, ids=lambda j: repr(j)[:24])
async def test_junk_tokens_are_unknown_everywhere(world: World, junk: Any) -> None:
    w = world
    client, answer = await tokens_for(w.app, w.member)
    cid = client["client_id"]
    expected: list[tuple[Callable[[], Awaitable[Any]], type[HivebaseError], str]] = [
        (lambda: oauth.check_access(w.app, junk), Unauthorized, "oauth_token"),
        (lambda: oauth.exchange_code(w.app, cid, junk), Unauthorized, "invalid_grant"),
        (lambda: oauth.exchange_refresh(w.app, cid, junk, []), Unauthorized, "invalid_grant"),
        (lambda: oauth.exchange_refresh(w.app, junk, answer["refresh_token"], []), Unauthorized, "invalid_grant"),
        (lambda: oauth.approve(w.app, junk, w.member), NotFound, "oauth_request"),
        (lambda: oauth.deny(w.app, junk), NotFound, "oauth_request"),
        (lambda: oauth.start_authorization(w.app, junk, params(pkce()[1])), NotFound, "oauth_client"),
        (lambda: oauth.delete_client(w.app, ROOT, junk), NotFound, "oauth_client"),
        (lambda: oauth.revoke_token_id(w.app, ROOT, junk), NotFound, "oauth_token"),
    ]
    async with nothing_changes(w.app):
        for call, kind, reason in expected:
            with pytest.raises(HivebaseError) as e:
                await call()
            refused(e.value, kind, reason)
            assert LONG[:200] not in str(e.value)
        assert await oauth.load_refresh(w.app, cid, junk) is None
        assert await oauth.load_refresh(w.app, junk, answer["refresh_token"]) is None
        assert await oauth.load_code(w.app, cid, junk) is None
        assert await oauth.pending_authorization(w.app, junk) is None
        assert await oauth.get_client(w.app, junk) is None
        assert await oauth.check_client_secret(w.app, junk, junk) is False
        assert await oauth.check_client_secret(w.app, cid, junk) is False
        assert await oauth.list_tokens(w.app, ROOT, junk) in ([], await oauth.list_tokens(w.app, ROOT))
        await oauth.revoke(w.app, junk)
        if junk is not None:  # None means "whichever client"
            await oauth.revoke(w.app, answer["access_token"], client_id=junk)
    await oauth.check_access(w.app, answer["access_token"])


def authorization_cases() -> list[Any]:
    _, challenge = pkce()
    cases: list[tuple[str, Any, str]] = [
        ("not-an-object", "scope=mcp", "invalid_request"),
        ("unknown-parameter", params(challenge, prompt="none"), "invalid_request"),
        ("no-challenge", params(None), "invalid_request"),
        ("plain-challenge", params("short-verifier"), "invalid_request"),
        ("challenge-huge", params(LONG), "invalid_request"),
        ("challenge-number", params(12345), "invalid_request"),
        ("redirect-unregistered", params(challenge, redirect_uri="http://127.0.0.1:33418/other"),
         "invalid_redirect_uri"),
        ("redirect-other-port", params(challenge, redirect_uri="http://127.0.0.1:9/callback"), "invalid_redirect_uri"),
        ("redirect-missing", params(challenge, redirect_uri=None), "invalid_redirect_uri"),
        ("redirect-nul", params(challenge, redirect_uri="http://127.0.0.1:33418/callback\x00"),
         "invalid_redirect_uri"),
        ("explicit-string", params(challenge, redirect_uri_provided_explicitly="yes"), "invalid_request"),
        ("state-huge", params(challenge, state=LONG), "invalid_request"),
        ("state-nul", params(challenge, state="a\x00"), "invalid_request"),
        ("state-number", params(challenge, state=5), "invalid_request"),
        ("state-surrogate", params(challenge, state="a\ud800"), "invalid_request"),
        ("scopes-string", params(challenge, scopes="mcp"), "invalid_scope"),
        ("scopes-unknown", params(challenge, scopes=["mcp", "admin"]), "invalid_scope"),
        ("scopes-empty", params(challenge, scopes=[]), "invalid_scope"),
        ("scopes-numbers", params(challenge, scopes=[1]), "invalid_scope"),
        ("resource-relative", params(challenge, resource="mcp"), "invalid_target"),
        ("resource-fragment", params(challenge, resource="http://127.0.0.1:8000/api/mcp#x"), "invalid_target"),
        ("resource-huge", params(challenge, resource="http://h/" + LONG), "invalid_target"),
        ("resource-number", params(challenge, resource=1), "invalid_target"),
    ]
    return [pytest.param(p, r, id=i) for i, p, r in cases]


@pytest.mark.parametrize("asked,reason", authorization_cases())
async def test_authorization_requests_are_checked(world: World, asked: Any, reason: str) -> None:
    w = world
    client = await oauth.register_client(w.app, sdk_metadata())
    await refuses(w.app, lambda: oauth.start_authorization(w.app, client["client_id"], asked), InvalidValue, reason)


async def test_scopes_are_limited_to_the_clients_registration(world: World) -> None:
    w = world
    client = await oauth.register_client(w.app, sdk_metadata(scope="mcp"))
    await refuses(w.app, lambda: oauth.start_authorization(w.app, client["client_id"], params(pkce()[1])),
                  InvalidValue, "invalid_scope")


# -- secrets at rest ----------------------------------------------------------------------------------------


async def test_no_plaintext_secret_is_stored(world: World) -> None:
    w = world
    uid, _ = await w.user()
    client = await oauth.register_client(w.app, sdk_metadata())
    issued = [client["client_secret"]]
    _, challenge = pkce()
    request_id = await oauth.start_authorization(w.app, client["client_id"], params(challenge))
    pending = await oauth.start_authorization(w.app, client["client_id"], params(challenge))
    code = (await oauth.approve(w.app, request_id, uid))["code"]
    unexchanged = await code_for(w.app, client, uid)
    first = await oauth.exchange_code(w.app, client["client_id"], code)
    second = await oauth.exchange_refresh(w.app, client["client_id"], first["refresh_token"], [])
    issued += [request_id, pending, code, unexchanged, first["access_token"], first["refresh_token"],
               second["access_token"], second["refresh_token"]]
    names = [t.name for t in w.app.catalog.sys.tables.values() if "_hb_oauth" in t.name]
    assert sorted(names) == sorted(OAUTH_TABLES)
    stored = repr(await oauth_rows(w.app))
    for secret in issued:
        assert secret not in stored and secret[4:] not in stored
        assert (hash_key(secret) in stored) is (secret != request_id)  # what is kept instead (an answered request
        # is forgotten)
