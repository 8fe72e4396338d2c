"""What a command needs before it can act: settings for its data dir and a started ``Hub``.

Commands stay one-liners over the core: ``call(as_json, data_dir, work)`` loads the settings, checks the
data dir was initialised, runs ``work(hub)`` on a fresh event loop and turns any core error into the
caller's error format.
"""

from __future__ import annotations

import asyncio
import contextlib
import tomllib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from hivebase.cli.output import fail
from hivebase.config import CONFIG_FILE, Settings, load_settings
from hivebase.core.secrets import SECRET_FILE
from hivebase.errors import HivebaseError
from hivebase.hub import Hub

T = TypeVar("T")


class UsageError(HivebaseError):
    """An argument the CLI could not parse (bad JSON, unreadable file, missing ``--yes``)."""

    reason = "usage"


class ConfigError(HivebaseError):
    """Settings that cannot be loaded, or storage that cannot be opened with them."""

    reason = "config"


@contextlib.contextmanager
def reported(as_json: bool) -> Iterator[None]:
    """Turn a core error raised in the block into the caller's error format (exit code 1)."""
    try:
        yield
    except HivebaseError as exc:
        fail(as_json, exc)


def settings_for(data_dir: Path | None, **overrides: Any) -> Settings:
    """Settings for the data dir; configuration mistakes become one readable error."""
    try:
        return load_settings(data_dir=data_dir, **overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                             for e in exc.errors())
        where = f"{CONFIG_FILE} or HIVEBASE_* variables"
        raise ConfigError(f"invalid configuration ({where}): {problems}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{CONFIG_FILE} is not valid TOML: {exc}") from None


def require_initialised(settings: Settings) -> None:
    """Refuse to act on a data dir ``hivebase init`` never saw: a new secret would orphan existing keys."""
    if not settings.secret_key and not (settings.data_dir / SECRET_FILE).exists():
        raise UsageError(f"{settings.data_dir} is not an initialised hivebase data dir; run "
                         f"`hivebase init --data-dir {settings.data_dir}` first", reason="not_initialised")


def _cause(exc: BaseException) -> str:
    """The driver's own words, without the wrapper's SQL text or links."""
    inner = getattr(exc, "orig", None) or exc
    return f"{type(inner).__name__}: {inner}".strip().splitlines()[0]


async def with_hub(settings: Settings, work: Callable[[Hub], Awaitable[T]], *, start: bool = True) -> T:
    """Start a Hub (``start=False``: only open it), run ``work`` on it and close it, whatever happens."""
    try:
        hub = Hub(settings)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"cannot use this configuration: {exc}") from None
    try:
        try:
            if start:
                await hub.start()
        except HivebaseError:
            raise
        except Exception as exc:  # unreachable database, bad credentials, unwritable data dir…
            raise ConfigError(f"cannot open the storage: {_cause(exc)}") from None
        return await work(hub)
    finally:
        await hub.close()


def run(settings: Settings, work: Callable[[Hub], Awaitable[T]], *, start: bool = True) -> T:
    return asyncio.run(with_hub(settings, work, start=start))


def call(as_json: bool, data_dir: Path | None, work: Callable[[Hub], Awaitable[T]]) -> T:
    """Run ``work`` against an initialised data dir; core errors end the command (exit code 1)."""
    with reported(as_json):
        settings = settings_for(data_dir)
        require_initialised(settings)
        return run(settings, work)
    raise AssertionError("unreachable")  # fail() always exits


# Options every command shares, declared once so their help text stays the same everywhere.
DataDirOption = Annotated[Path | None, typer.Option(
    "--data-dir", "-d", help="Data dir (default: $HIVEBASE_DATA_DIR or ./data).", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")]
AppOption = Annotated[str, typer.Option("--app", "-a", help="The app to act on.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def confirm(as_json: bool, yes: bool, question: str) -> None:
    """Ask before destroying data; scripts (``--json``) must say ``--yes`` up front."""
    if yes:
        return
    if as_json:
        fail(True, UsageError("this destroys data: pass --yes to confirm", reason="confirmation"))
    typer.confirm(question, abort=True)
