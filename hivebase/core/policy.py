"""Roles as data: what each role may do, checked once when set and cached with the catalog.

A role has a general strategy (actions allowed on every table; ``update:own`` / ``destroy:own``… limit an
action to rows the caller created) and per-table overrides that replace the strategy for that table. An
override maps each allowed action to a rule: the fields it may see or write and a row scope (a NocoBase
filter that may use ``{{currentUser.id}}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hivebase.errors import InvalidValue, type_of

Action = Literal["list", "get", "create", "update", "destroy", "query",
                 "createTable", "addField", "alterField", "dropTable"]
DATA_ACTIONS: tuple[str, ...] = ("list", "get", "create", "update", "destroy", "query")
SCHEMA_ACTIONS: tuple[str, ...] = ("createTable", "addField", "alterField", "dropTable")
OWN_ACTIONS: tuple[str, ...] = ("list", "get", "update", "destroy", "query")
ROLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}")
ROLE_NAME_CHARS = "letters, digits, '_' or '-', starting with a letter"
MAX_FIELDS = 256
MAX_SCOPE_CHARS = 20_000

ROOT, ADMIN, MEMBER, ANONYMOUS = "root", "admin", "member", "anonymous"
EVERYTHING = (*DATA_ACTIONS, *SCHEMA_ACTIONS)
#: Defaults as open as Bmob's development mode (object ACLs still apply); operators tighten them per role.
DEFAULT_ROLES: dict[str, dict[str, Any]] = {
    ROOT: {"title": "Root", "description": "Bypasses every rule, like the master key.", "strategy": list(EVERYTHING),
           "ignoreAcl": True},
    ADMIN: {"title": "Admin", "description": "Every data and schema action on every table, ignoring object ACLs.",
            "strategy": list(EVERYTHING), "ignoreAcl": True},
    MEMBER: {"title": "Member", "description": "Signed-up users: read and write data, as object ACLs allow.",
             "strategy": list(DATA_ACTIONS), "ignoreAcl": False},
    ANONYMOUS: {"title": "Anonymous", "description": "Clients holding only the REST API key.",
                "strategy": [*DATA_ACTIONS, "createTable", "addField"], "ignoreAcl": False},
}
#: Per-app access settings (``hivebase app config``): name → (default, type, description)
SETTINGS: dict[str, tuple[Any, type[Any], str]] = {
    "clientSchemaChanges": (True, bool, "clients holding only the REST API key may create tables and add fields"),
    "sessionDays": (7, int, "days a session token stays valid (1-3650)"),
    "passwordMinLength": (6, int, "shortest password accepted (1-128)"),
    "oauthRegistration": ("open", str, "OAuth dynamic client registration: open, loopback (only redirect URIs on "
                          "127.0.0.1, localhost or [::1]) or off"),
    "oauthAccessSeconds": (3600, int, "seconds an OAuth access token stays valid (60-86400)"),
    "oauthRefreshDays": (30, int, "days an OAuth refresh token stays valid after its last use (1-365)"),
}
SETTINGS_DEFAULTS: dict[str, Any] = {k: v[0] for k, v in SETTINGS.items()}
SETTING_RANGES: dict[str, tuple[int, int]] = {"sessionDays": (1, 3650), "passwordMinLength": (1, 128),
                                              "oauthAccessSeconds": (60, 86400), "oauthRefreshDays": (1, 365)}
SETTING_CHOICES: dict[str, tuple[str, ...]] = {"oauthRegistration": ("open", "loopback", "off")}


@dataclass(frozen=True, slots=True)
class ActionRule:
    """One allowed action on one table: visible/writable fields (None: all) and a row scope (None: all rows)."""

    fields: frozenset[str] | None = None
    scope: Mapping[str, Any] | None = None
    own: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.fields is not None:
            out["fields"] = sorted(self.fields)
        if self.scope is not None:
            out["scope"] = dict(self.scope)
        if self.own:
            out["own"] = True
        return out


@dataclass(slots=True)
class RoleDef:
    name: str
    title: str = ""
    description: str = ""
    strategy: frozenset[str] = frozenset()
    tables: dict[str, dict[str, ActionRule]] = field(default_factory=dict)
    ignore_acl: bool = False
    system: bool = False

    def rule(self, action: str, table: str | None) -> ActionRule | None:
        """The rule that allows ``action`` on ``table``, or None when the role does not allow it."""
        if table is not None and table in self.tables:
            return self.tables[table].get(action)
        if action in self.strategy:
            return ActionRule()
        if f"{action}:own" in self.strategy:
            return ActionRule(own=True)
        return None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "strategy": sorted(self.strategy), "ignoreAcl": self.ignore_acl, "system": self.system,
                "tables": {t: {a: r.to_json() or True for a, r in acts.items()}
                           for t, acts in sorted(self.tables.items())}}


@dataclass(slots=True)
class Policy:
    """An app's roles and access settings, loaded with its catalog."""

    roles: dict[str, RoleDef] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=lambda: dict(SETTINGS_DEFAULTS))


# -- checking what callers send -------------------------------------------------------------------------------


