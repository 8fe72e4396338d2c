"""NocoBase ``filter`` → IR.

A filter object maps field keys to conditions and combines them with ``$and``/``$or`` (lists, or objects
whose entries are the items). A condition is a bare value (``$eq``; a list means ``$in``), or an object of
operators (all must hold) whose non-``$`` keys continue the path (``{"author": {"name": "x"}}`` is
``{"author.name": "x"}``). Dotted keys walk Pointers (joins) and into Object/Array values; a key crossing a
to-many Relation becomes ``RelationHas`` (one per key: nest several conditions under the Relation key to
require them of the same related row). ``id`` names ``objectId`` when a table has no ``id`` field.
Operator semantics live in ``filter_ops``; limits here keep hostile filters cheap to refuse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import orjson

from hivebase.core.catalog import Catalog
from hivebase.core.model import FieldDef, TableDef
from hivebase.core.query import filter_ops
from hivebase.core.query.dates import MAX_OFFSET_MINUTES
from hivebase.core.query.filter_ops import Target, disj
from hivebase.core.query.ir import Const, InSubquery, Path, Pred, RelationHas, SubQuery, conj
from hivebase.core.query.paths import MAX_HOPS, MAX_SEGMENTS, resolve
from hivebase.errors import InvalidQuery, UnknownField, type_of

MAX_DEPTH = 16
MAX_NODES = 1000
MAX_FILTER_CHARS = 200_000
LOGICAL = ("$and", "$or")
JSON_KEY = re.compile(r"^[\w\-]{1,64}$")
VARIABLE = re.compile(r"^\{\{\s*(?:currentUser|\$user|\$currentUser|ctx\.state\.currentUser)"
                      r"\.([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}$")


class _NullVariable:
    """A ``{{currentUser.x}}`` whose value is null: the condition using it matches nothing (fails closed)."""


NULL_VARIABLE = _NullVariable()
PRESENT = ("$exists", "$notEmpty", "$arrayNotEmpty", "$not")  # on a Relation: holds at least one row
ABSENT = ("$notExists", "$empty", "$arrayEmpty", "$is")
MEMBERSHIP = {"$eq": "$eq", "$in": "$in", "$anyOf": "$anyOf",  # related objectIds; negations → no such row
              "$ne": "$eq", "$notIn": "$in", "$noneOf": "$anyOf"}
RelationSplit = tuple[list[FieldDef], TableDef, FieldDef, str]


def parse_filter(catalog: Catalog, table: TableDef, filter: Any, *,
                 current_user: Mapping[str, Any] | None = None, tz_offset_minutes: int = 0) -> Pred:
    """A NocoBase filter (decoded JSON or a JSON string; None/empty means no condition) → a predicate."""
    if isinstance(tz_offset_minutes, bool) or not isinstance(tz_offset_minutes, int) \
            or abs(tz_offset_minutes) > MAX_OFFSET_MINUTES:
        raise InvalidQuery(f"the time zone offset must be whole minutes within ±{MAX_OFFSET_MINUTES}",
                           field="timezone")
    data = decode_object(filter, "filter")
    if data is None:
        return Const(True)
    return FilterParser(catalog, current_user=current_user, tz_offset_minutes=tz_offset_minutes) \
        .condition(table, data)


def decode(raw: Any, what: str) -> Any:
    """JSON text → value (bad JSON is an InvalidQuery); anything else passes through."""
    if isinstance(raw, bytes | bytearray):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str):
        return raw
    if len(raw) > MAX_FILTER_CHARS:
        raise InvalidQuery(f"`{what}` is longer than {MAX_FILTER_CHARS} characters", field=what)
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidQuery(f"`{what}` is not valid JSON: {raw[:80]!r}", field=what) from None


def decode_object(raw: Any, what: str) -> dict[str, Any] | None:
    """A filter-like argument (JSON object or its text) decoded and size-checked; None when absent or empty."""
    data = decode(raw, what)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidQuery(f"`{what}` must be a JSON object, received {type_of(data)}", field=what)
    check_shape(data, what)
    return data


def check_shape(data: Any, what: str) -> None:
    """Refuse objects nested deeper than MAX_DEPTH or with more than MAX_NODES objects, lists and entries."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > MAX_DEPTH:
                raise InvalidQuery(f"`{what}` is nested deeper than {MAX_DEPTH} levels", field=what)
            if not all(isinstance(k, str) for k in node):
                raise InvalidQuery(f"`{what}`: object keys must be strings", field=what)
            nodes += 1 + len(node)
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        else:
            nodes += 1
            stack.extend((v, depth) for v in node if isinstance(v, dict | list))
        if nodes > MAX_NODES:
            raise InvalidQuery(f"`{what}` has more than {MAX_NODES} conditions and values", field=what)


