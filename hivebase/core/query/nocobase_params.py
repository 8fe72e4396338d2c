"""NocoBase resource parameters (``resource_list``/``get``/``update``/``destroy``) → IR selections.

Values may come natively typed (MCP) or as URL strings: ``fields``/``appends``/``except``/``sort`` accept
lists or comma-separated text, numbers and booleans accept their text forms. Paging: ``page`` from 1,
``pageSize`` 20 by default and at most 1000; ``paginate=false`` returns one page of at most 1000 rows (it
never means "every row"). Pointer appends become ``Include`` trees (one statement with joins); Relation
appends are reported in the paging dict under ``relationAppends`` for a separate batched load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hivebase.core.catalog import Catalog
from hivebase.core.fields.pointer import check_object_id
from hivebase.core.model import FieldDef, TableDef
from hivebase.core.query.filter import parse_filter, resolve_name, split_key
from hivebase.core.query.ir import Cmp, Const, Include, InList, Order, Path, Pred, Select, conj
from hivebase.core.query.paths import MAX_HOPS, field_of, resolve
from hivebase.errors import InvalidQuery, InvalidValue, TypeMismatch, type_of

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000
MAX_SORT = 10
MAX_NAMES = 200
MAX_TK = 1000

Tree = dict[str, "Tree"]


def parse_list(catalog: Catalog, table: TableDef, params: Mapping[str, Any], *,
               current_user: Mapping[str, Any] | None = None,
               tz_offset_minutes: int = 0) -> tuple[Select, dict[str, Any]]:
    """``resource_list`` parameters → (Select, {"page", "pageSize", "paginate", "relationAppends"})."""
    where = parse_filter(catalog, table, params.get("filter"), current_user=current_user,
                         tz_offset_minutes=tz_offset_minutes)
    proj = projection(catalog, table, params)
    page = _int(params.get("page"), "page", 1, 1, MAX_PAGE)
    size = _int(params.get("pageSize"), "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    paginate = _bool(params.get("paginate"), "paginate", True)
    if paginate:
        limit, offset = size, (page - 1) * size
    else:  # "no paging" is still bounded: the first MAX_PAGE_SIZE rows
        page, limit, offset = 1, MAX_PAGE_SIZE, 0
    order = parse_sort(catalog, table, params.get("sort"))
    select = Select(table.name, where=where, order=order, limit=limit, offset=offset, keys=proj.keys,
                    include=proj.include, omit=proj.omit, named=proj.named)
    return select, {"page": page, "pageSize": size if paginate else MAX_PAGE_SIZE, "paginate": paginate,
                    "relationAppends": proj.relations}


def parse_get(catalog: Catalog, table: TableDef, params: Mapping[str, Any], *,
              current_user: Mapping[str, Any] | None = None, tz_offset_minutes: int = 0) -> Select:
    """``resource_get``: ``filterByTk`` (and/or ``filter``) with fields/appends/except; one row unless
    ``filterByTk`` is a list. Relation appends: see ``relation_appends``."""
    where = target_rows(catalog, table, params, current_user, tz_offset_minutes, "resource_get")
    proj = projection(catalog, table, params)
    tk = params.get("filterByTk")
    limit = max(len(tk), 1) if isinstance(tk, list) else 1
    return Select(table.name, where=where, limit=limit, keys=proj.keys, include=proj.include, omit=proj.omit,
                  named=proj.named)


def parse_target(catalog: Catalog, table: TableDef, params: Mapping[str, Any], *,
                 current_user: Mapping[str, Any] | None = None, tz_offset_minutes: int = 0) -> Pred:
    """The rows an update/destroy acts on: ``filterByTk`` and/or ``filter``, never "every row" by omission."""
    return target_rows(catalog, table, params, current_user, tz_offset_minutes, "update/destroy")


def relation_appends(catalog: Catalog, table: TableDef, params: Mapping[str, Any]) -> list[str]:
    """The Relation fields named in ``fields``/``appends`` (loaded by a separate batched query)."""
    return projection(catalog, table, params).relations


def target_rows(catalog: Catalog, table: TableDef, params: Mapping[str, Any],
                current_user: Mapping[str, Any] | None, tz: int, action: str) -> Pred:
    tk = params.get("filterByTk")
    raw_filter = params.get("filter")
    where = parse_filter(catalog, table, raw_filter, current_user=current_user, tz_offset_minutes=tz)
    if tk is None or tk == "":
        if isinstance(where, Const) and where.value:
            raise InvalidQuery(f"{action} needs `filterByTk` or a non-empty `filter`; an empty one would "
                               "match every row", field="filterByTk")
        return where
    return conj(by_key(table, tk), where)


def by_key(table: TableDef, tk: Any) -> Pred:
    """``filterByTk``: one objectId (string or number) → equality; a list → IN (empty: nothing)."""
    oid: Path = Path(table.fields["objectId"])
    if isinstance(tk, list):
        if len(tk) > MAX_TK:
            raise InvalidQuery(f"`filterByTk` takes at most {MAX_TK} keys, received {len(tk)}",
                               field="filterByTk")
        values = tuple(dict.fromkeys(_key(v) for v in tk))
        return InList(oid, values) if values else Const(False)
    return Cmp(oid, "eq", _key(tk))


def _key(value: Any) -> str:
    return object_key(value, "filterByTk", "an objectId (string or number) or a list of them")


def object_key(value: Any, name: str, expected: str = "an objectId (string or number)") -> str:
    """A row key as NocoBase callers send it (a string, or a whole number) → its objectId text."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeMismatch(None, name, expected, type_of(value))
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidValue(f"`{name}`: {value!r} is not a valid objectId", field=name)
        value = int(value)
    text = str(value)
    if not check_object_id(text):
        raise InvalidValue(f"`{name}`: {text[:64]!r} is not a valid objectId", field=name)
    return text


