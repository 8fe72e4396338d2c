"""Who is calling. Every core entry point takes one; the auth layer builds them from credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["root", "user", "client", "nobody"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Kind
    user_id: str | None = None
    role: str | None = None
    roles: tuple[str, ...] = ()
    key_id: str | None = None  # the API key or credential that made the call, for the audit trail
    via: str = ""  # door that carried the call: "cli", "bmob", "nocobase", "mcp"…
    attrs: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_root(self) -> bool:
        return self.kind == "root"

    @classmethod
    def root(cls, via: str = "internal") -> Principal:
        return cls("root", role="root", via=via)
