"""NocoBase's collections and fields (``@nocobase/plugin-data-source-main``) on hivebase's schema.

NocoBase field definitions become the Bmob-shaped specs ``schema`` takes; tables are described back NocoBase's
way. Every change is one ``schema`` call (permissions, one transaction): a new collection is created with all
its fields or not at all. Answers are NocoBase bodies (``{"data": …}``).

Choices worth knowing:
- integer/bigInt/float/double/decimal are all Number (a double; integer-ness is not enforced); ``time`` (a time
  of day) is a String; ``dateOnly`` and ``unixTimestamp`` are Dates (full timestamps, written as dates).
- hasMany/hasOne (o2m/oho) are refused: a one-to-many is a belongsTo (Pointer) on the other collection, and
  ``<collection>.<other>`` then works as an association resource. ``password`` is refused: passwords belong to
  users, never to a field.
- ``users`` as a name or target means ``_User`` unless the app has a table called ``users``.
- Storage details NocoBase lets callers pick (foreignKey, targetKey, through, onDelete, length…) are accepted
  and ignored; ``id``/``createdAt``/``updatedAt``/``createdBy``/``updatedBy`` among a new collection's fields are
  skipped (every table has them; rows are keyed by ``objectId``) and reported in ``meta.skipped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hivebase.core import access, schema, schema_view
from hivebase.core.apps import App
from hivebase.core.model import USER_TABLE, FieldDef, TableDef
from hivebase.core.names import check_table_name
from hivebase.core.principal import Principal
from hivebase.errors import InvalidSchema, InvalidValue, NotFound, TypeMismatch, suggest, type_of

MAX_NAME = 64

TYPES: dict[str, str] = {
    **dict.fromkeys(("string", "text", "uid", "uuid", "nanoid", "email", "phone", "url", "time"), "String"),
    **dict.fromkeys(("integer", "bigInt", "float", "double", "decimal", "real", "number", "sort"), "Number"),
    "boolean": "Bool",
    **dict.fromkeys(("date", "datetime", "dateOnly", "datetimeTz", "datetimeNoTz", "unixTimestamp"), "Date"),
    "json": "Object", "jsonb": "Object", "array": "Array", "set": "Array", "point": "Geo", "file": "File",
    "belongsTo": "Pointer", "belongsToMany": "Relation",
    # hivebase's own type names, so a described field can be sent back as it is
    **{t: t for t in ("String", "Number", "Bool", "Date", "File", "Geo", "Array", "Object", "Pointer", "Relation")},
}
INTERFACES: dict[str, str] = {
    **dict.fromkeys(("input", "textarea", "email", "phone", "url", "color", "icon", "select", "radioGroup",
                     "markdown", "richText", "vditor", "uuid", "nanoid", "time", "attachmentURL"), "String"),
    **dict.fromkeys(("integer", "number", "percent", "sort"), "Number"),
    "checkbox": "Bool",
    **dict.fromkeys(("datetime", "datetimeNoTz", "dateOnly", "date", "unixTimestamp"), "Date"),
    "json": "Object", "multipleSelect": "Array", "checkboxGroup": "Array", "point": "Geo", "attachment": "File",
    "m2o": "Pointer", "obo": "Pointer", "m2m": "Relation",
}
TO_MANY = {"hasMany", "hasOne", "o2m", "oho"}
#: ours → (NocoBase type, interface) when described
DESCRIBED: dict[str, tuple[str, str | None]] = {
    "String": ("string", "input"), "Number": ("double", "number"), "Bool": ("boolean", "checkbox"),
    "Date": ("date", "datetime"), "Object": ("json", "json"), "Array": ("array", None), "Geo": ("point", "point"),
    "File": ("file", "attachment"), "Pointer": ("belongsTo", "m2o"), "Relation": ("belongsToMany", "m2m"),
}
FIELD_KEYS = ("name", "type", "interface", "title", "description", "uiSchema", "unique", "allowNull",
              "defaultValue", "autoIncrement", "autoIncrementStart", "target", "primaryKey")
FIELD_IGNORED = ("key", "collectionName", "foreignKey", "targetKey", "sourceKey", "otherKey", "through", "onDelete",
                 "targetTitleField", "titleField", "hidden", "index", "length", "precision", "scale", "enum")
COLLECTION_KEYS = ("name", "title", "description", "fields")
COLLECTION_IGNORED = ("key", "autoGenId", "timestamps", "createdAt", "updatedAt", "createdBy", "updatedBy",
                      "sortable", "logging", "hidden", "filterTargetKey", "category", "template")
BUILT_IN = {"id": "built in: rows are keyed by objectId", "createdAt": "built in", "updatedAt": "built in",
            "createdBy": "built in (objectId of the creating user)", "updatedBy": "built in"}


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_NAME else text[:MAX_NAME - 3] + "..."


def _unknown_key(where: str, key: str, used: tuple[str, ...], ignored: tuple[str, ...], table: str | None,
                 field: str | None) -> InvalidSchema:
    hint = suggest(key[:MAX_NAME], [*used, *ignored])
    msg = f"{where}: unknown key `{_shown(key)}`" + (f" (did you mean `{hint}`?)" if hint else "")
    return InvalidSchema(f"{msg}; keys are {', '.join(used)} (accepted and ignored: {', '.join(ignored)})",
                         table=table, field=field, reason="option", suggestion=hint)


def _text(value: Any, what: str, table: str | None, field: str | None = None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidSchema(f"{what} must be a string, not {type_of(value)}", table=table, field=field,
                            reason="option")
    return value


def _flag(spec: Mapping[str, Any], key: str, where: str, table: str | None, field: str) -> bool | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidSchema(f"{where}: `{key}` must be true or false, not {type_of(value)}", table=table,
                            field=field, reason="option")
    return value


def _note(spec: Mapping[str, Any], where: str, table: str | None, field: str | None = None) -> str:
    """``title`` (or ``uiSchema.title``) and ``description`` → one note."""
    ui = spec.get("uiSchema")
    if ui is not None and not isinstance(ui, dict):
        raise InvalidSchema(f"{where}: `uiSchema` must be an object, not {type_of(ui)}", table=table, field=field,
                            reason="option")
    title = _text(spec.get("title"), f"{where}: `title`", table, field) or \
        _text((ui or {}).get("title"), f"{where}: `uiSchema.title`", table, field)
    description = _text(spec.get("description"), f"{where}: `description`", table, field)
    return " — ".join(t for t in (title, description) if t)


def table_name(app: App, name: Any) -> str:
    """A collection name as callers give it → the table's name (``users`` → ``_User`` unless ``users`` exists)."""
    if name == "users" and app.catalog.lookup("users") is None:
        return USER_TABLE
    return name if isinstance(name, str) else _shown(name)


