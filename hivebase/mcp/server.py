"""The MCP server: lists the tools of the packages a request selects and runs them as the caller.

Built on the SDK's low-level ``Server`` because the tool list depends on the request (endpoint defaults
plus ``x-mcp-packages``). Arguments are checked here against each tool's JSON schema (the SDK does not);
tool failures come back as ``isError`` results whose text is the tool's dialect error, protocol misuse
(an unknown tool) as a JSON-RPC error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from hivebase.dialects.bmob import errors as bmob
from hivebase.dialects.nocobase import errors as nocobase
from hivebase.errors import HivebaseError, InvalidValue, type_of
from hivebase.mcp.context import McpCall, from_scope
from hivebase.mcp.packages import Dialect, Package, Registry, ToolSpec

log = logging.getLogger("hivebase.mcp")

INSTRUCTIONS = (
    "hivebase: tables, users, files and functions of one app. Look before you write: list tables "
    "(get_project_tables, or resource_list on a table) to learn exact table and field names; writes naming "
    "unknown fields are refused with a suggestion. Ask the user before deleting anything."
)

INTERNAL = 1  # Bmob's code for a failure of the server, not of the input (the REST door answers it too)

Locate = Callable[[ServerRequestContext[Any]], Awaitable[McpCall | None]]


def _validator(schema: Any) -> Draft202012Validator:
    return Draft202012Validator(schema)


def _problem(err: ValidationError) -> str:
    where = ".".join(str(p) for p in err.absolute_path)
    at = f"`{where}`" if where else "the arguments"
    # both are set on every error a validator yields (the stubs also allow jsonschema's "unset" marker)
    value: Any = err.validator_value
    schema: Any = err.schema
    if err.validator == "required":
        missing = [m for m in value if isinstance(err.instance, dict) and m not in err.instance]
        return f"`{missing[0] if missing else value[0]}` is required"
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted((schema.get("properties") or {}).keys())
        extra = sorted(k for k in err.instance if k not in allowed)
        return f"unknown argument `{str(extra[0])[:60]}`; this tool takes {', '.join(allowed)}"
    if err.validator == "type":
        expected = value if isinstance(value, str) else " or ".join(value)
        return f"{at} must be {expected}, received {type_of(err.instance)}"
    if err.validator == "enum":
        return f"{at} must be one of {', '.join(map(str, value))}"
    return f"{at}: {err.message[:200]}"


class Tools:
    """The registry with a compiled validator per tool."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._validators: dict[str, Draft202012Validator] = {}
        self._listed: dict[str, types.Tool] = {}
        for name in registry.names():
            for tool in registry.get(name).tools:
                self._validators[tool.name] = _validator(tool.input_schema)
                self._listed[tool.name] = types.Tool(
                    name=tool.name, description=tool.description, input_schema=dict(tool.input_schema),
                    annotations=types.ToolAnnotations(read_only_hint=tool.read_only,
                                                      destructive_hint=tool.destructive,
                                                      idempotent_hint=tool.idempotent, open_world_hint=False))

    def selected(self, call: McpCall) -> list[Package]:
        return self.registry.select(call.defaults, call.packages_header)

    def listing(self, call: McpCall) -> list[types.Tool]:
        seen: dict[str, types.Tool] = {}
        for package in self.selected(call):
            for tool in package.tools:
                seen.setdefault(tool.name, self._listed[tool.name])
        return list(seen.values())

    def find(self, call: McpCall, name: str) -> tuple[ToolSpec, Dialect] | None:
        for package in self.selected(call):
            for tool in package.tools:
                if tool.name == name:
                    return tool, package.dialect
        return None

    def check(self, tool: ToolSpec, args: dict[str, Any]) -> None:
        err = next(iter(sorted(self._validators[tool.name].iter_errors(args), key=lambda e: e.path)), None)
        if err is not None:
            raise InvalidValue(f"{tool.name}: {_problem(err)}", reason="arguments")


def _text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def tool_error(exc: HivebaseError, dialect: Dialect) -> types.CallToolResult:
    body = bmob.error_body(exc) if dialect == "bmob" else nocobase.error_body(exc)
    return types.CallToolResult(content=[types.TextContent(type="text", text=_text(body))], is_error=True)


def tool_result(value: Any) -> types.CallToolResult:
    """JSON text plus the same object as structured content; a string (generated code) is shown as is."""
    if isinstance(value, str):
        return types.CallToolResult(content=[types.TextContent(type="text", text=value)])
    structured = value if isinstance(value, dict) else {"result": value}
    return types.CallToolResult(content=[types.TextContent(type="text", text=_text(value))],
                                structured_content=structured)


async def call_tool(tools: Tools, call: McpCall, name: str, arguments: dict[str, Any] | None) -> types.CallToolResult:
    found = tools.find(call, name)
    if found is None:
        raise MCPError(types.INVALID_PARAMS, f"unknown tool `{name[:80]}`; call tools/list for the tools of "
                                             "this endpoint (x-mcp-packages adds packages)")
    tool, dialect = found
    args = dict(arguments or {})
    try:
        tools.check(tool, args)
        return tool_result(await tool.run(call, args))
    except HivebaseError as exc:
        return tool_error(exc, dialect)
    except Exception:  # a bug: logged with its traceback, never shown to the agent
        log.exception("tool %s failed", name)
        return tool_error(HivebaseError("internal server error", code=INTERNAL), dialect)


def build_server(tools: Tools, locate: Locate, *, version: str = "") -> Server[Any]:
    """A low-level server whose handlers find their ``McpCall`` with ``locate``."""

    async def require(ctx: ServerRequestContext[Any]) -> McpCall:
        try:
            call = await locate(ctx)
        except HivebaseError as exc:  # stdio: the credential was revoked or expired since start-up
            raise MCPError(types.INVALID_REQUEST, exc.message) from None
        if call is None:  # a transport that did not authenticate: never serve it
            raise MCPError(types.INVALID_REQUEST, "unauthenticated")
        return call

    async def on_list_tools(ctx: ServerRequestContext[Any],
                            params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools.listing(await require(ctx)))

    async def on_call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        return await call_tool(tools, await require(ctx), params.name, params.arguments)

    return Server("hivebase", version=version, instructions=INSTRUCTIONS, on_list_tools=on_list_tools,
                  on_call_tool=on_call_tool)


async def locate_in_request(ctx: ServerRequestContext[Any]) -> McpCall | None:
    """The HTTP transports' locator: the context the endpoint left in the request's scope."""
    request = ctx.request
    return from_scope(getattr(request, "scope", None)) if request is not None else None
