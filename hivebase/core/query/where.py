"""Bmob ``where`` (Parse-style JSON) → the query IR.

Keys are field names or the top-level operators ``$or``/``$and``/``$nor``/``$relatedTo``. Dotted keys walk
into Object/Array values but never through Pointers (Bmob does not follow pointers in where keys: use
``$inQuery``). Operands go through each field type's ``query_value``, so the IR holds stored values only.
Sizes are bounded (depth, conditions, list lengths, regex length) because a where comes from anyone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from hivebase.core.catalog import Catalog
from hivebase.core.fields import get_type
from hivebase.core.fields.geo import EXPECTED as GEO_EXPECTED
from hivebase.core.fields.geo import check_range, parse_point
from hivebase.core.fields.pointer import check_object_id
from hivebase.core.model import FieldDef, TableDef
from hivebase.core.query import ir, paths, regex
from hivebase.core.query.ir import And, ArrayHas, Cmp, Const, InList, Not, Or, Path, Pred, conj
from hivebase.errors import InvalidQuery, TypeMismatch, type_of

MAX_DEPTH = 16  # nesting of $and/$or/$nor and sub-queries
MAX_JSON_DEPTH = 64  # nesting of the JSON document itself (operand values included)
MAX_JSON_ITEMS = 20_000  # JSON values in one document, operands included
MAX_NODES = 1000  # conditions in one where, sub-queries included
MAX_LIST = 1000  # values of one $in/$nin/$all
MAX_REGEX = 1000
MAX_TEXT = 1_000_000  # characters of an encoded where
DEFAULT_NEAR_KM = 100.0
EARTH_KM = 6371.0
MILE_KM = 1.609344
DISTANCES = {"$maxDistanceInKilometers": 1.0, "$maxDistanceInMiles": MILE_KM,
             "$maxDistanceInRadians": EARTH_KM, "$maxDistance": EARTH_KM}
TOP_OPS = ("$or", "$and", "$nor", "$relatedTo")
REFUSED = {"$where": "`$where` (JavaScript conditions) is not supported",
           "$text": "`$text` (full-text search) is not supported; use $regex",
           "$containedBy": "`$containedBy` is not supported; use $nin on the values to exclude",
           "$geoWithin": "`$geoWithin` is not supported; use $within with $box, or $nearSphere"}
HANDLERS = {"$eq": "equal", "$ne": "equal", "$lt": "compare", "$lte": "compare", "$gt": "compare",
            "$gte": "compare", "$in": "in_list", "$nin": "in_list", "$exists": "exists", "$all": "all_of",
            "$regex": "regex", "$nearSphere": "near", "$within": "within", "$select": "select",
            "$dontSelect": "select", "$inQuery": "in_query", "$notInQuery": "in_query"}
COMPANIONS = {"$options": "$regex", **dict.fromkeys(DISTANCES, "$nearSphere")}  # operands of another operator
FIELD_OPS = (*HANDLERS, "$options", "$maxDistance…")
NOT_COMPARABLE = ("Relation", "Geo", "File", "Object", "Array")
NO_VALUE_TYPES = {"Object": "compare a key inside it (`{0}.key`) or use $exists",
                  "Geo": "use $nearSphere, $within or $exists", "File": "only $exists applies"}


def load_json(value: Any, what: str = "where") -> Any:
    """Decode a JSON text (str/bytes); other values are taken as already decoded. Shape limits are checked."""
    if isinstance(value, str | bytes | bytearray):
        if len(value) > MAX_TEXT:
            raise InvalidQuery(f"`{what}` is larger than {MAX_TEXT} characters", reason="too_large")
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise InvalidQuery(f"`{what}` is not valid JSON", reason="json") from exc
    check_shape(value, what)
    return value


def check_shape(doc: Any, what: str = "where") -> None:
    """Bound depth and size without recursion, before any parsing looks at the document."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_JSON_ITEMS:
            raise InvalidQuery(f"`{what}` holds more than {MAX_JSON_ITEMS} values", reason="too_large")
        if isinstance(value, dict | list | tuple):
            if depth > MAX_JSON_DEPTH:
                raise InvalidQuery(f"`{what}` nests more than {MAX_JSON_DEPTH} levels", reason="too_large")
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))


