"""``hivebase table …``: an app's tables and fields, through the same schema calls every door uses.

The CLI only parses its arguments (``--fields`` JSON, field lists); names, types and options are
checked by the core, whose errors are shown as they are.
"""

from __future__ import annotations

from pathlib import Path
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
from hivebase.core import schema
from hivebase.core.apps import MAIN, App
from hivebase.core.principal import Principal
from hivebase.hub import Hub

cli = typer.Typer(help="List, describe, create, alter and drop an app's tables.", no_args_is_help=True)

ROOT = Principal.root(via="cli")
TableArg = Annotated[str, typer.Argument(help="Table (class) name.")]
FieldsOption = Annotated[str, typer.Option(
    "--fields", "-f", help='Bmob create_table JSON, e.g. \'{"score":{"type":"Number"}}\', or @file.json.')]
SpecOption = Annotated[str, typer.Option(
    "--spec", "-s", help='The field as JSON, e.g. \'{"type":"String","unique":true}\', or @file.json.')]


def parse_object(value: str, option: str) -> dict[str, Any]:
    """Inline JSON or ``@path`` to a JSON file; it must be an object."""
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UsageError(f"cannot read the {option} file {str(path)!r}: {reason}",
                             reason="bad_file") from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{option} is not valid JSON: {exc}", reason="bad_json") from None
    if not isinstance(data, dict):
        raise UsageError(f"{option} must be a JSON object, e.g. {{\"score\": {{\"type\": \"Number\"}}}}",
                         reason="bad_json")
    return data


def split_fields(values: list[str]) -> list[str]:
    """``a,b`` and ``a b`` both name two fields."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


async def _open(hub: Hub, app_name: str) -> App:
    return await hub.apps.open(app_name)


def _options(spec: dict[str, Any]) -> str:
    parts = [k for k in ("required", "unique", "builtin") if spec.get(k)]
    if "default" in spec:
        parts.append(f"default={orjson.dumps(spec['default']).decode()}")
    if spec.get("isAutoIncre"):
        parts.append(f"auto-increment from {spec.get('autoIncreInit', 1)}")
    if spec.get("targetClass"):
        parts.append(f"→ {spec['targetClass']}")
    return ", ".join(parts)


def render_table(desc: dict[str, Any], app_name: str) -> None:
    title = f"{desc['className']} ({app_name})" + (f" — {desc['note']}" if desc.get("note") else "")
    fields = desc.get("fields", {})
    output.stdout.print(output.table(title, ["field", "type", "options", "note"],
                                     [(name, f.get("type"), _options(f), f.get("note", ""))
                                      for name, f in fields.items()]))
    indexes = desc.get("indexes") or []
    if indexes:
        output.stdout.print(output.table("indexes", ["index", "fields", "unique"],
                                         [(i["name"], ", ".join(i["fields"]), "yes" if i["unique"] else "")
                                          for i in indexes]))


@cli.command("list")
def list_tables(app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List an app's tables."""

    async def work(hub: Hub) -> list[dict[str, Any]]:
        opened = await _open(hub, app)
        await opened.catalog.refresh(force=True)
        return [opened.catalog.get(name).describe() for name in opened.catalog.names()]

    tables = call(as_json, data_dir, work)
    output.emit(as_json, {"app": app, "tables": [t["className"] for t in tables]},
                lambda: output.stdout.print(output.table(
                    f"tables of {app}", ["table", "fields", "note"],
                    [(t["className"], len(t["fields"]), t["note"]) for t in tables])))


@cli.command("describe")
def describe(name: TableArg, app: AppOption = MAIN, data_dir: DataDirOption = None,
             as_json: JsonOption = False) -> None:
    """Show a table's fields, their options and its indexes."""

    async def work(hub: Hub) -> dict[str, Any]:
        opened = await _open(hub, app)
        return (await opened.catalog.table(name)).describe()

    desc = call(as_json, data_dir, work)
    output.emit(as_json, desc, lambda: render_table(desc, app))


