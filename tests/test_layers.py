"""The house rules of docs/architecture.md, read from the code: which layer may import which.

Every ``import`` in the package counts, including those inside functions. A failure names the module, the
line and the rule it breaks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hivebase"
DOORS = ("rest", "mcp", "oauth", "cli", "console")

# layer → what it must never import (top-level hivebase parts or third-party packages)
BELOW_DOORS = {f"hivebase.{d}" for d in DOORS} | {"hivebase.app"}
FORBIDDEN: dict[str, set[str]] = {
    "db": BELOW_DOORS | {"hivebase.core", "hivebase.auth", "hivebase.dialects", "hivebase.hub", "hivebase.http",
                         "hivebase.config", "hivebase.errors", "starlette", "mcp"},
    "core": BELOW_DOORS | {"hivebase.auth", "hivebase.dialects", "hivebase.hub", "hivebase.http",
                           "hivebase.config", "starlette", "mcp"},
    "dialects": BELOW_DOORS | {"hivebase.auth", "hivebase.hub", "hivebase.http", "starlette", "mcp"},
    "auth": BELOW_DOORS | {"hivebase.dialects", "hivebase.hub", "hivebase.http", "starlette", "mcp"},
    "hub": BELOW_DOORS | {"hivebase.auth", "hivebase.dialects", "hivebase.http", "starlette", "mcp"},
    "http": BELOW_DOORS | {"hivebase.core", "hivebase.auth", "hivebase.dialects", "hivebase.hub", "mcp"},
}
for door in DOORS:  # a door never imports another door, nor SQL; the CLI reaches doors through the wiring
    FORBIDDEN[door] = {f"hivebase.{d}" for d in DOORS if d != door} | {"sqlalchemy"}


def layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" else ""


def imports_of(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "hivebase":  # `from hivebase import x` imports hivebase.x
                found += [(node.lineno, f"hivebase.{alias.name}") for alias in node.names]
    return found


def breaks(name: str, forbidden: set[str]) -> str | None:
    return next((f for f in forbidden if name == f or name.startswith(f + ".")), None)


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if layer_of(p) in FORBIDDEN)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_keeps_its_layer(path: Path) -> None:
    layer = layer_of(path)
    problems = [f"{path.relative_to(PACKAGE)}:{line} imports {name} ({layer}/ must not import {rule})"
                for line, name in imports_of(path) if (rule := breaks(name, FORBIDDEN[layer]))]
    assert not problems, "\n".join(problems)


def test_every_layer_is_known() -> None:
    """A new top-level part of the package needs its rule here (and a place in docs/architecture.md)."""
    wiring = {"", "app", "config", "errors"}
    unknown = {layer_of(p) for p in PACKAGE.rglob("*.py")} - set(FORBIDDEN) - wiring
    assert not unknown, f"no import rule for {sorted(unknown)}"


def test_the_rules_catch_a_breach(tmp_path: Path) -> None:
    """The checker itself: a door importing another door and SQL is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("import sqlalchemy as sa\ndef f():\n    from hivebase.rest.bmob import routes\n")
    names = [name for _, name in imports_of(bad)]
    assert breaks(names[0], FORBIDDEN["mcp"]) == "sqlalchemy"
    assert breaks(names[1], FORBIDDEN["mcp"]) == "hivebase.rest"
    assert breaks("hivebase.mcp.server", FORBIDDEN["mcp"]) is None
