"""``hivebase mcp``: serve one app's MCP tools over stdio, for clients that start the server themselves
(Claude Code, Codex, Cursor: ``{"command": "hivebase", "args": ["mcp", "--app", "main"]}``)."""

from __future__ import annotations

from typing import Annotated

import typer

from hivebase.cli.context import AppOption, DataDirOption, UsageError, reported, require_initialised, run, settings_for
from hivebase.core.apps import MAIN
from hivebase.hub import Hub


def mcp(app: AppOption = MAIN,
        api_key: Annotated[str | None, typer.Option(
            "--api-key", envvar="HIVEBASE_API_KEY", show_envvar=True,
            help="An API key of the app (`hivebase key create`); its user and role apply.")] = None,
        master_key: Annotated[str | None, typer.Option(
            "--master-key", envvar="HIVEBASE_MASTER_KEY", show_envvar=True,
            help="The app's master key instead (full power).")] = None,
        role: Annotated[str | None, typer.Option("--role", help="Act in this role (x-role).")] = None,
        packages: Annotated[str | None, typer.Option(
            "--packages", help="Extra tool packages, as the x-mcp-packages header (e.g. `bmob`).")] = None,
        dialect: Annotated[str, typer.Option(
            "--dialect", help="Default tools: `nocobase` (resource_*) or `bmob` (Bmob's tools).")] = "nocobase",
        data_dir: DataDirOption = None) -> None:
    """Serve the app's MCP tools on stdin/stdout (messages only there; problems go to stderr)."""
    with reported(False):
        from hivebase.app import STDIO_DIALECTS, serve_stdio

        if dialect not in STDIO_DIALECTS:
            raise UsageError(f"--dialect is `nocobase` or `bmob`, not {dialect[:40]!r}", reason="usage")
        if (api_key is None) == (master_key is None):
            raise UsageError("give exactly one credential: --api-key (or HIVEBASE_API_KEY) or --master-key "
                             "(or HIVEBASE_MASTER_KEY)", reason="usage")
        settings = settings_for(data_dir)
        require_initialised(settings)

        async def work(hub: Hub) -> None:
            await serve_stdio(hub, app, api_key=api_key, master_key=master_key, role=role, packages=packages,
                              dialect=dialect)

        run(settings, work)
