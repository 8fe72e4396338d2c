"""``hivebase init`` and ``hivebase serve``: bring a data dir to life and serve it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

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
from hivebase.cli.users import new_password
from hivebase.config import CONFIG_FILE, Settings
from hivebase.core import policy
from hivebase.core.apps import MAIN, App
from hivebase.core.identity import api_keys, users
from hivebase.core.principal import Principal
from hivebase.hub import Hub

CONFIG_HEADER = """\
# hivebase settings for this data dir.
# Every setting below is commented out and shows its default; uncomment a line to change it.
# HIVEBASE_<NAME> environment variables (e.g. HIVEBASE_DATABASE_URL) override this file.
"""
# For settings whose Field carries no description yet.
def _toml_value(value: Any) -> str:
    if value is None:
        return '""  # unset'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return json.dumps([str(v) for v in value])  # a TOML array of basic strings
    return json.dumps(str(value))  # a TOML basic string is a JSON string for printable text


def default_config() -> str:
    """``hivebase.toml`` with every setting commented out at its default, written from ``Settings``."""
    lines = [CONFIG_HEADER]
    for name, info in Settings.model_fields.items():
        if name == "data_dir":  # the file lives in the data dir, so it cannot move it
            continue
        description = info.description
        if description:
            lines.append(f"# {description}")
        lines.append(f"# {name} = {_toml_value(info.get_default(call_default_factory=True))}\n")
    return "\n".join(lines)


ADMIN_USERNAME = "admin"
NO_ADMIN: dict[str, Any] = {"admin": None, "apiKey": None}  # secrets are shown by the run that made them


async def create_admin(app: App) -> dict[str, Any]:
    """The first user, ``admin``, holding roles admin (default) and root, and an API key of role admin."""
    root = Principal.root(via="cli")
    password = await new_password(app)
    user = await users.create_user(app, root, {"username": ADMIN_USERNAME, "password": password},
                                   [policy.ADMIN, policy.ROOT], policy.ADMIN)
    _, secret = await api_keys.create(app, root, user["objectId"], policy.ADMIN, name="created by hivebase init")
    return {"admin": {"username": ADMIN_USERNAME, "password": password}, "apiKey": secret}


def initialise(settings: Settings) -> dict[str, Any]:
    """Create the data dir, its config file and the main app when missing; the main app's credentials.

    A new main app also gets the ``admin`` user and an API key, whose secrets only this run returns."""
    data_dir = settings.data_dir
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        config = data_dir / CONFIG_FILE
        if not config.exists():
            config.write_text(default_config(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot create the data dir {str(data_dir)!r}: {exc.strerror or exc}") from None

    async def work(hub: Hub) -> tuple[dict[str, Any], bool, dict[str, Any]]:
        fresh = await hub.init_main()
        if fresh is None:
            return (await hub.apps.credentials(MAIN)).to_dict(), False, NO_ADMIN
        return fresh.to_dict(), True, await create_admin(await hub.apps.open(MAIN))

    creds, created, admin = run(settings, work)
    return {**creds, "created": created, "dataDir": str(data_dir.resolve()), "config": str(config.resolve()),
            **admin}


def render_admin(info: dict[str, Any]) -> None:
    """The admin's password and API key, on the run that created them (and never again)."""
    if info.get("admin") and info.get("apiKey"):
        output.stdout.print(output.table("admin of app main", ["credential", "value"], [
            ("username", info["admin"]["username"]), ("password", info["admin"]["password"]),
            ("API key (role admin)", info["apiKey"])]))
        output.stdout.print("The admin's password and API key are shown only now: store them somewhere safe.")


def mcp_hint(info: dict[str, Any]) -> str:
    """How an MCP client authenticates: with the new API key when this run made one."""
    if info.get("apiKey"):
        return f"Connect an MCP client with this header:  [bold]Authorization: Bearer {escape(info['apiKey'])}[/bold]"
    return ("Connect an MCP client with the header [bold]Authorization: Bearer <API key>[/bold]; make a key with "
            "[bold]hivebase key create --user admin --role admin[/bold].")


