"""What ``main(ctx)`` receives: the call's parameters and caller, and records access acting as that caller.

A function runs in a worker thread; every ``ctx.records`` call is sent back to the server's event loop
(``asyncio.run_coroutine_threadsafe``) where the core runs it with the caller's principal, so roles, row
scopes and object ACLs apply exactly as they would to the caller's own request. In ``def main`` the methods
return their result; in ``async def main`` (and any coroutine on the function's own loop) they return an
awaitable: ``await ctx.records.get(...)``. Once the call is over (returned, failed or timed out) the
context is closed and further use raises ``RuntimeError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

from hivebase.core import records
from hivebase.core.apps import App
from hivebase.core.bmob_reads import bmob_get, bmob_query
from hivebase.core.model import USER_TABLE
from hivebase.core.principal import Principal
from hivebase.core.render import render_row


class Bridge:
    """Runs core coroutines on the server's loop for a function's thread, until closed."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wait_seconds: float) -> None:
        self.loop = loop
        self.wait_seconds = wait_seconds
        self.closed = False

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self.closed:
            coro.close()
            raise RuntimeError("this cloud function call is over; its ctx can no longer be used")
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:  # already on the server's loop (a caller inside the server): just await it
            return coro
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        if running is None:  # a plain thread (def main): block until the server answers
            return future.result(self.wait_seconds)
        return asyncio.wrap_future(future)  # the function's own loop (async def main): an awaitable


class Records:
    """Rows of the app, read and written as one principal; results in Bmob's shape."""

    def __init__(self, app: App, principal: Principal, bridge: Bridge) -> None:
        self._app = app
        self._principal = principal
        self._bridge = bridge

    def create(self, table: str, data: Mapping[str, Any]) -> Any:
        """Insert a row → ``{"objectId", "createdAt", …}`` (what the caller may see of it)."""
        return self._bridge.call(self._create(table, data))

    def get(self, table: str, object_id: str, **params: Any) -> Any:
        """One row by objectId (``keys=``, ``include=`` as in Bmob's REST API)."""
        return self._bridge.call(bmob_get(self._app, self._principal, table, object_id, params))

    def query(self, table: str, where: Mapping[str, Any] | str | None = None, **params: Any) -> Any:
        """Rows matching a Bmob ``where`` with ``order``, ``limit``, ``skip``, ``keys``, ``include``: a list of
        rows; with aggregation parameters (``groupby``, ``sum``…) the list of groups."""
        return self._bridge.call(self._query(table, where, params))

    def count(self, table: str, where: Mapping[str, Any] | str | None = None) -> Any:
        """How many rows match ``where`` (that the principal may list)."""
        return self._bridge.call(self._count(table, where))

    def update(self, table: str, object_id: str, data: Mapping[str, Any]) -> Any:
        """Replace the given fields and apply ``__op`` operators → ``{"objectId", "updatedAt", …}``."""
        return self._bridge.call(self._update(table, object_id, data))

    def delete(self, table: str, object_id: str) -> Any:
        """Delete one row → None."""
        return self._bridge.call(records.delete(self._app, self._principal, table, object_id))

    async def _create(self, table: str, data: Any) -> dict[str, Any]:
        row = await records.create(self._app, self._principal, table, dict(data) if isinstance(data, Mapping)
                                   else data)
        return render_row(self._app.catalog.get(table), row, "bmob", relations=False)

    async def _update(self, table: str, object_id: str, data: Any) -> dict[str, Any]:
        row = await records.update(self._app, self._principal, table, object_id,
                                   dict(data) if isinstance(data, Mapping) else data)
        return render_row(self._app.catalog.get(table), row, "bmob", relations=False)

    async def _query(self, table: str, where: Any, params: dict[str, Any]) -> Any:
        if where is not None:
            params["where"] = where
        out = await bmob_query(self._app, self._principal, table, params)
        return out["results"] if isinstance(out, dict) else out

    async def _count(self, table: str, where: Any) -> int:
        params: dict[str, Any] = {"count": 1, "limit": 0}
        if where is not None:
            params["where"] = where
        out = await bmob_query(self._app, self._principal, table, params)
        assert isinstance(out, dict)
        return int(out["count"])


class Context:
    """The one argument of ``main``: ``params``, ``user``, ``role``, ``app``, ``function``, ``records``,
    ``as_root()`` and ``log``."""

    def __init__(self, app: App, principal: Principal, function: str, params: dict[str, Any],
                 bridge: Bridge) -> None:
        self.params = params
        self.app = app.name
        self.function = function
        self.role = principal.role
        #: the caller's ``_User`` row in Bmob's shape, or None for a key without a user
        self.user = _user_row(app, principal)
        self.records = Records(app, principal, bridge)
        self.log = logging.getLogger(f"hivebase.functions.{app.name}.{function}")
        self._app = app
        self._bridge = bridge

    def as_root(self) -> Records:
        """The same records API acting as root: no role, scope or ACL applies (trusted code's choice)."""
        return Records(self._app, Principal.root(via="function", app=self._app.name), self._bridge)


def _user_row(app: App, principal: Principal) -> dict[str, Any] | None:
    if principal.user_id is None or not principal.user:
        return None
    tdef = app.catalog.lookup(USER_TABLE)
    row = dict(principal.user)
    return render_row(tdef, row, "bmob", relations=False) if tdef is not None else row
