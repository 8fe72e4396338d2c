"""Over HTTP: a user who changes their password (Bmob ``updateUserPassword``) ends the OAuth grant an MCP client
holds for them. The access token gets the 401 that sends a client back to sign in, and the token endpoint
answers ``invalid_grant`` to its refresh token; the session the user changed it with stays."""

from __future__ import annotations

import httpx
import pytest

from tests.mcp.conftest import make_key
from tests.mcp.test_oauth_flow import PASSWORD, Browser, Memory, oauth_client, tools_with
from tests.rest.conftest import Server

pytestmark = pytest.mark.anyio

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_a_password_change_ends_the_clients_tokens(mcp_server: Server) -> None:
    make_key(mcp_server, role="member")  # the user `agent`
    storage, url = Memory(), f"{mcp_server.url}/api/mcp"
    await tools_with(url, oauth_client(url, storage, Browser()))
    assert storage.tokens is not None and storage.tokens.refresh_token and storage.client is not None
    bearer = {**ACCEPT, "Authorization": f"Bearer {storage.tokens.access_token}"}
    with mcp_server.client() as rest:
        me = rest.post("/1/login", json={"username": "agent", "password": PASSWORD}).json()
        session = {"X-Bmob-Session-Token": me["sessionToken"]}
        async with httpx.AsyncClient(base_url=mcp_server.url, timeout=30) as http:
            assert (await http.post("/api/mcp", json=INIT, headers=bearer)).status_code == 200
            changed = rest.put(f"/1/updateUserPassword/{me['objectId']}", headers=session,
                               json={"oldPassword": PASSWORD, "newPassword": "after-the-change-1"})
            assert changed.status_code == 200, changed.text
            refused = await http.post("/api/mcp", json=INIT, headers=bearer)
            assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
            refresh = await http.post("/api/token", data={"grant_type": "refresh_token", "client_id":
                                                          storage.client.client_id,
                                                          "refresh_token": storage.tokens.refresh_token})
            assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant", refresh.text
        assert rest.get(f"/1/checkSession/{me['objectId']}", headers=session).json() == {"msg": "ok"}
