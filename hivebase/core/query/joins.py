"""The FROM clause of a statement: the base table plus one LEFT JOIN per Pointer path it needs.

Where-paths, orders and includes that follow the same Pointers share one join. A joined row outside the
caller's row scope is joined as missing, so no path, order or include can reveal it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from hivebase.core.catalog import Catalog
from hivebase.core.model import FieldDef, TableDef

Visible = Callable[[str], "sa.Select[Any] | None"]


class Joins:
    def __init__(self, catalog: Catalog, base: TableDef, *, alias: str | None, visible: Visible,
                 fresh_name: Callable[[str], str]) -> None:
        self.catalog = catalog
        self.base = base
        # Sub-queries alias their base table, so one on the queried table is never correlated with it.
        self.base_table: Any = base.table.alias(alias) if alias else base.table
        self._visible = visible
        self._fresh_name = fresh_name
        self._aliases: dict[tuple[str, ...], tuple[Any, TableDef, Any]] = {}

    def table_for(self, hops: tuple[FieldDef, ...]) -> tuple[Any, TableDef]:
        """The (aliased) table reached by following ``hops`` from the base table, joining as needed."""
        if not hops:
            return self.base_table, self.base
        key = tuple(h.name for h in hops)
        found = self._aliases.get(key)
        if found is None:
            parent, _ = self.table_for(hops[:-1])
            target = self.catalog.get(hops[-1].target or "")
            alias = target.table.alias(self._fresh_name("j"))
            on = alias.c.objectId == parent.c[hops[-1].name]
            visible = self._visible(target.name)
            if visible is not None:
                on = sa.and_(on, alias.c.objectId.in_(visible))
            found = self._aliases[key] = (alias, target, on)
        return found[0], found[1]

    def from_clause(self) -> Any:
        clause: Any = self.base_table
        for alias, _, on in self._aliases.values():  # insertion order: parents before children
            clause = clause.outerjoin(alias, on)
        return clause
