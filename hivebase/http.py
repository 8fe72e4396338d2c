"""What every HTTP door shares (REST dialects, MCP, OAuth, later the console): orjson responses, bounded and
checked JSON request bodies, and the public base URL of the server."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from hivebase.config import Settings
from hivebase.errors import HivebaseError, InvalidValue, LimitExceeded, type_of

MAX_BODY = 1 << 20  # 1 MiB of JSON per request unless a door says otherwise


class ORJSONResponse(JSONResponse):
    """JSON rendered by orjson (several times faster than the standard library on large bodies)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class BadBody(HivebaseError):
    """Malformed JSON or a body that is not JSON at all; ``reason``: json, content_type."""

    reason = "json"


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The raw body, refused as soon as it passes ``limit`` bytes (before it is all in memory)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise LimitExceeded(f"the request body is larger than {limit} bytes", reason="body_too_large", limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise LimitExceeded(f"the request body is larger than {limit} bytes", reason="body_too_large",
                                limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, *, limit: int = MAX_BODY, require_type: bool = True,
                    empty: Any = None) -> Any:
    """The JSON body; ``require_type``: the Content-Type must be application/json (or absent with an empty
    body). An empty body gives ``empty``."""
    raw = await read_body(request, limit)
    if not raw.strip():
        return empty
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if require_type and ctype != "application/json" and not ctype.endswith("+json"):
        raise BadBody("the body must be JSON sent with Content-Type: application/json", reason="content_type")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadBody(f"the body is not valid JSON ({str(exc).split(':')[0]})", reason="json") from None


async def read_object(request: Request, *, limit: int = MAX_BODY, what: str = "the body") -> dict[str, Any]:
    """The JSON body, which must be an object (an empty body is ``{}``)."""
    data = await read_json(request, limit=limit, empty={})
    if not isinstance(data, dict):
        raise InvalidValue(f"{what} must be a JSON object, received {type_of(data)}", reason="json")
    return data


def public_base_url(settings: Settings, request: Request) -> str:
    """The configured public URL, else the address this request came to (what a client used to reach us)."""
    if "public_url" in settings.model_fields_set:
        return settings.public_url
    host = request.headers.get("host") or f"{settings.host}:{settings.port}"
    return f"{request.url.scheme}://{host}"
