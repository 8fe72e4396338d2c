"""Cloud functions in the core: deploying (and what is refused), file functions, invocation with the caller's
identity, and every failure mode — raised, not JSON, timed out (even a CPU-bound loop), busy — reported as a
clean error while the event loop keeps running."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from hivebase.auth.resolve import resolve
from hivebase.core import reads, records, schema
from hivebase.core.apps import App
from hivebase.core.functions.errors import FunctionError
from hivebase.core.functions.runner import FunctionRunner
from hivebase.core.functions.sources import MAX_SOURCE_BYTES
from hivebase.core.identity import users
from hivebase.core.principal import Principal
from hivebase.errors import HivebaseError, InvalidName, InvalidValue, NotFound, PermissionDenied
from hivebase.hub import Hub

pytestmark = pytest.mark.anyio
ROOT = Principal.root("test", app="main")
CLIENT = Principal.client("main")


def write_file(hub: Hub, name: str, source: str, app: str = "main") -> Path:
    folder = hub.settings.data_dir / "functions" / app
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(source)
    return path


async def fails(coro: Any, cls: type[HivebaseError], reason: str | None = None) -> HivebaseError:
    with pytest.raises(cls) as info:
        await coro
    if reason is not None:
        assert info.value.reason == reason, info.value.to_dict()
    assert "Traceback" not in info.value.message and 'File "' not in info.value.message
    return info.value


async def test_deploy_and_invoke(hub: Hub, app: App) -> None:
    src = "def main(ctx):\n    return {'sum': sum(ctx.params['xs']), 'app': ctx.app, 'fn': ctx.function}\n"
    info = await hub.functions.deploy(app, ROOT, "add", src)
    assert info["name"] == "add" and info["origin"] == "deployed"
    assert await hub.functions.invoke(app, CLIENT, "add", {"xs": [1, 2, 3]}) == {"sum": 6, "app": "main",
                                                                                  "fn": "add"}
    await hub.functions.deploy(app, ROOT, "add", "def main(ctx):\n    return 'replaced'\n")
    assert await hub.functions.invoke(app, CLIENT, "add") == "replaced"


async def test_async_main_and_json_normalisation(hub: Hub, app: App) -> None:
    src = ("import asyncio, datetime\n"
           "async def main(ctx):\n"
           "    await asyncio.sleep(0.01)\n"
           "    n = await ctx.records.count('_User')\n"
           "    return {'n': n, 't': (1, 2), 1: None, 'd': datetime.date(2024, 1, 2)}\n")
    await hub.functions.deploy(app, ROOT, "a", src)
    assert await hub.functions.invoke(app, ROOT, "a") == {"n": 0, "t": [1, 2], "1": None, "d": "2024-01-02"}


async def test_file_functions_and_precedence(hub: Hub, app: App) -> None:
    path = write_file(hub, "greet", "def main(ctx):\n    return 'file v1'\n")
    assert await hub.functions.invoke(app, CLIENT, "greet") == "file v1"
    path.write_text("def main(ctx):\n    return 'file v2 (longer)'\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert await hub.functions.invoke(app, CLIENT, "greet") == "file v2 (longer)"
    await hub.functions.deploy(app, ROOT, "greet", "def main(ctx):\n    return 'deployed'\n")
    assert await hub.functions.invoke(app, CLIENT, "greet") == "deployed"  # a deployment wins over a file
    listed = await hub.functions.list_all(app, ROOT)
    assert [(f["name"], f["origin"], f.get("shadowsFile")) for f in listed] == [("greet", "deployed", True)]
    await hub.functions.remove(app, ROOT, "greet")
    assert await hub.functions.invoke(app, CLIENT, "greet") == "file v2 (longer)"
    assert await hub.functions.list_all(app, ROOT) == [{"name": "greet", "origin": "file"}]
    await fails(hub.functions.remove(app, ROOT, "greet"), NotFound, "function")  # files are not removed by API
    write_file(hub, "broken", "def main(ctx):\n    return (\n")
    err = await fails(hub.functions.invoke(app, CLIENT, "broken"), FunctionError, "source")
    assert "line 2" in err.message
    other = await hub.apps.create("other2")
    await fails(hub.functions.invoke(await hub.apps.open(other.app), Principal.client(other.app), "greet"),
                NotFound, "function")  # files are per app


@pytest.mark.parametrize(("source", "reason", "text"), [
    ("def main(ctx):\n    x = [1,\n", "source", "line 2"),
    ("def main(ctx)\n    return 1\n", "source", "line 1"),
    ("x = 1\n", "source", "main(ctx)"),
    ("   \n", "source", "empty"),
    ("def main(ctx):\n    return 1\n\x00", "source", "null"),
    ("def main(ctx):\n    return '\ud800'\n", "source", "Unicode"),
    (b"def main(ctx):\n    return '\xff'\n", "source", "UTF-8"),
    (12, "source", "text"),
    ("#" * (MAX_SOURCE_BYTES + 1), "too_large", str(MAX_SOURCE_BYTES)),
])
async def test_bad_sources_are_refused_and_nothing_is_stored(hub: Hub, app: App, source: Any, reason: str,
                                                             text: str) -> None:
    err = await fails(hub.functions.deploy(app, ROOT, "f", source), FunctionError, reason)
    assert text in err.message
    assert await hub.functions.list_all(app, ROOT) == []


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a.b", "../x", "a" * 65, "ä", "a b", "x\x00", None])
async def test_bad_names(hub: Hub, app: App, name: Any) -> None:
    await fails(hub.functions.deploy(app, ROOT, name, "def main(ctx): pass"), InvalidName, "function_name")
    await fails(hub.functions.invoke(app, CLIENT, name), InvalidName, "function_name")
    assert await hub.functions.list_all(app, ROOT) == []


async def test_only_root_manages_functions(hub: Hub, app: App) -> None:
    read: list[bool] = []

    async def body() -> str:
        read.append(True)
        return "def main(ctx): pass"

    await fails(hub.functions.deploy(app, CLIENT, "f", body), PermissionDenied, "root")
    assert read == []  # a non-root caller's body is never read
    await fails(hub.functions.list_all(app, CLIENT), PermissionDenied, "root")
    await hub.functions.deploy(app, ROOT, "f", body)
    await fails(hub.functions.remove(app, CLIENT, "f"), PermissionDenied, "root")
    assert [f["name"] for f in await hub.functions.list_all(app, ROOT)] == ["f"]
    await fails(hub.functions.invoke(app, Principal.client("other"), "f"), PermissionDenied, "app")
    await fails(hub.functions.invoke(app, Principal.nobody("main"), "f"), PermissionDenied)


async def test_failures(hub: Hub, app: App) -> None:
    await hub.functions.deploy(app, ROOT, "boom", "def main(ctx):\n    return 1 / 0\n")
    err = await fails(hub.functions.invoke(app, CLIENT, "boom"), FunctionError, "raised")
    assert err.message == "cloud function `boom` failed: ZeroDivisionError: division by zero"
    await hub.functions.deploy(app, ROOT, "long", "def main(ctx):\n    raise ValueError('x' * 5000)\n")
    err = await fails(hub.functions.invoke(app, CLIENT, "long"), FunctionError, "raised")
    assert "ValueError: xxx" in err.message and len(err.message) < 600
    await hub.functions.deploy(app, ROOT, "exits", "import sys\ndef main(ctx):\n    sys.exit(3)\n")
    assert "SystemExit: 3" in (await fails(hub.functions.invoke(app, CLIENT, "exits"), FunctionError)).message
    await hub.functions.deploy(app, ROOT, "odd", "def main(ctx):\n    return {1, 2}\n")
    err = await fails(hub.functions.invoke(app, CLIENT, "odd"), FunctionError, "result")
    assert "not JSON" in err.message
    await hub.functions.deploy(app, ROOT, "obj", "def main(ctx):\n    return object()\n")
    await fails(hub.functions.invoke(app, CLIENT, "obj"), FunctionError, "result")
    await hub.functions.deploy(app, ROOT, "huge", "def main(ctx):\n    return 'x' * (11 << 20)\n")
    await fails(hub.functions.invoke(app, CLIENT, "huge"), FunctionError, "result")
    await fails(hub.functions.invoke(app, CLIENT, "nope"), NotFound, "function")
    await fails(hub.functions.invoke(app, CLIENT, "boom", [1]), InvalidValue, "json")


async def test_timeout_stops_a_cpu_bound_loop_without_blocking_the_loop(hub: Hub, app: App) -> None:
    runner = FunctionRunner(hub.settings, timeout=0.3)
    await runner.deploy(app, ROOT, "spin", "def main(ctx):\n    while True:\n        pass\n")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    err = await fails(runner.invoke(app, CLIENT, "spin"), FunctionError, "timeout")
    task.cancel()
    assert "0.3 s" in err.message
    assert ticks >= 1  # the event loop kept running while the function spun (a blocked loop never ticks)
    deadline = time.monotonic() + 3
    while runner._abandoned[0].thread.is_alive() and time.monotonic() < deadline:  # type: ignore[union-attr]
        await asyncio.sleep(0.02)
    assert not runner._abandoned[0].thread.is_alive()  # type: ignore[union-attr]  # stopped, not left spinning


async def test_timeout_cancels_an_async_main(hub: Hub, app: App) -> None:
    runner = FunctionRunner(hub.settings, timeout=0.2)
    src = ("import asyncio\n"
           "async def main(ctx):\n"
           "    await asyncio.sleep(30)\n")
    await runner.deploy(app, ROOT, "sleepy", src)
    await fails(runner.invoke(app, CLIENT, "sleepy"), FunctionError, "timeout")
    thread = runner._abandoned[0].thread
    assert thread is not None
    deadline = time.monotonic() + 2
    while thread.is_alive() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not thread.is_alive()  # its task was cancelled: no thread left waiting 30 s


async def test_a_function_that_swallows_the_stop_is_stopped_again(hub: Hub, app: App) -> None:
    runner = FunctionRunner(hub.settings, timeout=0.2)
    src = ("def main(ctx):\n"
           "    for _ in range(2):\n"
           "        try:\n"
           "            while True:\n"
           "                x = 1\n"
           "        except BaseException:\n"
           "            pass\n"
           "    return 'escaped'\n")
    await runner.deploy(app, ROOT, "stubborn", src)
    await fails(runner.invoke(app, CLIENT, "stubborn"), FunctionError, "timeout")
    thread = runner._abandoned[0].thread
    assert thread is not None
    deadline = time.monotonic() + 4
    while thread.is_alive() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not thread.is_alive()


async def test_abandoned_threads_are_capped(hub: Hub, app: App) -> None:
    runner = FunctionRunner(hub.settings, timeout=0.2, max_abandoned=1)
    await runner.deploy(app, ROOT, "nap", "import time\ndef main(ctx):\n    time.sleep(1.2)\n    return 1\n")
    await runner.deploy(app, ROOT, "quick", "def main(ctx):\n    return 'ok'\n")
    await fails(runner.invoke(app, CLIENT, "nap"), FunctionError, "timeout")  # blocked in C: abandoned
    err = await fails(runner.invoke(app, CLIENT, "quick"), FunctionError, "busy")
    assert "try again later" in err.message
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            assert await runner.invoke(app, CLIENT, "quick") == "ok"
            break
        except FunctionError:
            await asyncio.sleep(0.1)
    else:
        pytest.fail("the runner did not accept calls again once the abandoned thread ended")


async def test_ctx_is_closed_after_a_timeout(hub: Hub, app: App) -> None:
    await schema.create_table(app, ROOT, "Log", {"n": "Number"})
    runner = FunctionRunner(hub.settings, timeout=0.2)
    src = ("import time\n"
           "def main(ctx):\n"
           "    time.sleep(0.5)\n"
           "    ctx.records.create('Log', {'n': 1})\n")
    await runner.deploy(app, ROOT, "late", src)
    await fails(runner.invoke(app, ROOT, "late"), FunctionError, "timeout")
    await asyncio.sleep(0.8)
    assert await reads.count(app, ROOT, "Log") == 0  # the abandoned call could not write


async def test_records_act_as_the_caller(hub: Hub, app: App) -> None:
    await schema.create_table(app, ROOT, "Post", {"title": "String"})
    locked = await records.create(app, ROOT, "Post", {"title": "locked", "ACL": {"*": {"read": True}}})
    src = ("def main(ctx):\n"
           "    r = ctx.as_root() if ctx.params.get('root') else ctx.records\n"
           "    r.update('Post', ctx.params['id'], {'title': 'changed'})\n"
           "    return r.get('Post', ctx.params['id'])['title']\n")
    await hub.functions.deploy(app, ROOT, "edit", src)
    err = await fails(hub.functions.invoke(app, CLIENT, "edit", {"id": locked["objectId"]}), FunctionError, "raised")
    assert "NotFound" in err.message
    assert (await reads.get(app, ROOT, "Post", locked["objectId"]))["title"] == "locked"
    assert await hub.functions.invoke(app, CLIENT, "edit", {"id": locked["objectId"], "root": True}) == "changed"

    crud = ("def main(ctx):\n"
            "    r = ctx.records\n"
            "    made = r.create('Post', {'title': 'a'})\n"
            "    r.update('Post', made['objectId'], {'title': 'b'})\n"
            "    rows = r.query('Post', where={'title': 'b'}, order='-createdAt', limit=5)\n"
            "    n = r.count('Post', {'title': 'b'})\n"
            "    r.delete('Post', made['objectId'])\n"
            "    return {'rows': [x['title'] for x in rows], 'n': n, 'after': r.count('Post', {'title': 'b'}),\n"
            "            'created': sorted(made)}\n")
    await hub.functions.deploy(app, ROOT, "crud", crud)
    out = await hub.functions.invoke(app, CLIENT, "crud")
    assert out["rows"] == ["b"] and out["n"] == 1 and out["after"] == 0
    assert {"objectId", "createdAt"} <= set(out["created"])


async def test_ctx_user_and_role(hub: Hub, app: App) -> None:
    signed = await users.sign_up(app, CLIENT, {"username": "ann", "password": "secret123"})
    principal = await resolve(hub.apps, app, session_token=signed["sessionToken"], via="test")
    await hub.functions.deploy(app, ROOT, "who", "def main(ctx):\n    return [ctx.user and ctx.user['username'],"
                                                  " ctx.role, ctx.user and ctx.user['objectId']]\n")
    assert await hub.functions.invoke(app, principal, "who") == ["ann", "member", signed["objectId"]]
    assert await hub.functions.invoke(app, CLIENT, "who") == [None, "anonymous", None]
