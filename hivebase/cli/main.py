"""The ``hivebase`` console command (entry point ``main``; ``python -m hivebase.cli.main`` works too)."""

from __future__ import annotations

import sys

import typer

from hivebase.cli import apps, keys, mcp, migrate, oauth, roles, serve, sms, tables, users
from hivebase.cli.context import UsageError
from hivebase.cli.output import print_json

cli = typer.Typer(
    name="hivebase",
    help="hivebase: a backend-as-a-service whose data is open to apps over REST and to agents over MCP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold keys
)
cli.command("init")(serve.init)
cli.command("serve")(serve.serve)
cli.command("mcp")(mcp.mcp)
cli.command("migrate")(migrate.migrate)
cli.add_typer(apps.cli, name="app")
cli.add_typer(tables.cli, name="table")
cli.add_typer(users.cli, name="user")
cli.add_typer(roles.cli, name="role")
cli.add_typer(keys.cli, name="key")
cli.add_typer(sms.cli, name="sms")
cli.add_typer(oauth.cli, name="oauth")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; with ``--json``, even argument errors come back as one JSON document."""
    args = sys.argv[1:] if argv is None else argv
    if "--json" not in args:
        cli(args=args, prog_name="hivebase")
        return
    try:
        code = cli(args=args, prog_name="hivebase", standalone_mode=False)
    except typer.Abort:
        print_json({"error": UsageError("aborted", reason="aborted").to_dict()})
        sys.exit(1)
    except typer.TyperException as exc:  # bad or missing arguments and options
        print_json({"error": UsageError(exc.format_message(), reason="usage").to_dict()})
        sys.exit(1)
    except Exception as exc:  # a bug: scripts still get one JSON document; the traceback goes to stderr
        first_line = (str(exc).splitlines() or [""])[0]
        print_json({"error": {"type": "InternalError", "reason": "internal",
                              "message": f"{type(exc).__name__}: {first_line}"}})
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
