"""What a NocoBase resource call names: its arguments, the table it acts on, the rows it targets, and for
association resources (``Post.tags`` with ``sourceId``) the condition that keeps it to the rows associated
with one source row.

Kinds of association, looked up in this order on ``<source>.<assoc>``:
- ``relation``: ``assoc`` is a Relation field of the source; the rows in its join table for the source row.
- ``pointer``: ``assoc`` is a Pointer field of the source (belongs-to); the one row it points to (0 or 1).
- ``roles``: ``_User.roles`` (``users.roles``), a virtual association: the roles a user holds.
- ``has_many``: ``assoc`` is a table with exactly one Pointer to the source; its rows pointing at the row.
The source row must exist and be visible to the caller under its ``get`` scope, else NotFound with the
message of a missing row. ``users`` names ``_User`` when the app has no table called ``users``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core import records
from hivebase.core.access import current_user
from hivebase.core.apps import App
from hivebase.core.model import USER_TABLE, FieldDef, TableDef
from hivebase.core.principal import Principal
from hivebase.core.query.filter import parse_filter
from hivebase.core.query.ir import Cmp, Const, InSubquery, Path, Pred, RelatedTo, Select, SubQuery, conj
from hivebase.core.query.nocobase_params import by_key, names, object_key, parse_target
from hivebase.core.query.paths import field_of
from hivebase.core.reads import compiler_for
from hivebase.core.roles import held
from hivebase.errors import InvalidQuery, InvalidValue, NotFound, PermissionDenied, TypeMismatch, suggest, type_of

Kind = Literal["plain", "relation", "pointer", "has_many", "roles"]
MAIN_SOURCE = "main"
MAX_NAME = 64


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_NAME else text[:MAX_NAME - 3] + "..."


@dataclass(frozen=True, slots=True)
class Resource:
    """What a call acts on. ``field`` is the source's Relation/Pointer field, or for ``has_many`` the Pointer
    of ``table`` that points to the source."""

    name: str
    table: TableDef
    kind: Kind = "plain"
    source: TableDef | None = None
    source_id: str | None = None
    field: FieldDef | None = None

    @property
    def is_association(self) -> bool:
        return self.kind != "plain"

    def condition(self) -> Pred:
        """Rows of ``table`` associated with the source row (an IR condition compiled into the statement)."""
        if self.source is None or self.field is None or self.source_id is None:
            return Const(True)
        if self.kind == "relation":
            return RelatedTo(self.source.name, self.field, self.source_id)
        if self.kind == "pointer":
            pointed = SubQuery(self.source.name, Cmp(Path(self.source.fields["objectId"]), "eq", self.source_id),
                               key=Path(self.field))
            return InSubquery(Path(self.table.fields["objectId"]), pointed)
        return Cmp(Path(self.field), "eq", self.source_id)  # has_many


def check_data_source(value: Any) -> None:
    """Only the main database is attached (external data sources are not wired in yet)."""
    if value is None or value == MAIN_SOURCE:
        return
    raise InvalidValue(f"data source `{_shown(value)}` is not attached; only `main` exists", reason="data_source",
                       field="dataSource")


async def table_for(app: App, name: str) -> TableDef:
    """A collection name → its table (``users`` → ``_User`` unless a table has that name)."""
    if name == "users":
        await app.catalog.refresh()
        if app.catalog.lookup("users") is None:
            name = USER_TABLE
    if len(name) > MAX_NAME:
        raise app.catalog.not_found(name)
    return await app.catalog.table(name)


async def resolve(app: App, args: Mapping[str, Any], *, association: bool = True) -> Resource:
    """``resource`` (+ ``sourceId``) of a call → the Resource it acts on."""
    check_data_source(args.get("dataSource"))
    name = args.get("resource")
    if not isinstance(name, str) or not name.strip():
        raise InvalidQuery("`resource` is required: a collection name such as `Post`, or an association "
                           "such as `Post.tags` (with `sourceId`)", field="resource")
    parts = name.split(".")
    if len(parts) > 2 or any(not p for p in parts):
        raise InvalidQuery(f"`resource` {_shown(name)!r} is not `<collection>` or `<collection>.<association>`",
                           field="resource")
    if len(parts) == 1:
        if args.get("sourceId") is not None:
            raise InvalidQuery("`sourceId` applies only to association resources such as `Post.tags`",
                               field="sourceId")
        return Resource(name, await table_for(app, name))
    if not association:
        raise InvalidQuery(f"resource_query works on one collection, not the association `{_shown(name)}`; "
                           f"query `{_shown(parts[1])}` with a filter instead", field="resource")
    source = await table_for(app, parts[0])
    return await _association(app, name, source, parts[1], _source_id(args.get("sourceId"), name))


def _source_id(value: Any, name: str) -> str:
    if value is None or value == "":
        raise InvalidQuery(f"`sourceId` is required for the association resource `{_shown(name)}`: the "
                           f"objectId of the `{_shown(name.split('.')[0])}` row", field="sourceId")
    return object_key(value, "sourceId")


async def _association(app: App, name: str, source: TableDef, assoc: str, source_id: str) -> Resource:
    f = source.fields.get(assoc)
    if f is not None:
        if f.type not in ("Relation", "Pointer"):
            raise InvalidQuery(f"`{assoc}` of {source.name} is a {f.type} field, not an association; "
                               f"{_known(app, source)}", field=assoc, reason="association")
        related = app.catalog.get(f.target or "")
        return Resource(name, related, "relation" if f.type == "Relation" else "pointer", source, source_id, f)
    if source.name == USER_TABLE and assoc == "roles":
        return Resource(name, source, "roles", source, source_id)
    target = None
    if len(assoc) <= MAX_NAME:
        await app.catalog.refresh()
        target = app.catalog.lookup(USER_TABLE if assoc == "users" and app.catalog.lookup("users") is None
                                    else assoc)
    if target is None:
        raise InvalidQuery(f"`{_shown(assoc)}` is neither an association field of {source.name} nor a table "
                           f"pointing to it; {_known(app, source)}", field=_shown(assoc), reason="association")
    pointers = [p for p in target.user_fields() if p.type == "Pointer" and p.target == source.name]
    if len(pointers) != 1:
        which = "no Pointer" if not pointers else \
            f"several Pointers ({', '.join(f'`{p.name}`' for p in pointers)})"
        raise InvalidQuery(f"{target.name} has {which} to {source.name}, so `{_shown(name)}` is ambiguous; use "
                           f"resource `{target.name}` with filter {{\"<pointer field>\": \"<{source.name} "
                           "objectId>\"}} instead", field=_shown(assoc), reason="association")
    return Resource(name, target, "has_many", source, source_id, pointers[0])


def _known(app: App, source: TableDef) -> str:
    """The associations an agent may name on ``source``, for error messages."""
    items = [f"`{source.name}.{f.name}` ({f.type})" for f in source.user_fields() if f.type in ("Relation", "Pointer")]
    for t in app.catalog.tables.values():
        if sum(1 for f in t.user_fields() if f.type == "Pointer" and f.target == source.name) == 1:
            items.append(f"`{source.name}.{t.name}` (has-many)")
    if source.name == USER_TABLE:
        items.append("`users.roles`")
    return "associations are " + ", ".join(items[:20]) if items else f"{source.name} has no associations"


# -- arguments of resource calls ----------------------------------------------------------------------------

_COMMON = ("dataSource", "resource")
_READ = ("fields", "appends", "except")
ARGS: dict[str, frozenset[str]] = {
    "resource_list": frozenset((*_COMMON, *_READ, "sourceId", "filter", "sort", "page", "pageSize", "paginate")),
    "resource_get": frozenset((*_COMMON, *_READ, "sourceId", "filterByTk", "filter")),
    "resource_create": frozenset((*_COMMON, "sourceId", "values", "whitelist", "blacklist")),
    "resource_update": frozenset((*_COMMON, "sourceId", "filterByTk", "filter", "values", "whitelist", "blacklist",
                                  "updateAssociationValues", "forceUpdate")),
    "resource_destroy": frozenset((*_COMMON, "sourceId", "filterByTk", "filter")),
    "resource_query": frozenset((*_COMMON, "measures", "dimensions", "orders", "filter", "having", "limit",
                                 "offset", "timezone")),
}


def arguments(args: Any, tool: str) -> Mapping[str, Any]:
    """The arguments object, with no argument the tool does not take (a typo never silently widens a call)."""
    if not isinstance(args, Mapping):
        raise TypeMismatch(None, "arguments", f"an object of {tool} arguments", type_of(args))
    allowed = ARGS[tool]
    for key in args:
        if key not in allowed:
            shown = str(key)[:64]
            hint = suggest(shown, sorted(allowed))
            more = f"did you mean `{hint}`?" if hint else f"arguments are {', '.join(sorted(allowed))}"
            raise InvalidQuery(f"`{shown}` is not an argument of {tool}; {more}", field=shown)
    return args


def no_query_args(args: Mapping[str, Any]) -> None:
    """``users.roles`` answers with every role the user holds: query arguments would be silently ignored."""
    for key in ("filter", "sort", "fields", "appends", "except"):
        if args.get(key) not in (None, "", [], {}):
            raise InvalidQuery(f"`users.roles` lists the roles a user holds and takes no `{key}`", field=key)


def write_values(args: Mapping[str, Any], tdef: TableDef, *, updating: bool) -> dict[str, Any]:
    """``values`` (required object), within ``whitelist`` and outside ``blacklist`` (refused, never dropped)."""
    values = args.get("values")
    if not isinstance(values, dict):
        raise TypeMismatch(None, "values", "an object of field → value, e.g. {\"title\": \"Hello\"}",
                           type_of(values))
    if updating and not values:
        raise InvalidValue("`values` is empty: name at least one field to update", field="values")
    white = _field_names(args, "whitelist", tdef)
    black = _field_names(args, "blacklist", tdef) or []
    for key in values:
        if not isinstance(key, str) or not key:
            raise InvalidValue("field names in `values` must be non-empty strings", field="values")
        name = _field_name(tdef, key.split(".")[0])
        if white is not None and name not in white:
            raise InvalidValue(f"`{name}` is not in `whitelist` ({', '.join(white) or 'empty'}): this write may "
                               "only set the fields it lists", field=name, table=tdef.name, reason="whitelist")
        if name in black:
            raise InvalidValue(f"`{name}` is in `blacklist`: this write may not set it", field=name,
                               table=tdef.name, reason="blacklist")
    return values


def _field_names(args: Mapping[str, Any], what: str, tdef: TableDef) -> list[str] | None:
    """A list of field names of ``tdef`` (None when the argument is absent)."""
    raw = args.get(what)
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise TypeMismatch(None, what, f"a list of field names of {tdef.name}", type_of(raw))
    return [_field_name(tdef, name) for name in names(raw, what)]


def _field_name(tdef: TableDef, name: str) -> str:
    """A field of ``tdef`` (UnknownField with a suggestion otherwise); ``password`` counts for ``_User``."""
    if tdef.name == USER_TABLE and name == "password":
        return name
    return field_of(tdef, name).name


def update_options(args: Mapping[str, Any], tdef: TableDef) -> None:
    """``forceUpdate`` (every update writes updatedAt anyway) and ``updateAssociationValues`` (accepted and
    checked; nested association values are not written: Pointers and Relations take their own operators)."""
    force = args.get("forceUpdate")
    if force is not None and not isinstance(force, bool):
        raise TypeMismatch(None, "forceUpdate", "true or false", type_of(force))
    for name in _field_names(args, "updateAssociationValues", tdef) or []:
        kind = tdef.fields[name].type if name in tdef.fields else "password"
        if kind not in ("Pointer", "Relation"):
            raise InvalidValue(f"`updateAssociationValues` names `{name}`, a {kind} field; it "
                               f"takes Pointer or Relation fields of {tdef.name}", field=name, table=tdef.name)


def target_rows(app: App, principal: Principal, res: Resource, args: Mapping[str, Any], tz: int) -> tuple[Pred, bool]:
    """The rows an update/destroy acts on, and whether the answer is one row (``filterByTk`` scalar, or a
    belongs-to, which may leave the target out since it holds at most one row)."""
    tk = args.get("filterByTk")
    given = tk is not None and tk != ""
    if res.kind == "pointer":
        where = parse_filter(app.catalog, res.table, args.get("filter"), current_user=current_user(principal),
                             tz_offset_minutes=tz)
        where = conj(by_key(res.table, tk), where) if given else where
        return conj(where, res.condition()), not isinstance(tk, list)
    where = parse_target(app.catalog, res.table, args, current_user=current_user(principal), tz_offset_minutes=tz)
    return conj(where, res.condition()), given and not isinstance(tk, list)


# -- the source row ----------------------------------------------------------------------------------------


async def check_source(conn: AsyncConnection, app: App, principal: Principal, res: Resource) -> None:
    """The source row exists and the caller may ``get`` it; otherwise NotFound, as for a missing row."""
    if res.source is None or res.source_id is None:
        return
    oid = Path(res.source.fields["objectId"])
    q = Select(res.source.name, where=Cmp(oid, "eq", res.source_id), keys=["objectId"], limit=1)
    stmt = compiler_for(app, principal, "get", res.source.name).rows(q).stmt
    if (await conn.execute(stmt)).first() is None:
        raise NotFound(f"no {res.source.name} row with objectId {_shown(res.source_id)!r}",
                       table=res.source.name, reason="object")


def creation_values(res: Resource, values: dict[str, Any]) -> dict[str, Any]:
    """A has-many create points the new row at the source row (a different pointer is refused)."""
    if res.kind != "has_many" or res.field is None or res.source is None:
        return values
    pointer = {"__type": "Pointer", "className": res.source.name, "objectId": res.source_id}
    given = values.get(res.field.name)
    if given is not None and given != pointer and given != res.source_id:
        raise InvalidValue(f"`{res.field.name}` is set from `sourceId` in `{res.name}`; leave it out",
                           field=res.field.name, table=res.table.name, reason="association")
    return {**values, res.field.name: pointer}


async def link(conn: AsyncConnection, app: App, principal: Principal, res: Resource, object_id: str) -> None:
    """Attach a newly created row to the source row (Relation: AddRelation; Pointer: set the pointer),
    through ``records.update_in`` so the caller's update rules on the source apply."""
    if res.kind not in ("relation", "pointer") or res.field is None or res.source is None:
        return
    pointer = {"__type": "Pointer", "className": res.table.name, "objectId": object_id}
    value: Any = {"__op": "AddRelation", "objects": [pointer]} if res.kind == "relation" else pointer
    await records.update_in(conn, app, principal, res.source.name, res.source_id, {res.field.name: value})