def parse_where(catalog: Catalog, table: TableDef, where: Any) -> Pred:
    """A Bmob where (decoded dict or JSON text; None/"" mean no filter) → a predicate on ``table``."""
    if where is None or (isinstance(where, str) and not where.strip()):
        return Const(True)
    return WhereParser(catalog).where(table, load_json(where), 1)


def nearest_order(pred: Pred) -> ir.Order | None:
    """Distance order for the first top-level (AND-ed) ``$nearSphere``: Bmob sorts those nearest first."""
    for p in pred.items if isinstance(pred, And) else (pred,):
        if isinstance(p, ir.GeoNear):
            return ir.Order(near=p)
    return None


def bad(name: str, op: str, text: str, **details: Any) -> InvalidQuery:
    """An InvalidQuery about field ``name`` (a resolved, hence bounded, name) and operator ``op``."""
    sep = " " if text.startswith("is ") else ": "
    if op:
        details["operator"] = op
    return InvalidQuery(f"`{name}`{sep}{text}", field=name or None, **details)


def refuse_operator(op: str, known: tuple[str, ...]) -> InvalidQuery:
    """An InvalidQuery naming an unknown or unsupported operator (``op`` truncated)."""
    msg = REFUSED.get(op) or f"unknown operator `{op[:40]}`; operators here are {', '.join(known)}"
    return InvalidQuery(msg, operator=op[:40])


def kind_of(f: FieldDef) -> str:
    return f"{'an' if f.type[0] in 'AEIOU' else 'a'} {f.type} field"


def json_scalar(table: TableDef, path: Path, value: Any) -> Any:
    """An operand for a value inside JSON: its Python type picks the comparison, so only scalars."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) and math.isfinite(value):
        return value
    raise TypeMismatch(table.name, path.dotted, "a string, number, boolean or null", type_of(value))


@dataclass(frozen=True, slots=True)
class Site:
    """Where a field's operators apply: the queried table, the path, every operator given on it, the depth."""

    table: TableDef
    path: Path
    ops: dict[str, Any]
    depth: int

    @property
    def name(self) -> str:
        return self.path.dotted

    @property
    def whole(self) -> str | None:
        """The field's type when the path is the whole field (not a value inside JSON)."""
        return None if self.path.json else self.path.field.type


