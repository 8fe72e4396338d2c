"""The real ``hivebase`` command, run as subprocesses against a tmp data dir, on SQLite and PostgreSQL.

One data dir per backend is initialised once for the module; each test leaves it as it found it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hivebase.config import Settings
from tests.cli import COMMAND, HEX32, KEYS, clean_env
from tests.conftest import PG_URL, drop_prefixed_schemas, require_postgres

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Cli:
    data_dir: Path
    env: dict[str, str]
    main: dict[str, Any] = field(default_factory=dict)

    def argv(self, args: tuple[str, ...]) -> list[str]:
        return [*COMMAND, *args, "--data-dir", str(self.data_dir)]

    def many(self, *commands: tuple[str, ...], stdin: str = "") -> list[subprocess.CompletedProcess[str]]:
        """Run independent commands at once (start-up dominates each one); no output may hold a traceback."""
        procs = [subprocess.Popen(self.argv(c), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=self.env) for c in commands]
        results = []
        for command, proc in zip(commands, procs, strict=True):
            out, err = proc.communicate(input=stdin, timeout=60)
            assert "Traceback" not in out + err, (command, err)
            results.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
        return results

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return self.many(args, stdin=stdin)[0]

    def jsons(self, *commands: tuple[str, ...]) -> list[Any]:
        results = self.many(*((*c, "--json") for c in commands))
        for proc in results:
            assert proc.returncode == 0, (proc.args, proc.stdout, proc.stderr)
        return [json.loads(proc.stdout) for proc in results]

    def json(self, *args: str) -> Any:
        return self.jsons(args)[0]

    def errors(self, *commands: tuple[str, ...]) -> list[dict[str, Any]]:
        return [expect_error(proc) for proc in self.many(*((*c, "--json") for c in commands))]

    def error(self, *args: str) -> dict[str, Any]:
        return self.errors(args)[0]


def expect_error(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Exit code 1 and exactly one JSON document ``{"error": {...}}`` on stdout."""
    assert proc.returncode == 1, (proc.args, proc.stdout, proc.stderr)
    doc = json.loads(proc.stdout)
    assert list(doc) == ["error"] and {"type", "reason", "message"} <= set(doc["error"]), doc
    return dict(doc["error"])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    data_dir = tmp_path_factory.mktemp(f"cli-{request.param}") / "data"
    settings = Settings(data_dir=data_dir)
    env = clean_env()
    if request.param == "postgres":
        require_postgres()
        prefix = f"t{secrets.token_hex(4)}_"
        env.update(HIVEBASE_DATABASE_URL=PG_URL, HIVEBASE_SCHEMA_PREFIX=prefix)
        settings = Settings(data_dir=data_dir, database_url=PG_URL, schema_prefix=prefix)
    c = Cli(data_dir, env)
    try:
        c.main = c.json("init")
        yield c
    finally:
        asyncio.run(drop_prefixed_schemas(settings))


def test_init_creates_main_app_once(cli: Cli) -> None:
    first = cli.main
    assert first["app"] == "main" and first["created"] is True
    assert all(HEX32.match(first[k]) for k in KEYS) and len({first[k] for k in KEYS}) == 3
    config = cli.data_dir / "hivebase.toml"
    assert tomllib.loads(config.read_text()) == {}  # every default is commented out
    again, shown, human = cli.many(("init", "--json"), ("app", "credentials", "main", "--json"), ("init",))
    assert json.loads(again.stdout)["created"] is False
    assert {k: json.loads(again.stdout)[k] for k in KEYS} == {k: first[k] for k in KEYS}
    assert json.loads(shown.stdout) == {"app": "main", **{k: first[k] for k in KEYS}}
    assert human.returncode == 0 and "already initialised" in human.stdout
    assert first["masterKey"] in human.stdout