def _lookup(name: Any, known: Mapping[str, str], key: str, field: str, table: str) -> str:
    if not isinstance(name, str):
        raise InvalidSchema(f"`{field}`: `{key}` must be a string, not {type_of(name)}", table=table, field=field,
                            reason="unknown_type")
    if name in known:
        return known[name]
    if name == "password":
        raise InvalidSchema(f"`{field}`: password fields are refused: users' passwords are kept by the user "
                            "account (_User), never in a field", table=table, field=field, reason="unknown_type")
    listed = sorted((k for k in known if not k[0].isupper()), key=str.lower)
    hint = suggest(name[:MAX_NAME], listed) or suggest(name[:MAX_NAME], list(known))
    raise InvalidSchema(f"`{field}`: unknown {key} `{_shown(name)}`" + (f" (did you mean `{hint}`?)" if hint else "")
                        + f"; {key}s are {', '.join(listed)}", table=table, field=field, reason="unknown_type",
                        suggestion=hint)


def _to_many(spec: Mapping[str, Any], kind: object, field: str, table: str) -> InvalidSchema:
    """hasMany/hasOne: say exactly which belongsTo to declare instead."""
    target = spec.get("target") if isinstance(spec.get("target"), str) else "<other collection>"
    key = spec.get("foreignKey")
    if not isinstance(key, str) or not key:
        key = table[:1].lower() + table[1:]
        key = key[:-1] if key.endswith("s") and len(key) > 1 else key
    example = f'{{"name":"{_shown(key)}","type":"belongsTo","target":"{table}"}}'
    return InvalidSchema(f"`{field}`: {kind} is not stored on {table}: a one-to-many is a belongsTo on the other "
                         f"collection. Add to {_shown(target)} the field {example}; then the association "
                         f"`{table}.{_shown(target)}` lists the related rows", table=table, field=field,
                         reason="unknown_type")


def _our_type(spec: Mapping[str, Any], field: str, table: str) -> str:
    raw, iface = spec.get("type"), spec.get("interface")
    if raw is None and iface is None:
        raise InvalidSchema(f"`{field}`: `type` (or `interface`) is required, e.g. string, integer, boolean, date, "
                            "json, belongsTo", table=table, field=field, reason="unknown_type")
    if raw in TO_MANY or iface in TO_MANY:
        raise _to_many(spec, raw or iface, field, table)
    ours = _lookup(raw, TYPES, "type", field, table) if raw is not None else None
    by_interface = _lookup(iface, INTERFACES, "interface", field, table) if iface is not None else None
    if ours and by_interface and ours != by_interface:
        raise InvalidSchema(f"`{field}`: type `{_shown(raw)}` does not match interface `{_shown(iface)}`",
                            table=table, field=field, reason="unknown_type")
    return ours or by_interface or ""


def field_spec(app: App, table: str, definition: Any, creating: bool = False) -> tuple[str, dict[str, Any]]:
    """One NocoBase field definition → (name, the spec ``schema.parse_field`` takes)."""
    if not isinstance(definition, dict):
        raise InvalidSchema(f"{table}: a field definition is an object such as {{\"name\":\"title\",\"type\":"
                            f"\"string\"}}, not {type_of(definition)}", table=table, reason="spec")
    name = definition.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidSchema(f"{table}: every field definition needs a `name` (a string)", table=table,
                            reason="field_name")
    where, shown = f"`{_shown(name)}`", _shown(name)
    for key in definition:
        if key not in FIELD_KEYS and key not in FIELD_IGNORED:
            raise _unknown_key(where, str(key), FIELD_KEYS, FIELD_IGNORED, table, shown)
    ours = _our_type(definition, shown, table)
    spec: dict[str, Any] = {"type": ours, "note": _note(definition, where, table, shown)}
    for key, ours_key in (("unique", "unique"), ("autoIncrement", "isAutoIncre")):
        if _flag(definition, key, where, table, shown):
            spec[ours_key] = True
    if _flag(definition, "allowNull", where, table, shown) is False or \
            (isinstance(definition.get("uiSchema"), dict) and definition["uiSchema"].get("required") is True):
        spec["required"] = True
    if _flag(definition, "primaryKey", where, table, shown):
        raise InvalidSchema(f"{where}: rows are keyed by the built-in `objectId`; declare this field with "
                            "`unique` instead of `primaryKey`", table=table, field=shown, reason="option")
    if definition.get("defaultValue") is not None:
        spec["default"] = definition["defaultValue"]
    start = definition.get("autoIncrementStart")
    if start is not None:
        if isinstance(start, bool) or not isinstance(start, int):
            raise InvalidSchema(f"{where}: `autoIncrementStart` must be an integer, not {type_of(start)}",
                                table=table, field=shown, reason="auto_increment")
        spec["autoIncreInit"] = start
    target = definition.get("target")
    if ours in ("Pointer", "Relation"):
        if not isinstance(target, str) or not target:
            raise InvalidSchema(f"{where}: a {definition.get('type') or definition.get('interface')} field needs "
                                "`target`, the collection it points to", table=table, field=shown,
                                reason="target_missing")
        spec["targetClass"] = target = table_name(app, target)
        if not (creating and target == table) and app.catalog.lookup(target) is None:
            err = app.catalog.not_found(target)
            raise InvalidSchema(f"{where}: target collection {err.message.removeprefix('table ')}", table=table,
                                field=shown, reason="target_unknown", suggestion=err.details.get("suggestion"))
    elif target is not None:
        raise InvalidSchema(f"{where}: `target` is only for belongsTo and belongsToMany fields", table=table,
                            field=shown, reason="target")
    return name, spec


def describe_field(f: FieldDef) -> dict[str, Any]:
    """A field NocoBase's way: ``{name, type, interface?, title?, target?, unique?, allowNull?, …}``."""
    kind, interface = DESCRIBED.get(f.type, (f.type, None))
    if f.auto_increment:
        kind, interface = "bigInt", "integer"
    shown = {"name": f.name, "type": kind, "interface": interface, "title": f.note or None, "target": f.target,
             "unique": f.unique or None, "allowNull": False if f.required else None, "defaultValue": f.default,
             "autoIncrement": f.auto_increment or None,
             "autoIncrementStart": f.auto_increment_start if f.auto_increment else None}
    return {k: v for k, v in shown.items() if v is not None}


def describe(tdef: TableDef, visible: frozenset[str] | None = None) -> dict[str, Any]:
    return {"name": tdef.name, "title": tdef.note,
            "fields": [describe_field(f) for f in tdef.user_fields() if visible is None or f.name in visible]}


async def _readable(app: App, principal: Principal, name: Any) -> tuple[TableDef, frozenset[str] | None]:
    """A table the caller may read; one it may not is missing, and suggestions name only readable tables."""
    readable = await schema_view.readable_tables(app, principal)
    wanted = table_name(app, name)
    found = next(((t, v) for t, v in readable if t.name == wanted), None)
    if found is None:
        hint = suggest(wanted, [t.name for t, _ in readable]) if isinstance(name, str) else None
        raise NotFound(f"collection `{_shown(wanted)}` does not exist" + (f"; did you mean `{hint}`?" if hint else ""),
                       reason="table", table=_shown(wanted), suggestion=hint)
    return found