# -- users.roles -------------------------------------------------------------------------------------------


async def user_roles(app: App, principal: Principal, res: Resource) -> list[dict[str, Any]]:
    """The roles user ``sourceId`` holds; for root and for the user themself only."""
    if not principal.is_root and principal.user_id != res.source_id:
        raise PermissionDenied("`users.roles` lists the roles of the calling user; only root may read another "
                               "user's roles", reason="roles", table=USER_TABLE)
    users = res.table.table
    async with app.db.read() as conn:
        found = await conn.scalar(users.select().with_only_columns(users.c.objectId)
                                  .where(users.c.objectId == res.source_id))
        if found is None:
            raise NotFound(f"no {USER_TABLE} row with objectId {_shown(res.source_id)!r}", table=USER_TABLE,
                           reason="object")
        names, default = await held(conn, app, found)
    out = []
    for name in names:
        role = app.catalog.policy.roles.get(name)
        out.append({"name": name, "title": role.title if role else "", "description": role.description if role
                    else "", "default": name == default})
    return out


def refuse_roles_write() -> InvalidQuery:
    return InvalidQuery("`users.roles` is read-only here: role membership is managed by root with "
                        "`hivebase role grant <role> --user <user>` / `hivebase role revoke` (or the acl package)",
                        field="resource", reason="association")
