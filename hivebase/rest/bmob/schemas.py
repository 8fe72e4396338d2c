"""``/1/schemas[/<Table>]``: read, create, alter and drop tables (Bmob's and Parse's schema API).

Who may change what is the core's decision (the master key is root; the REST API key acts as the
``anonymous`` role, which may create tables and add fields while the app's ``clientSchemaChanges`` is
on). A ``PUT`` that adds and removes several fields is checked whole, by the core's own checks, before
the first change is made.
"""

from __future__ import annotations

from typing import Any

from hivebase.core import access, schema
from hivebase.core.model import TableDef
from hivebase.errors import InvalidName, InvalidSchema, InvalidValue, type_of
from hivebase.http import read_object
from hivebase.rest.bmob.context import Call

CREATE_KEYS = {"className", "fields", "note", "classNote"}
ALTER_KEYS = {"className", "fields"}


def shape(tdef: TableDef) -> dict[str, Any]:
    """A table as the schema API shows it: ``{className, fields: {name: {type, …}}, note, indexes}``."""
    return tdef.describe()


def _table(call: Call) -> str:
    return str(call.request.path_params["table"])


async def _body(call: Call, keys: set[str]) -> dict[str, Any]:
    data = await read_object(call.request)
    unknown = sorted(set(data) - keys)
    if unknown:
        raise InvalidValue(f"unknown key {str(unknown[0])[:40]!r}; the body takes {', '.join(sorted(keys))}",
                           reason="json")
    name = data.get("className")
    if name is not None and name != _table(call):
        raise InvalidName(f"className {str(name)[:64]!r} does not match the table in the path, "
                          f"{_table(call)[:64]!r}", reason="table_name", table=str(name)[:64])
    fields = data.get("fields", {})
    if not isinstance(fields, dict):
        raise InvalidSchema(f"`fields` must be an object of field name → definition, received {type_of(fields)}",
                            reason="spec")
    return data


async def list_all(call: Call) -> dict[str, Any]:
    """List every table with its fields ({results: [{className, fields}]}).

    Any credential of the app may read the schema, as Bmob's ``get_project_tables`` with the REST API key."""
    access.require_caller(call.app, call.principal)
    await call.app.catalog.refresh()
    return {"results": [shape(call.app.catalog.get(n)) for n in call.app.catalog.names()]}


async def get(call: Call) -> dict[str, Any]:
    """One table's schema: {className, fields: {name: {type, …}}, note, indexes}."""
    access.require_caller(call.app, call.principal)
    return shape(await call.app.catalog.table(_table(call)))


async def create(call: Call) -> dict[str, Any]:
    """Create a table from {className?, fields, note?} (fields as Bmob's create_table takes them)."""
    data = await _body(call, CREATE_KEYS)
    note = data.get("note", data.get("classNote", ""))
    tdef = await schema.create_table(call.app, call.principal, _table(call), data.get("fields") or {},
                                     note=note if note is not None else "")
    return shape(tdef)


def _is_delete(spec: Any) -> bool:
    if not isinstance(spec, dict) or "__op" not in spec:
        return False
    if spec != {"__op": "Delete"}:
        raise InvalidValue(f"a field change is a definition or {{\"__op\":\"Delete\"}}, received "
                           f"{str(spec.get('__op'))[:30]!r}", reason="op")
    return True


async def alter(call: Call) -> dict[str, Any]:
    """Add and remove fields in one checked call: {fields: {new: {type…}, old: {"__op": "Delete"}}}."""
    data = await _body(call, ALTER_KEYS)
    changes: dict[str, Any] = data.get("fields") or {}
    removed = [name for name, spec in changes.items() if _is_delete(spec)]
    added = {name: spec for name, spec in changes.items() if name not in removed}
    return shape(await schema.alter_fields(call.app, call.principal, _table(call), added, removed))


async def drop(call: Call) -> dict[str, Any]:
    """Drop a table (refused while other tables point to it)."""
    await schema.drop_table(call.app, call.principal, _table(call))
    return {"msg": "ok"}
