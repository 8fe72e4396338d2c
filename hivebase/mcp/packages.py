"""Tool sets as packages, and which packages a request selects.

Each endpoint lists its default packages; the ``x-mcp-packages`` header adds more: comma-separated names,
trimmed and de-duplicated; a bare name gets the default scope ``@hivebase/``; only a trailing ``*`` is a
wildcard (a prefix match); NocoBase's ``@nocobase/…`` names stand for ours. Names that match nothing are
ignored by the listing and reported in the server log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from hivebase.mcp.context import McpCall

log = logging.getLogger("hivebase.mcp")

SCOPE = "@hivebase/"
ALIASES = ("@nocobase/",)
MAX_HEADER = 2000
MAX_NAMES = 50

Dialect = Literal["bmob", "nocobase"]
Run = Callable[["McpCall", dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: what the agent reads (name, description, schema, hints) and what runs."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    run: Run
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False


@dataclass(frozen=True, slots=True)
class Package:
    name: str
    description: str
    dialect: Dialect
    tools: tuple[ToolSpec, ...] = field(default=())


class Registry:
    def __init__(self, packages: Iterable[Package] = ()) -> None:
        self._packages: dict[str, Package] = {}
        for p in packages:
            self.add(p)

    def add(self, package: Package) -> None:
        if package.name in self._packages:
            raise ValueError(f"package {package.name} registered twice")
        self._packages[package.name] = package

    def names(self) -> list[str]:
        return list(self._packages)

    def get(self, name: str) -> Package:
        return self._packages[name]

    def select(self, defaults: Iterable[str], header: str | None) -> list[Package]:
        """The default packages plus those ``header`` names, in that order, each once."""
        chosen = dict.fromkeys(defaults)
        for pattern in parse_header(header):
            matches = [n for n in self._packages if _matches(pattern, n)]
            if not matches:
                log.warning("x-mcp-packages names %r, which matches no package (known: %s)", pattern[:80],
                            ", ".join(self._packages))
            chosen.update(dict.fromkeys(matches))
        return [self._packages[n] for n in chosen if n in self._packages]


def parse_header(header: str | None) -> list[str]:
    """``x-mcp-packages`` → normalised patterns (scoped, aliases resolved, de-duplicated)."""
    if not header:
        return []
    out: dict[str, None] = {}
    for raw in header[:MAX_HEADER].split(",")[:MAX_NAMES]:
        name = raw.strip()
        if not name:
            continue
        for alias in ALIASES:
            if name.startswith(alias):
                name = SCOPE + name[len(alias):]
        if not name.startswith("@"):
            name = SCOPE + name
        out[name] = None
    return list(out)


def _matches(pattern: str, name: str) -> bool:
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern
