"""OAuth 2.1 end to end: the SDK's own OAuth client (``mcp.client.auth``) against a running server, with a
test double for the user's browser that signs in on the consent page over HTTP; then tools with the token,
refresh with rotation, reuse detection, revocation and the failures the spec names."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.mcp.conftest import make_key, ok
from tests.rest.conftest import Server

pytestmark = pytest.mark.anyio

REDIRECT = "http://127.0.0.1:9/callback"
PASSWORD = "s3cret-pass"


class Memory(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def form_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


class Browser:
    """Follows the authorization URL to the consent page and submits it, as a person would."""

    def __init__(self, username: str = "agent", password: str = PASSWORD, decision: str = "approve") -> None:
        self.username, self.password, self.decision = username, password, decision
        self.url = ""
        self.pages: list[str] = []

    async def redirect(self, url: str) -> None:
        self.url = url

    async def callback(self) -> AuthorizationCodeResult:
        async with httpx.AsyncClient(timeout=30) as web:
            page = await web.get(self.url, follow_redirects=True)
            assert page.status_code == 200, page.text
            self.pages.append(page.text)
            fields = form_fields(page.text)
            answer = await web.post(str(page.url), data={**fields, "username": self.username,
                                                         "password": self.password, "decision": self.decision})
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        if "error" in query:
            raise PermissionError(query["error"][0])
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query.get("iss", [None])[0])


def oauth_client(url: str, storage: Memory, browser: Browser) -> OAuthClientProvider:
    meta = OAuthClientMetadata(redirect_uris=[REDIRECT], grant_types=["authorization_code", "refresh_token"],
                               response_types=["code"], client_name="Test Agent")
    return OAuthClientProvider(server_url=url, client_metadata=meta, storage=storage,
                               redirect_handler=browser.redirect, callback_handler=browser.callback)


async def tools_with(url: str, auth: Any) -> set[str]:
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http, \
            streamable_http_client(url, http_client=http) as (r, w), ClientSession(r, w) as session:
        await session.initialize()
        names = {t.name for t in (await session.list_tools()).tools}
        assert ok(await session.call_tool("resource_list", {"resource": "_User", "fields": ["username"]}))
        return names


async def test_sdk_client_completes_the_flow_then_refreshes(mcp_server: Server) -> None:
    make_key(mcp_server, role="member")  # creates the user `agent`, a member
    storage, browser = Memory(), Browser()
    url = f"{mcp_server.url}/api/mcp"
    assert "resource_list" in await tools_with(url, oauth_client(url, storage, browser))
    assert storage.tokens is not None and storage.tokens.access_token.startswith("hbo_")
    assert storage.tokens.refresh_token and "offline_access" in (storage.tokens.scope or "")
    assert "Test Agent" in browser.pages[0] and "agent" not in browser.pages[0].split("Sign in to")[0]
    # the token acts as its user: a bearer token on a plain client works too
    token = storage.tokens.access_token
    async with httpx.AsyncClient(base_url=mcp_server.url) as http:
        meta = (await http.get("/.well-known/oauth-authorization-server/api")).json()
        assert meta["issuer"] == f"{mcp_server.url}/api" and meta["code_challenge_methods_supported"] == ["S256"]
        assert (await http.get("/api/.well-known/openid-configuration")).json()["issuer"] == meta["issuer"]
        prm = (await http.get("/.well-known/oauth-protected-resource/api/mcp")).json()
        assert prm["authorization_servers"] == [meta["issuer"]] and prm["scopes_supported"] == ["mcp",
                                                                                                "offline_access"]
        # refresh: a new pair, the old refresh token dead, and reusing it revokes the family
        old = storage.tokens
        rotated = await http.post("/api/token", data={"grant_type": "refresh_token", "refresh_token":
                                                      old.refresh_token, "client_id": storage.client.client_id})
        assert rotated.status_code == 200, rotated.text
        fresh = rotated.json()
        assert fresh["refresh_token"] != old.refresh_token and fresh["access_token"] != token
        reuse = await http.post("/api/token", data={"grant_type": "refresh_token", "refresh_token":
                                                    old.refresh_token, "client_id": storage.client.client_id})
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
        headers = {"Authorization": f"Bearer {fresh['access_token']}", "Accept": "application/json, "
                   "text/event-stream", "Content-Type": "application/json"}
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        assert (await http.post("/api/mcp", json=init, headers=headers)).status_code == 401  # family revoked


async def test_denial_wrong_password_and_spec_failures(mcp_server: Server) -> None:
    make_key(mcp_server, role="member")
    url = f"{mcp_server.url}/api/mcp"
    with pytest.raises(Exception) as denied:
        await tools_with(url, oauth_client(url, Memory(), Browser(decision="deny")))
    assert "access_denied" in repr(denied.value) or denied.type is PermissionError
    async with httpx.AsyncClient(base_url=mcp_server.url, timeout=30) as http:
        client = (await http.post("/api/register", json={"redirect_uris": [REDIRECT], "client_name": "x",
                                                         "grant_types": ["authorization_code", "refresh_token"]}))
        assert client.status_code == 201, client.text
        info = client.json()
        assert info["token_endpoint_auth_method"] == "none" and "client_secret" not in info
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {"response_type": "code", "client_id": info["client_id"], "redirect_uri": REDIRECT,
                  "code_challenge": challenge, "code_challenge_method": "S256", "state": "st", "scope": "mcp"}
        wrong = await http.get("/api/authorize", params={**params, "redirect_uri": "http://evil.example/cb"})
        assert wrong.status_code == 400  # never redirected to an unregistered URI
        start = await http.get("/api/authorize", params=params)
        assert start.status_code == 302
        page = await http.get(start.headers["location"])
        fields = form_fields(page.text)
        bad = await http.post(str(page.url), data={**fields, "username": "agent", "password": "nope",
                                                   "decision": "approve"})
        assert bad.status_code == 400 and "incorrect" in bad.text
        forged = await http.post(str(page.url), data={**fields, "csrf": "0" * 64, "username": "agent",
                                                      "password": PASSWORD, "decision": "approve"})
        assert forged.status_code == 403
        good = await http.post(str(page.url), data={**fields, "username": "agent", "password": PASSWORD,
                                                    "decision": "approve"})
        code = parse_qs(urlsplit(good.headers["location"]).query)["code"][0]
        exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                    "client_id": info["client_id"], "code_verifier": "x" * 50}
        assert (await http.post("/api/token", data=exchange)).json()["error"] == "invalid_grant"  # bad PKCE
        first = await http.post("/api/token", data={**exchange, "code_verifier": verifier})
        assert first.status_code == 200, first.text + " after a bad verifier"
        again = await http.post("/api/token", data={**exchange, "code_verifier": verifier})
        assert again.status_code == 400  # a code is single use
        tokens = first.json()
        assert tokens["scope"] == "mcp" and "refresh_token" not in tokens  # no offline_access, no refresh
        mcp_headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json, "
                       "text/event-stream", "Content-Type": "application/json"}
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        assert (await http.post("/api/mcp", json=init, headers=mcp_headers)).status_code == 401  # code replayed
        # the same dance for a token of the main app shown to the sub-app: unknown there
        assert (await http.post("/api/__app/other/mcp", json=init, headers=mcp_headers)).status_code == 401
        revoked = await http.post("/api/revoke", data={"token": tokens["access_token"],
                                                       "client_id": info["client_id"]})
        assert revoked.status_code == 200, revoked.text


def cli(server: Server, *args: str) -> Any:
    """The real ``hivebase`` command on the server's storage, JSON out."""
    import json
    import subprocess
    import sys

    from tests.mcp.test_stdio import env_for

    done = subprocess.run([sys.executable, "-m", "hivebase.cli.main", *args, "--json"], capture_output=True,
                          text=True, timeout=60, env=env_for(server.settings))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_operator_lists_and_revokes_with_the_cli(mcp_server: Server) -> None:
    import anyio

    make_key(mcp_server, role="member")
    storage, url = Memory(), f"{mcp_server.url}/api/mcp"
    await tools_with(url, oauth_client(url, storage, Browser()))
    assert storage.tokens is not None and storage.client is not None
    listed = await anyio.to_thread.run_sync(cli, mcp_server, "oauth", "clients")
    assert [c["client_name"] for c in listed["clients"]] == ["Test Agent"]
    assert listed["clients"][0]["liveTokens"] >= 1 and "client_secret" not in listed["clients"][0]
    tokens = (await anyio.to_thread.run_sync(cli, mcp_server, "oauth", "tokens"))["tokens"]
    assert {t["kind"] for t in tokens} >= {"access"} and all("hbo_" not in str(t) for t in tokens)
    access = next(t for t in tokens if t["kind"] == "access")
    await anyio.to_thread.run_sync(cli, mcp_server, "oauth", "revoke", access["id"])
    headers = {"Authorization": f"Bearer {storage.tokens.access_token}", "Accept": "application/json, "
               "text/event-stream", "Content-Type": "application/json"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    async with httpx.AsyncClient(base_url=mcp_server.url) as http:
        refused = await http.post("/api/mcp", json=init, headers=headers)
        assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
        again = await http.post("/api/token", data={"grant_type": "refresh_token", "client_id":
                                                    storage.client.client_id,
                                                    "refresh_token": storage.tokens.refresh_token})
        assert again.status_code == 400  # the family went with it


async def manual_token(http: httpx.AsyncClient, scope: str) -> str:
    """Register, authorize with ``scope``, sign in as `agent` and exchange: an access token."""
    info = (await http.post("/api/register", json={"redirect_uris": [REDIRECT], "client_name": "manual",
                                                   "scope": "mcp offline_access"})).json()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    start = await http.get("/api/authorize", params={
        "response_type": "code", "client_id": info["client_id"], "redirect_uri": REDIRECT, "state": "s",
        "code_challenge": challenge, "code_challenge_method": "S256", "scope": scope})
    page = await http.get(start.headers["location"])
    done = await http.post(str(page.url), data={**form_fields(page.text), "username": "agent",
                                                "password": PASSWORD, "decision": "approve"})
    code = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
    tokens = await http.post("/api/token", data={"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": REDIRECT, "client_id": info["client_id"],
                                                 "code_verifier": verifier})
    return str(tokens.json()["access_token"])


async def test_scope_and_role_of_a_token(mcp_server: Server) -> None:
    make_key(mcp_server, role="member")
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=mcp_server.url, timeout=30) as http:
        narrow = await manual_token(http, "offline_access")
        refused = await http.post("/api/mcp", json=init, headers={**accept, "Authorization": f"Bearer {narrow}"})
        assert refused.status_code == 403 and 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        token = await manual_token(http, "mcp")
        bearer = {**accept, "Authorization": f"Bearer {token}"}
        assert (await http.post("/api/mcp", json=init, headers={**bearer, "x-role": "member"})).status_code == 200
        assert (await http.post("/api/mcp", json=init, headers={**bearer, "x-role": "admin"})).status_code == 403
        assert (await http.post("/mcp", json=init, headers=bearer)).status_code == 200  # main app's /mcp too
