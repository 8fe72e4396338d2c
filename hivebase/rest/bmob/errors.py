"""Core errors → Bmob REST responses (the codes themselves live in ``hivebase.dialects.bmob``).

Wrong or missing app credentials are not an error object but ``401 {"error":"unauthorized"}``, as Bmob
answers. Anything unexpected becomes a bare 500 without detail (logged server-side, never shown).
"""

from __future__ import annotations

import logging

from hivebase import errors as e
from hivebase.dialects.bmob.errors import UNAUTHORIZED, code_of, error_body, status_of
from hivebase.http import BadBody, ORJSONResponse

log = logging.getLogger("hivebase.rest.bmob")


def error_response(exc: e.HivebaseError) -> ORJSONResponse:
    return ORJSONResponse(error_body(exc), status_code=status_of(exc))


def unauthorized() -> ORJSONResponse:
    return ORJSONResponse(UNAUTHORIZED, status_code=401)


__all__ = ["BadBody", "code_of", "error_response", "status_of", "unauthorized"]
