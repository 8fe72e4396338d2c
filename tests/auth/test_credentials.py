"""The one credential parser every door uses: what it reads from headers, and the app an id names."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from hivebase.auth.credentials import MAX_CREDENTIAL, Credentials, app_by_id
from hivebase.core.apps import App
from hivebase.errors import Unauthorized
from hivebase.hub import Hub


def parse(**headers: str) -> Credentials:
    return Credentials.from_headers(Headers({k.replace("_", "-"): v for k, v in headers.items()}))


def test_bmob_headers_and_parse_equivalents() -> None:
    bmob = parse(X_Bmob_Application_Id="app", X_Bmob_REST_API_Key="rest", X_Bmob_Session_Token="tok")
    parse_ = parse(X_Parse_Application_Id="app", X_Parse_REST_API_Key="rest", X_Parse_Session_Token="tok")
    assert bmob == parse_ == Credentials(application_id="app", rest_key="rest", session_token="tok")
    assert bmob.has_app_key and bmob.api_key is None and bmob.oauth_token is None
    # Bmob's header wins when both are sent
    assert parse(X_Bmob_Master_Key="m1", X_Parse_Master_Key="m2").master_key == "m1"


@pytest.mark.parametrize(("value", "bearer"), [
    ("Bearer hbk_key", "hbk_key"), ("bearer   hbk_key  ", "hbk_key"), ("Basic abc", None), ("Bearer ", None),
    ("hbk_key", None), ("", None),
])
def test_authorization_takes_only_a_bearer_token(value: str, bearer: str | None) -> None:
    assert parse(Authorization=value).bearer == bearer


def test_oauth_tokens_and_api_keys_are_told_apart_by_prefix() -> None:
    oauth = parse(Authorization="Bearer hbo_token")
    key = parse(Authorization="Bearer hbk_key")
    assert (oauth.oauth_token, oauth.api_key) == ("hbo_token", None)
    assert (key.oauth_token, key.api_key) == (None, "hbk_key")
    # a session bound to an OAuth user survives token refreshes; an API key session is bound to the key
    assert oauth.binding("user1") == ("oauth", "user1")
    assert key.binding("user1") == ("hbk_key", None, None, None)


def test_app_key_needs_an_id_and_a_key() -> None:
    assert not parse(X_Bmob_Application_Id="app").has_app_key
    assert not parse(X_Bmob_REST_API_Key="rest").has_app_key
    assert parse(X_Bmob_Application_Id="app", X_Bmob_Master_Key="m").has_app_key


def test_oversized_secrets_are_refused_unread() -> None:
    long = "x" * (MAX_CREDENTIAL + 1)
    assert parse(Authorization=f"Bearer {long}").oversized()
    assert parse(X_Bmob_Session_Token=long).oversized()
    assert parse(X_Bmob_Master_Key=long).oversized()
    assert not parse(Authorization="Bearer " + "x" * MAX_CREDENTIAL).oversized()
    assert parse(x_role="editor").role == "editor"


@pytest.mark.anyio
async def test_app_by_id(hub: Hub, app: App) -> None:
    assert (await app_by_id(hub.apps, app.application_id)).name == app.name
    for bad in ("nope", "x" * 65, "' OR 1=1 --"):
        with pytest.raises(Unauthorized) as caught:
            await app_by_id(hub.apps, bad)
        assert caught.value.reason == "application_id"
