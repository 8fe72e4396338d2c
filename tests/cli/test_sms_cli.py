"""``hivebase sms outbox`` through the installed console script, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from pathlib import Path

from hivebase.config import Settings
from hivebase.core.identity.sms import SmsCodes
from hivebase.core.principal import Principal
from hivebase.hub import Hub
from tests.cli import clean_env, error, ok
from tests.conftest import PG_URL, drop_prefixed_schemas

SCRIPT = Path(sys.executable).with_name("hivebase")  # the console script installed beside this interpreter
PHONES = ("+8613800138000", "13900139000")


def many(data_dir: Path, env: dict[str, str], *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands at once (start-up dominates each one); no output may hold a traceback."""
    procs = [subprocess.Popen([str(SCRIPT), *c, "--data-dir", str(data_dir)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for c in commands]
    results = []
    for command, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=60)
        assert "Traceback" not in out + err, (command, err)
        results.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return results



async def request_codes(settings: Settings) -> list[str]:
    async with Hub(settings) as hub:
        app = await hub.apps.open("main")
        codes = SmsCodes(settings)
        return [await codes.request(app, Principal.root(via="test"), phone, "login") for phone in PHONES]


def test_outbox_command(backend: str, tmp_path: Path) -> None:
    assert SCRIPT.exists(), SCRIPT
    data_dir = tmp_path / "data"
    env = clean_env()
    settings = Settings(data_dir=data_dir)
    if backend == "postgres":
        prefix = f"t{secrets.token_hex(4)}_"
        env.update(HIVEBASE_DATABASE_URL=PG_URL, HIVEBASE_SCHEMA_PREFIX=prefix)
        settings = Settings(data_dir=data_dir, database_url=PG_URL, schema_prefix=prefix)
    try:
        [init] = many(data_dir, env, ("init", "--json"))
        ok(init)
        [empty] = many(data_dir, env, ("sms", "outbox", "--json"))
        assert ok(empty) == []
        asyncio.run(request_codes(settings))

        listed, one_phone, one, human, missing, bad_phone, zero, lots, person = many(
            data_dir, env, ("sms", "outbox", "--app", "main", "--json"),
            ("sms", "outbox", "--phone", PHONES[0], "--json"), ("sms", "outbox", "--limit", "1", "--json"),
            ("sms", "outbox", "--phone", PHONES[1]), ("sms", "outbox", "--app", "nope", "--json"),
            ("sms", "outbox", "--phone", "1; DROP TABLE x", "--json"), ("sms", "outbox", "--limit", "0", "--json"),
            ("sms", "outbox", "--limit", "lots", "--json"), ("sms", "outbox", "--app", "nope"))
        messages = ok(listed)
        assert [m["mobilePhoneNumber"] for m in messages] == list(reversed(PHONES))  # newest first
        for m in messages:
            assert set(m) == {"id", "mobilePhoneNumber", "template", "message", "code", "createdAt"}
            assert m["template"] == "login" and len(m["code"]) == 6 and m["code"] in m["message"]
        assert ok(one_phone) == [messages[1]] and ok(one) == [messages[0]]
        assert human.returncode == 0 and messages[0]["code"] in human.stdout and PHONES[1] in human.stdout

        assert error(missing) == {"type": "NotFound", "reason": "app", "message": "app 'nope' does not exist"}
        assert error(bad_phone)["type"] == "InvalidValue" and error(bad_phone)["field"] == "mobilePhoneNumber"
        assert error(zero)["field"] == "limit" and error(lots)["type"] == "UsageError"
        assert person.returncode == 1 and person.stdout == ""
        assert person.stderr == "Error: app 'nope' does not exist\n"
    finally:
        asyncio.run(drop_prefixed_schemas(settings))