class WhereParser:
    """One parse: carries the catalog and the condition budget shared by sub-queries."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.nodes = 0

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise InvalidQuery(f"where holds more than {MAX_NODES} conditions", reason="too_large")

    def where(self, table: TableDef, doc: Any, depth: int) -> Pred:
        if depth > MAX_DEPTH:
            raise InvalidQuery(f"where nests $and/$or/$nor and sub-queries more than {MAX_DEPTH} levels deep",
                               reason="too_large")
        if not isinstance(doc, dict):
            raise InvalidQuery(f"where must be a JSON object, received {type_of(doc)}")
        preds: list[Pred] = []
        for key, value in doc.items():
            self.count()
            if not isinstance(key, str) or not key:
                raise InvalidQuery("where keys must be non-empty field names")
            preds.append(self.top(table, key, value, depth) if key.startswith("$")
                         else self.field(table, key, value, depth))
        return conj(*preds)

    def top(self, table: TableDef, op: str, value: Any, depth: int) -> Pred:
        if op == "$relatedTo":
            return self.related_to(table, value)
        if op not in ("$or", "$and", "$nor"):
            raise refuse_operator(op, TOP_OPS)
        if not isinstance(value, list) or not value:
            raise InvalidQuery(f"`{op}` takes a non-empty array of where objects", operator=op)
        items = [self.where(table, item, depth + 1) for item in value]
        if op == "$and":
            return conj(*items)
        either = items[0] if len(items) == 1 else Or(tuple(items))
        return Not(either) if op == "$nor" else either

    def resolve(self, table: TableDef, key: str) -> Path:
        first = key.split(".", 1)[0]
        f = table.fields.get(first)
        if f is not None and f.type == "Pointer" and "." in key:
            raise bad(first, "", f'where keys do not follow Pointers; use {{"{first}":{{"$inQuery":'
                      f'{{"className":"{f.target}","where":{{…}}}}}}}}')
        return paths.resolve(self.catalog, table, key, follow_pointers=False)

    def field(self, table: TableDef, key: str, value: Any, depth: int) -> Pred:
        path = self.resolve(table, key)
        is_ops = isinstance(value, dict) and any(isinstance(k, str) and k.startswith("$") for k in value)
        s = Site(table, path, value if is_ops else {"$eq": value}, depth)
        if is_ops and not all(isinstance(k, str) and k.startswith("$") for k in value):
            raise bad(s.name, "", "an operator object cannot mix $operators and plain keys")
        for k, owner in COMPANIONS.items():
            if k in s.ops and owner not in s.ops:
                raise bad(s.name, k, f"{k} only goes with {owner}")
        preds: list[Pred] = []
        for op, operand in s.ops.items():
            self.count()
            if s.whole == "Relation":
                preds.append(self.relation_op(s, op, operand))
            elif op in HANDLERS:
                preds.append(getattr(self, HANDLERS[op])(s, op, operand))
            elif op not in COMPANIONS:
                raise refuse_operator(op, FIELD_OPS)
        return conj(*preds)

    # -- comparisons ----------------------------------------------------------------------------------------

    def value(self, s: Site, operand: Any) -> Any:
        """An operand converted to the stored form of its field (or checked as a JSON scalar)."""
        if s.path.json:
            return json_scalar(s.table, s.path, operand)
        return s.path.field.kind.query_value(operand, s.path.field, s.table.name)

    def no_value_compare(self, s: Site, op: str) -> None:
        hint = NO_VALUE_TYPES.get(s.whole or "")
        if hint:
            raise bad(s.name, op, f"is {kind_of(s.path.field)}: {op} does not apply; {hint.format(s.name)}")

    def equal(self, s: Site, op: str, operand: Any) -> Pred:
        """$eq/$ne (a bare value is $eq). On a whole Array a scalar means "contains", an array the set."""
        ne = op == "$ne"
        if operand is None:
            return Cmp(s.path, "ne" if ne else "eq", None)
        if s.whole == "Array":
            if isinstance(operand, list):
                has = ArrayHas(s.path, self.elements(s, op, operand), "exact")
                return Not(has) if ne else has
            return ArrayHas(s.path, self.elements(s, op, [operand]), "none" if ne else "any")
        self.no_value_compare(s, op)
        return Cmp(s.path, "ne" if ne else "eq", self.value(s, operand))

    def compare(self, s: Site, op: str, operand: Any) -> Pred:
        if s.whole and not s.path.field.kind.orderable:
            raise bad(s.name, op, f"is {kind_of(s.path.field)}: {op} does not apply")
        if operand is None:
            raise bad(s.name, op, f"{op} needs a value, not null")
        cmp_op: ir.CmpOp = op[1:]  # type: ignore[assignment]
        return Cmp(s.path, cmp_op, self.value(s, operand))

    def exists(self, s: Site, op: str, operand: Any) -> Pred:
        if not isinstance(operand, bool):
            raise bad(s.name, op, "$exists takes true or false")
        return Cmp(s.path, "ne" if operand else "eq", None)

    def values(self, s: Site, op: str, operand: Any) -> tuple[Any, ...]:
        if not isinstance(operand, list):
            raise bad(s.name, op, f"{op} takes an array, received {type_of(operand)}")
        if len(operand) > MAX_LIST:
            raise bad(s.name, op, f"{op} takes at most {MAX_LIST} values", reason="too_large")
        return tuple(operand)

    def elements(self, s: Site, op: str, operand: Any) -> tuple[Any, ...]:
        """Operands matched against the elements of an Array: JSON scalars."""
        for v in self.values(s, op, operand):
            if isinstance(v, bool | str) or (isinstance(v, int | float) and math.isfinite(v)):
                continue
            raise TypeMismatch(s.table.name, s.name, "array elements that are strings, numbers or booleans",
                               type_of(v))
        return tuple(operand)

    def in_list(self, s: Site, op: str, operand: Any) -> Pred:
        if s.whole == "Array":
            items = self.elements(s, op, operand)
            return ArrayHas(s.path, items, "any" if op == "$in" else "none") if items else Const(op == "$nin")
        raw = self.values(s, op, operand)
        self.no_value_compare(s, op)
        items = tuple(self.value(s, v) for v in raw if v is not None)
        with_null = None in raw
        if op == "$in":
            parts: list[Pred] = [InList(s.path, items)] if items else []
            parts += [Cmp(s.path, "eq", None)] if with_null else []
            return Const(False) if not parts else parts[0] if len(parts) == 1 else Or(tuple(parts))
        return conj(InList(s.path, items, negate=True) if items else Const(True),
                    Cmp(s.path, "ne", None) if with_null else Const(True))

    def all_of(self, s: Site, op: str, operand: Any) -> Pred:
        if s.whole not in (None, "Array"):
            raise bad(s.name, op, f"is {kind_of(s.path.field)}: $all applies to Array fields")
        items = self.elements(s, op, operand)
        return ArrayHas(s.path, items, "all") if items else Const(False)

    def regex(self, s: Site, op: str, pattern: Any) -> Pred:
        if s.whole not in (None, "String"):
            raise bad(s.name, op, f"is {kind_of(s.path.field)}: $regex applies to String fields")
        if not isinstance(pattern, str):
            raise bad(s.name, op, f"$regex takes a string, received {type_of(pattern)}")
        if len(pattern) > MAX_REGEX or "\x00" in pattern:
            raise bad(s.name, op, f"$regex patterns are limited to {MAX_REGEX} characters, without NUL")
        options = s.ops.get("$options", "")
        if not isinstance(options, str) or set(options) - {"i"}:
            raise bad(s.name, "$options", "$options supports only `i` (case-insensitive)")
        try:  # the syntax both databases read alike (docs/regex.md); the same answer on either
            regex.check(pattern, "i" in options)
        except regex.PatternError as exc:
            if exc.kind == "syntax":
                raise bad(s.name, op, f"$regex is not a valid regular expression ({exc})") from None
            raise bad(s.name, op, f"$regex: {exc}") from None
        return ir.Regex(s.path, pattern, case_insensitive="i" in options)

    # -- geo --------------------------------------------------------------------------------------------

    def point(self, s: Site, op: str, value: Any) -> tuple[float, float]:
        if s.whole != "Geo":
            raise bad(s.name, op, f"is not a Geo field: {op} applies to Geo fields")
        p = parse_point(value)
        if p is None:
            raise TypeMismatch(s.table.name, s.name, GEO_EXPECTED, type_of(value))
        check_range(p[0], p[1], s.name, s.table.name)
        return p

    def near(self, s: Site, op: str, operand: Any) -> Pred:
        lat, lng = self.point(s, op, operand)
        given = [k for k in DISTANCES if k in s.ops]
        if len(given) > 1:
            raise bad(s.name, given[1], f"give only one of {', '.join(given)}")
        km = DEFAULT_NEAR_KM
        if given:
            d = s.ops[given[0]]
            if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d) or d <= 0:
                raise bad(s.name, given[0], f"{given[0]} takes a positive number")
            km = float(d) * DISTANCES[given[0]]
        return ir.GeoNear(s.path, lat, lng, km)

    def within(self, s: Site, op: str, operand: Any) -> Pred:
        box = operand.get("$box") if isinstance(operand, dict) and list(operand) == ["$box"] else None
        if not isinstance(box, list) or len(box) != 2:
            raise bad(s.name, op, '$within takes {"$box":[<south-west GeoPoint>,<north-east GeoPoint>]}')
        (south, west), (north, east) = self.point(s, op, box[0]), self.point(s, op, box[1])
        if south > north:  # west > east is a box across the 180th meridian
            raise bad(s.name, op, "$box takes the south-west corner first, then the north-east one")
        return ir.GeoBox(s.path, south, west, north, east)

    # -- sub-queries and relations ----------------------------------------------------------------------

    def sub_table(self, name: Any, op: str) -> TableDef:
        if not isinstance(name, str) or not name:
            raise InvalidQuery(f"{op}: className must be a table name", operator=op)
        return self.catalog.get(name)

    def select(self, s: Site, op: str, operand: Any) -> Pred:
        q = operand.get("query") if isinstance(operand, dict) else None
        if (not isinstance(q, dict) or set(operand) - {"query", "key"} or set(q) - {"className", "where"}
                or not isinstance(operand.get("key"), str)):
            raise bad(s.name, op, f'{op} takes {{"query":{{"className":…,"where":{{…}}}},"key":"field"}}')
        sub = self.sub_table(q.get("className"), op)
        sub_where = self.where(sub, q.get("where") or {}, s.depth + 1)
        key = self.resolve(sub, operand["key"])
        if not comparable(s.table, s.path, sub, key):
            raise bad(s.name, op, f"is {kind_of(s.path.field)}: it cannot match `{sub.name}.{key.dotted}` "
                      f"({key.field.type})")
        return ir.InSubquery(s.path, ir.SubQuery(sub.name, sub_where, key), negate=op == "$dontSelect")

    def in_query(self, s: Site, op: str, operand: Any) -> Pred:
        if s.whole != "Pointer":
            raise bad(s.name, op, f"is {kind_of(s.path.field)}: {op} applies to Pointer and Relation fields")
        sub, sub_where = self.target_where(s, op, operand)
        return ir.InSubquery(s.path, ir.SubQuery(sub.name, sub_where, None), negate=op == "$notInQuery")

    def target_where(self, s: Site, op: str, operand: Any) -> tuple[TableDef, Pred]:
        f = s.path.field
        if not isinstance(operand, dict) or set(operand) - {"where", "className"}:
            raise bad(s.name, op, f'{op} takes {{"className":"{f.target}","where":{{…}}}}')
        cls = operand.get("className", f.target)
        if cls != f.target:
            raise bad(s.name, op, f"is a {f.type} to {f.target}, not to {str(cls)[:64]}")
        sub = self.sub_table(f.target, op)
        return sub, self.where(sub, operand.get("where") or {}, s.depth + 1)

    def relation_op(self, s: Site, op: str, operand: Any) -> Pred:
        """Relation membership: by Pointer(s), by sub-query, or any at all ($exists)."""
        f = s.path.field
        if op in ("$inQuery", "$notInQuery"):
            return ir.RelationHas(f, self.target_where(s, op, operand)[1], negate=op == "$notInQuery")
        if op == "$exists":
            self.exists(s, op, operand)  # checks the flag
            return ir.RelationHas(f, Const(True), negate=operand is False)
        if op not in ("$eq", "$ne", "$in", "$nin", "$all"):
            raise bad(s.name, op[:40], f"is a Relation field: {op[:40]} does not apply (use a Pointer, $ne, "
                      "$in, $nin, $all, $exists, $inQuery or $notInQuery)")
        ptr, oid = get_type("Pointer"), Path(self.sub_table(f.target, op).fields["objectId"])
        if op in ("$eq", "$ne"):
            one = Cmp(oid, "eq", ptr.query_value(operand, f, s.table.name))
            return ir.RelationHas(f, one, negate=op == "$ne")
        ids = tuple(ptr.query_value(v, f, s.table.name) for v in self.values(s, op, operand))
        if op == "$all":
            return conj(*(ir.RelationHas(f, Cmp(oid, "eq", i)) for i in ids)) if ids else Const(False)
        return ir.RelationHas(f, InList(oid, ids), negate=op == "$nin") if ids else Const(op == "$nin")

    def related_to(self, table: TableDef, operand: Any) -> Pred:
        obj = operand.get("object") if isinstance(operand, dict) else None
        if (not isinstance(obj, dict) or set(operand) - {"object", "key"} or obj.get("__type") != "Pointer"
                or not check_object_id(obj.get("objectId")) or not isinstance(operand.get("key"), str)):
            raise InvalidQuery('$relatedTo takes {"object":{"__type":"Pointer","className":…,"objectId":…},'
                               '"key":"relationField"}', operator="$relatedTo")
        owner = self.sub_table(obj.get("className"), "$relatedTo")
        f = paths.field_of(owner, operand["key"])
        if f.type != "Relation" or f.target != table.name:
            text = "is not a Relation" if f.type != "Relation" else f"relates to {f.target}, not {table.name}"
            raise bad(f"{owner.name}.{f.name}", "$relatedTo", f"{text} ($relatedTo)", table=owner.name)
        return ir.RelatedTo(owner.name, f, obj["objectId"])


def comparable(table: TableDef, path: Path, sub: TableDef, key: Path) -> bool:
    """Whether $select can match our values with theirs: one type, or objectIds of one table on both sides."""
    a, b = path.field, key.field
    if path.json or key.json or a.type in NOT_COMPARABLE or b.type in NOT_COMPARABLE:
        return False
    ids_a = a.target if a.type == "Pointer" else table.name if a.name == "objectId" else None
    ids_b = b.target if b.type == "Pointer" else sub.name if b.name == "objectId" else None
    if ids_a and ids_b:
        return ids_a == ids_b
    if ids_a or ids_b:  # objectIds against a String holding ids (createdBy…); a Pointer needs ids
        return a.type == b.type == "String"
    return a.type == b.type
