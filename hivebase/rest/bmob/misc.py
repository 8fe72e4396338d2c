"""Small Bmob endpoints: ``GET /1/timestamp`` (the server's clock, for clients that sign requests)."""

from __future__ import annotations

from typing import Any

from hivebase.core.access import require_caller
from hivebase.core.clock import now
from hivebase.core.fields.date import format_bmob
from hivebase.rest.bmob.context import Call


async def timestamp(call: Call) -> dict[str, Any]:
    """The server's time: {timestamp: unix seconds, datetime: "YYYY-MM-DD HH:MM:SS"}.

    UTC, like every Bmob date this server writes (``createdAt``…)."""
    require_caller(call.app, call.principal)
    stamp = now()
    return {"timestamp": int(stamp.timestamp()), "datetime": format_bmob(stamp)}
