"""The one error tree of the core.

Doors map each class (and its ``reason``) to their dialect once; messages are written for the
caller, never carry SQL text, and name the field or table at fault.
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any


class HivebaseError(Exception):
    """Base of every error a caller may see. ``reason`` refines the class for dialect codes."""

    status: int = 400
    reason: str = "invalid"

    def __init__(self, message: str, *, reason: str | None = None, field: str | None = None,
                 table: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.field = field
        self.table = table
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": type(self).__name__, "reason": self.reason, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.table is not None:
            out["table"] = self.table
        out.update(self.details)
        return out


class NotFound(HivebaseError):
    """A table, row, app or file that does not exist (or that the caller may not see)."""

    status = 404
    reason = "object"


class InvalidName(HivebaseError):
    """A table, field, index or app name that is malformed, reserved or already taken."""

    reason = "name"


class UnknownField(HivebaseError):
    """A write or query names a field the table does not have."""

    reason = "unknown_field"

    def __init__(self, table: str, field: str, known: list[str], **kw: Any) -> None:
        suggestion = suggest(field, known)
        msg = f"`{field}` is not a field of {table}"
        if suggestion:
            msg += f"; did you mean `{suggestion}`?"
        super().__init__(msg, field=field, table=table, suggestion=suggestion, **kw)
        self.suggestion = suggestion


class TypeMismatch(HivebaseError):
    """A value of the wrong type for its field."""

    reason = "type"

    def __init__(self, table: str | None, field: str, expected: str, received: str, hint: str = "") -> None:
        where = f"{table}.{field}" if table else field
        msg = f"`{where}` expects {expected}, received {received}"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg, field=field, table=table, expected=expected, received=received)


class InvalidValue(HivebaseError):
    """A value of the right type that is still unacceptable (out of range, malformed date, bad pointer...)."""

    reason = "value"


class InvalidQuery(HivebaseError):
    """A malformed where/filter/order/aggregation."""

    reason = "query"


class InvalidSchema(HivebaseError):
    """A schema definition or change that cannot be applied."""

    reason = "schema"


class UniqueViolation(HivebaseError):
    """A write would duplicate a value of a unique field."""

    status = 409
    reason = "unique"


class ReadOnlyField(HivebaseError):
    """A write to a field the caller may not set (built-ins, auto-increment)."""

    reason = "read_only"


class PermissionDenied(HivebaseError):
    status = 403
    reason = "permission"


class LimitExceeded(HivebaseError):
    """A request larger than the server accepts (batch size, limit, body size)."""

    reason = "limit"


class Conflict(HivebaseError):
    """A change refused because of what depends on it (e.g. a table other tables point to)."""

    status = 409
    reason = "conflict"


def suggest(name: str, known: list[str]) -> str | None:
    """The closest known name, case-insensitively, when one is close enough to be a typo."""
    lowered = {k.lower(): k for k in known}
    match = get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def type_of(value: Any) -> str:
    """The JSON type of a value as a caller would name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        t = value.get("__type")
        return f"{t} object" if isinstance(t, str) else "object"
    return type(value).__name__


class Unauthorized(HivebaseError):
    """Missing, wrong, expired or revoked credentials."""

    status = 401
    reason = "unauthorized"


class SmsSendFailed(HivebaseError):
    """The configured SMS sender could not deliver the message; no code was issued."""

    status = 502
    reason = "sms_send_failed"
