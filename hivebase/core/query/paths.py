"""Resolving dotted names (``author.name``, ``meta.size``, ``tags.0``) against the catalog into ``Path``s."""

from __future__ import annotations

from hivebase.core.catalog import Catalog
from hivebase.core.model import FieldDef, TableDef
from hivebase.core.query.ir import Path
from hivebase.errors import InvalidQuery, UnknownField

MAX_HOPS = 4
MAX_SEGMENTS = 12


def field_of(table: TableDef, name: str) -> FieldDef:
    f = table.fields.get(name)
    if f is None:
        raise UnknownField(table.name, name[:64], table.field_names())
    return f


def resolve(catalog: Catalog, table: TableDef, dotted: str, *, follow_pointers: bool = True) -> Path:
    """A dotted name → Path. Pointer segments hop to their target table (when ``follow_pointers``);
    the rest of a name after an Object/Array field walks into its JSON value."""
    parts = dotted.split(".")
    if not dotted or len(parts) > MAX_SEGMENTS or any(not p for p in parts):
        raise InvalidQuery(f"`{dotted[:80]}` is not a valid field path", field=dotted[:80])
    hops: list[FieldDef] = []
    current = table
    i = 0
    while True:
        f = field_of(current, parts[i])
        rest = parts[i + 1:]
        if not rest:
            return Path(f, tuple(hops))
        if f.type == "Pointer" and follow_pointers:
            if len(hops) >= MAX_HOPS:
                raise InvalidQuery(f"`{dotted[:80]}` follows more than {MAX_HOPS} pointers", field=dotted[:80])
            hops.append(f)
            current = catalog.get(f.target or "")
            i += 1
            continue
        if f.type in ("Object", "Array"):
            json: list[str | int] = [int(p) if p.isdigit() and len(p) < 7 else p for p in rest]
            return Path(f, tuple(hops), tuple(json))
        raise InvalidQuery(f"`{f.name}` is a {f.type} field: `{dotted[:80]}` cannot look inside it", field=f.name)


def target_table(catalog: Catalog, base: TableDef, path: Path) -> TableDef:
    """The table holding ``path.field``."""
    t = base
    for hop in path.hops:
        t = catalog.get(hop.target or "")
    return t