@cli.command("create")
def create(name: TableArg, fields: FieldsOption = "{}",
           note: Annotated[str, typer.Option("--note", "-n", help="What the table is for.")] = "",
           app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Create a table with real columns for its fields."""
    with reported(as_json):
        spec = parse_object(fields, "--fields")

    async def work(hub: Hub) -> dict[str, Any]:
        opened = await _open(hub, app)
        return (await schema.create_table(opened, ROOT, name, spec, note=note)).describe()

    desc = call(as_json, data_dir, work)
    output.emit(as_json, desc, lambda: render_table(desc, app))


@cli.command("drop")
def drop(name: TableArg,
         cascade: Annotated[bool, typer.Option(
             "--cascade", help="Also remove other tables' Pointer/Relation fields to it.")] = False,
         yes: YesOption = False, app: AppOption = MAIN, data_dir: DataDirOption = None,
         as_json: JsonOption = False) -> None:
    """Drop a table and its rows (refused while other tables point to it, unless --cascade)."""
    confirm(as_json, yes, f"Drop table {name!r} of app {app!r} and all its rows?")

    async def work(hub: Hub) -> list[str]:
        return list(await schema.drop_table(await _open(hub, app), ROOT, name, cascade=cascade))

    removed = call(as_json, data_dir, work)
    also = f" (also removed {escape(', '.join(removed))})" if removed else ""
    output.emit(as_json, {"app": app, "dropped": name, "removedFields": removed},
                lambda: output.done(f"table {escape(name)} dropped{also}"))


@cli.command("add-field")
def add_field(name: TableArg, field: Annotated[str, typer.Argument(help="New field name.")], spec: SpecOption,
              app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Add a field (a real column) to a table."""
    with reported(as_json):
        parsed = parse_object(spec, "--spec")

    async def work(hub: Hub) -> dict[str, Any]:
        added = await schema.add_field(await _open(hub, app), ROOT, name, field, parsed)
        return {"className": name, "field": added.name, **added.describe()}

    result = call(as_json, data_dir, work)
    output.emit(as_json, result, lambda: output.done(
        f"{escape(name)}.{escape(field)} added ({escape(_options(result) or str(result['type']))})"))


@cli.command("rename-field")
def rename_field(name: TableArg, old: Annotated[str, typer.Argument(help="Current field name.")],
                 new: Annotated[str, typer.Argument(help="New field name.")],
                 app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Rename a field; its values stay."""

    async def work(hub: Hub) -> None:
        await schema.rename_field(await _open(hub, app), ROOT, name, old, new)

    call(as_json, data_dir, work)
    output.emit(as_json, {"className": name, "renamed": {"from": old, "to": new}},
                lambda: output.done(f"{escape(name)}.{escape(old)} renamed to {escape(new)}"))


@cli.command("remove-field")
def remove_field(name: TableArg, field: Annotated[str, typer.Argument(help="Field to remove.")],
                 yes: YesOption = False, app: AppOption = MAIN, data_dir: DataDirOption = None,
                 as_json: JsonOption = False) -> None:
    """Remove a field and its values from every row."""
    confirm(as_json, yes, f"Remove field {field!r} of {name!r} and its values in every row?")

    async def work(hub: Hub) -> None:
        await schema.remove_field(await _open(hub, app), ROOT, name, field)

    call(as_json, data_dir, work)
    output.emit(as_json, {"className": name, "removed": field},
                lambda: output.done(f"{escape(name)}.{escape(field)} removed"))


@cli.command("add-index")
def add_index(name: TableArg,
              fields: Annotated[list[str], typer.Argument(help="Fields to index: 'a,b' or 'a b'.")],
              unique: Annotated[bool, typer.Option("--unique", help="Refuse duplicate values.")] = False,
              app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Add an index over one or more fields."""
    names = split_fields(fields)

    async def work(hub: Hub) -> dict[str, Any]:
        idx = await schema.add_index(await _open(hub, app), ROOT, name, names, unique=unique)
        return {"className": name, "index": idx.name, "fields": list(idx.fields), "unique": idx.unique}

    result = call(as_json, data_dir, work)
    output.emit(as_json, result, lambda: output.done(
        f"index {escape(result['index'])} on {escape(name)}({escape(', '.join(result['fields']))}) added"))