def split_key(catalog: Catalog, table: TableDef, key: str) -> tuple[str, RelationSplit | None]:
    """The canonical dotted key (``id`` → ``objectId``), and where it crosses a Relation if it does:
    (Pointer hops before it, the table owning it, the Relation, the rest of the key)."""
    parts = key.split(".")
    if not key or len(parts) > MAX_SEGMENTS or any(not p for p in parts):
        raise InvalidQuery(f"`{key[:80]}` is not a valid field path", field=key[:80])
    current = table
    hops: list[FieldDef] = []
    for i, part in enumerate(parts):
        f = current.fields.get(part)
        if f is None and part == "id":
            parts[i], f = "objectId", current.fields["objectId"]
        if f is None:
            raise UnknownField(current.name, part[:64], current.field_names())
        rest = parts[i + 1:]
        if f.type == "Relation":
            return ".".join(parts), (hops, current, f, ".".join(rest))
        if f.type == "Pointer" and rest:
            if len(hops) >= MAX_HOPS:
                raise InvalidQuery(f"`{key[:80]}` follows more than {MAX_HOPS} pointers", field=key[:80])
            hops.append(f)
            current = catalog.get(f.target or "")
            continue
        if f.type in ("Object", "Array"):
            for seg in rest:
                if not JSON_KEY.match(seg):
                    raise InvalidQuery(f"`{key[:80]}`: keys inside `{f.name}` may only hold letters, digits, "
                                       "`_` and `-`", field=key[:80])
        break
    return ".".join(parts), None


def resolve_name(catalog: Catalog, table: TableDef, key: str) -> Path:
    """A dotted name that must not cross a Relation (sort keys, aggregate fields) → Path."""
    canonical, rel = split_key(catalog, table, key)
    if rel is not None:
        raise InvalidQuery(f"`{key[:80]}`: `{rel[2].name}` is a Relation (to-many) field and cannot be used "
                           "here", field=key[:80])
    return resolve(catalog, table, canonical, follow_pointers=True)


