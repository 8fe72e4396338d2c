"""Validation of per-object ACLs (Bmob/Parse shape). Enforcement arrives with roles, in access.py."""

from __future__ import annotations

from typing import Any

from hivebase.errors import InvalidValue

MAX_ENTRIES = 100


def check_acl(value: Any) -> dict[str, dict[str, bool]] | None:
    """``{"*":{"read":true},"<userId>":{"read":true,"write":true},"role:Name":{"write":true}}``."""
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_ENTRIES:
        raise InvalidValue(f'ACL must be an object such as {{"*":{{"read":true}}}} with at most {MAX_ENTRIES} '
                           "entries", field="ACL", reason="acl")
    out: dict[str, dict[str, bool]] = {}
    for who, perms in value.items():
        if not isinstance(who, str) or not who or len(who) > 80:
            raise InvalidValue("ACL keys are '*', a user objectId or 'role:<name>'", field="ACL", reason="acl")
        if not isinstance(perms, dict) or not perms or set(perms) - {"read", "write"} or not all(
                isinstance(v, bool) for v in perms.values()):
            raise InvalidValue(f"ACL entry {who[:40]!r} must look like {{\"read\":true,\"write\":false}}",
                               field="ACL", reason="acl")
        out[who] = dict(perms)
    return out
