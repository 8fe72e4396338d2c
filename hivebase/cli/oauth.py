"""``hivebase oauth …``: the OAuth clients MCP clients registered, the tokens users granted them, and
revocation (a revoked token fails at its next use; its whole family — refresh and access — goes with it)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from hivebase.cli import output
from hivebase.cli.context import AppOption, DataDirOption, JsonOption, YesOption, call, confirm
from hivebase.cli.users import find_id
from hivebase.core import oauth
from hivebase.core.apps import MAIN
from hivebase.core.principal import Principal
from hivebase.hub import Hub

cli = typer.Typer(help="OAuth clients and tokens of MCP clients: list and revoke.", no_args_is_help=True)

ROOT = Principal.root(via="cli")


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "never"


@cli.command("clients")
def clients(app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List registered OAuth clients (dynamic registration) with their live tokens."""

    async def work(hub: Hub) -> list[dict[str, Any]]:
        return await oauth.list_clients(await hub.apps.open(app), ROOT)

    found = call(as_json, data_dir, work)
    output.emit(as_json, {"app": app, "clients": found}, lambda: output.stdout.print(output.table(
        f"OAuth clients of {app}", ["client id", "name", "redirect URIs", "registered (UTC)", "live tokens"],
        [(c["client_id"], c.get("client_name") or "", " ".join(c.get("redirect_uris") or []),
          _when(c["createdAt"]), c["liveTokens"]) for c in found])))


@cli.command("tokens")
def tokens(user: Annotated[str | None, typer.Option(
               "--user", "-u", help="Only this user's tokens (objectId or username).", show_default=False)] = None,
           app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List unexpired OAuth tokens (never their secrets)."""

    async def work(hub: Hub) -> list[dict[str, Any]]:
        opened = await hub.apps.open(app)
        user_id = (await find_id(opened, user))[0] if user is not None else None
        return await oauth.list_tokens(opened, ROOT, user_id)

    found = call(as_json, data_dir, work)
    output.emit(as_json, {"app": app, "tokens": found}, lambda: output.stdout.print(output.table(
        f"OAuth tokens of {app}", ["id", "kind", "client", "user", "scopes", "expires (UTC)", "state"],
        [(t["id"], t["kind"], t["clientName"] or t["clientId"], t["userId"], " ".join(t["scopes"]),
          _when(t["expiresAt"]), t["state"]) for t in found])))


@cli.command("revoke")
def revoke(token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (from `oauth tokens`).")],
           app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Revoke a token and its whole family: they fail at their next use."""

    async def work(hub: Hub) -> None:
        await oauth.revoke_token_id(await hub.apps.open(app), ROOT, token_id)

    call(as_json, data_dir, work)
    output.emit(as_json, {"app": app, "id": token_id, "revoked": True},
                lambda: output.done(f"OAuth token {escape(token_id)} revoked"))


@cli.command("delete-client")
def delete_client(client_id: Annotated[str, typer.Argument(metavar="CLIENT_ID", help="From `oauth clients`.")],
                  yes: YesOption = False, app: AppOption = MAIN, data_dir: DataDirOption = None,
                  as_json: JsonOption = False) -> None:
    """Forget a client: its pending sign-ins go and every token it holds is revoked."""
    confirm(as_json, yes, f"Delete OAuth client {client_id} and revoke its tokens?")

    async def work(hub: Hub) -> None:
        await oauth.delete_client(await hub.apps.open(app), ROOT, client_id)

    call(as_json, data_dir, work)
    output.emit(as_json, {"app": app, "clientId": client_id, "deleted": True},
                lambda: output.done(f"OAuth client {escape(client_id)} deleted"))
