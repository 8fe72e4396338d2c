"""Who is calling, from whatever credentials a door received: the one translation every door shares.

Precedence: the master key (root); else an OAuth access token (its user); else an API key (its user, in
the key's role — ``x-role`` cannot change it); else a session token (its user, in the ``x-role`` they asked
for if they hold it, else their default role); else the REST API key alone (a client in the ``anonymous``
role); else nobody. Any credential that is present must be valid: a wrong one is never ignored in favour of
a weaker one.
"""

from __future__ import annotations

from hivebase.auth.credentials import Credentials
from hivebase.core import oauth
from hivebase.core.apps import App, AppRegistry
from hivebase.core.identity import api_keys, sessions, users
from hivebase.core.model import USER_TABLE
from hivebase.core.policy import ANONYMOUS
from hivebase.core.principal import Principal
from hivebase.errors import PermissionDenied, Unauthorized

MAX_KEY = 200


def _plausible(value: str | None) -> bool:
    return value is not None and 0 < len(value) <= MAX_KEY


async def _app_key(apps: AppRegistry, app: App, key: str, kind: str) -> None:
    if not _plausible(key) or not await apps.check_key(app.name, key, kind):
        raise Unauthorized(f"the {'master' if kind == 'master' else 'REST API'} key is not this app's",
                           reason=f"{kind}_key")


def _user(identity: users.Identity, app: App, user_id: str,
          role: str | None, fixed: bool, key_id: str, via: str, credential: str) -> Principal:
    row, held, default = identity
    if row is None:
        raise Unauthorized("the user of these credentials no longer exists", reason="user")
    if role is not None and role not in held:
        if fixed:
            raise Unauthorized("the API key's role was taken from its user", reason="api_key")
        raise PermissionDenied(f"you do not hold role `{role[:64]}`; you hold {', '.join(held) or 'no role'}",
                               reason="role")
    chosen = role or default or ANONYMOUS
    return Principal("user", app=app.name, user_id=user_id, role=chosen, roles=held, key_id=key_id, via=via,
                     credential=credential, user=row)


async def resolve(apps: AppRegistry, app: App, *, master_key: str | None = None, rest_key: str | None = None,
                  session_token: str | None = None, api_key: str | None = None, role: str | None = None,
                  oauth_token: str | None = None, oauth_scope: str | None = None, via: str = "") -> Principal:
    """The principal of a call to ``app``; ``role`` is the ``x-role`` header, if any. An OAuth access token
    acts as its user (``x-role`` among their roles) and must carry ``oauth_scope`` when one is required."""
    role = role.strip() or None if role is not None else None
    if master_key is not None:
        await _app_key(apps, app, master_key, "master")
        return Principal("root", app=app.name, role="root", via=via, credential="master")
    if rest_key is not None:
        await _app_key(apps, app, rest_key, "rest")
    if oauth_token is not None:
        await app.catalog.table(USER_TABLE)
        row, found = await users.identity_of(app, oauth.live_access(app, oauth_token))
        if row is None:
            raise Unauthorized(oauth.ACCESS_INVALID, reason="oauth_token")
        access = oauth.grant_of(row)
        if oauth_scope is not None and oauth_scope not in access.scopes:
            raise PermissionDenied(f"this access token lacks the `{oauth_scope}` scope", reason="insufficient_scope")
        return _user(found, app, access.user_id, role, False, access.token_id, via, "oauth")
    if api_key is not None:
        key, found = await users.identity_of(app, api_keys.live(app, api_key))
        if key is None:
            raise Unauthorized(api_keys.INVALID, reason="api_key")
        return _user(found, app, key["user_id"], key["role"], True, key["id"], via, "api_key")
    if session_token is not None:
        session, found = await users.identity_of(app, sessions.live(app, session_token))
        if session is None:
            raise Unauthorized(sessions.INVALID, reason="session")
        return _user(found, app, session["user_id"], role, False, session["id"], via, "session")
    if rest_key is not None:
        if role is not None and role != ANONYMOUS:
            raise PermissionDenied(f"a REST API key acts only as `{ANONYMOUS}`, not `{role[:64]}`", reason="role")
        return Principal("client", app=app.name, role=ANONYMOUS, roles=(ANONYMOUS,), via=via, credential="rest_key")
    return Principal.nobody(app.name, via)


async def resolve_credentials(apps: AppRegistry, app: App, creds: Credentials, *, via: str,
                              bearer: bool = True, oauth_scope: str | None = None) -> Principal:
    """``resolve`` for what a request presented. ``bearer=False``: the door does not take ``Authorization``
    (Bmob's REST API); a master key makes the REST key irrelevant."""
    return await resolve(apps, app, master_key=creds.master_key,
                         rest_key=None if creds.master_key else creds.rest_key,
                         session_token=creds.session_token, role=creds.role,
                         api_key=creds.api_key if bearer else None,
                         oauth_token=creds.oauth_token if bearer else None, oauth_scope=oauth_scope, via=via)
