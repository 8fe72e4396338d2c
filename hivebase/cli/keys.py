"""``hivebase key …``: API keys, each bound to a user and one role that user holds.

``key create`` is the only time a key's secret is shown; the core keeps its SHA-256 alone.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

import typer
from rich.markup import escape

from hivebase.cli import output
from hivebase.cli.context import AppOption, DataDirOption, JsonOption, UsageError, call, reported
from hivebase.cli.users import find_id
from hivebase.core.apps import MAIN
from hivebase.core.clock import now
from hivebase.core.identity import api_keys
from hivebase.core.principal import Principal
from hivebase.hub import Hub

cli = typer.Typer(help="Create, list and revoke API keys (a user acting in one role).", no_args_is_help=True)

ROOT = Principal.root(via="cli")
DURATION = re.compile(r"(\d{1,6})([dhm])")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}
LONGEST = dt.timedelta(days=36500)


def parse_expiry(expires_in: str | None, expires_at: str | None) -> dt.datetime | None:
    """``30d`` / ``12h`` / ``90m`` from now, or an ISO 8601 moment (UTC when it names no offset)."""
    if expires_in is not None and expires_at is not None:
        raise UsageError("give --expires-in or --expires-at, not both", reason="usage")
    if expires_in is not None:
        match = DURATION.fullmatch(expires_in.strip())
        if match is None or int(match.group(1)) == 0:
            raise UsageError(f"--expires-in {expires_in[:40]!r} is not a duration such as 30d, 12h or 90m",
                             reason="bad_duration")
        span = dt.timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
        if span > LONGEST:
            raise UsageError("--expires-in is at most 100 years (36500d)", reason="bad_duration")
        return now() + span
    if expires_at is not None:
        try:
            moment = dt.datetime.fromisoformat(expires_at.strip())
        except ValueError:
            raise UsageError(f"--expires-at {expires_at[:40]!r} is not an ISO 8601 moment such as "
                             "2030-01-31T12:00:00Z", reason="bad_date") from None
        return moment.astimezone(dt.UTC) if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return None


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "never"


@cli.command("create")
def create(user: Annotated[str, typer.Option("--user", "-u", help="The user's objectId or username.")],
           role: Annotated[str, typer.Option("--role", "-r", help="The role the key acts in (the user must hold it).")],
           name: Annotated[str, typer.Option("--name", "-n", help="What the key is for.")] = "",
           expires_in: Annotated[str | None, typer.Option(
               "--expires-in", help="Lifetime: 30d, 12h or 90m.", show_default=False)] = None,
           expires_at: Annotated[str | None, typer.Option(
               "--expires-at", help="Expiry as ISO 8601 (UTC when no offset is given).", show_default=False)] = None,
           app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Create an API key; its secret is printed now and never again."""
    with reported(as_json):
        expiry = parse_expiry(expires_in, expires_at)

    async def work(hub: Hub) -> dict[str, Any]:
        opened = await hub.apps.open(app)
        user_id, _ = await find_id(opened, user)
        info, secret = await api_keys.create(opened, ROOT, user_id, role, name=name, expires_at=expiry)
        return {"key": secret, **info}

    made = call(as_json, data_dir, work)

    def render() -> None:
        output.stdout.print(output.table(
            f"API key {made['id']} of {user} ({made['role']})", ["credential", "value"],
            [("key", made["key"]), ("name", made["name"]), ("user", made["userId"]), ("role", made["role"]),
             ("expires (UTC)", _when(made["expiresAt"]))]))
        output.stdout.print("The key is shown only now: store it somewhere safe. Send it as the header "
                            "[bold]Authorization: Bearer <key>[/bold]; revoke it with "
                            f"[bold]hivebase key revoke {escape(made['id'])}[/bold].")

    output.emit(as_json, made, render)


@cli.command("list")
def list_keys(user: Annotated[str | None, typer.Option(
                  "--user", "-u", help="Only this user's keys (objectId or username).", show_default=False)] = None,
              app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List API keys (never their secrets)."""

    async def work(hub: Hub) -> list[dict[str, Any]]:
        opened = await hub.apps.open(app)
        user_id = (await find_id(opened, user))[0] if user is not None else None
        return await api_keys.list_keys(opened, ROOT, user_id)

    found = call(as_json, data_dir, work)
    output.emit(as_json, {"app": app, "keys": found}, lambda: output.stdout.print(output.table(
        f"API keys of {app}", ["id", "name", "user", "role", "created (UTC)", "expires (UTC)"],
        [(k["id"], k["name"], k["userId"], k["role"], _when(k["createdAt"]), _when(k["expiresAt"]))
         for k in found])))


@cli.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (from `key list`).")],
           app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Revoke an API key: it fails on its very next use."""

    async def work(hub: Hub) -> None:
        await api_keys.revoke(await hub.apps.open(app), ROOT, key_id)

    call(as_json, data_dir, work)
    output.emit(as_json, {"app": app, "id": key_id, "revoked": True},
                lambda: output.done(f"API key {escape(key_id)} revoked"))
