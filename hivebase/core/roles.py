"""Managing roles, their permissions, who holds them, and the app's access settings (root only).

Role definitions are versioned with the catalog, so every process sees a change within the catalog's
refresh interval; memberships are read at each sign-in check, so granting and revoking act at once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.core.access import require_root
from hivebase.core.apps import App
from hivebase.core.clock import now
from hivebase.core.model import USER_TABLE
from hivebase.core.names import is_key
from hivebase.core.policy import (
    DEFAULT_ROLES,
    MEMBER,
    RoleDef,
    check_role_name,
    check_setting,
    parse_strategy,
    parse_table_actions,
)
from hivebase.core.principal import Principal
from hivebase.core.query.filter import parse_filter
from hivebase.errors import Conflict, InvalidValue, NotFound, UniqueViolation, UnknownField

MAX_TEXT = 1000


async def _changed(app: App, conn: AsyncConnection) -> None:
    await app.catalog.bump_version(conn)


async def ensure_defaults(app: App) -> None:
    """Create the built-in roles an app is missing (idempotent; runs whenever an app is opened)."""
    t = app.catalog.system("_hb_roles")
    if set(DEFAULT_ROLES) <= set(app.catalog.policy.roles):
        return
    async with app.db.write() as conn:
        have = set((await conn.execute(sa.select(t.c.name))).scalars())
        missing = [n for n in DEFAULT_ROLES if n not in have]
        for name in missing:
            d = DEFAULT_ROLES[name]
            await conn.execute(sa.insert(t).values(name=name, title=d["title"], description=d["description"],
                                                   strategy=sorted(d["strategy"]), ignore_acl=d["ignoreAcl"],
                                                   system=True, created_at=now()))
        if missing:
            await _changed(app, conn)
    await app.catalog.load()


def _role(app: App, name: Any) -> RoleDef:
    role = app.catalog.policy.roles.get(name) if isinstance(name, str) else None
    if role is None:
        raise NotFound(f"role {str(name)[:64]!r} does not exist; roles are "
                       f"{', '.join(sorted(app.catalog.policy.roles))}", reason="role", field="role")
    return role


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InvalidValue(f"`{what}` must be a string of at most {MAX_TEXT} characters", field=what, reason=what)
    return value


async def list_roles(app: App, principal: Principal) -> list[dict[str, Any]]:
    require_root(app, principal)
    await app.catalog.refresh(force=True)
    return [r.describe() for _, r in sorted(app.catalog.policy.roles.items())]


async def get_role(app: App, principal: Principal, name: str) -> dict[str, Any]:
    require_root(app, principal)
    await app.catalog.refresh(force=True)
    return _role(app, name).describe()


async def create_role(app: App, principal: Principal, name: Any, *, title: Any = "", description: Any = "",
                      strategy: Any = None, ignore_acl: Any = False) -> dict[str, Any]:
    require_root(app, principal)
    check_role_name(name)
    actions = sorted(parse_strategy(strategy if strategy is not None else []))
    if not isinstance(ignore_acl, bool):
        raise InvalidValue("`ignoreAcl` must be true or false", field="ignoreAcl", reason="option")
    t = app.catalog.system("_hb_roles")
    async with app.db.write() as conn:
        if await conn.scalar(sa.select(t.c.name).where(sa.func.lower(t.c.name) == name.lower())):
            raise UniqueViolation(f"role `{name}` already exists", field="name", reason="role_exists")
        await conn.execute(sa.insert(t).values(name=name, title=_text(title, "title"),
                                               description=_text(description, "description"), strategy=actions,
                                               ignore_acl=ignore_acl, system=False, created_at=now()))
        await _changed(app, conn)
    await app.catalog.load()
    return _role(app, name).describe()


async def delete_role(app: App, principal: Principal, name: Any) -> None:
    require_root(app, principal)
    await app.catalog.refresh(force=True)
    role = _role(app, name)
    if role.system:
        raise Conflict(f"`{role.name}` is a built-in role and cannot be deleted", reason="system_role")
    keys = app.catalog.system("_hb_api_keys")
    async with app.db.write() as conn:
        await conn.execute(sa.delete(app.catalog.system("_hb_role_tables"))
                           .where(app.catalog.system("_hb_role_tables").c.role == role.name))
        await conn.execute(sa.delete(app.catalog.system("_hb_user_roles"))
                           .where(app.catalog.system("_hb_user_roles").c.role == role.name))
        await conn.execute(sa.delete(keys).where(keys.c.role == role.name))  # its keys die with it
        await conn.execute(sa.delete(app.catalog.system("_hb_roles"))
                           .where(app.catalog.system("_hb_roles").c.name == role.name))
        await _changed(app, conn)
    await app.catalog.load()


async def set_strategy(app: App, principal: Principal, name: Any, strategy: Any, *,
                       ignore_acl: Any = None) -> dict[str, Any]:
    """Replace the actions the role may do on every table without its own rules."""
    require_root(app, principal)
    await app.catalog.refresh(force=True)
    role = _role(app, name)
    if role.name == "root":
        raise Conflict("the root role always may do everything", reason="system_role")
    values: dict[str, Any] = {"strategy": sorted(parse_strategy(strategy))}
    if ignore_acl is not None:
        if not isinstance(ignore_acl, bool):
            raise InvalidValue("`ignoreAcl` must be true or false", field="ignoreAcl", reason="option")
        values["ignore_acl"] = ignore_acl
    t = app.catalog.system("_hb_roles")
    async with app.db.write() as conn:
        await conn.execute(sa.update(t).where(t.c.name == role.name).values(**values))
        await _changed(app, conn)
    await app.catalog.load()
    return _role(app, role.name).describe()


async def set_table_permissions(app: App, principal: Principal, name: Any, table: Any,
                                actions: Any) -> dict[str, Any]:
    """Give the role its own rules on ``table`` (replacing the strategy there); None removes them."""
    require_root(app, principal)
    await app.catalog.refresh(force=True)
    role = _role(app, name)
    if role.name == "root":
        raise Conflict("the root role always may do everything", reason="system_role")
    tdef = await app.catalog.table(table) if isinstance(table, str) else app.catalog.get(str(table)[:64])
    t = app.catalog.system("_hb_role_tables")
    rules = None if actions is None else parse_table_actions(actions)
    for rule in (rules or {}).values():
        for f in rule.fields or ():
            if f not in tdef.fields:
                raise UnknownField(tdef.name, f, tdef.field_names())
        if rule.scope is not None:  # checked now, against a stand-in user with every _User field
            stand_in = {name: None for name in app.catalog.get(USER_TABLE).fields} | {"id": None}
            parse_filter(app.catalog, tdef, dict(rule.scope), current_user=stand_in)
    async with app.db.write() as conn:
        await conn.execute(sa.delete(t).where(t.c.role == role.name, t.c.table_name == tdef.name))
        if rules is not None:
            await conn.execute(sa.insert(t).values(role=role.name, table_name=tdef.name,
                                                   actions={a: r.to_json() or True for a, r in rules.items()}))
        await _changed(app, conn)
    await app.catalog.load()
    return _role(app, role.name).describe()


# -- memberships ----------------------------------------------------------------------------------------------


async def held(conn: AsyncConnection, app: App, user_id: str) -> tuple[tuple[str, ...], str | None]:
    """The roles a user holds (sorted) and the default one."""
    t = app.catalog.system("_hb_user_roles")
    rows = (await conn.execute(sa.select(t.c.role, t.c.is_default).where(t.c.user_id == user_id)
                               .order_by(t.c.role))).all()
    default = next((r.role for r in rows if r.is_default), rows[0].role if rows else None)
    return tuple(r.role for r in rows), default


async def grant_in(conn: AsyncConnection, app: App, user_id: str, role: str, default: bool = False) -> None:
    t = app.catalog.system("_hb_user_roles")
    if default:
        await conn.execute(sa.update(t).where(t.c.user_id == user_id).values(is_default=False))
    exists = await conn.scalar(sa.select(t.c.role).where(t.c.user_id == user_id, t.c.role == role))
    if exists:
        if default:
            await conn.execute(sa.update(t).where(t.c.user_id == user_id, t.c.role == role).values(is_default=True))
        return
    await conn.execute(sa.insert(t).values(user_id=user_id, role=role, is_default=default))


async def _user_exists(conn: AsyncConnection, app: App, user_id: Any) -> str:
    users = app.catalog.get(USER_TABLE).table
    if not is_key(user_id) or not await conn.scalar(
            sa.select(users.c.objectId).where(users.c.objectId == user_id)):
        raise NotFound(f"no user with objectId {str(user_id)[:64]!r}", table="_User", reason="user")
    return user_id


async def grant(app: App, principal: Principal, user_id: Any, role: Any, *, default: bool = False) -> dict[str, Any]:
    require_root(app, principal)
    await app.catalog.refresh(force=True)
    name = _role(app, role).name
    async with app.db.write() as conn:
        await _user_exists(conn, app, user_id)
        await grant_in(conn, app, user_id, name, default)
        roles, dflt = await held(conn, app, user_id)
    return {"userId": user_id, "roles": list(roles), "defaultRole": dflt}


async def revoke(app: App, principal: Principal, user_id: Any, role: Any) -> dict[str, Any]:
    """Take a role away; the user's API keys of that role stop working at once."""
    require_root(app, principal)
    await app.catalog.refresh(force=True)
    name = _role(app, role).name
    t = app.catalog.system("_hb_user_roles")
    keys = app.catalog.system("_hb_api_keys")
    async with app.db.write() as conn:
        await _user_exists(conn, app, user_id)
        result = await conn.execute(sa.delete(t).where(t.c.user_id == user_id, t.c.role == name))
        if result.rowcount == 0:
            raise NotFound(f"the user does not hold role `{name}`", reason="role", field="role")
        await conn.execute(sa.delete(keys).where(keys.c.user_id == user_id, keys.c.role == name))
        roles, dflt = await held(conn, app, user_id)
        if dflt is not None and not await conn.scalar(sa.select(t.c.role).where(t.c.user_id == user_id,
                                                                               t.c.is_default)):
            dflt = MEMBER if MEMBER in roles else dflt  # the default was revoked: fall back explicitly
            await grant_in(conn, app, user_id, dflt, default=True)
    return {"userId": user_id, "roles": list(roles), "defaultRole": dflt}


async def user_roles(app: App, principal: Principal, user_id: Any) -> dict[str, Any]:
    require_root(app, principal)
    async with app.db.read() as conn:
        await _user_exists(conn, app, user_id)
        roles, dflt = await held(conn, app, user_id)
    return {"userId": user_id, "roles": list(roles), "defaultRole": dflt}


async def forget_user(conn: AsyncConnection, app: App, user_id: str) -> None:
    t = app.catalog.system("_hb_user_roles")
    await conn.execute(sa.delete(t).where(t.c.user_id == user_id))


# -- app settings -------------------------------------------------------------------------------------------


async def settings(app: App, principal: Principal) -> dict[str, Any]:
    require_root(app, principal)
    await app.catalog.refresh(force=True)
    return dict(app.catalog.policy.settings)


async def set_setting(app: App, principal: Principal, key: Any, value: Any) -> dict[str, Any]:
    require_root(app, principal)
    key, value = check_setting(key, value)
    t = app.catalog.system("_hb_settings")
    async with app.db.write() as conn:
        await conn.execute(sa.delete(t).where(t.c.key == key))
        await conn.execute(sa.insert(t).values(key=key, value=value))
        await _changed(app, conn)
    await app.catalog.load()
    return dict(app.catalog.policy.settings)