async def list_collections(app: App, principal: Principal) -> dict[str, Any]:
    """Every table the caller may read, with the fields it may see."""
    return {"data": [describe(t, v) for t, v in await schema_view.readable_tables(app, principal)]}


async def get_collection(app: App, principal: Principal, name: Any) -> dict[str, Any]:
    return {"data": describe(*await _readable(app, principal, name))}


async def list_fields(app: App, principal: Principal, collection: Any) -> dict[str, Any]:
    return {"data": describe(*await _readable(app, principal, collection))["fields"]}


async def create_collection(app: App, principal: Principal, name: Any, title: Any = None, fields: Any = None,
                            options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One table with all its fields, or nothing. ``options``: NocoBase's other collection keys (see module)."""
    access.require_caller(app, principal)
    await app.catalog.refresh(force=True)
    access.require(app, principal, "createTable", None)  # before any look at the definition
    if not isinstance(name, str):
        raise InvalidSchema(f"`name` (the collection's name) must be a string, not {type_of(name)}", reason="spec")
    check_table_name(name)
    options = dict(options or {})
    for key in options:
        if key not in COLLECTION_IGNORED and key not in COLLECTION_KEYS:
            raise _unknown_key(f"collection `{name}`", str(key), COLLECTION_KEYS, COLLECTION_IGNORED, name, None)
    if options.get("template") not in (None, "general"):
        raise InvalidSchema(f"template `{_shown(options['template'])}` is not supported; collections here are "
                            "`general` ones", table=name, reason="option")
    note = _note({"title": title, "description": options.get("description")}, f"collection `{name}`", name)
    fields = [] if fields is None else fields
    if not isinstance(fields, list):
        raise InvalidSchema(f"`fields` must be a list of field definitions, not {type_of(fields)}", table=name,
                            reason="spec")
    if len(fields) > schema.MAX_FIELDS + len(BUILT_IN):
        raise InvalidSchema(f"a table has at most {schema.MAX_FIELDS} fields", table=name, reason="too_many_fields")
    specs: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for definition in fields:
        fname = definition.get("name") if isinstance(definition, dict) else None
        if isinstance(fname, str) and fname in BUILT_IN:
            skipped[fname] = BUILT_IN[fname]
            continue
        fname, spec = field_spec(app, name, definition, creating=True)
        if fname in specs:
            raise InvalidSchema(f"field `{fname}` is declared twice", table=name, field=fname, reason="field_exists")
        specs[fname] = spec
    tdef = await schema.create_table(app, principal, name, specs, note=note)
    answer: dict[str, Any] = {"data": describe(tdef)}
    if skipped:
        answer["meta"] = {"skipped": skipped}
    return answer


async def destroy_collection(app: App, principal: Principal, name: Any, cascade: Any = False) -> dict[str, Any]:
    """Drop a table; with ``cascade`` also the belongsTo/belongsToMany fields of other tables pointing to it."""
    if not isinstance(cascade, bool):
        raise TypeMismatch(None, "cascade", "true or false", type_of(cascade))
    access.require_caller(app, principal)
    await app.catalog.refresh(force=True)
    table = table_name(app, name)
    removed = await schema.drop_table(app, principal, table, cascade=cascade)
    return {"data": {"name": table, "removedFields": removed}}


async def create_field(app: App, principal: Principal, collection: Any, definition: Any) -> dict[str, Any]:
    access.require_caller(app, principal)
    await app.catalog.refresh(force=True)
    table = table_name(app, collection)
    tdef = await app.catalog.table(table) if len(table) <= MAX_NAME else app.catalog.get(table)
    access.require(app, principal, "addField", tdef.name)  # before any look at the definition
    name, spec = field_spec(app, tdef.name, definition)
    return {"data": describe_field(await schema.add_field(app, principal, tdef.name, name, spec))}


async def destroy_field(app: App, principal: Principal, collection: Any, name: Any) -> dict[str, Any]:
    if not isinstance(name, str):
        raise InvalidValue(f"`filterByTk` (the field's name) must be a string, not {type_of(name)}",
                           field="filterByTk")
    access.require_caller(app, principal)
    await app.catalog.refresh(force=True)
    table = table_name(app, collection)
    await schema.remove_field(app, principal, table, name)
    return {"data": {"collectionName": table, "name": name}}
