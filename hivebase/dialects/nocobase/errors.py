"""Core errors → NocoBase's ``{"errors": [{"message": "…"}]}`` with the HTTP status NocoBase would answer."""

from __future__ import annotations

from typing import Any

from hivebase import errors as e


def error_body(exc: e.HivebaseError) -> dict[str, Any]:
    return {"errors": [{"message": exc.message}]}


def status_of(exc: e.HivebaseError) -> int:
    return exc.status
