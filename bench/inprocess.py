"""The comparison's operations called on the core in-process (no HTTP, no JSON, no MCP), with the REST rows'
principal (the app's REST key): what is left when the doors cost nothing, which bounds what they cost."""

from __future__ import annotations

from typing import Any

from bench import dataset
from bench.core import Result, find_select, group_sum, measure, where_pred
from bench.target import TABLE, Prepared
from hivebase.auth import principals
from hivebase.config import Settings
from hivebase.core import reads, records
from hivebase.core.apps import MAIN
from hivebase.hub import Hub


async def run(settings: Settings, p: Prepared, seconds: float, concurrency: int) -> dict[str, Result]:
    """Rows keyed like the REST ones (``rest.get`` …), measured with ``concurrency`` asyncio tasks."""
    async with Hub(settings) as hub:
        app = await hub.apps.open(MAIN)
        who = await principals.resolve(hub.apps, app, rest_key=p.rest_key, via="bench")
        tdef = app.catalog.get(TABLE)
        where, _ = where_pred(app, tdef)
        select, _ = find_select(app, tdef, where)
        agg, _ = group_sum(app, tdef)
        counter = iter(range(10**9))

        async def get(r: Any) -> None:
            await reads.get(app, who, TABLE, p.ids[r.randrange(len(p.ids))])

        async def query(r: Any) -> None:
            rows, _ = await reads.find(app, who, select)
            assert len(rows) == dataset.PAGE

        async def count(r: Any) -> None:
            await reads.count(app, who, TABLE, where)

        async def create(r: Any) -> None:
            await records.create(app, who, TABLE, dataset.new_row(next(counter)))

        async def update(r: Any) -> None:
            await records.update(app, who, TABLE, p.ids[r.randrange(len(p.ids))], {"level": r.randrange(1, 101)})

        async def aggregate(r: Any) -> None:
            await reads.aggregate(app, who, agg)

        ops = {"rest.get": get, "rest.query": query, "rest.count": count, "rest.aggregate": aggregate,
               "rest.update": update, "rest.create": create}
        return {key: await measure(key, op, seconds, concurrency) for key, op in ops.items()}
