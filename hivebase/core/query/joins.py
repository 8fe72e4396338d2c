"""The FROM clause of a statement: the base table plus one LEFT JOIN per Pointer path it needs.

Where-paths, orders and includes that follow the same Pointers share one join, so a statement never joins
the same target twice for the same path.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hivebase.core.catalog import Catalog
from hivebase.core.model import FieldDef, TableDef


class Joins:
    def __init__(self, catalog: Catalog, base: TableDef) -> None:
        self.catalog = catalog
        self.base = base
        self.base_table = base.table
        self._aliases: dict[tuple[str, ...], tuple[Any, TableDef]] = {}
        self._order: list[tuple[str, ...]] = []

    def table_for(self, hops: tuple[FieldDef, ...]) -> tuple[Any, TableDef]:
        """The (aliased) table reached by following ``hops`` from the base table, joining as needed."""
        if not hops:
            return self.base_table, self.base
        key = tuple(h.name for h in hops)
        found = self._aliases.get(key)
        if found is not None:
            return found
        parent, _ = self.table_for(hops[:-1])
        target = self.catalog.get(hops[-1].target or "")
        alias = target.table.alias(f"j{len(self._aliases) + 1}")
        self._aliases[key] = (alias, target)
        self._order.append(key)
        return alias, target

    def pointer_column(self, hops: tuple[FieldDef, ...]) -> Any:
        parent, _ = self.table_for(hops[:-1])
        return parent.c[hops[-1].name]

    def from_clause(self) -> Any:
        clause: Any = self.base_table
        for key in self._order:
            alias, _ = self._aliases[key]
            hops = self._hops_for(key)
            clause = clause.outerjoin(alias, alias.c.objectId == self.pointer_column(hops))
        return clause

    def _hops_for(self, key: tuple[str, ...]) -> tuple[FieldDef, ...]:
        hops: list[FieldDef] = []
        table = self.base
        for name in key:
            f = table.fields[name]
            hops.append(f)
            table = self.catalog.get(f.target or "")
        return tuple(hops)


def sa_select(*cols: Any) -> sa.Select[Any]:
    return sa.select(*cols)
