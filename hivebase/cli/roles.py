"""``hivebase role …``: an app's roles, what they may do, and who holds them.

Strategies and table rules are passed as JSON in the shapes ``hivebase.core.policy`` documents; the core
checks actions, tables, fields and scopes, and its errors are shown as they are.
"""

from __future__ import annotations

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
from hivebase.cli.users import find_id, load_json, render_roles
from hivebase.core import roles
from hivebase.core.apps import MAIN
from hivebase.core.policy import parse_strategy
from hivebase.core.principal import Principal
from hivebase.hub import Hub

cli = typer.Typer(help="Create, show and delete roles, set their permissions, grant and revoke them.",
                  no_args_is_help=True)

ROOT = Principal.root(via="cli")
RoleArg = Annotated[str, typer.Argument(help="Role name.")]
UserOption = Annotated[str, typer.Option("--user", "-u", help="The user's objectId or username.")]
StrategyOption = Annotated[str | None, typer.Option(
    "--strategy", "-s", help='Actions allowed on every table without its own rules, as a JSON array (or @file), '
                             'e.g. \'["list","get","update:own"]\'.', show_default=False)]


def parse_strategy_option(value: str) -> list[Any]:
    return list(load_json(value, "--strategy", list, '["list","get","update:own"]'))


def _rules(rules: dict[str, Any]) -> str:
    parts = []
    for action, rule in rules.items():
        extra = [f"fields {', '.join(rule['fields'])}" if "fields" in rule else "",
                 f"scope {orjson.dumps(rule['scope']).decode()}" if "scope" in rule else "",
                 "own rows" if rule.get("own") else ""]
        shown = "; ".join(e for e in extra if e)
        parts.append(f"{action} ({shown})" if shown else action)
    return ", ".join(parts)


def render_role(role: dict[str, Any]) -> None:
    flags = [f for f, on in (("ignores object ACLs", role["ignoreAcl"]), ("built-in", role["system"])) if on]
    title = f"role {role['name']}" + (f" — {role['title']}" if role["title"] else "")
    rows = [("description", role["description"]), ("strategy", ", ".join(role["strategy"]) or "nothing"),
            ("flags", ", ".join(flags))]
    rows += [(f"table {table}", _rules(rules) or "nothing") for table, rules in role["tables"].items()]
    output.stdout.print(output.table(title, ["property", "value"], rows))


