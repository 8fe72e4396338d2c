"""Errors of cloud functions; ``reason`` tells the doors which failure it was.

Reasons: ``raised`` (the function raised), ``result`` (its result is not JSON or too large), ``timeout``,
``busy`` (too many calls still running), ``source`` (does not compile or defines no ``main``),
``too_large`` (a source over the size limit). Unknown functions are ``NotFound(reason="function")`` and
malformed names ``InvalidName(reason="function_name")``.
"""

from __future__ import annotations

from typing import Any

from hivebase.errors import HivebaseError

STATUS = {"timeout": 504, "busy": 503, "too_large": 413}


class FunctionError(HivebaseError):
    """A cloud function that could not be deployed or did not return a usable result."""

    reason = "raised"

    def __init__(self, message: str, *, reason: str, **details: Any) -> None:
        super().__init__(message, reason=reason, **details)
        self.status = STATUS.get(reason, 400)


class FunctionStopped(BaseException):
    """Raised inside a function's thread to stop it once its caller has given up (a BaseException, so that
    ``except Exception`` in the function does not swallow it)."""
