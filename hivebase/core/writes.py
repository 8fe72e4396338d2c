"""Turning a caller's ``data`` object into checked column values and write operations.

Everything here is validation: nothing touches the database, so a bad write fails before any statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hivebase.core.acl import check_acl
from hivebase.core.model import FieldDef, TableDef
from hivebase.errors import InvalidValue, ReadOnlyField, TypeMismatch, UnknownField, type_of

READ_ONLY = {"objectId", "createdAt", "updatedAt", "createdBy", "updatedBy"}
OPS = ("Increment", "Delete", "Add", "AddUnique", "Remove", "AddRelation", "RemoveRelation")
MAX_OBJECTS = 1000


@dataclass(slots=True)
class Pointer:
    table: str
    object_id: str
    field: str


@dataclass(slots=True)
class PathOp:
    """An operation on a field, or inside an Object/Array field when ``path`` is set."""

    field: FieldDef
    op: Literal["set", "Increment", "Delete", "Add", "AddUnique", "Remove"]
    value: Any = None
    path: tuple[str | int, ...] = ()


@dataclass(slots=True)
class RelationOp:
    field: FieldDef
    add: bool
    ids: list[str]


@dataclass(slots=True)
class Plan:
    """A validated write: plain column values, operations needing the current row, relation changes."""

    values: dict[str, Any] = field(default_factory=dict)
    increments: dict[str, int | float] = field(default_factory=dict)
    path_ops: list[PathOp] = field(default_factory=list)
    relations: list[RelationOp] = field(default_factory=list)
    pointers: list[Pointer] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # top-level fields the write names (for permissions)

    @property
    def needs_row(self) -> bool:
        return bool(self.path_ops)


def _field(tdef: TableDef, name: str) -> FieldDef:
    f = tdef.fields.get(name)
    if f is None:
        raise UnknownField(tdef.name, name[:64], tdef.field_names())
    return f


def _objects(f: FieldDef, tdef: TableDef, op: dict[str, Any]) -> list[Any]:
    objs = op.get("objects")
    if not isinstance(objs, list):
        raise TypeMismatch(tdef.name, f.name, f'"objects": an array for {op["__op"]}', type_of(objs))
    if len(objs) > MAX_OBJECTS:
        raise InvalidValue(f"`{f.name}`: at most {MAX_OBJECTS} objects per operation", field=f.name,
                           table=tdef.name, reason="too_long")
    return objs


def _value(f: FieldDef, tdef: TableDef, value: Any, plan: Plan) -> Any:
    if value is None:
        if f.required:
            raise InvalidValue(f"`{f.name}` is required and cannot be null", field=f.name, table=tdef.name,
                               reason="required")
        return None
    if f.name == "ACL":
        return check_acl(value)
    stored = f.kind.validate(value, f, tdef.name)
    if f.type == "Pointer":
        plan.pointers.append(Pointer(f.target or "", stored, f.name))
    return stored


def _relation(f: FieldDef, tdef: TableDef, op: dict[str, Any], plan: Plan) -> None:
    if f.type != "Relation":
        raise TypeMismatch(tdef.name, f.name, f"a {f.type} value", f"{op['__op']} operation",
                           f"{op['__op']} applies to Relation fields")
    ids = []
    pointer_field = FieldDef(f.name, "Pointer", target=f.target)
    for obj in _objects(f, tdef, op):
        oid = pointer_field.kind.validate(obj, pointer_field, tdef.name)
        ids.append(oid)
        plan.pointers.append(Pointer(f.target or "", oid, f.name))
    plan.relations.append(RelationOp(f, op["__op"] == "AddRelation", list(dict.fromkeys(ids))))


def _check_op(f: FieldDef, tdef: TableDef, name: str, op: dict[str, Any], path: tuple[str | int, ...]) -> PathOp:
    kind = op.get("__op")
    if kind not in OPS:
        raise InvalidValue(f"`{name}`: unknown operation {str(kind)[:30]!r}; operations are {', '.join(OPS)}",
                           field=f.name, table=tdef.name, reason="op")
    if kind == "Increment":
        amount = op.get("amount", 1)
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise TypeMismatch(tdef.name, f.name, "a number as Increment amount", type_of(amount))
        if not path and f.type != "Number":
            raise TypeMismatch(tdef.name, f.name, f"a {f.type} value", "Increment operation",
                               "Increment applies to Number fields")
        if f.auto_increment:
            raise ReadOnlyField(f"`{f.name}` is auto-incremented and cannot be written", field=f.name,
                                table=tdef.name)
        return PathOp(f, "Increment", amount, path)
    if kind == "Delete":
        if not path and f.required:
            raise InvalidValue(f"`{f.name}` is required and cannot be deleted", field=f.name, table=tdef.name,
                               reason="required")
        return PathOp(f, "Delete", None, path)
    if not path and f.type != "Array":
        raise TypeMismatch(tdef.name, f.name, f"a {f.type} value", f"{kind} operation",
                           f"{kind} applies to Array fields")
    objs = _objects(f, tdef, op)
    return PathOp(f, kind, objs, path)


def plan_write(tdef: TableDef, data: Any, *, creating: bool) -> Plan:
    """Check ``data`` against the table; raise on the first problem, naming the field."""
    if not isinstance(data, dict):
        raise TypeMismatch(tdef.name, "data", "an object of field → value", type_of(data))
    plan = Plan()
    touched = plan.touched
    for key, value in data.items():
        if not isinstance(key, str) or not key:
            raise InvalidValue("field names must be non-empty strings", table=tdef.name, reason="field_name")
        name, _, rest = key.partition(".")
        f = _field(tdef, name or key)  # ".x" or "..": name the whole key, not an empty field
        path: tuple[str | int, ...] = ()
        if rest:
            if creating or f.type not in ("Object", "Array"):
                raise InvalidValue(f"`{key[:64]}`: dotted paths update inside Object or Array fields of "
                                   "existing rows", field=name, table=tdef.name, reason="path")
            path = tuple(int(p) if p.isdigit() else p for p in rest.split("."))
            if any(p == "" for p in path) or len(path) > 16:
                raise InvalidValue(f"`{key[:64]}` is not a valid path", field=name, table=tdef.name, reason="path")
        if name in touched and (not rest or name in plan.values):
            raise InvalidValue(f"`{name}` is written twice in one request", field=name, table=tdef.name,
                               reason="duplicate")
        touched.add(name)
        if name in READ_ONLY or f.auto_increment:
            raise ReadOnlyField(f"`{name}` is set by the server and cannot be written", field=name, table=tdef.name)
        if isinstance(value, dict) and "__op" in value:
            if value.get("__op") in ("AddRelation", "RemoveRelation"):
                if rest:
                    raise InvalidValue(f"`{key[:64]}`: relations have no paths", field=name, reason="path")
                _relation(f, tdef, value, plan)
                continue
            if f.type == "Relation":
                raise TypeMismatch(tdef.name, f.name, 'AddRelation or RemoveRelation', str(value.get("__op"))[:30])
            op = _check_op(f, tdef, key, value, path)
            if creating:  # on create an operation means its result on an empty value
                initial = {"Increment": op.value, "Add": op.value, "Remove": []}.get(op.op)
                if op.op == "AddUnique":
                    initial = _unique(op.value)
                plan.values[name] = _value(f, tdef, initial, plan)
            elif op.op == "Increment" and not path:
                plan.increments[name] = op.value
            elif op.op == "Delete" and not path:
                plan.values[name] = None
            else:
                plan.path_ops.append(op)
            continue
        if f.type == "Relation":
            raise TypeMismatch(tdef.name, f.name, 'a relation operation ({"__op":"AddRelation","objects":[…]})',
                               type_of(value))
        if path:
            plan.path_ops.append(PathOp(f, "set", value, path))
        else:
            plan.values[name] = _value(f, tdef, value, plan)
    return plan


def _unique(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def apply_path_ops(tdef: TableDef, row: dict[str, Any], ops: list[PathOp], plan: Plan) -> None:
    """Apply operations that need the current value (array ops, dotted paths) into ``plan.values``."""
    for op in ops:
        f = op.field
        current = plan.values.get(f.name, row.get(f.name))
        if not op.path:
            plan.values[f.name] = _value(f, tdef, _array_op(f, tdef, current, op), plan)
            continue
        root = _copy_json(current) if current is not None else ({} if f.type == "Object" else [])
        parent, last = _walk(root, op.path, f, tdef)
        old = _get(parent, last)
        if op.op == "set":
            new = op.value
        elif op.op == "Delete":
            new = _MISSING
        elif op.op == "Increment":
            if old is not None and (isinstance(old, bool) or not isinstance(old, int | float)):
                raise TypeMismatch(tdef.name, f.name, "a number to increment", type_of(old))
            new = (old or 0) + op.value
        else:
            new = _array_op(f, tdef, old, op)
        _put(parent, last, new, f, tdef)
        plan.values[f.name] = _value(f, tdef, root, plan)


_MISSING = object()


def _array_op(f: FieldDef, tdef: TableDef, current: Any, op: PathOp) -> list[Any]:
    if current is not None and not isinstance(current, list):
        raise TypeMismatch(tdef.name, f.name, f"an array for {op.op}", type_of(current))
    arr = list(current or [])
    if op.op == "Add":
        return arr + list(op.value)
    if op.op == "AddUnique":
        return arr + [v for v in _unique(op.value) if v not in arr]
    return [v for v in arr if v not in op.value]


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


def _walk(root: Any, path: tuple[str | int, ...], f: FieldDef, tdef: TableDef) -> tuple[Any, str | int]:
    node = root
    for step in path[:-1]:
        nxt = _get(node, step)
        if nxt is None or nxt is _MISSING:
            nxt = {}
            _put(node, step, nxt, f, tdef)
        if not isinstance(nxt, dict | list):
            raise InvalidValue(f"`{f.name}.{'.'.join(map(str, path))}`: `{step}` is not an object or array",
                               field=f.name, table=tdef.name, reason="path")
        node = nxt
    return node, path[-1]


def _get(node: Any, key: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(str(key))
    if isinstance(node, list) and isinstance(key, int):
        return node[key] if key < len(node) else None
    return None


def _put(node: Any, key: str | int, value: Any, f: FieldDef, tdef: TableDef) -> None:
    if isinstance(node, dict):
        if value is _MISSING:
            node.pop(str(key), None)
        else:
            node[str(key)] = value
        return
    if isinstance(node, list) and isinstance(key, int) and key <= len(node):
        if value is _MISSING:
            if key < len(node):
                node[key] = None
        elif key == len(node):
            node.append(value)
        else:
            node[key] = value
        return
    raise InvalidValue(f"`{f.name}`: index {key} is outside the array", field=f.name, table=tdef.name,
                       reason="path")
