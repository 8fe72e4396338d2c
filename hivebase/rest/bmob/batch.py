"""``POST /1/batch``: up to 50 creates, updates and deletes in one request.

Every item is parsed before anything runs, so a malformed request (112, 113, 114) changes nothing. By
default each item succeeds or fails alone and the answer holds one ``{"success"}`` or ``{"error"}`` per
item, in order. With ``"transaction": true`` the first failure undoes every item and is the answer, with
the failing item's ``index``. An item's ``token`` (a session token) makes that item act as its user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from hivebase.auth.resolve import resolve
from hivebase.core import records
from hivebase.core.principal import Principal
from hivebase.dialects.bmob import answers
from hivebase.errors import HivebaseError, InvalidValue, LimitExceeded, type_of
from hivebase.http import ORJSONResponse, read_json
from hivebase.rest.bmob.context import Call
from hivebase.rest.bmob.errors import code_of, status_of

METHODS: dict[str, Literal["create", "update", "delete"]] = {"POST": "create", "PUT": "update",
                                                              "DELETE": "delete"}
ITEM_KEYS = {"method", "path", "body", "token"}
BODY_KEYS = {"requests", "transaction"}
#: ``/1/classes/<Table>[/<objectId>]`` (or ``/parse/…``); names are checked by the core, not here
PATH = re.compile(r"/(?:1|parse)/classes/([^/?#%\\\s]{1,128})(?:/([^/?#%\\\s]{1,128}))?")


@dataclass(slots=True)
class Item:
    """One parsed request: the core operation and, if given, the session token it runs under."""

    op: records.Op
    token: str | None


def _bad(index: int, why: str) -> InvalidValue:
    return InvalidValue(f"requests[{index}]: {why}", reason="batch_item", index=index)


def parse_item(index: int, raw: Any) -> Item:
    """``{"method","path","body"?,"token"?}`` → an Item (113 when anything is malformed)."""
    if not isinstance(raw, dict):
        raise _bad(index, f"each request is an object with method and path, received {type_of(raw)}")
    unknown = sorted(set(raw) - ITEM_KEYS)
    if unknown:
        raise _bad(index, f"unknown key {str(unknown[0])[:40]!r}; a request has method, path, body and token")
    method = raw.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise _bad(index, f"method must be POST, PUT or DELETE, received {str(method)[:20]!r}")
    action = METHODS[method.upper()]
    path = raw.get("path")
    match = PATH.fullmatch(path) if isinstance(path, str) else None
    if match is None or any(part in (".", "..") for part in match.groups()):
        raise _bad(index, f"path must be /1/classes/<Table> or /1/classes/<Table>/<objectId>, received "
                          f"{str(path)[:80]!r}")
    table, object_id = match.group(1), match.group(2)
    if action == "create" and object_id is not None:
        raise _bad(index, "POST creates a row: its path is /1/classes/<Table>, without an objectId")
    if action != "create" and object_id is None:
        raise _bad(index, f"{method.upper()} needs the row's path, /1/classes/<Table>/<objectId>")
    body = raw.get("body")
    if action == "delete":
        if body not in (None, {}):
            raise _bad(index, "DELETE takes no body")
        body = None
    elif body is None:
        body = {}
    elif not isinstance(body, dict):
        raise _bad(index, f"body must be an object, received {type_of(body)}")
    token = raw.get("token")
    if token is not None and (not isinstance(token, str) or not token):
        raise _bad(index, "token must be a session token string")
    return Item(records.Op(action, table, object_id, body), token)


def parse_body(data: Any) -> tuple[list[Item], bool]:
    if not isinstance(data, dict):
        raise InvalidValue(f"the body must be a JSON object with `requests`, received {type_of(data)}",
                           reason="json")
    unknown = sorted(set(data) - BODY_KEYS)
    if unknown:
        raise InvalidValue(f"unknown key {str(unknown[0])[:40]!r}; a batch has requests and transaction",
                           reason="json")
    requests = data.get("requests")
    if not isinstance(requests, list):
        raise InvalidValue(f"`requests` must be an array, received {type_of(requests)}", reason="batch_requests")
    if len(requests) > records.MAX_BATCH:
        raise LimitExceeded(f"a batch holds at most {records.MAX_BATCH} requests, got {len(requests)}",
                            reason="batch_size")
    transaction = data.get("transaction", False)
    if not isinstance(transaction, bool):
        raise InvalidValue(f"`transaction` must be true or false, received {type_of(transaction)}", reason="json")
    return [parse_item(i, raw) for i, raw in enumerate(requests)], transaction


def error_item(exc: HivebaseError) -> dict[str, Any]:
    return {"error": {"code": code_of(exc), "error": exc.message}}


def success_item(call: Call, op: records.Op, row: dict[str, Any]) -> dict[str, Any]:
    """What the single-row endpoint answers: objectId + createdAt, updatedAt (+ increments), or {}."""
    if op.method == "delete":
        return {"success": {}}
    tdef = call.app.catalog.get(op.table)
    return {"success": answers.created(tdef, row) if op.method == "create" else answers.updated(tdef, row)}


async def _prepare(call: Call, item: Item, tokens: dict[str, Principal]) -> None:
    """Resolve the item's session token (a bad one fails that item)."""
    if item.token is not None:
        if item.token not in tokens:
            tokens[item.token] = await resolve(call.hub.apps, call.app, session_token=item.token, via="bmob")
        item.op.principal = tokens[item.token]


def failed(exc: HivebaseError, index: int) -> ORJSONResponse:
    """The answer of a transaction that failed at ``index``: the error, with the index named."""
    message = exc.message if exc.message.startswith("requests[") else f"requests[{index}]: {exc.message}"
    return ORJSONResponse({"code": code_of(exc), "error": message, "index": index}, status_code=status_of(exc))


async def batch(call: Call) -> Any:
    """Run up to 50 creates/updates/deletes: one {success} or {error} per request; "transaction": all or none."""
    items, transaction = parse_body(await read_json(call.request, empty={}))
    tokens: dict[str, Principal] = {}
    answers: list[dict[str, Any] | None] = [None] * len(items)
    runnable: list[int] = []
    for i, item in enumerate(items):
        try:
            await _prepare(call, item, tokens)
        except HivebaseError as exc:
            if transaction:
                return failed(exc, i)
            answers[i] = error_item(exc)
            continue
        runnable.append(i)
    ops = [items[i].op for i in runnable]
    try:
        results = await records.batch(call.app, call.principal, ops, atomic=transaction)
    except HivebaseError as exc:
        at = exc.details.get("index")
        if transaction and isinstance(at, int) and 0 <= at < len(runnable):
            return failed(exc, runnable[at])
        raise
    for i, result in zip(runnable, results, strict=True):
        answers[i] = error_item(result.error) if result.error is not None else success_item(
            call, items[i].op, result.ok or {})
    return answers
