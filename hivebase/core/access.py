"""The one place that answers "may this principal do this action on these fields of these rows?".

Every door asks here, through records, reads and schema: ``require`` for the action, ``row_scope`` for the
rows (the role's scope, "own records" and the object ACL, compiled into the caller's own statement) and
``visible_fields`` / ``check_writable`` for the fields. Root (the master key, the CLI, a user acting in
the root role) bypasses everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hivebase.core.apps import App
from hivebase.core.model import TableDef
from hivebase.core.policy import ANONYMOUS, SCHEMA_ACTIONS, Action, ActionRule, RoleDef
from hivebase.core.principal import Principal
from hivebase.core.query.filter import parse_filter
from hivebase.core.query.ir import Cmp, Const, Or, Path, Pred, conj
from hivebase.errors import HivebaseError, PermissionDenied

ALL = ActionRule()
READS = ("list", "get", "query")
WRITES = ("update", "destroy")


def _role(app: App, principal: Principal) -> RoleDef:
    role = app.catalog.policy.roles.get(principal.role or "")
    if role is None:
        raise PermissionDenied(f"role `{str(principal.role)[:64]}` does not exist in this app", reason="role")
    return role


def require_caller(app: App, principal: Principal | None) -> Principal:
    """Some credential of this app, whatever its role (requesting an SMS code, checking a session)."""
    if principal is None or principal.kind == "nobody":
        raise PermissionDenied("no credentials: this call needs a principal", reason="unauthenticated")
    if principal.app is not None and principal.app != app.name:
        raise PermissionDenied("these credentials belong to another app", reason="app")
    return principal


def require_root(app: App, principal: Principal | None) -> Principal:
    """Managing roles, other users' credentials and app settings."""
    if not require_caller(app, principal).is_root:
        raise PermissionDenied("this needs the root role or the master key", reason="root")
    assert principal is not None
    return principal


def require(app: App, principal: Principal | None, action: Action, table: str | None = None) -> ActionRule:
    """The rule that lets ``principal`` do ``action`` on ``table`` (None: no table, e.g. creating one)."""
    principal = require_caller(app, principal)
    if principal.is_root:
        return ALL
    if action in SCHEMA_ACTIONS and (principal.kind == "client" or principal.role == ANONYMOUS) \
            and not app.catalog.policy.settings.get("clientSchemaChanges", True):
        raise PermissionDenied("this app does not let clients change tables or fields (clientSchemaChanges is "
                               "off); use the master key", reason="client_schema", table=table)
    role = _role(app, principal)
    rule = role.rule(action, table)
    if rule is None:
        target = f" on {table}" if table else ""
        raise PermissionDenied(f"role `{role.name}` may not {action}{target}", reason="action", table=table,
                               action=action, role=role.name)
    return rule


def current_user(principal: Principal) -> dict[str, Any]:
    """What ``{{currentUser.x}}`` sees: the user's row, with ``id`` as another name for its objectId."""
    if principal.user_id is None:
        return {}
    return {**principal.user, "id": principal.user_id, "objectId": principal.user_id}


def acl_condition(tdef: TableDef, principal: Principal, permission: str) -> Pred:
    """Rows whose ACL is absent (public) or grants ``permission`` to everyone, this user or one of its roles."""
    acl = tdef.fields["ACL"]
    grantees = ["*"]
    if principal.user_id:
        grantees.append(principal.user_id)
    grantees += [f"role:{r}" for r in principal.roles]
    return Or((Cmp(Path(acl), "eq", None),
               *(Cmp(Path(acl, json=(who, permission)), "eq", True) for who in grantees)))


def row_scope(app: App, principal: Principal, action: Action, table: str) -> Pred:
    """The condition ANDed into every statement the principal runs on ``table`` for ``action``."""
    rule = require(app, principal, action, table)
    if principal.is_root:
        return Const(True)
    tdef = app.catalog.get(table)
    items: list[Pred] = []
    if rule.scope is not None:
        try:
            items.append(parse_filter(app.catalog, tdef, dict(rule.scope), current_user=current_user(principal)))
        except HivebaseError:  # a scope broken by a later schema change fails closed
            raise PermissionDenied(f"the {action} scope of role `{principal.role}` on {table} no longer matches "
                                   "the table; an operator must fix it", reason="scope_invalid",
                                   table=table) from None
    if rule.own:
        owner = Path(tdef.fields["createdBy"])
        items.append(Cmp(owner, "eq", principal.user_id) if principal.user_id else Const(False))
    if action in READS + WRITES and not _role(app, principal).ignore_acl:
        items.append(acl_condition(tdef, principal, "write" if action in WRITES else "read"))
    return conj(*items)


def visible_fields(app: App, principal: Principal, action: Action, table: str) -> frozenset[str] | None:
    """Fields of ``table`` the principal may see through ``action`` (None: all; objectId always)."""
    rule = require(app, principal, action, table)
    return None if rule.fields is None else rule.fields | {"objectId"}


def check_writable(app: App, principal: Principal, action: Action, table: str, names: Iterable[str]) -> None:
    rule = require(app, principal, action, table)
    if rule.fields is None:
        return
    for name in names:
        if name not in rule.fields:
            raise PermissionDenied(f"role `{principal.role}` may not write `{name}` of {table}", field=name,
                                   table=table, reason="field")