def test_app_lifecycle(cli: Cli) -> None:
    shop = cli.json("app", "create", "shop-1")
    assert shop["app"] == "shop-1" and all(HEX32.match(shop[k]) for k in KEYS)
    assert shop["applicationId"] != cli.main["applicationId"]
    listed, shown = cli.jsons(("app", "list"), ("app", "credentials", "shop-1"))
    assert [a["app"] for a in listed["apps"]] == ["main", "shop-1"] and shown == shop

    rotated = cli.json("app", "rotate", "shop-1", "--which", "rest")
    assert rotated["rotated"] == "rest" and rotated["masterKey"] == shop["masterKey"]
    assert rotated["restApiKey"] != shop["restApiKey"] and HEX32.match(rotated["restApiKey"])

    shown, listed, taken, unconfirmed, refused = cli.many(
        ("app", "credentials", "shop-1", "--json"), ("app", "list", "--json"),
        ("app", "create", "shop-1", "--json"), ("app", "delete", "shop-1", "--json"),
        ("app", "delete", "shop-1"), stdin="n\n")
    assert json.loads(shown.stdout)["restApiKey"] == rotated["restApiKey"]
    assert expect_error(taken)["type"] == "InvalidName"
    assert expect_error(unconfirmed)["reason"] == "confirmation"  # --json needs --yes
    assert refused.returncode == 1 and "shop-1" in [a["app"] for a in json.loads(listed.stdout)["apps"]]

    assert cli.json("app", "delete", "shop-1", "--yes") == {"app": "shop-1", "deleted": True}
    gone, main = cli.errors(("app", "credentials", "shop-1"), ("app", "delete", "main", "--yes"))
    assert gone["type"] == "NotFound" and main["type"] == "Conflict"


def test_table_lifecycle(cli: Cli, tmp_path: Path) -> None:
    player = cli.json("table", "create", "Player", "--note", "people who play",
                      "--fields", '{"nickname":{"type":"String","unique":true}}')
    assert player["className"] == "Player" and player["note"] == "people who play"
    spec = {"score": {"type": "Number", "isAutoIncre": True, "autoIncreInit": 1000, "note": "game score"},
            "player": {"type": "Pointer", "targetClass": "Player"},
            "nickname": {"type": "String", "unique": True}}
    spec_file = tmp_path / "fields.json"
    spec_file.write_text(json.dumps(spec))
    cli.json("table", "create", "GameScore", "--fields", f"@{spec_file}")
    listed, described = cli.jsons(("table", "list"), ("table", "describe", "GameScore"))
    assert listed == {"app": "main", "tables": ["GameScore", "Player", "_User"]}  # every app has _User
    fields = described["fields"]
    assert fields["score"] == spec["score"] and fields["player"] == spec["player"]
    assert fields["nickname"]["unique"] is True and fields["objectId"]["builtin"] is True

    added = cli.json("table", "add-field", "GameScore", "team", "--spec", '{"type":"String","note":"t"}')
    assert added == {"className": "GameScore", "field": "team", "type": "String", "note": "t"}
    renamed = cli.json("table", "rename-field", "GameScore", "team", "squad")
    assert renamed == {"className": "GameScore", "renamed": {"from": "team", "to": "squad"}}
    index = cli.json("table", "add-index", "GameScore", "squad,score")
    assert index["fields"] == ["squad", "score"] and index["unique"] is False
    assert cli.json("table", "remove-field", "GameScore", "squad", "--yes")["removed"] == "squad"

    described, shown, blocked = cli.many(("table", "describe", "GameScore", "--json"),
                                         ("table", "describe", "GameScore"), ("table", "drop", "Player", "--yes",
                                                                              "--json"))
    assert not {"squad", "team"} & set(json.loads(described.stdout)["fields"])
    assert shown.returncode == 0 and "auto-increment from 1000" in shown.stdout and "→ Player" in shown.stdout
    error = expect_error(blocked)
    assert error["type"] == "Conflict" and "GameScore.player" in error["message"]

    dropped = cli.json("table", "drop", "Player", "--cascade", "--yes")
    assert dropped == {"app": "main", "dropped": "Player", "removedFields": ["GameScore.player"]}
    assert "player" not in cli.json("table", "describe", "GameScore")["fields"]
    cli.json("table", "drop", "GameScore", "--yes")
    assert cli.json("table", "list")["tables"] == ["_User"]


