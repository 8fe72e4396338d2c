"""``hivebase migrate``: bring the system tables of the registry and of every app to the newest revision.

Servers do this on their own when they start (the registry) and when they first open an app; this command
does it for all of them at once, before a deployment or after restoring a backup, and says what it did.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hivebase.cli import output
from hivebase.cli.context import (
    ConfigError,
    DataDirOption,
    JsonOption,
    reported,
    require_initialised,
    run,
    settings_for,
)
from hivebase.core.apps import Migration
from hivebase.errors import HivebaseError
from hivebase.hub import Hub

CheckOption = Annotated[bool, typer.Option(
    "--check", help="Change nothing; exit with code 1 when a database is not at the newest revision.")]

ACTIONS = {"created": "created", "stamped": "adopted (made before migrations)", "upgraded": "upgraded",
           "current": "already current", "behind": "needs migrating",
           "ahead": "made by a newer hivebase"}


def migrate(check: CheckOption = False, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Run the migrations of the registry and every app (each: from revision → to revision)."""

    async def work(hub: Hub) -> list[Migration]:
        try:
            return await hub.apps.migrate(check=check)
        except HivebaseError:
            raise
        except Exception as exc:  # unreachable database, unwritable file…
            inner = getattr(exc, "orig", None) or exc
            first = (f"{type(inner).__name__}: {inner}".strip().splitlines() or [""])[0]
            raise ConfigError(f"cannot migrate the storage: {first}") from None

    with reported(as_json):
        settings = settings_for(data_dir)
        require_initialised(settings)
        # not started: starting migrates the registry, and --check must change nothing
        done = run(settings, work, start=False)
    at_head = all(m.outcome.at_head for m in done)
    report: dict[str, Any] = {"databases": [m.to_dict() for m in done], "atHead": at_head}
    output.emit(as_json, report, lambda: _render(done, check, at_head))
    if check and not at_head:
        raise typer.Exit(1)


def _to(m: Migration) -> str:
    if m.outcome.action in ("behind", "ahead"):  # --check: where it would go
        return m.outcome.head
    return m.outcome.after or "none"


def _render(done: list[Migration], check: bool, at_head: bool) -> None:
    output.stdout.print(output.table(
        "migrations" + (" (checked, nothing changed)" if check else ""),
        ["database", "where", "from", "to", "result"],
        [(m.database, m.where, m.outcome.before or "none", _to(m), ACTIONS[m.outcome.action]) for m in done]))
    if at_head:
        output.done("every database is at the newest revision")
    else:
        output.stderr.print("[bold red]Not current:[/bold red] run `hivebase migrate` (without --check).")
