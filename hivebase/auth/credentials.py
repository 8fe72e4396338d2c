"""The credentials a request carries, read once from its headers, and the app an application id names.

Every door reads the same headers the same way: ``Authorization: Bearer`` (an API key, or an OAuth access
token by its ``hbo_`` prefix), Bmob's ``X-Bmob-Application-Id`` / ``-REST-API-Key`` / ``-Master-Key`` /
``-Session-Token`` (Parse's ``X-Parse-*`` alike), and ``x-role``. Nothing here is checked against the
database; ``hivebase.auth.resolve`` turns credentials into a principal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hivebase.core.apps import App, AppRegistry
from hivebase.errors import NotFound, Unauthorized

MAX_CREDENTIAL = 200  # longer than any key or token we issue: refused unread
MAX_APPLICATION_ID = 64
OAUTH_PREFIX = "hbo_"  # an OAuth access token; API keys start with hbk_


def _bmob(headers: Mapping[str, str], name: str) -> str | None:
    return headers.get(f"x-bmob-{name}") or headers.get(f"x-parse-{name}")


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request presented, unchecked. ``role`` is the ``x-role`` header."""

    bearer: str | None = None
    application_id: str | None = None
    master_key: str | None = None
    rest_key: str | None = None
    session_token: str | None = None
    role: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Credentials:
        """Header names are case-insensitive in ``headers`` (Starlette's ``Headers``) or already lower-case."""
        return cls(bearer=_bearer(headers), application_id=_bmob(headers, "application-id"),
                   master_key=_bmob(headers, "master-key"), rest_key=_bmob(headers, "rest-api-key"),
                   session_token=_bmob(headers, "session-token"), role=headers.get("x-role"))

    @property
    def oauth_token(self) -> str | None:
        return self.bearer if self.bearer is not None and self.bearer.startswith(OAUTH_PREFIX) else None

    @property
    def api_key(self) -> str | None:
        return self.bearer if self.oauth_token is None else None

    @property
    def has_app_key(self) -> bool:
        """Bmob's pair: an application id with its REST API key or master key."""
        return bool(self.application_id and (self.master_key or self.rest_key))

    def oversized(self) -> bool:
        """A secret longer than any we issue: refused before it reaches a hash or a query."""
        return any(v is not None and len(v) > MAX_CREDENTIAL
                   for v in (self.bearer, self.master_key, self.rest_key, self.session_token))

    def binding(self, oauth_user: str | None = None) -> tuple[str | None, ...]:
        """What a session opened with these credentials stays bound to: an OAuth session to its user
        (across token refreshes), any other to the credentials themselves."""
        if self.oauth_token is not None:
            return ("oauth", oauth_user)
        return (self.api_key, self.master_key, self.rest_key, self.session_token)


async def app_by_id(apps: AppRegistry, application_id: str) -> App:
    """The app ``application_id`` names; an unknown or implausible id is a credential failure, not a 404."""
    if len(application_id) > MAX_APPLICATION_ID:
        raise Unauthorized("unknown application id", reason="application_id")
    try:
        return await apps.by_application_id(application_id)
    except NotFound:
        raise Unauthorized("unknown application id", reason="application_id") from None
