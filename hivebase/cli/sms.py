"""``hivebase sms …``: the development SMS outbox, where the ``outbox`` sender records every code it sends."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from hivebase.cli import output
from hivebase.cli.context import AppOption, DataDirOption, JsonOption, call
from hivebase.core.apps import MAIN
from hivebase.core.identity.sms import OutboxSender, SmsCodes
from hivebase.hub import Hub

cli = typer.Typer(help="Read the development SMS outbox.", no_args_is_help=True)


@cli.command("outbox")
def outbox(app: AppOption = MAIN,
           phone: Annotated[str | None, typer.Option("--phone", "-p", help="Only messages to this number.")] = None,
           limit: Annotated[int, typer.Option("--limit", "-n", help="Most messages shown (1-1000).")] = 50,
           data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Show the SMS messages recorded by the `outbox` sender, newest first."""

    async def work(hub: Hub) -> tuple[list[dict[str, Any]], str]:
        opened = await hub.apps.open(app)
        # Reading the outbox needs no sender: never load a plug-in just to list what the outbox holds.
        return await SmsCodes(hub.settings, OutboxSender()).outbox(opened, phone, limit), hub.settings.sms_sender

    messages, sender = call(as_json, data_dir, work)

    def render() -> None:
        output.stdout.print(output.table(
            f"SMS outbox of {app}", ["sent (UTC)", "number", "template", "code", "message"],
            [(m["createdAt"][:19].replace("T", " "), m["mobilePhoneNumber"], m["template"], m["code"], m["message"])
             for m in messages]))
        if sender != "outbox":
            output.stdout.print(Text(f"sms_sender is {sender!r}: new codes go there, not to this outbox"))

    output.emit(as_json, messages, render)
