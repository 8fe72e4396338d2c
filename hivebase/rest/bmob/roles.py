"""``/1/roles[/<objectId>]``: Bmob's ``_Role`` objects, mapped onto the core's roles (root only).

A Bmob role has ``name``, ``users`` (Relation → _User) and ``roles`` (Relation → _Role). Here a role is
the core's named role: its ``objectId`` *is* its name (role names are unique and never change, so the
name is a stable id, and ``/1/roles/Moderators`` reads naturally). ``users`` AddRelation/RemoveRelation
grant and revoke the role. Roles do not contain roles in hivebase, so ``roles`` accepts only an empty
change. A role's ``ACL`` is accepted and ignored: only the root role (the master key) manages roles.
Beyond Bmob's fields, ``title``, ``description``, ``strategy`` and ``ignoreAcl`` reach the core as is.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from hivebase.core import roles
from hivebase.core.access import require_root
from hivebase.core.clock import now
from hivebase.core.fields.date import format_bmob
from hivebase.core.model import FieldDef
from hivebase.core.writes import MAX_OBJECTS
from hivebase.errors import HivebaseError, InvalidValue, TypeMismatch, UnknownField, type_of
from hivebase.http import ORJSONResponse, read_object
from hivebase.rest.bmob.context import Call

ROLE = "_Role"
CREATE_KEYS = ["name", "ACL", "users", "roles", "title", "description", "strategy", "ignoreAcl"]
UPDATE_KEYS = ["name", "ACL", "users", "roles", "strategy", "ignoreAcl"]
USER_POINTER = FieldDef("users", "Pointer", target="_User")


def shape(role: dict[str, Any]) -> dict[str, Any]:
    """A core role as a Bmob ``_Role`` object."""
    return {"objectId": role["name"], **role, "users": {"__type": "Relation", "className": "_User"},
            "roles": {"__type": "Relation", "className": ROLE}}


async def _body(call: Call, keys: list[str]) -> dict[str, Any]:
    data = await read_object(call.request)
    for key in data:
        if key not in keys:
            raise UnknownField(ROLE, str(key)[:64], keys)
    if "ACL" in data and not isinstance(data["ACL"], dict | None):
        raise TypeMismatch(ROLE, "ACL", "an ACL object", type_of(data["ACL"]))
    if data.get("roles") is not None and _relation(data["roles"], "roles", ROLE)[1]:
        raise InvalidValue("roles cannot contain roles in hivebase: grant each user the roles it needs",
                           field="roles", table=ROLE, reason="relation")
    return data


def _relation(value: Any, name: str, target: str) -> tuple[str, list[Any]]:
    """``{"__op": "AddRelation"|"RemoveRelation", "objects": [...]}`` → (op, objects)."""
    expected = f'{{"__op":"AddRelation"|"RemoveRelation","objects":[Pointers to {target}]}}'
    if not isinstance(value, dict) or value.get("__op") not in ("AddRelation", "RemoveRelation") \
            or set(value) != {"__op", "objects"}:
        raise TypeMismatch(ROLE, name, expected, type_of(value))
    objects = value["objects"]
    if not isinstance(objects, list):
        raise TypeMismatch(ROLE, name, f'"objects": an array for {value["__op"]}', type_of(objects))
    if len(objects) > MAX_OBJECTS:
        raise InvalidValue(f"`{name}`: at most {MAX_OBJECTS} objects per operation", field=name, table=ROLE,
                           reason="too_long")
    return value["__op"], objects


async def _users(call: Call, value: Any) -> tuple[bool, list[str]]:
    """The users of a ``users`` change, each checked to exist before anything is granted or revoked."""
    op, objects = _relation(value, "users", "_User")
    ids = list(dict.fromkeys(USER_POINTER.kind.validate(o, USER_POINTER, ROLE) for o in objects))
    for user_id in ids:
        await roles.user_roles(call.app, call.principal, user_id)  # NotFound for an unknown user
    return op == "AddRelation", ids


async def list_all(call: Call) -> dict[str, Any]:
    """List roles as _Role objects (master key)."""
    return {"results": [shape(r) for r in await roles.list_roles(call.app, call.principal)]}


async def get(call: Call) -> dict[str, Any]:
    """One role by objectId, which is its name (master key)."""
    return shape(await roles.get_role(call.app, call.principal, call.request.path_params["object_id"]))


async def create(call: Call) -> Response:
    """Create a role {name, users?: AddRelation of _User Pointers} (master key): 201 {objectId, createdAt}.

    Every user is checked first, and a failure in the middle deletes the role again: all or nothing."""
    require_root(call.app, call.principal)
    data = await _body(call, CREATE_KEYS)
    users: list[str] = []
    if data.get("users") is not None:
        add, users = await _users(call, data["users"])
        if not add:
            raise InvalidValue("a new role has no users to remove: use AddRelation", field="users", table=ROLE,
                               reason="op")
    role = await roles.create_role(call.app, call.principal, data.get("name"), title=data.get("title", ""),
                                   description=data.get("description", ""), strategy=data.get("strategy"),
                                   ignore_acl=data.get("ignoreAcl", False))
    try:
        for user_id in users:
            await roles.grant(call.app, call.principal, user_id, role["name"])
    except HivebaseError:
        await roles.delete_role(call.app, call.principal, role["name"])
        raise
    return ORJSONResponse({"objectId": role["name"], "createdAt": format_bmob(now())}, status_code=201)


create.status = 201  # type: ignore[attr-defined]  # for the OpenAPI description


async def _change_users(call: Call, name: str, add: bool, ids: list[str]) -> None:
    """Grant or revoke; RemoveRelation of a non-member is a no-op, as in Bmob. Undone on failure."""
    done: list[str] = []
    try:
        for user_id in ids:
            held = (await roles.user_roles(call.app, call.principal, user_id))["roles"]
            if add and name not in held:
                await roles.grant(call.app, call.principal, user_id, name)
            elif not add and name in held:
                await roles.revoke(call.app, call.principal, user_id, name)
            else:
                continue
            done.append(user_id)
    except HivebaseError:
        for user_id in reversed(done):
            undo = roles.revoke if add else roles.grant
            await undo(call.app, call.principal, user_id, name)
        raise


async def update(call: Call) -> dict[str, Any]:
    """Grant or revoke a role with users AddRelation/RemoveRelation; strategy, ignoreAcl (master key)."""
    require_root(call.app, call.principal)
    data = await _body(call, UPDATE_KEYS)
    name = (await roles.get_role(call.app, call.principal, call.request.path_params["object_id"]))["name"]
    if data.get("name", name) != name:
        raise InvalidValue("a role's name cannot be changed: create a new role instead", field="name",
                           table=ROLE, reason="role_name")
    add, ids = await _users(call, data["users"]) if data.get("users") is not None else (True, [])
    if "strategy" in data or "ignoreAcl" in data:
        strategy = data["strategy"] if "strategy" in data else \
            (await roles.get_role(call.app, call.principal, name))["strategy"]
        await roles.set_strategy(call.app, call.principal, name, strategy, ignore_acl=data.get("ignoreAcl"))
    await _change_users(call, name, add, ids)
    return {"updatedAt": format_bmob(now())}


async def delete(call: Call) -> dict[str, Any]:
    """Delete a role; its members lose it and its API keys stop working (master key)."""
    await roles.delete_role(call.app, call.principal, call.request.path_params["object_id"])
    return {"msg": "ok"}