def render_init(info: dict[str, Any]) -> None:
    where = escape(info["dataDir"])
    if info["created"]:
        output.done(f"initialised {where}: app [bold]main[/bold] and user [bold]admin[/bold] created")
    else:
        output.stdout.print(f"{where} is already initialised; app [bold]main[/bold] exists")
    output.stdout.print(output.credentials_table(info, "app main"))
    output.stdout.print("Show them again with [bold]hivebase app credentials main[/bold]; "
                        "keep the master key secret.")
    render_admin(info)
    output.stdout.print(mcp_hint(info))


def init(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Create the data dir, hivebase.toml, the secret and the main app (safe to run again)."""
    with reported(as_json):
        info = initialise(settings_for(data_dir))
    output.emit(as_json, info, lambda: render_init(info))


def served_url(settings: Settings) -> Settings:
    """Settings whose ``public_url`` is where we listen, unless the operator configured one."""
    if "public_url" in settings.model_fields_set:
        return settings
    host = settings.host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return settings.model_copy(update={"public_url": f"http://{host}:{settings.port}"})


def render_serve(info: dict[str, Any], settings: Settings) -> None:
    url = escape(info["url"])
    storage = "PostgreSQL" if settings.database_url else "SQLite"
    fresh = "; app main and user admin created" if info.get("created") else ""
    output.stdout.print(f"hivebase — data dir {escape(info['dataDir'])} ({storage}){fresh}")
    output.stdout.print(output.credentials_table(info, "app main"))
    render_admin(info)
    output.stdout.print(
        f"Serving on [bold]{url}[/bold]   (health check: curl {url}/health)\n"
        f"Bmob REST API: {url}/1/…  (Parse: {url}/parse/…; description: {url}/1/openapi.json), e.g.\n"
        f"  curl {url}/1/classes/_User -H 'X-Bmob-Application-Id: {escape(str(info.get('applicationId')))}' "
        f"-H 'X-Bmob-REST-API-Key: {escape(str(info.get('restApiKey')))}'\n"
        "MCP (streamable HTTP; /mcp also legacy SSE):\n"
        f"  {url}/api/mcp  (NocoBase's resource_* tools; sub-apps: {url}/api/__app/<app>/mcp)\n"
        f"  {url}/mcp      (Bmob's tools; also X-Bmob-Application-Id + X-Bmob-REST-API-Key headers)\n"
        f"{mcp_hint(info)}\n"
        f"  e.g. claude mcp add --transport http hivebase {url}/api/mcp --header \"Authorization: Bearer <key>\"\n"
        "  local clients: hivebase mcp --app main --api-key <key>  (stdio)\n"
        "Press Ctrl+C to stop.")


def serve(data_dir: DataDirOption = None,
          host: Annotated[str | None, typer.Option("--host", help="Interface to listen on.")] = None,
          port: Annotated[int | None, typer.Option("--port", "-p", help="Port to listen on.")] = None,
          init_first: Annotated[bool, typer.Option(
              "--init", help="Initialise the data dir first when needed (what `make run` uses).")] = False,
          as_json: JsonOption = False) -> None:
    """Serve the data dir over HTTP (uvicorn); prints the main app's credentials and how to connect."""
    with reported(as_json):
        settings = settings_for(data_dir, host=host, port=port)
        if init_first:
            info = initialise(settings)
        else:
            require_initialised(settings)
            info = _current(settings)
        settings = served_url(settings)
    info["url"] = settings.public_url
    output.emit(as_json, info, lambda: render_serve(info, settings))
    _run_server(settings)


def _current(settings: Settings) -> dict[str, Any]:
    async def work(hub: Hub) -> dict[str, Any]:
        return (await hub.apps.credentials(MAIN)).to_dict()

    creds = run(settings, work)
    return {**creds, "created": False, "dataDir": str(Path(settings.data_dir).resolve()), **NO_ADMIN}


def _run_server(settings: Settings) -> None:
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from hivebase.app import build_app

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # stdout carries only our own output
    # loop/http "auto" pick uvloop and httptools when they are importable.
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, loop="auto", http="auto",
                lifespan="on", log_config=log_config, server_header=False)
