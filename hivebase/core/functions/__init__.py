"""Cloud functions: trusted Python deployed to an app and invoked by name with the caller's identity.

A function is Python source that defines ``def main(ctx)`` or ``async def main(ctx)``; it receives a
``Context`` (params, the caller's user and role, ``ctx.records`` acting as the caller, ``ctx.as_root()``)
and returns any JSON value. Sources come from the app's ``_hb_functions`` table (deployed through the API
with the master key, visible to every process and host) and from files ``<data_dir>/functions/<app>/<name>.py``;
a deployed function wins over a file of the same name.

Modules: ``tables`` (the system table), ``errors``, ``sources`` (names, compiling, where a source comes
from), ``context`` (what ``main`` receives) and ``runner`` (``FunctionRunner``: threads, time limits). This
package imports nothing at import time so the catalog can import ``tables`` without a cycle.
"""
