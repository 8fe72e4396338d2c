"""Core errors → Bmob's ``{"code": n, "error": "…"}`` codes and HTTP statuses: the one table every Bmob-speaking
door (the REST API, the MCP Bmob tools) maps through, so a refusal reads the same wherever it happens."""

from __future__ import annotations

from typing import Any

from hivebase import errors as e

UNAUTHORIZED = {"error": "unauthorized"}

#: (error class name, reason) → Bmob code; (class, None) is the class's default
CODES: dict[tuple[str, str | None], int] = {
    ("NotFound", None): 101, ("NotFound", "table"): 101, ("NotFound", "object"): 101, ("NotFound", "user"): 205,
    ("NotFound", "file"): 151, ("NotFound", "function"): 311, ("NotFound", "role"): 101,
    ("InvalidName", None): 105, ("InvalidName", "table_name"): 103, ("InvalidName", "role_name"): 139,
    ("UnknownField", None): 105,
    ("TypeMismatch", None): 111, ("TypeMismatch", "pointer"): 106,
    ("InvalidValue", None): 102, ("InvalidValue", "geo_range"): 117, ("InvalidValue", "pointer_missing"): 106,
    ("InvalidValue", "pointer"): 106, ("InvalidValue", "acl"): 107, ("InvalidValue", "json"): 107,
    ("InvalidValue", "date"): 142, ("InvalidValue", "number"): 143, ("InvalidValue", "op"): 107,
    ("InvalidValue", "username_required"): 108, ("InvalidValue", "password_required"): 108,
    ("InvalidValue", "login_required"): 109, ("InvalidValue", "sms_code"): 207,
    ("InvalidValue", "old_password"): 210, ("InvalidValue", "required"): 102,
    ("InvalidValue", "missing"): 118, ("InvalidValue", "role_name"): 139,
    ("InvalidQuery", None): 102, ("InvalidQuery", "too_large"): 402,
    ("InvalidSchema", None): 10066, ("InvalidSchema", "reserved_field"): 10062,
    ("InvalidSchema", "field_exists"): 10063, ("InvalidSchema", "table_exists"): 103,
    ("InvalidSchema", "target"): 10064, ("InvalidSchema", "target_missing"): 10064,
    ("InvalidSchema", "target_unknown"): 10065, ("InvalidSchema", "unknown_type"): 10066,
    ("UniqueViolation", None): 401, ("UniqueViolation", "role_exists"): 139,
    ("ReadOnlyField", None): 138,
    ("PermissionDenied", None): 122, ("PermissionDenied", "client_schema"): 10040,
    ("PermissionDenied", "root"): 206, ("PermissionDenied", "unauthenticated"): 211,
    ("PermissionDenied", "owner"): 206,
    ("Unauthorized", None): 211, ("Unauthorized", "login"): 101,
    ("LimitExceeded", None): 402, ("LimitExceeded", "batch_size"): 114, ("LimitExceeded", "rate_limit"): 10076,
    ("LimitExceeded", "body_too_large"): 402, ("LimitExceeded", "file_too_large"): 145,
    # files, in Bmob's 145-157 range: 145 file too large (HTTP 413) · 146 file name missing or invalid ·
    # 147 malformed multipart body or no `file` part · 149 empty file · 150 the storage backend failed (502) ·
    # 151 file not found (also ("NotFound", "file") above) · 107 Content-Type that is not a MIME type
    ("InvalidName", "file_name"): 146, ("InvalidValue", "multipart"): 147, ("InvalidValue", "empty_file"): 149,
    ("StorageFailed", None): 150, ("InvalidValue", "content_type"): 107, ("PermissionDenied", "file_owner"): 122,
    ("Conflict", None): 10070,
    ("SmsSendFailed", None): 301,
    ("BadBody", None): 107,
    ("InvalidValue", "batch_requests"): 112, ("InvalidValue", "batch_item"): 113,
    ("InvalidName", "reserved_field"): 10062, ("Conflict", "system_role"): 139,
    # cloud functions (Bmob reserves 310-324): 310 raised, 311 unknown (above), 312 result not JSON or too
    # large, 313 timed out, 314 source does not compile / defines no main, 315 bad name, 316 source too
    # large, 317 too many calls still running
    ("FunctionError", None): 310, ("FunctionError", "raised"): 310, ("FunctionError", "result"): 312,
    ("FunctionError", "timeout"): 313, ("FunctionError", "source"): 314, ("InvalidName", "function_name"): 315,
    ("FunctionError", "too_large"): 316, ("FunctionError", "busy"): 317,
}
#: unique fields of _User with their own codes
USER_UNIQUE = {"username": 202, "email": 203, "mobilePhoneNumber": 209}


def code_of(exc: e.HivebaseError) -> int:
    name = type(exc).__name__
    if name == "UniqueViolation" and exc.table == "_User" and exc.field in USER_UNIQUE:
        return USER_UNIQUE[exc.field]
    if "code" in exc.details and isinstance(exc.details["code"], int):  # an error that knows its Bmob code
        return int(exc.details["code"])
    for cls in type(exc).__mro__:
        code = CODES.get((cls.__name__, exc.reason)) or CODES.get((cls.__name__, None))
        if code is not None:
            return code
    return 102


def status_of(exc: e.HivebaseError) -> int:
    if isinstance(exc, e.Unauthorized) and exc.reason == "login":
        return 400  # a wrong password is bad input, not missing credentials
    if isinstance(exc, e.LimitExceeded) and exc.reason in ("body_too_large", "file_too_large"):
        return 413
    if isinstance(exc, e.LimitExceeded) and exc.reason == "rate_limit":
        return 429
    return exc.status


def error_body(exc: e.HivebaseError) -> dict[str, Any]:
    return {"code": code_of(exc), "error": exc.message}
