"""``hivebase user …``: create users, list them, set their passwords and show the roles they hold.

Users are named by objectId or username; the core finds them, checks every field and hashes passwords.
A password the CLI generates is printed once, in the command's own output, and never again.
"""

from __future__ import annotations

import secrets
import string
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.text import Text

from hivebase.cli import output
from hivebase.cli.context import AppOption, DataDirOption, JsonOption, UsageError, call, reported
from hivebase.core import roles
from hivebase.core.apps import MAIN, App
from hivebase.core.identity import users
from hivebase.core.principal import Principal
from hivebase.hub import Hub

cli = typer.Typer(help="Create and list an app's users, set their passwords, show their roles.",
                  no_args_is_help=True)

ROOT = Principal.root(via="cli")
PASSWORD_ALPHABET = string.ascii_letters + string.digits  # nothing a shell or a terminal would mangle
GENERATED_LENGTH = 20  # ~119 bits
UserArg = Annotated[str, typer.Argument(help="The user's objectId or username.")]
PasswordOption = Annotated[str | None, typer.Option(
    "--password", "-P", help="The password ('-' reads one line from stdin); generated and printed once when omitted.",
    show_default=False)]


def load_json(value: str, option: str, kind: type[dict[str, Any]] | type[list[Any]], example: str) -> Any:
    """Inline JSON or ``@path`` to a JSON file, which must be a ``kind`` (an object or an array)."""
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UsageError(f"cannot read the {option} file {value[1:]!r}: {reason}", reason="bad_file") from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{option} is not valid JSON: {exc}", reason="bad_json") from None
    if not isinstance(data, kind):
        what = "object" if kind is dict else "array"
        raise UsageError(f"{option} must be a JSON {what}, e.g. {example}", reason="bad_json")
    return data


async def new_password(app: App) -> str:
    """A random password at least as long as the app's ``passwordMinLength``."""
    length = max(GENERATED_LENGTH, int((await roles.settings(app, ROOT))["passwordMinLength"]))
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def read_password(value: str | None) -> str | None:
    """``--password -``: one line from stdin (keeps the password out of the process list and shell history)."""
    if value != "-":
        return value
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise UsageError("--password -: no password on stdin", reason="usage")
    return line


async def find_id(app: App, ref: str) -> tuple[str, str]:
    """The objectId and username of the user named by objectId or username."""
    row = await users.find(app, ROOT, ref)
    return str(row["objectId"]), str(row.get("username") or "")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value or "")


def _show_password(password: str, who: str) -> None:
    output.stdout.print(output.table(f"password of {who}", ["username", "password"], [(who, password)]))
    output.stdout.print("It is shown only now: store it somewhere safe.")


@cli.command("create")
def create(username: Annotated[str, typer.Option("--username", "-u", help="Sign-in name (unique).")],
           password: PasswordOption = None,
           email: Annotated[str | None, typer.Option("--email", help="E-mail address (unique).")] = None,
           phone: Annotated[str | None, typer.Option(
               "--phone", help="Phone number for SMS sign-in (unique).")] = None,
           role: Annotated[list[str] | None, typer.Option(
               "--role", "-r", help="A role the user holds (repeat for several; default: member).")] = None,
           default_role: Annotated[str | None, typer.Option(
               "--default-role", help="The role the user acts in unless asked otherwise (also granted; "
                                      "default: the first --role).")] = None,
           fields: Annotated[str | None, typer.Option(
               "--fields", "-f", help='More _User fields as a JSON object, or @file.json.')] = None,
           app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Create a user (holding `member` unless --role or --default-role say otherwise)."""
    with reported(as_json):
        data = load_json(fields, "--fields", dict, '{"nickname":"Al"}') if fields is not None else {}
        chosen = read_password(password)
    data.update(username=username)
    if email is not None:
        data["email"] = email
    if phone is not None:
        data["mobilePhoneNumber"] = phone
    held = list(dict.fromkeys(role or []))
    if default_role is not None and default_role not in held:
        held.append(default_role)

    async def work(hub: Hub) -> tuple[dict[str, Any], str | None]:
        opened = await hub.apps.open(app)
        generated = None
        if chosen is not None:
            data["password"] = chosen
        elif "password" not in data:
            data["password"] = generated = await new_password(opened)
        row = await users.create_user(opened, ROOT, data, held or None, default_role)
        return row, generated

    row, generated = call(as_json, data_dir, work)
    result = {**row, "password": generated} if generated else row

    def render() -> None:
        output.done(f"user {escape(username)} created in app {escape(app)} (objectId {escape(row['objectId'])}, "
                    f"roles {escape(', '.join(row['roles']) or 'none')}; default {escape(str(row['defaultRole']))})")
        if generated:
            _show_password(generated, username)

    output.emit(as_json, result, render)


@cli.command("list")
def list_users(limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Most users shown.")] = 100,
               offset: Annotated[int, typer.Option("--offset", min=0, help="Users skipped first.")] = 0,
               app: AppOption = MAIN, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List users, oldest first, with the roles they hold (never a password: none is stored in a row)."""

    async def work(hub: Hub) -> list[dict[str, Any]]:
        return await users.list_users(await hub.apps.open(app), ROOT, limit, offset)

    rows = call(as_json, data_dir, work)
    output.emit(as_json, {"app": app, "users": rows}, lambda: output.stdout.print(output.table(
        f"users of {app}", ["objectId", "username", "email", "phone", "roles", "created (UTC)"],
        [(u["objectId"], u.get("username"), u.get("email"), u.get("mobilePhoneNumber"), ", ".join(u["roles"]),
          _when(u.get("createdAt"))) for u in rows])))


@cli.command("set-password")
def set_password(user: UserArg, password: PasswordOption = None, app: AppOption = MAIN,
                 data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Set a user's password (no old password needed); every session of theirs ends."""
    with reported(as_json):
        chosen = read_password(password)

    async def work(hub: Hub) -> tuple[str, str, str | None]:
        opened = await hub.apps.open(app)
        user_id, username = await find_id(opened, user)
        generated = None if chosen is not None else await new_password(opened)
        await users.change_password(opened, ROOT, user_id, None, chosen if chosen is not None else generated)
        return user_id, username, generated

    user_id, username, generated = call(as_json, data_dir, work)
    result: dict[str, Any] = {"userId": user_id, "username": username, "passwordChanged": True}
    if generated:
        result["password"] = generated

    def render() -> None:
        output.done(f"password of {escape(username)} changed; their sessions ended")
        if generated:
            _show_password(generated, username)

    output.emit(as_json, result, render)


def render_roles(held: dict[str, Any]) -> None:
    names = held["roles"]
    line = Text(f"{held['username']} ({held['userId']}) holds: ")
    line.append(", ".join(f"{n} (default)" if n == held["defaultRole"] else n for n in names) or "no role")
    output.stdout.print(line)


@cli.command("roles")
def user_roles(user: UserArg, app: AppOption = MAIN, data_dir: DataDirOption = None,
               as_json: JsonOption = False) -> None:
    """Show the roles a user holds and the default one."""

    async def work(hub: Hub) -> dict[str, Any]:
        opened = await hub.apps.open(app)
        user_id, username = await find_id(opened, user)
        return {**await roles.user_roles(opened, ROOT, user_id), "username": username}

    held = call(as_json, data_dir, work)
    output.emit(as_json, held, lambda: render_roles(held))
