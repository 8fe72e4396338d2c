"""How every command answers: one JSON document with ``--json``, Rich text for people otherwise.

Errors go through one place so a script always gets ``{"error": {...}}`` and exit code 1, and a person
gets one red line, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from hivebase.errors import HivebaseError

# No emoji codes or highlighting: names and messages come from users and must print as they are.
stdout = Console(soft_wrap=True, emoji=False, highlight=False)
stderr = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)


def _default(value: Any) -> str:
    return str(value)


def dump_json(data: Any) -> str:
    return orjson.dumps(data, default=_default, option=orjson.OPT_INDENT_2).decode()


def print_json(data: Any) -> None:
    """Exactly one JSON document on stdout, flushed (callers may be reading a pipe)."""
    sys.stdout.write(dump_json(data) + "\n")
    sys.stdout.flush()


def emit(as_json: bool, data: Any, render: Callable[[], None]) -> None:
    """Print ``data`` as JSON, or let ``render`` show it to a person."""
    if as_json:
        print_json(data)
    else:
        render()
        sys.stdout.flush()


def fail(as_json: bool, error: HivebaseError) -> NoReturn:
    """Report a core (or argument) error in the caller's format and exit with code 1."""
    if as_json:
        print_json({"error": error.to_dict()})
    else:
        message = " ".join(str(error.message).split())
        stderr.print(f"[bold red]Error:[/bold red] {escape(message)}")
    raise typer.Exit(1)


def done(message: str) -> None:
    """A one-line confirmation for a person (user-supplied parts must be escaped by the caller)."""
    stdout.print(f"[green]✓[/green] {message}")


def table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    """A Rich table whose cells are plain text: names come from users and must never be read as markup."""
    out = Table(title=Text(title), title_justify="left", show_lines=False)
    for col in columns:
        out.add_column(col)
    for row in rows:
        out.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    return out


def credentials_table(creds: dict[str, Any], title: str) -> Table:
    shown = [("Application ID", creds.get("applicationId")), ("REST API key", creds.get("restApiKey")),
             ("Master key", creds.get("masterKey"))]
    return table(title, ["credential", "value"],
                 [(label, value if value else "unavailable (was the secret key changed?)")
                  for label, value in shown])