# -- projection -------------------------------------------------------------------------------------------

def names(value: Any, what: str) -> list[str]:
    """A list of names, or comma-separated text (URL form)."""
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise InvalidQuery(f"`{what}` takes a list of field names, received {type_of(value)}", field=what)
    if len(items) > MAX_NAMES:
        raise InvalidQuery(f"`{what}` takes at most {MAX_NAMES} names", field=what)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidQuery(f"`{what}` takes field names (strings), received {type_of(item)}", field=what)
        if item.strip() and item.strip() not in out:
            out.append(item.strip())
    return out


@dataclass(slots=True)
class Projection:
    """What ``fields``/``appends``/``except`` ask for: Select.keys/include/omit/named and Relation appends."""

    keys: list[str] | None
    include: list[Include]
    relations: list[str]
    omit: list[str] = field(default_factory=list)
    named: list[Path] = field(default_factory=list)


def projection(catalog: Catalog, table: TableDef, params: Mapping[str, Any]) -> Projection:
    """``fields``/``appends``/``except`` → the parts of a Select, and the Relations to append."""
    fields = names(params.get("fields"), "fields")
    appends = names(params.get("appends"), "appends")
    excluded = names(params.get("except"), "except")
    tree: Tree = {}
    relations: list[str] = []
    named: list[Path] = []
    omit: list[str] = []
    keys: list[str] | None = [] if fields else None
    for name in fields:
        canonical, rel = split_key(catalog, table, name)
        first = canonical.split(".")[0]
        if rel is not None and not rel[0]:  # a Relation of this table: loaded separately
            _add(relations, rel[2].name)
            continue
        if "." in canonical:  # author.name: include the Pointer(s) leading to the field
            _pointer_chain(catalog, table, canonical, "fields", tree, leaf_is_field=True)
            named.append(resolve(catalog, table, canonical))
        elif keys is not None and first not in keys:
            keys.append(first)
    for name in appends:
        canonical, rel = split_key(catalog, table, name)
        if rel is not None and not rel[0]:
            if rel[3]:
                raise InvalidQuery(f"`appends`: `{name[:80]}` goes inside the Relation `{rel[2].name}`; "
                                   "only the Relation itself can be appended", field=name[:80])
            _add(relations, rel[2].name)
            continue
        _pointer_chain(catalog, table, canonical, "appends", tree, leaf_is_field=False)
    for name in excluded:
        if "." in name:
            raise InvalidQuery(f"`except` takes field names of {table.name}, not paths: `{name[:80]}`",
                               field="except")
        f = field_of(table, "objectId" if name == "id" and "id" not in table.fields else name)
        tree.pop(f.name, None)
        if f.name in relations:
            relations.remove(f.name)
        if keys is None:
            _add(omit, f.name)
        elif f.name in keys:
            keys.remove(f.name)
    if keys is not None:
        for name in tree:
            _add(keys, name)
    return Projection(keys, _includes(table, tree, catalog), relations, omit, named)


