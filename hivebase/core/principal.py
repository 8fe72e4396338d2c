"""Who is calling. Every core entry point takes one; ``hivebase.auth`` builds them from credentials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["root", "user", "client", "nobody"]


@dataclass(frozen=True, slots=True)
class Principal:
    """``kind`` says which credential proved the caller; ``role`` is the one role this call acts in.

    ``app`` binds a door-built principal to the app whose credential it showed (None: any app, for the
    CLI and the server itself). ``user`` holds the user's row for ``{{currentUser.x}}`` in row scopes.
    """

    kind: Kind
    app: str | None = None
    user_id: str | None = None
    role: str | None = None
    roles: tuple[str, ...] = ()
    key_id: str | None = None  # the API key or session that made the call, for the audit trail
    credential: str = ""  # what proved it: "master", "api_key", "session", "rest_key" ("" inside the server)
    via: str = ""  # door that carried the call: "cli", "bmob", "nocobase", "mcp"…
    user: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_root(self) -> bool:
        return self.kind == "root" or self.role == "root"

    @classmethod
    def root(cls, via: str = "internal", app: str | None = None) -> Principal:
        return cls("root", app=app, role="root", via=via)

    @classmethod
    def client(cls, app: str, via: str = "") -> Principal:
        """A caller holding only the app's REST API key: the ``anonymous`` role."""
        return cls("client", app=app, role="anonymous", roles=("anonymous",), via=via)

    @classmethod
    def nobody(cls, app: str | None = None, via: str = "") -> Principal:
        return cls("nobody", app=app, via=via)
