"""Every distribution the code imports is declared in pyproject.toml, not merely pulled in by another one:
hivebase/ against ``[project].dependencies``, tests/ against those plus the ``test`` extra, bench/ against
those plus the ``bench`` extra."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"hivebase", "tests", "bench"}
CHECKED = {"hivebase": (), "tests": ("test",), "bench": ("bench",)}  # tree → extras added to the main deps


def normalise(name: str) -> str:
    """PEP 503: runs of ``-``, ``_`` and ``.`` are one ``-``, case does not count."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    assert found, f"unreadable requirement {spec!r} in pyproject.toml"
    return normalise(found.group(1))


def declared(extras: tuple[str, ...]) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return {requirement_name(s) for s in specs}


def imported(tree: str) -> dict[str, set[str]]:
    """Top-level module → the files importing it (absolute imports only; a relative one is first-party)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / tree).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                # a script's import of a module beside it (bench/load/*.py run as scripts)
                if (path.parent / f"{top}.py").exists() or (path.parent / top / "__init__.py").exists():
                    continue
                found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("tree", sorted(CHECKED))
def test_imported_distributions_are_declared(tree: str) -> None:
    providers = importlib.metadata.packages_distributions()
    allowed = declared(CHECKED[tree])
    problems = []
    for module, files in sorted(imported(tree).items()):
        if module in FIRST_PARTY or module in sys.stdlib_module_names:
            continue
        dists = sorted({normalise(d) for d in providers.get(module, [])})
        where = ", ".join(sorted(files)[:3])
        if not dists:
            problems.append(f"`{module}` (imported in {where}) comes from no installed distribution")
        elif not allowed.intersection(dists):
            problems.append(f"`{module}` (imported in {where}) comes from {' or '.join(dists)}, which "
                            f"pyproject.toml does not declare for {tree}/")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("lock", "extras"), [("run", ()), ("test", ("test",)), ("bench", ("test", "bench"))])
def test_locks_pin_every_declared_distribution(lock: str, extras: tuple[str, ...]) -> None:
    """A requirement added to pyproject.toml without ``make lock`` would not be installed by ``make``."""
    text = (ROOT / "requirements" / f"{lock}.lock").read_text()
    pinned = {normalise(m) for m in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", text, re.MULTILINE)}
    missing = sorted(declared(extras) - pinned)
    assert not missing, f"requirements/{lock}.lock lacks {', '.join(missing)}: run `make lock`"


def test_normalise() -> None:
    assert normalise("Jinja2") == normalise("jinja2") == "jinja2"
    assert normalise("mcp_types") == normalise("MCP.Types") == "mcp-types"
    assert requirement_name("uvicorn[standard]>=0.30") == "uvicorn"
    assert requirement_name("uvloop>=0.19; sys_platform != 'win32'") == "uvloop"
