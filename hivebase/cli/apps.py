"""``hivebase app …``: create, list, show credentials of, rotate keys of, configure and delete apps."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from hivebase.cli import output
from hivebase.cli.context import (
    AppOption,
    DataDirOption,
    JsonOption,
    UsageError,
    YesOption,
    call,
    confirm,
    reported,
)
from hivebase.core import roles
from hivebase.core.apps import MAIN
from hivebase.core.policy import SETTINGS, check_setting
from hivebase.core.principal import Principal
from hivebase.hub import Hub

cli = typer.Typer(help="Create, list, rotate keys of, configure and delete apps.", no_args_is_help=True)

ROOT = Principal.root(via="cli")

NameArg = Annotated[str, typer.Argument(help="App name: lowercase letters, digits, '-' and '_'.")]


class Which(StrEnum):
    rest = "rest"
    master = "master"
    both = "both"


def _show_credentials(creds: dict[str, object], title: str) -> None:
    output.stdout.print(output.credentials_table(creds, title))


@cli.command("create")
def create(name: NameArg, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Create a sub-app with fresh keys (shown now and by `app credentials`)."""

    async def work(hub: Hub) -> dict[str, object]:
        return (await hub.apps.create(name)).to_dict()

    creds = call(as_json, data_dir, work)
    output.emit(as_json, creds, lambda: _show_credentials(creds, f"app {name} created"))


@cli.command("list")
def list_apps(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List the apps of this data dir."""

    async def work(hub: Hub) -> list[dict[str, object]]:
        return await hub.apps.list()

    apps = call(as_json, data_dir, work)
    output.emit(as_json, {"apps": apps}, lambda: output.stdout.print(output.table(
        "apps", ["app", "application id", "created"],
        [(a["app"], a["applicationId"], a["createdAt"]) for a in apps])))


@cli.command("credentials")
def credentials(name: Annotated[str, typer.Argument(help="App name.")] = "main",
                data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Show an app's application id, REST API key and master key."""

    async def work(hub: Hub) -> dict[str, object]:
        return (await hub.apps.credentials(name)).to_dict()

    creds = call(as_json, data_dir, work)
    output.emit(as_json, creds, lambda: _show_credentials(creds, f"app {name}"))


@cli.command("rotate")
def rotate(name: NameArg,
           which: Annotated[Which, typer.Option("--which", help="Which key to replace.")] = Which.both,
           data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Replace an app's REST API key and/or master key; the old ones stop working at once."""

    async def work(hub: Hub) -> dict[str, object]:
        return (await hub.apps.rotate(name, which.value)).to_dict()

    creds = call(as_json, data_dir, work)
    title = f"app {name}: {which.value} key(s) rotated"
    output.emit(as_json, {**creds, "rotated": which.value}, lambda: _show_credentials(creds, title))


@cli.command("delete")
def delete(name: NameArg, yes: YesOption = False, data_dir: DataDirOption = None,
           as_json: JsonOption = False) -> None:
    """Delete a sub-app and all its data (asks first unless --yes)."""
    confirm(as_json, yes, f"Delete app {name!r} and all its data?")

    async def work(hub: Hub) -> None:
        await hub.apps.delete(name)

    call(as_json, data_dir, work)
    output.emit(as_json, {"app": name, "deleted": True},
                lambda: output.done(f"app {escape(name)} deleted"))



def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value``; the value is JSON (``true``, ``7``), else taken as a string for the core to judge."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set {text[:60]!r} is not key=value, e.g. sessionDays=30", reason="usage")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = raw
    return key.strip(), value


@cli.command("config")
def config(app: AppOption = MAIN,
           assignments: Annotated[list[str] | None, typer.Option(
               "--set", help="Change a setting: key=value, value as JSON (repeat for several).",
               show_default=False)] = None,
           data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Show an app's access settings, or change them with --set key=value."""
    with reported(as_json):
        # All checked before any is stored, so a bad one leaves the app as it was.
        changes = [check_setting(*parse_assignment(a)) for a in assignments or []]

    async def work(hub: Hub) -> dict[str, Any]:
        opened = await hub.apps.open(app)
        for key, value in changes:
            await roles.set_setting(opened, ROOT, key, value)
        return await roles.settings(opened, ROOT)

    current = call(as_json, data_dir, work)
    output.emit(as_json, {"app": app, "settings": current}, lambda: output.stdout.print(output.table(
        f"access settings of {app}", ["setting", "value", "meaning"],
        [(k, orjson.dumps(v).decode(), SETTINGS[k][2] if k in SETTINGS else "") for k, v in current.items()])))
