"""The one place that answers "may this principal do this action on this table?".

Until roles land, only the root identity (master key, CLI, the server itself) may act; every other
principal is refused here, so no door can grant more than the core allows.
"""

from __future__ import annotations

from typing import Literal

from hivebase.core.principals import Principal
from hivebase.core.query.ir import Const, Pred
from hivebase.errors import PermissionDenied

Action = Literal["list", "get", "create", "update", "destroy", "query", "schema"]


def require(principal: Principal | None, action: Action, table: str | None = None) -> None:
    if principal is None:
        raise PermissionDenied("no credentials: this call needs a principal", reason="unauthenticated")
    if principal.is_root:
        return
    target = f" on {table}" if table else ""
    raise PermissionDenied(f"{principal.kind} may not {action}{target}", table=table)


def row_scope(principal: Principal, action: Action, table: str) -> Pred:
    """The condition ANDed into every statement the principal runs on ``table``."""
    require(principal, action, table)
    return Const(True)
