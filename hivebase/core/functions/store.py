"""Deployed functions in the app's ``_hb_functions`` table: the storage half of deploy, remove and list."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hivebase.core.apps import App
from hivebase.core.clock import now
from hivebase.core.functions.sources import as_text, check_name, compile_source
from hivebase.core.principal import Principal
from hivebase.db.tables.functions import TABLE
from hivebase.errors import NotFound


def _table(app: App) -> sa.Table:
    return app.catalog.system(TABLE)


async def deployed_source(app: App, name: str) -> str | None:
    t = _table(app)
    async with app.db.read() as conn:
        return await conn.scalar(sa.select(t.c.source).where(t.c.name == name))


async def deploy(app: App, principal: Principal, name: Any, source: Any) -> dict[str, Any]:
    """Check, compile (in a thread: a large source takes a while) and store; nothing is stored on error."""
    name = check_name(name)
    text = as_text(name, source)
    await asyncio.to_thread(compile_source, name, text, f"<cloud function {app.name}/{name}>")
    t = _table(app)
    stamp = now()
    by = (principal.user_id or principal.credential or principal.via or "root")[:64]
    mod = postgresql if app.db.dialect == "postgresql" else sqlite
    stmt = mod.insert(t).values(name=name, source=text, updated_at=stamp, updated_by=by)
    stmt = stmt.on_conflict_do_update(index_elements=[t.c.name],
                                      set_={"source": text, "updated_at": stamp, "updated_by": by})
    async with app.db.write() as conn:
        await conn.execute(stmt)
    return {"name": name, "origin": "deployed", "updatedAt": stamp}


async def remove(app: App, principal: Principal, name: Any) -> None:
    name = check_name(name)
    t = _table(app)
    async with app.db.write() as conn:
        result = await conn.execute(sa.delete(t).where(t.c.name == name))
    if result.rowcount == 0:
        raise NotFound(f"cloud function `{name}` is not deployed (file functions are removed by deleting their "
                       "file)", reason="function")


async def list_deployed(app: App) -> list[dict[str, Any]]:
    t = _table(app)
    async with app.db.read() as conn:
        rows = (await conn.execute(sa.select(t.c.name, t.c.updated_at).order_by(t.c.name))).all()
    return [{"name": r.name, "origin": "deployed", "updatedAt": r.updated_at} for r in rows]