def check_role_name(name: Any) -> str:
    if not isinstance(name, str) or not ROLE_NAME.fullmatch(name):
        shown = str(name)[:64]
        raise InvalidValue(f"invalid role name {shown!r}: use 1-64 {ROLE_NAME_CHARS}", reason="role_name",
                           field="name")
    return name


def parse_strategy(value: Any) -> frozenset[str]:
    """``["list","get","update:own",…]``: data actions (optionally ``:own``) and schema actions."""
    if not isinstance(value, list) or len(value) > 64:
        raise InvalidValue(f"a strategy is a list of actions, received {type_of(value)}", field="strategy",
                           reason="strategy")
    out = set()
    for item in value:
        if not isinstance(item, str):
            raise InvalidValue(f"actions are strings, received {type_of(item)}", field="strategy", reason="strategy")
        action, _, own = item.partition(":")
        if action not in EVERYTHING or (own and (own != "own" or action not in OWN_ACTIONS)):
            raise InvalidValue(f"unknown action {item[:40]!r}; actions are {', '.join(EVERYTHING)} "
                               f"(and {', '.join(a + ':own' for a in OWN_ACTIONS)})", field="strategy",
                               reason="strategy")
        out.add(item)
    return frozenset(out)


def parse_table_actions(value: Any) -> dict[str, ActionRule]:
    """``{"list": true, "update": {"fields": [...], "scope": {...}, "own": true}}`` → rules (not yet checked
    against the table: see ``access.check_rules``)."""
    if not isinstance(value, dict):
        raise InvalidValue(f"table permissions are an object of action → rule, received {type_of(value)}",
                           field="actions", reason="permissions")
    rules: dict[str, ActionRule] = {}
    for action, spec in value.items():
        if action not in EVERYTHING or action == "createTable":
            raise InvalidValue(f"unknown table action {str(action)[:40]!r}; actions are "
                               f"{', '.join(a for a in EVERYTHING if a != 'createTable')}", field="actions",
                               reason="permissions")
        if spec is False or spec is None:
            continue
        if spec is True:
            rules[action] = ActionRule()
            continue
        if not isinstance(spec, dict) or set(spec) - {"fields", "scope", "own"}:
            raise InvalidValue(f"`{action}`: a rule is true or an object with fields, scope and own",
                               field=action, reason="permissions")
        fields = spec.get("fields")
        if fields is not None and (not isinstance(fields, list) or len(fields) > MAX_FIELDS
                                   or not all(isinstance(f, str) and 0 < len(f) <= 64 for f in fields)):
            raise InvalidValue(f"`{action}.fields` is a list of field names", field=action, reason="permissions")
        scope = spec.get("scope")
        if scope is not None and (not isinstance(scope, dict) or len(repr(scope)) > MAX_SCOPE_CHARS):
            raise InvalidValue(f"`{action}.scope` is a filter object such as "
                               '{"createdBy":"{{currentUser.id}}"}', field=action, reason="permissions")
        own = spec.get("own", False)
        if not isinstance(own, bool) or (own and action not in OWN_ACTIONS):
            raise InvalidValue(f"`{action}.own` must be true or false (and only for {', '.join(OWN_ACTIONS)})",
                               field=action, reason="permissions")
        rules[action] = ActionRule(frozenset(fields) if fields is not None else None, scope, own)
    return rules


def check_setting(key: Any, value: Any) -> tuple[str, Any]:
    if key not in SETTINGS:
        raise InvalidValue(f"unknown setting {str(key)[:64]!r}; settings are {', '.join(SETTINGS)}", field="key",
                           reason="setting")
    kind = SETTINGS[key][1]
    if type(value) is not kind:
        expected = {bool: "true or false", int: "an integer", str: "a string"}[kind]
        raise InvalidValue(f"`{key}` must be {expected}, received {type_of(value)}", field=key, reason="setting")
    choices = SETTING_CHOICES.get(key)
    if choices is not None and value not in choices:
        raise InvalidValue(f"`{key}` must be one of {', '.join(choices)}", field=key, reason="setting")
    if key in SETTING_RANGES:
        low, high = SETTING_RANGES[key]
        if not low <= value <= high:
            raise InvalidValue(f"`{key}` must be between {low} and {high}", field=key, reason="setting")
    return key, value


# -- loading ------------------------------------------------------------------------------------------------


async def load_policy(conn: AsyncConnection, system: Any) -> Policy:
    """Read roles, table rules and settings through ``system(name) -> sa.Table``."""
    t_roles, t_rules, t_settings = system("_hb_roles"), system("_hb_role_tables"), system("_hb_settings")
    roles: dict[str, RoleDef] = {}
    for r in (await conn.execute(sa.select(t_roles))).mappings():
        roles[r["name"]] = RoleDef(r["name"], r["title"] or "", r["description"] or "",
                                   frozenset(r["strategy"] or ()), {}, bool(r["ignore_acl"]), bool(r["system"]))
    for r in (await conn.execute(sa.select(t_rules))).mappings():
        role = roles.get(r["role"])
        if role is not None:
            role.tables[r["table_name"]] = parse_table_actions(r["actions"] or {})
    settings = dict(SETTINGS_DEFAULTS)
    for r in (await conn.execute(sa.select(t_settings))).mappings():
        settings[r["key"]] = r["value"]
    return Policy(roles, settings)