class FilterParser:
    """Walks a decoded filter; subclasses change how keys resolve (``having`` resolves aliases)."""

    def __init__(self, catalog: Catalog, *, current_user: Mapping[str, Any] | None = None,
                 tz_offset_minutes: int = 0) -> None:
        self.catalog = catalog
        self.current_user = current_user
        self.tz = tz_offset_minutes

    # -- filter objects -----------------------------------------------------------------------------------

    def condition(self, table: TableDef, obj: Mapping[str, Any]) -> Pred:
        items: list[Pred] = []
        for key, value in obj.items():
            if key in LOGICAL:
                items.append(self.logical(key, value, partial(self.group_item, table, key)))
            elif key.startswith("$"):
                raise InvalidQuery(f"`{key[:40]}` is not allowed here: a filter maps field names to "
                                   "conditions and combines them with $and/$or", field=key[:40],
                                   operator=key[:40])
            else:
                items.append(self.key_condition(table, key, value))
        return conj(*items)

    def group_item(self, table: TableDef, op: str, item: Any) -> Pred:
        if not isinstance(item, dict):
            raise InvalidQuery(f"each item of `{op}` must be an object, received {type_of(item)}", field=op)
        return self.condition(table, item)

    def logical(self, op: str, value: Any, each: Callable[[Any], Pred]) -> Pred:
        if isinstance(value, dict):
            parts: list[Any] = [{k: v} for k, v in value.items()]
        elif isinstance(value, list):
            parts = value
        else:
            raise InvalidQuery(f"`{op}` takes a list of conditions, received {type_of(value)}", field=op)
        preds = [each(p) for p in parts]
        return conj(*preds) if op == "$and" else disj(*preds)

    # -- one key ------------------------------------------------------------------------------------------

    def key_condition(self, table: TableDef, key: str, value: Any) -> Pred:
        canonical, rel = split_key(self.catalog, table, key)
        if rel is not None:
            return self.through_relation(rel, value)
        path = resolve(self.catalog, table, canonical, follow_pointers=True)
        target = Target(path, path.field, table.name, bool(path.json), path.dotted)
        return self.field_value(table, canonical, target, value)

    def field_value(self, table: TableDef, key: str, target: Target, value: Any) -> Pred:
        if not isinstance(value, dict):
            return self.operator("$eq", target, value)
        if not value:
            raise InvalidQuery(f"`{target.label}`: empty condition; give an operator such as $eq",
                               field=target.label)
        items: list[Pred] = []
        for k, v in value.items():
            if k in LOGICAL:
                items.append(self.logical(k, v, lambda item: self.field_value(table, key, target, item)))
            elif k.startswith("$"):
                items.append(self.operator(k, target, v))
            else:
                items.append(self.key_condition(table, f"{key}.{k}", v))
        return conj(*items)

    def operator(self, op: str, target: Target, value: Any) -> Pred:
        fn = filter_ops.check(op, target)
        operand = self.substitute(value)
        return Const(False) if operand is NULL_VARIABLE else fn(target, operand, self.tz)

    # -- Relations ----------------------------------------------------------------------------------------

    def through_relation(self, split: RelationSplit, value: Any) -> Pred:
        hops, owner, rel, rest = split
        related = self.catalog.get(rel.target or "")
        if rest:
            pred: Pred = RelationHas(rel, self.key_condition(related, rest, value))
        else:
            pred = self.relation_value(rel, related, value)
        if hops:  # a Relation behind Pointers: the last Pointer's row must be one that satisfies it
            pred = InSubquery(Path(hops[-1], tuple(hops[:-1])), SubQuery(owner.name, pred))
        return pred

    def relation_value(self, rel: FieldDef, related: TableDef, value: Any) -> Pred:
        if not isinstance(value, dict):
            return self.relation_op(rel, related, "$eq", value)
        if not value:
            raise InvalidQuery(f"`{rel.name}`: empty condition", field=rel.name)
        items: list[Pred] = []
        fields: dict[str, Any] = {}
        for k, v in value.items():
            if k in LOGICAL:
                items.append(self.logical(k, v, lambda item: self.relation_value(rel, related, item)))
            elif k.startswith("$"):
                items.append(self.relation_op(rel, related, k, v))
            else:
                fields[k] = v
        if fields:  # conditions named together apply to the same related row
            items.append(RelationHas(rel, self.condition(related, fields)))
        return conj(*items)

    def relation_op(self, rel: FieldDef, related: TableDef, op: str, value: Any) -> Pred:
        """Operators on a Relation itself: existence, or membership of related objectIds."""
        if op in PRESENT or op in ABSENT:
            if op in ("$is", "$not") and value is not None:
                raise InvalidQuery(f"`{rel.name}`: `{op}` takes null on a Relation", field=rel.name)
            present = op in PRESENT
            return RelationHas(rel, Const(True), negate=present != filter_ops.flag(value))
        positive = MEMBERSHIP.get(op)
        if positive is None:
            raise InvalidQuery(f"`{op[:40]}` does not apply to the Relation `{rel.name}`; use $exists, "
                               "$notExists, $eq, $ne, $in, $notIn, $anyOf, $noneOf or a condition on its "
                               f"fields such as `{rel.name}.objectId`", field=rel.name, operator=op[:40])
        if value is None:
            return RelationHas(rel, Const(True), negate=op in ("$eq", "$in", "$anyOf"))
        operand = self.substitute(value)
        if operand is NULL_VARIABLE:
            return Const(False)
        oid = related.fields["objectId"]
        target = Target(Path(oid), oid, related.name, name=f"{rel.name}.objectId")
        match = filter_ops.apply(positive, target, operand, self.tz)
        return RelationHas(rel, match, negate=positive != op)

    # -- variables ----------------------------------------------------------------------------------------

    def substitute(self, value: Any) -> Any:
        """``{{currentUser.id}}``/``{{currentUser.<field>}}`` (also ``$user``) → the caller's stored value."""
        if isinstance(value, str) and value.startswith("{{") and value.endswith("}}"):
            return self.variable(value)
        if isinstance(value, list) and any(isinstance(v, str) and v.startswith("{{") for v in value):
            out = [self.substitute(v) for v in value]
            return [v for v in out if v is not NULL_VARIABLE]
        return value

    def variable(self, text: str) -> Any:
        m = VARIABLE.match(text)
        if m is None:
            raise InvalidQuery(f"unknown variable `{text[:80]}`; use {{{{currentUser.id}}}} or "
                               "{{currentUser.<field>}}", reason="variable")
        if self.current_user is None:
            raise InvalidQuery(f"`{text[:80]}` needs a signed-in user, and this request has none",
                               reason="variable")
        name = m[1]
        if name == "id":
            value = self.current_user.get("objectId", self.current_user.get("id"))
        elif name in self.current_user:
            value = self.current_user[name]
        else:
            raise InvalidQuery(f"`{text[:80]}`: the current user has no field `{name}`", reason="variable",
                               field=name)
        return NULL_VARIABLE if value is None else value
