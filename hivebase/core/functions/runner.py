"""Running cloud functions: one worker thread per call, a time limit, and the entry points doors call.

Each call runs in its own thread (with its own event loop for ``async def main``), so even a CPU-bound
``while True:`` never blocks the server's event loop; ``ctx.records`` calls hop back to the server's loop.
The caller waits at most ``timeout`` seconds (``function_timeout_seconds``; settable per runner) and then
gets a timeout error at once.

Limitations, honestly: Python cannot kill a thread. On timeout the runner closes the call's ``ctx`` (so the
function can no longer read or write rows), cancels an ``async def main``'s task, and raises
``FunctionStopped`` in the thread (``PyThreadState_SetAsyncExc``, repeated every second ten times). That stops
pure-Python loops and awaiting coroutines within milliseconds, but not a thread blocked in C code
(``time.sleep``, a socket read, a huge regex) until that call returns, nor one that keeps swallowing
``BaseException``. Such a thread is *abandoned*: it keeps its CPU and memory until it ends by itself. At most
``max_abandoned`` (8) abandoned threads per process are tolerated; beyond that new calls are refused
(``busy``) until some finish. At most ``max_running`` (64) calls run at once per process, for the same
reason. A CPU-bound function also competes for the GIL while it runs: the server keeps answering, but
requests that touch the database become slower (tens of milliseconds) until the function ends or is
stopped. Functions are trusted code deployed by the master-key holder (as in Bmob): there is no sandbox, a
function can do anything the server process can (run it in its own process if that matters to you).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from hivebase.core.access import require_caller, require_root
from hivebase.core.apps import App
from hivebase.core.functions import store
from hivebase.core.functions.context import Bridge, Context
from hivebase.core.functions.errors import FunctionError, FunctionStopped
from hivebase.core.functions.sources import CodeCache, Source, check_name, file_names, file_of
from hivebase.core.principal import Principal
from hivebase.core.settings import CoreSettings
from hivebase.errors import InvalidValue, NotFound

log = logging.getLogger("hivebase.functions")
MAX_MESSAGE = 500
MAX_RESULT_BYTES = 10 << 20
STOP_TRIES = 10


@dataclass(eq=False, slots=True)
class Invocation:
    source: Source
    future: concurrent.futures.Future[Any]
    bridge: Bridge
    thread: threading.Thread | None = None
    stoppable: bool = True  # the thread is (or may be) in the function's code: stopping it is safe
    task: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None  # an async main, on its own loop


def _async_raise(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in another thread at its next bytecode boundary (None: cancel a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None)


def _jsonable(name: str, value: Any) -> Any:
    try:
        raw = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:  # orjson.JSONEncodeError
        raise FunctionError(f"cloud function `{name}` returned a value that is not JSON: {str(exc)[:200]}",
                            reason="result") from None
    if len(raw) > MAX_RESULT_BYTES:
        raise FunctionError(f"cloud function `{name}` returned {len(raw)} bytes of JSON; at most "
                            f"{MAX_RESULT_BYTES} are accepted", reason="result")
    return orjson.loads(raw)


class FunctionRunner:
    """The process's cloud-function runner (one per hub): deploy, list, remove and invoke."""

    def __init__(self, settings: CoreSettings, *, timeout: float | None = None, max_abandoned: int = 8,
                 max_running: int = 64) -> None:
        self.data_dir = settings.data_dir
        self.timeout = float(timeout if timeout is not None else settings.function_timeout_seconds)
        self.max_abandoned = max_abandoned
        self.max_running = max_running
        self.codes = CodeCache()
        self._lock = threading.Lock()
        self._running: list[Invocation] = []
        self._abandoned: list[Invocation] = []

    # -- management (root) ------------------------------------------------------------------------------

    async def deploy(self, app: App, principal: Principal, name: str,
                     source: Any | Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        """Store ``source`` as function ``name`` (replacing any deployment) once it compiles and defines
        ``main``. Returns ``{"name", "origin", "updatedAt"}``. ``source`` may be a coroutine function that
        reads it (a request body): it is called only once the caller is known to be root and the name valid."""
        principal = require_root(app, principal)
        check_name(name)
        if callable(source):
            source = await source()
        return await store.deploy(app, principal, name, source)

    async def remove(self, app: App, principal: Principal, name: str) -> None:
        """Delete a deployment (a file function of the same name, if any, is used again)."""
        await store.remove(app, require_root(app, principal), name)

    async def list_all(self, app: App, principal: Principal) -> list[dict[str, Any]]:
        """Every function callable in ``app``: ``{"name", "origin", "updatedAt"?, "shadowsFile"?}``."""
        require_root(app, principal)
        deployed = await store.list_deployed(app)
        files = set(file_names(self.data_dir, app.name))
        out = [{**d, **({"shadowsFile": True} if d["name"] in files else {})} for d in deployed]
        out += [{"name": n, "origin": "file"} for n in sorted(files - {d["name"] for d in deployed})]
        return sorted(out, key=lambda d: d["name"])

    # -- invocation -------------------------------------------------------------------------------------

    async def find(self, app: App, name: str) -> Source:
        check_name(name)
        text = await store.deployed_source(app, name)
        if text is not None:
            return Source(app.name, name, "deployed", text=text)
        path = await asyncio.to_thread(file_of, self.data_dir, app.name, name)
        if path is None:
            raise NotFound(f"cloud function `{name}` does not exist", reason="function")
        return Source(app.name, name, "file", path=path)

    async def invoke(self, app: App, principal: Principal, name: str, params: Any = None) -> Any:
        """Run function ``name`` with ``params`` as ``principal``; its result as a JSON value."""
        require_caller(app, principal)
        params = {} if params is None else params
        if not isinstance(params, dict):
            raise InvalidValue("the parameters of a cloud function must be a JSON object", reason="json")
        src = await self.find(app, name)
        loop = asyncio.get_running_loop()
        bridge = Bridge(loop, self.timeout)
        inv = Invocation(src, concurrent.futures.Future(), bridge)
        ctx = Context(app, principal, name, params, bridge)
        self._start(inv, ctx)
        waiter = asyncio.wrap_future(inv.future)
        try:
            done, _ = await asyncio.wait({waiter}, timeout=self.timeout)
        finally:
            if not inv.future.done():
                waiter.add_done_callback(_consume)  # its late outcome interests no one
                self._abandon(inv, loop)
        if not done:
            raise FunctionError(f"cloud function `{name}` did not finish within {self.timeout:g} s",
                                reason="timeout", seconds=self.timeout)
        return waiter.result()

    def _start(self, inv: Invocation, ctx: Context) -> None:
        with self._lock:
            self._abandoned = [i for i in self._abandoned if i.thread is not None and i.thread.is_alive()]
            self._running = [i for i in self._running if i.thread is not None and i.thread.is_alive()]
            if len(self._abandoned) >= self.max_abandoned:
                raise FunctionError(f"{len(self._abandoned)} cloud function calls of this server process are "
                                    "still running past their time limit; try again later", reason="busy")
            if len(self._running) >= self.max_running:
                raise FunctionError(f"{self.max_running} cloud function calls are already running in this server "
                                    "process; try again later", reason="busy")
            inv.thread = threading.Thread(target=self._work, args=(inv, ctx), daemon=True,
                                          name=f"hivebase-fn-{inv.source.app}-{inv.source.name}")
            self._running.append(inv)
            inv.thread.start()

    def _abandon(self, inv: Invocation, loop: asyncio.AbstractEventLoop) -> None:
        inv.bridge.closed = True
        with self._lock:
            self._abandoned.append(inv)
        log.warning("cloud function %s/%s passed its time limit of %gs; stopping its thread", inv.source.app,
                    inv.source.name, self.timeout)
        self._stop(inv, loop, STOP_TRIES)

    def _stop(self, inv: Invocation, loop: asyncio.AbstractEventLoop, tries: int) -> None:
        """Cancel an async main's task and raise ``FunctionStopped`` in the thread, again every second while it
        lives (it may have caught them)."""
        with self._lock:
            alive = inv.thread is not None and inv.thread.is_alive() and inv.stoppable
            if alive and inv.task is not None:
                with contextlib.suppress(RuntimeError):  # its loop already closed
                    inv.task[0].call_soon_threadsafe(inv.task[1].cancel)
            if alive and inv.thread is not None and inv.thread.ident is not None:
                _async_raise(inv.thread.ident, FunctionStopped)
        if alive and tries > 1 and not loop.is_closed():
            loop.call_later(1.0, self._stop, inv, loop, tries - 1)

    def _work(self, inv: Invocation, ctx: Context) -> None:
        """The worker thread: run the function and settle the future, whatever happens in between."""
        try:
            try:
                result: Any = self._execute(inv, ctx)
                error: BaseException | None = None
            except FunctionStopped:
                result, error = None, FunctionError("stopped", reason="timeout")
            except FunctionError as exc:
                result, error = None, exc
            except BaseException as exc:  # a bug of ours: the door logs it and answers 500
                result, error = None, exc
            finally:
                with self._lock:  # from here on, never raise FunctionStopped in this thread
                    inv.stoppable = False
                    _async_raise(threading.get_ident(), None)
                inv.bridge.closed = True
            if error is not None:
                inv.future.set_exception(error)
            else:
                inv.future.set_result(result)
        except FunctionStopped:  # delivered just before the flag was lowered
            if not inv.future.done():
                inv.future.set_exception(FunctionError("stopped", reason="timeout"))

    def _execute(self, inv: Invocation, ctx: Context) -> Any:
        src = inv.source
        code, filename = self.codes.code(src)
        namespace: dict[str, Any] = {"__name__": f"hivebase_function_{src.app}_{src.name}", "__file__": filename}
        try:
            exec(code, namespace)
            main = namespace.get("main")
            if not callable(main):
                raise FunctionError(f"cloud function `{src.name}` defines no callable main(ctx)", reason="source")
            result = main(ctx)
            if inspect.isawaitable(result):
                result = self._run_async(inv, result)
        except (FunctionError, FunctionStopped):
            raise
        except BaseException as exc:  # the function's own failure, reported without its traceback
            log.info("cloud function %s/%s raised", src.app, src.name, exc_info=True)
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if len(text) > MAX_MESSAGE:
                text = text[:MAX_MESSAGE - 3] + "..."
            raise FunctionError(f"cloud function `{src.name}` failed: {text}", reason="raised",
                                exception=type(exc).__name__) from None
        return _jsonable(src.name, result)

    def _run_async(self, inv: Invocation, awaitable: Any) -> Any:
        """Run an async main on this thread's own loop, its task known so that a timeout can cancel it."""

        async def task() -> Any:
            current = asyncio.current_task()
            assert current is not None
            with self._lock:
                inv.task = (asyncio.get_running_loop(), current)
            if inv.bridge.closed:  # abandoned before it started
                current.cancel()
            return await awaitable

        with asyncio.Runner() as runner:
            return runner.run(task())


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
