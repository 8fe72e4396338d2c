"""What Bmob answers after a write, the same from every door (REST, batch, MCP tools): a create shows
``{"objectId", "createdAt"}``, an update ``{"updatedAt"}`` plus each incremented field's new value (as Parse
does), a delete ``{"msg": "ok"}``."""

from __future__ import annotations

from typing import Any

from hivebase.core.model import TableDef
from hivebase.core.render import render_row


def deleted() -> dict[str, Any]:
    return {"msg": "ok"}


def created(tdef: TableDef, row: dict[str, Any]) -> dict[str, Any]:
    return render_row(tdef, {k: row[k] for k in ("objectId", "createdAt")}, "bmob", relations=False)


def updated(tdef: TableDef, row: dict[str, Any]) -> dict[str, Any]:
    shown = render_row(tdef, row, "bmob", relations=False)
    shown.pop("objectId", None)
    return shown