def _add(items: list[str], name: str) -> None:
    if name not in items:
        items.append(name)


def _pointer_chain(catalog: Catalog, table: TableDef, dotted: str, what: str, tree: Tree,
                   leaf_is_field: bool) -> None:
    """Add the Pointers of ``dotted`` to the include tree; with ``leaf_is_field`` the last segment is a
    field of the last Pointer's table (checked), otherwise it is a Pointer too."""
    parts = dotted.split(".")
    pointers = parts[:-1] if leaf_is_field else parts
    if len(pointers) > MAX_HOPS:
        raise InvalidQuery(f"`{what}`: `{dotted[:80]}` follows more than {MAX_HOPS} pointers",
                           field=dotted[:80])
    current, node = table, tree
    for name in pointers:
        f = field_of(current, name)
        if f.type != "Pointer":
            raise InvalidQuery(f"`{what}`: `{f.name}` in `{dotted[:80]}` is a {f.type} field, not an "
                               "association (Pointer or Relation)", field=dotted[:80])
        node = node.setdefault(f.name, {})
        current = catalog.get(f.target or "")
    if leaf_is_field:
        field_of(current, parts[-1])


def _includes(table: TableDef, tree: Tree, catalog: Catalog) -> list[Include]:
    out: list[Include] = []
    for name, children in tree.items():
        f: FieldDef = table.fields[name]
        target = catalog.get(f.target or "")
        out.append(Include(f, tuple(_includes(target, children, catalog))))
    return out


# -- sort and scalars -------------------------------------------------------------------------------------

def parse_sort(catalog: Catalog, table: TableDef, value: Any) -> list[Order]:
    """``["-createdAt", "name"]`` or ``"-createdAt,name"`` → Orders; dotted Pointer paths allowed."""
    order: list[Order] = []
    items = names(value, "sort")
    if len(items) > MAX_SORT:
        raise InvalidQuery(f"`sort` takes at most {MAX_SORT} fields", field="sort")
    for item in items:
        desc = item.startswith("-")
        name = item[1:] if item[:1] in "-+" else item
        path = resolve_name(catalog, table, name)
        if not path.json and not path.field.kind.orderable:
            raise InvalidQuery(f"cannot sort by `{path.dotted}`: it is a {path.field.type} field",
                               field=path.dotted)
        order.append(Order(path=path, desc=desc))
    return order


def _int(value: Any, what: str, default: int, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    number: Any = value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 20:
        number = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int):
        raise InvalidQuery(f"`{what}` must be a whole number, received {str(value)[:40]!r}", field=what)
    if number < lo:
        raise InvalidQuery(f"`{what}` must be at least {lo}", field=what)
    if number > hi:
        raise InvalidQuery(f"`{what}` may be at most {hi}", field=what, maximum=hi)
    return number


def _bool(value: Any, what: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
        return value.strip().lower() in ("true", "1")
    raise InvalidQuery(f"`{what}` must be true or false, received {str(value)[:40]!r}", field=what)