@cli.command("list")
def list_roles(app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List an app's roles and what each may do."""

    async def work(hub: Hub) -> list[dict[str, Any]]:
        return await roles.list_roles(await hub.apps.open(app), ROOT)

    found = call(as_json, data_dir, work)
    output.emit(as_json, {"app": app, "roles": found}, lambda: output.stdout.print(output.table(
        f"roles of {app}", ["role", "title", "strategy", "tables with own rules", "ignores ACLs", "built-in"],
        [(r["name"], r["title"], ", ".join(r["strategy"]), ", ".join(r["tables"]),
          "yes" if r["ignoreAcl"] else "", "yes" if r["system"] else "") for r in found])))


@cli.command("show")
def show(name: RoleArg, app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Show a role: its strategy, its per-table rules and whether it ignores object ACLs."""

    async def work(hub: Hub) -> dict[str, Any]:
        return await roles.get_role(await hub.apps.open(app), ROOT, name)

    role = call(as_json, data_dir, work)
    output.emit(as_json, role, lambda: render_role(role))


@cli.command("create")
def create(name: RoleArg,
           title: Annotated[str, typer.Option("--title", "-t", help="A short human name.")] = "",
           description: Annotated[str, typer.Option("--description", help="What the role is for.")] = "",
           strategy: StrategyOption = None,
           ignore_acl: Annotated[bool, typer.Option(
               "--ignore-acl", help="Let the role read and write rows whatever their object ACLs say.")] = False,
           app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Create a role (allowed nothing unless --strategy says otherwise)."""
    with reported(as_json):
        actions = parse_strategy_option(strategy) if strategy is not None else []

    async def work(hub: Hub) -> dict[str, Any]:
        return await roles.create_role(await hub.apps.open(app), ROOT, name, title=title, description=description,
                                       strategy=actions, ignore_acl=ignore_acl)

    role = call(as_json, data_dir, work)
    output.emit(as_json, role, lambda: render_role(role))


@cli.command("delete")
def delete(name: RoleArg, yes: YesOption = False, app: AppOption = MAIN, data_dir: DataDirOption = None,
           as_json: JsonOption = False) -> None:
    """Delete a role; its memberships and its API keys go with it (asks first unless --yes)."""
    confirm(as_json, yes, f"Delete role {name!r} of app {app!r}, its memberships and its API keys?")

    async def work(hub: Hub) -> None:
        await roles.delete_role(await hub.apps.open(app), ROOT, name)

    call(as_json, data_dir, work)
    output.emit(as_json, {"app": app, "role": name, "deleted": True},
                lambda: output.done(f"role {escape(name)} deleted"))


@cli.command("permissions")
def permissions(name: RoleArg, strategy: StrategyOption = None,
                table: Annotated[str | None, typer.Option(
                    "--table", "-T", help="The table whose own rules --actions or --clear set.")] = None,
                actions: Annotated[str | None, typer.Option(
                    "--actions", help='The table\'s rules as JSON (or @file.json), e.g. \'{"list":true,'
                                      '"update":{"fields":["title"],"own":true}}\'; they replace the strategy '
                                      "on that table.", show_default=False)] = None,
                clear: Annotated[bool, typer.Option(
                    "--clear", help="Remove the table's own rules: the strategy applies there again.")] = False,
                ignore_acl: Annotated[bool | None, typer.Option(
                    "--ignore-acl/--respect-acl", help="Whether the role ignores object ACLs.",
                    show_default=False)] = None,
                app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Change what a role may do: its strategy, one table's rules, ACLs; without options, show them."""
    with reported(as_json):
        if (actions is not None or clear) and table is None:
            raise UsageError("--actions and --clear need --table", reason="usage")
        if table is not None and (actions is None) == (not clear):
            raise UsageError("--table needs exactly one of --actions JSON and --clear", reason="usage")
        rules = load_json(actions, "--actions", dict, '{"list":true}') if actions is not None else None
        new_strategy = parse_strategy_option(strategy) if strategy is not None else None
        if new_strategy is not None:
            parse_strategy(new_strategy)  # refuse a bad strategy before the table's rules change

    async def work(hub: Hub) -> dict[str, Any]:
        opened = await hub.apps.open(app)
        role = await roles.get_role(opened, ROOT, name)
        if table is not None:
            role = await roles.set_table_permissions(opened, ROOT, name, table, rules)
        if new_strategy is not None or ignore_acl is not None:
            keep = new_strategy if new_strategy is not None else role["strategy"]
            role = await roles.set_strategy(opened, ROOT, name, keep, ignore_acl=ignore_acl)
        return role

    role = call(as_json, data_dir, work)
    output.emit(as_json, role, lambda: render_role(role))


@cli.command("grant")
def grant(name: RoleArg, user: UserOption,
          default: Annotated[bool, typer.Option(
              "--default", help="Make it the role the user acts in unless asked otherwise.")] = False,
          app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Let a user hold a role (at once, in every process)."""

    async def work(hub: Hub) -> dict[str, Any]:
        opened = await hub.apps.open(app)
        user_id, username = await find_id(opened, user)
        return {**await roles.grant(opened, ROOT, user_id, name, default=default), "username": username}

    held = call(as_json, data_dir, work)
    output.emit(as_json, held, lambda: render_roles(held))


@cli.command("revoke")
def revoke(name: RoleArg, user: UserOption, app: AppOption = MAIN, data_dir: DataDirOption = None,
           as_json: JsonOption = False) -> None:
    """Take a role from a user; their API keys of that role stop working at once."""

    async def work(hub: Hub) -> dict[str, Any]:
        opened = await hub.apps.open(app)
        user_id, username = await find_id(opened, user)
        return {**await roles.revoke(opened, ROOT, user_id, name), "username": username}

    held = call(as_json, data_dir, work)
    output.emit(as_json, held, lambda: render_roles(held))
