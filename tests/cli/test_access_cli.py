"""``hivebase user/role/key/app config`` and the admin that ``init`` creates, through the installed console
script against a tmp data dir; what the commands did is then checked in-process on the same storage."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from hivebase.auth.resolve import resolve
from hivebase.config import Settings
from hivebase.core.identity import users
from hivebase.core.principal import Principal
from hivebase.errors import HivebaseError, Unauthorized
from hivebase.hub import Hub
from tests.cli import clean_env, error, ok
from tests.cli.test_serve import free_port, stop, wait_for_health
from tests.conftest import PG_URL, drop_prefixed_schemas

SCRIPT = Path(sys.executable).with_name("hivebase")  # the console script installed beside this interpreter

OAUTH_DEFAULTS = {"oauthRegistration": "open", "oauthAccessSeconds": 3600, "oauthRefreshDays": 30}


class Cli:
    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir, self.env = data_dir, env

    def many(self, *commands: tuple[str, ...], stdin: str = "") -> list[subprocess.CompletedProcess[str]]:
        """Run independent commands at once (start-up dominates each one); no output may hold a traceback."""
        procs = [subprocess.Popen([str(SCRIPT), *c, "--data-dir", str(self.data_dir)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
                 for c in commands]
        results = []
        for command, proc in zip(commands, procs, strict=True):
            out, err = proc.communicate(input=stdin, timeout=60)
            assert "Traceback" not in out + err, (command, err)
            results.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
        return results

    def json(self, *args: str, stdin: str = "") -> Any:
        return ok(self.many((*args, "--json"), stdin=stdin)[0])



def setup(backend: str, data_dir: Path) -> tuple[Cli, Settings]:
    env = clean_env()
    settings = Settings(data_dir=data_dir, catalog_refresh_seconds=0)
    if backend == "postgres":
        prefix = f"t{secrets.token_hex(4)}_"
        env.update(HIVEBASE_DATABASE_URL=PG_URL, HIVEBASE_SCHEMA_PREFIX=prefix)
        settings = Settings(data_dir=data_dir, database_url=PG_URL, schema_prefix=prefix, catalog_refresh_seconds=0)
    return Cli(data_dir, env), settings


async def principal_of(settings: Settings, api_key: str) -> Principal | HivebaseError:
    """Who an API key proves to be, or why it is refused."""
    async with Hub(settings) as hub:
        app = await hub.apps.open("main")
        try:
            return await resolve(hub.apps, app, api_key=api_key, via="test")
        except HivebaseError as exc:
            return exc


async def password_works(settings: Settings, username: str, password: str) -> bool:
    async with Hub(settings) as hub:
        app = await hub.apps.open("main")
        try:
            await users.log_in(app, Principal.client("main", via="test"), username, password)
        except Unauthorized:
            return False
        return True


def no_secret_in(text: str, *secrets_: str) -> None:
    for secret in secrets_:
        assert secret not in text
    assert "$argon2" not in text and "hbk_" not in text


def test_init_admin_and_access_commands(backend: str, tmp_path: Path) -> None:
    assert SCRIPT.exists(), SCRIPT
    cli, settings = setup(backend, tmp_path / "data")
    try:
        first = cli.json("init")
        admin, api_key = first["admin"], first["apiKey"]
        assert first["created"] is True and set(admin) == {"username", "password"}
        assert admin["username"] == "admin" and len(admin["password"]) >= 20 and api_key.startswith("hbk_")

        again, human, listed, keys, held, config = cli.many(
            ("init", "--json"), ("init",), ("user", "list", "--json"), ("key", "list", "--json"),
            ("user", "roles", "admin", "--json"), ("app", "config", "--json"))
        assert ok(again)["created"] is False and ok(again)["admin"] is None and ok(again)["apiKey"] is None
        assert human.returncode == 0 and "already initialised" in human.stdout
        for proc in (again, human, listed, keys, held, config):
            no_secret_in(proc.stdout, admin["password"], api_key)
        [row] = ok(listed)["users"]
        assert row["username"] == "admin" and row["roles"] == ["admin", "root"]
        assert not {"password", "hash", "passwordHash"} & set(row)
        [key] = ok(keys)["keys"]
        assert set(key) == {"id", "name", "userId", "role", "createdAt", "expiresAt"}
        assert key["userId"] == row["objectId"] and key["role"] == "admin" and key["expiresAt"] is None
        assert ok(held) == {"userId": row["objectId"], "username": "admin", "roles": ["admin", "root"],
                            "defaultRole": "admin"}
        assert ok(config) == {"app": "main", "settings": {"clientSchemaChanges": True, "sessionDays": 7,
                                                          "passwordMinLength": 6, **OAUTH_DEFAULTS}}
        granted = asyncio.run(principal_of(settings, api_key))
        assert isinstance(granted, Principal), granted
        assert (granted.kind, granted.role, granted.user_id) == ("user", "admin", row["objectId"])
        assert set(granted.roles) == {"admin", "root"} and granted.key_id == key["id"]

        # roles, users, permissions, memberships, keys, settings: each command's JSON is what the core says
        editor = cli.json("role", "create", "editor", "--title", "Editor", "--strategy", '["list","get"]')
        assert editor == {"name": "editor", "title": "Editor", "description": "", "strategy": ["get", "list"],
                          "ignoreAcl": False, "system": False, "tables": {}}
        cli.json("table", "create", "Post", "--fields", '{"title":{"type":"String"},"body":{"type":"String"}}')
        alice = cli.json("user", "create", "--username", "alice", "--email", "alice@example.com", "--role", "member",
                         "--default-role", "editor")
        assert alice["username"] == "alice" and alice["email"] == "alice@example.com"
        assert alice["roles"] == ["editor", "member"] and alice["defaultRole"] == "editor"
        first_password = alice["password"]
        assert len(first_password) >= 20
        bob = cli.json("user", "create", "--username", "bob", "--password", "-", "--fields", '{"emailVerified":true}',
                       stdin="bob-password-1\n")
        assert "password" not in bob and bob["emailVerified"] is True and bob["roles"] == ["member"]

        rules = {"list": True, "update": {"fields": ["title"], "own": True}}
        changed = cli.json("role", "permissions", "editor", "--table", "Post", "--actions", json.dumps(rules),
                           "--strategy", '["list"]', "--ignore-acl")
        assert changed["strategy"] == ["list"] and changed["ignoreAcl"] is True
        assert changed["tables"] == {"Post": {"list": True, "update": {"fields": ["title"], "own": True}}}
        assert cli.json("role", "grant", "admin", "--user", bob["objectId"], "--default") == {
            "userId": bob["objectId"], "username": "bob", "roles": ["admin", "member"], "defaultRole": "admin"}

        made = cli.json("key", "create", "--user", "alice", "--role", "editor", "--name", "ci", "--expires-in", "30d")
        assert set(made) == {"key", "id", "name", "userId", "role", "createdAt", "expiresAt"}
        assert made["name"] == "ci" and made["userId"] == alice["objectId"] and made["expiresAt"] > made["createdAt"]
        later = cli.json("key", "create", "--user", alice["objectId"], "--role", "editor",
                         "--expires-at", "2099-01-01T00:00:00Z")
        assert later["expiresAt"].startswith("2099-01-01T00:00:00")
        bobs = cli.json("key", "create", "--user", "bob", "--role", "admin")
        reset = cli.json("user", "set-password", "alice")
        assert reset["userId"] == alice["objectId"] and reset["passwordChanged"] is True
        assert len(reset["password"]) >= 20 and reset["password"] != first_password
        assert cli.json("app", "config", "--set", "sessionDays=30", "--set", "clientSchemaChanges=false") == {
            "app": "main", "settings": {"clientSchemaChanges": False, "sessionDays": 30, "passwordMinLength": 6,
                                        **OAUTH_DEFAULTS}}
        assert cli.json("key", "revoke", made["id"]) == {"app": "main", "id": made["id"], "revoked": True}
        assert cli.json("role", "revoke", "admin", "--user", "bob")["roles"] == ["member"]  # bob's key dies
        assert cli.json("role", "delete", "editor", "--yes") == {"app": "main", "role": "editor", "deleted": True}

        listed, alices, held, gone, human_roles = cli.many(
            ("key", "list", "--json"), ("key", "list", "--user", "alice", "--json"),
            ("user", "roles", "alice", "--json"), ("role", "show", "editor", "--json"), ("role", "list"))
        assert [k["id"] for k in ok(listed)["keys"]] == [key["id"]]  # revoked, role taken, role deleted
        assert ok(alices) == {"app": "main", "keys": []}
        assert ok(held)["roles"] == ["member"] and error(gone)["type"] == "NotFound"
        assert human_roles.returncode == 0 and "anonymous" in human_roles.stdout
        for proc in (listed, alices, held):
            no_secret_in(proc.stdout, api_key, made["key"], later["key"], bobs["key"], reset["password"])

        for secret in (made["key"], later["key"], bobs["key"]):
            refused = asyncio.run(principal_of(settings, secret))
            assert isinstance(refused, Unauthorized) and refused.reason == "api_key", refused
        assert isinstance(asyncio.run(principal_of(settings, api_key)), Principal)
        assert asyncio.run(password_works(settings, "bob", "bob-password-1"))
        assert asyncio.run(password_works(settings, "alice", reset["password"]))
        assert not asyncio.run(password_works(settings, "alice", first_password))
    finally:
        asyncio.run(drop_prefixed_schemas(settings))


HOSTILE: list[tuple[tuple[str, ...], str, str]] = [
    (("user", "create", "--username", "admin", "--password", "Sup3r-secret-pw"), "UniqueViolation", "username"),
    (("user", "create", "--username", "x", "--password", "Sh0rt"), "InvalidValue", "6-256"),
    (("user", "create", "--username", "x", "--role", "ghost"), "NotFound", "ghost"),
    (("user", "create", "--username", "x", "--fields", '{"username":'), "UsageError", "--fields is not valid JSON"),
    (("user", "create", "--username", "x", "--fields", "[1]"), "UsageError", "must be a JSON object"),
    (("user", "set-password", "ghost", "--password", "Sup3r-secret-pw"), "NotFound", "ghost"),
    (("user", "roles", "'; DROP TABLE \"_User\"; --"), "NotFound", "DROP TABLE"),
    (("user", "list", "--app", "nope"), "NotFound", "app 'nope'"),
    (("user", "list", "--limit", "0"), "UsageError", "--limit"),
    (("role", "create", "bad name"), "InvalidValue", "invalid role name"),
    (("role", "create", "x", "--strategy", "[\"fly\"]"), "InvalidValue", "unknown action 'fly'"),
    (("role", "create", "x", "--strategy", "list"), "UsageError", "--strategy is not valid JSON"),
    (("role", "delete", "admin", "--yes"), "Conflict", "built-in"),
    (("role", "grant", "ghost", "--user", "admin"), "NotFound", "ghost"),
    (("role", "permissions", "member", "--actions", '{"list":true}'), "UsageError", "need --table"),
    (("role", "permissions", "member", "--table", "Ghost", "--clear"), "NotFound", "Ghost"),
    (("key", "create", "--user", "admin", "--role", "member"), "InvalidValue", "does not hold role 'member'"),
    (("key", "create", "--user", "admin", "--role", "admin", "--expires-in", "3 weeks"), "UsageError", "30d"),
    (("key", "create", "--user", "admin", "--role", "admin", "--expires-at", "soon"), "UsageError", "ISO 8601"),
    (("key", "create", "--user", "admin", "--role", "admin", "--expires-in", "1d", "--expires-at", "2099-01-01"),
     "UsageError", "not both"),
    (("app", "config", "--set", "sessionDays"), "UsageError", "key=value"),
    (("app", "config", "--set", "sessionDays=7", "--set", "nope=1"), "InvalidValue", "unknown setting"),
]


def test_hostile_input_is_refused_cleanly(tmp_path: Path) -> None:
    cli, _ = setup("sqlite", tmp_path / "data")
    made = cli.json("init")
    revoke_secret, human, usage = cli.many(("key", "revoke", made["apiKey"], "--json"),
                                           ("user", "set-password", "ghost"), ("role", "permissions"))
    errors = [error(proc) for proc in cli.many(*((*case, "--json") for case, _, _ in HOSTILE))]
    for (case, kind, text), found in zip(HOSTILE, errors, strict=True):
        assert found["type"] == kind and text in found["message"], (case, found)
        no_secret_in(json.dumps(found), "Sup3r-secret-pw", "Sh0rt")
    assert error(revoke_secret) == {"type": "NotFound", "reason": "key", "message": "no such API key"}
    assert human.returncode == 1 and human.stdout == ""
    assert human.stderr == "Error: no user with objectId or username 'ghost'\n"
    assert usage.returncode == 2 and "Missing argument" in usage.stderr and "Traceback" not in usage.stderr

    # nothing half-done: the refused commands changed no user, role, key or setting
    users_, roles_, keys_, config = (ok(p) for p in cli.many(("user", "list", "--json"), ("role", "list", "--json"),
                                                              ("key", "list", "--json"), ("app", "config", "--json")))
    assert [u["username"] for u in users_["users"]] == ["admin"]
    assert [r["name"] for r in roles_["roles"]] == ["admin", "anonymous", "member", "root"]
    assert all(not r["tables"] for r in roles_["roles"]) and len(keys_["keys"]) == 1
    assert config["settings"]["sessionDays"] == 7


def test_serve_init_prints_the_admin_and_how_to_connect(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    proc = subprocess.Popen([str(SCRIPT), "serve", "--init", "--data-dir", str(data_dir), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env(PYTHONUNBUFFERED="1"))
    try:
        wait_for_health(proc, f"http://127.0.0.1:{port}")
        out, _ = stop(proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
    key = next(word for word in out.split() if word.startswith("hbk_"))
    assert f"Authorization: Bearer {key}" in out and "admin" in out and "shown only now" in out
    settings = Settings(data_dir=data_dir)
    granted = asyncio.run(principal_of(settings, key))
    assert isinstance(granted, Principal) and granted.role == "admin", granted
    password = next(line.split("│")[2].strip() for line in out.splitlines() if "│ password" in line)
    assert asyncio.run(password_works(settings, "admin", password))