ARGUMENT_ERRORS: list[tuple[tuple[str, ...], str]] = [
    (("table", "create", "T", "--fields", '{"a":'), "not valid JSON"),
    (("table", "create", "T", "--fields", "[1, 2]"), "must be a JSON object"),
    (("table", "create", "T", "--fields", "@/no/such/file.json"), "cannot read"),
    (("table", "add-field", "T", "f", "--spec", "nope"), "not valid JSON"),
    (("app", "rotate", "main", "--which", "all"), "--which"),
    (("table", "create"), "Missing argument"),
    (("table", "list", "--bogus"), "No such option"),
]


def test_argument_errors_are_reported_before_touching_storage(tmp_path: Path) -> None:
    nowhere = Cli(tmp_path / "never-created", clean_env())
    errors = nowhere.errors(*(case for case, _ in ARGUMENT_ERRORS))
    for (case, text), error in zip(ARGUMENT_ERRORS, errors, strict=True):
        assert error["type"] == "UsageError" and text in error["message"], (case, error)
    human = nowhere.run("table", "create", "T", "--fields", "{oops")
    assert human.returncode == 1 and human.stdout == ""
    assert human.stderr.startswith("Error: --fields is not valid JSON") and human.stderr.count("\n") == 1
    assert not nowhere.data_dir.exists()


HOSTILE: list[tuple[tuple[str, ...], str, str]] = [
    (("table", "create", "T", "--fields", '{"a":{"type":"Strin"}}'), "", "Strin"),
    (("table", "create", "T", "--fields", '{"objectId":{"type":"String"}}'), "InvalidName", "objectId"),
    (("table", "create", "T", "--fields", '{"p":{"type":"Pointer","targetClass":"Nope"}}'), "", "Nope"),
    (("table", "create", 'x";DROP TABLE y;--'), "InvalidName", "invalid table name"),
    (("table", "create", "a'b"), "InvalidName", "invalid table name"),
    (("table", "create", "../../etc/passwd"), "InvalidName", "invalid table name"),
    (("table", "describe", "Ghost"), "NotFound", "Ghost"),
    (("table", "list", "--app", "nope"), "NotFound", "nope"),
    (("table", "list", "--app", "../main"), "NotFound", "../main"),
    (("app", "create", "Bad;Name"), "InvalidName", "invalid app name"),
]


def test_hostile_input_is_refused_cleanly(cli: Cli) -> None:
    errors = cli.errors(*(case for case, _, _ in HOSTILE))
    for (case, kind, text), error in zip(HOSTILE, errors, strict=True):
        assert not kind or error["type"] == kind, (case, error)
        assert text in error["message"], (case, error)
    assert "T" not in cli.json("table", "list")["tables"]  # nothing half-created
    human = cli.run("table", "describe", "Ghost")
    assert human.returncode == 1 and human.stdout == ""
    assert human.stderr.startswith("Error: table `Ghost` does not exist") and human.stderr.count("\n") == 1


def test_uninitialised_data_dir_is_refused(tmp_path: Path) -> None:
    empty = Cli(tmp_path / "nothing-here", clean_env())
    error = empty.error("app", "list")
    assert error["reason"] == "not_initialised" and "hivebase init" in error["message"]
    assert not empty.data_dir.exists()


def test_bad_configuration_is_reported(tmp_path: Path) -> None:
    bad_port = Cli(tmp_path / "a", clean_env(HIVEBASE_PORT="eighty"))
    assert bad_port.error("init")["type"] == "ConfigError"
    no_db = Cli(tmp_path / "b", clean_env(HIVEBASE_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"))
    error = no_db.error("init")
    assert error["type"] == "ConfigError" and "cannot open the storage" in error["message"]


def test_every_setting_is_documented() -> None:
    """The README's configuration table names every setting and its variable."""
    readme = (REPO / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"`HIVEBASE_{name.upper()}`" in readme, name
