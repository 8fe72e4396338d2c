"""``generate_code``: a ready-to-run request — curl, Python (httpx) or JavaScript (fetch) — for one of the 13
operation types of Bmob's MCP service, aimed at this server's REST API (``/1``, files at ``/2``).

Pure, no I/O. Every value an agent sends ends up as quoted data (``shlex.quote`` for the shell, ``repr`` for
Python, JSON for JavaScript) and every name or id in a URL is checked and percent-encoded, so nothing can
break out of the printed command. Only the REST API key is ever printed: there is no master key here.
"""

from __future__ import annotations

import json
import mimetypes
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hivebase.core.files import DEFAULT_TYPE, check_type
from hivebase.core.files import check_name as check_file_name
from hivebase.core.functions.sources import check_name as check_function_name
from hivebase.core.model import USER_TABLE
from hivebase.core.names import check_table_name, is_key
from hivebase.core.query.bmob_params import MAX_LIMIT, MAX_SKIP
from hivebase.core.query.where import MAX_JSON_DEPTH
from hivebase.errors import InvalidValue, LimitExceeded, TypeMismatch, type_of

#: canonical type → the parameters it needs (user fields may also sit inside ``data``)
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "add": ("tableName", "data"), "delete": ("tableName", "objectId"), "update": ("tableName", "objectId", "data"),
    "get": ("tableName", "objectId"), "query": ("tableName",), "signup": ("username", "password"),
    "login": ("username", "password"), "sms_login": ("mobilePhoneNumber", "smsCode"),
    "update_user": ("sessionToken", "objectId", "data"), "request_sms_code": ("mobilePhoneNumber",),
    "verify_sms_code": ("mobilePhoneNumber", "smsCode"), "call_function": ("funcName",), "upload_file": ("fileName",),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "query": ("where", "skip", "limit", "count"), "signup": ("data",), "sms_login": ("data",),
    "request_sms_code": ("template",), "call_function": ("data",), "upload_file": ("content_Type",),
}
CHINESE = {"添加": "add", "删除": "delete", "更新": "update", "查询一条数据": "get", "条件查询": "query",
           "注册": "signup", "用户名密码登录": "login", "手机号验证码登录": "sms_login", "更新用户": "update_user",
           "请求短信验证码": "request_sms_code", "验证短信验证码": "verify_sms_code", "调用云函数": "call_function",
           "上传文件": "upload_file"}
ALIASES = {"create": "add", "remove": "delete", "get_one": "get", "query_one": "get", "find": "query",
           "sign_up": "signup", "register": "signup", "log_in": "login", "upload": "upload_file"}
#: every accepted label → canonical type (English ones case-insensitively, surrounding whitespace ignored)
TYPES: dict[str, str] = {**{t: t for t in REQUIREMENTS}, **CHINESE, **ALIASES}
LANGUAGES = {"curl": "curl", "python": "python", "javascript": "javascript", "js": "javascript"}
USER_FIELDS = {"signup", "login", "sms_login", "request_sms_code", "verify_sms_code"}  # fields from data or args
USES_DATA = USER_FIELDS | {"add", "update", "update_user", "call_function"}
MAX_BODY = 64 * 1024  # bytes of JSON in a body: the whole command must fit in one shell argument (128 KiB)
MAX_WHERE = 8 * 1024  # bytes of `where`: it travels in the request line
BASE_URL = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&()*+,;=:@/-]*)?")
HEADER_VALUE = re.compile(r"[\x21-\x7e]{1,1024}")
DIGITS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, dialect-free: what each language renders."""

    method: str
    path: str  # percent-encoded, e.g. /1/classes/Player
    body: Any = None  # a JSON value (already normalised), or None
    query: tuple[tuple[str, str], ...] = ()
    session: str | None = None
    upload: tuple[str, str] | None = None  # (file name in the current directory, Content-Type)


def describe_types() -> str:
    """One line per type: its labels and parameters (for the tool's description)."""
    chinese = {v: k for k, v in CHINESE.items()}
    lines = [f"{t} ({chinese[t]}): {', '.join(need)}" + (f" [{', '.join(OPTIONAL[t])}]" if t in OPTIONAL else "")
             for t, need in REQUIREMENTS.items()]
    return "\n".join([*lines, "username/password/mobilePhoneNumber/smsCode/template may also sit inside data."])


def canonical_type(kind: Any) -> str:
    """The canonical English type for any accepted label."""
    if isinstance(kind, str):
        key = kind.strip()
        found = TYPES.get(key) or TYPES.get(key.lower().replace("-", "_").replace(" ", "_"))
        if found:
            return found
    shown = kind[:64] if isinstance(kind, str) else type_of(kind)
    accepted = ", ".join(f"{t} ({c})" for c, t in CHINESE.items())
    raise InvalidValue(f"unknown generate_code type {shown!r}; use one of: {accepted}", reason="type", field="type")


def generate(kind: str, args: Mapping[str, Any], *, base_url: str, application_id: str, rest_api_key: str,
             language: str = "curl") -> str:
    """The code that performs ``kind`` with ``args`` against ``base_url`` using the app's REST API key."""
    lang = LANGUAGES.get(language.strip().lower()) if isinstance(language, str) else None
    if lang is None:
        raise InvalidValue(f"unknown language {str(language)[:32]!r}; use curl, python or javascript",
                           reason="language", field="language")
    request = plan(canonical_type(kind), args)
    base = _base_url(base_url)
    headers = [("X-Bmob-Application-Id", _header("application_id", application_id)),
               ("X-Bmob-REST-API-Key", _header("rest_api_key", rest_api_key))]
    if request.session is not None:
        headers.append(("X-Bmob-Session-Token", request.session))
    if request.upload is not None:
        headers.append(("Content-Type", request.upload[1]))
    elif request.body is not None:
        headers.append(("Content-Type", "application/json"))
    render = {"curl": _curl, "python": _python, "javascript": _javascript}[lang]
    return render(request, base + request.path, headers)


# -- checking the arguments -------------------------------------------------------------------------------


def plan(kind: str, args: Mapping[str, Any]) -> Request:
    """Check ``args`` for the canonical ``kind`` and describe the request (no rendering yet)."""
    data = _object(args, "data") if kind in USES_DATA else None
    values = {name: _pick(args, data, name, kind in USER_FIELDS) for name in REQUIREMENTS[kind]}
    missing = [name for name, value in values.items() if value is None]
    if missing:
        where = " (in data or as arguments)" if kind in USER_FIELDS else ""
        raise InvalidValue(f"generate_code type `{kind}` needs {_and(missing)}{where}", reason="missing",
                           field=missing[0], missing=missing)
    v: dict[str, Any] = {name: value if name == "data" else _text(name, value) for name, value in values.items()}
    if kind in ("add", "delete", "update", "get", "query"):
        path = f"/1/classes/{_table(v['tableName'])}"
        if "objectId" in v:
            path += f"/{_segment('objectId', v['objectId'])}"
        method = {"add": "POST", "delete": "DELETE", "update": "PUT"}.get(kind, "GET")
        body = v.get("data")
        return Request(method, path, _json(body, "data", MAX_BODY) if body is not None else None,
                       query=_query(args) if kind == "query" else ())
    if kind == "update_user":
        token = _header("sessionToken", v["sessionToken"])
        return Request("PUT", f"/1/users/{_segment('objectId', v['objectId'])}", _json(v["data"], "data", MAX_BODY),
                       session=token)
    if kind in ("signup", "sms_login", "login"):
        body = {**(data or {}), **v} if kind != "login" else v
        return Request("POST", "/1/login" if kind == "login" else "/1/users", _json(body, "data", MAX_BODY))
    if kind == "request_sms_code":
        template = _pick(args, data, "template", True)
        body = {**v, **({"template": _text("template", template)} if template is not None else {})}
        return Request("POST", "/1/requestSmsCode", _json(body, "data", MAX_BODY))
    if kind == "verify_sms_code":
        return Request("POST", f"/1/verifySmsCode/{_segment('smsCode', v['smsCode'])}",
                       _json({"mobilePhoneNumber": v["mobilePhoneNumber"]}, "data", MAX_BODY))
    if kind == "call_function":
        return Request("POST", f"/1/functions/{check_function_name(v['funcName'])}",
                       _json(data if data is not None else {}, "data", MAX_BODY))
    name = check_file_name(v["fileName"])
    ctype = _given(args, "content_Type")
    if ctype is None:
        guessed, encoding = mimetypes.guess_type(name, strict=False)  # a compressed file is sent as it is stored
        ctype = ("application/gzip" if encoding == "gzip" else DEFAULT_TYPE) if encoding else guessed or DEFAULT_TYPE
    return Request("POST", f"/2/files/{quote(name, safe='')}", upload=(name, check_type(_text("content_Type", ctype))))


def _given(args: Mapping[str, Any], name: str) -> Any:
    """An argument's value; absent, null and "" all mean "not given" (agents fill unused ones with "")."""
    value = args.get(name)
    return None if value is None or (isinstance(value, str) and value == "") else value


def _pick(args: Mapping[str, Any], data: dict[str, Any] | None, name: str, from_data: bool) -> Any:
    """``name`` as an argument, or (for user fields) inside ``data``; both given must agree."""
    if name == "data":
        return data
    top = _given(args, name)
    inner = _given(data, name) if from_data and data is not None else None
    if top is not None and inner is not None and top != inner:
        raise InvalidValue(f"`{name}` is given as an argument and inside data with different values",
                           reason="conflict", field=name)
    return top if top is not None else inner


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeMismatch(None, name, "a string", type_of(value))
    return value


def _table(name: str) -> str:
    return name if name == USER_TABLE else check_table_name(name)


def _segment(name: str, value: str) -> str:
    """An id for a URL path: 1-64 characters (``is_key``), percent-encoded; never ``.``/``..``."""
    if not is_key(value) or value in (".", ".."):
        raise InvalidValue(f"`{name}` {value[:64]!r} is not a valid id (1-64 characters)", reason="id", field=name)
    return quote(value, safe="")


def _header(name: str, value: Any) -> str:
    if not isinstance(value, str) or not HEADER_VALUE.fullmatch(value):
        raise InvalidValue(f"`{name}` must be 1-1024 visible ASCII characters", reason="header", field=name)
    return value


def _base_url(url: Any) -> str:
    base = url.rstrip("/") if isinstance(url, str) else ""
    if not BASE_URL.fullmatch(base):
        raise InvalidValue("base_url must be http(s)://host[:port][/path] without query, fragment or credentials",
                           reason="base_url", field="base_url")
    return base


def _object(args: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """A JSON-object argument, sent as an object or as JSON text (as Bmob's tools do)."""
    value = _given(args, name)
    if isinstance(value, str):
        if len(value) > MAX_BODY:
            raise LimitExceeded(f"`{name}` is larger than {MAX_BODY} characters", reason="too_large", field=name)
        try:
            value = json.loads(value, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise InvalidValue(f"`{name}` is not valid JSON (send an object or its JSON text)", reason="json",
                               field=name) from None
    if value is not None and not isinstance(value, Mapping):
        raise TypeMismatch(None, name, "a JSON object", type_of(value))
    return dict(value) if value is not None else None


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _json(value: Any, name: str, limit: int) -> Any:
    """``value`` as plain JSON (lists, str keys…), checked for depth, size and encodability."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError):
        raise InvalidValue(f"`{name}` holds a value that is not JSON", reason="json", field=name) from None
    if size > limit:
        raise LimitExceeded(f"`{name}` is larger than {limit} bytes of JSON", reason="too_large", field=name)
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list | tuple):
            if depth > MAX_JSON_DEPTH:
                raise InvalidValue(f"`{name}` nests more than {MAX_JSON_DEPTH} levels", reason="too_deep", field=name)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, Mapping) else item))
    return json.loads(text)


def _query(args: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    where = _object(args, "where")
    if where:
        out.append(("where", json.dumps(_json(where, "where", MAX_WHERE), ensure_ascii=False, separators=(",", ":"))))
    for name, maximum in (("skip", MAX_SKIP), ("limit", MAX_LIMIT)):
        value = _given(args, name)
        if isinstance(value, str) and DIGITS.fullmatch(value.strip()):
            value = int(value.strip())
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeMismatch(None, name, "a whole number of 0 or more", type_of(value))
        if not 0 <= value <= maximum:
            raise InvalidValue(f"`{name}` must be from 0 to {maximum}, received {value}", reason="range", field=name)
        out.append((name, str(value)))
    count = _given(args, "count")
    if isinstance(count, str):
        count = {"true": True, "1": True, "false": False, "0": False}.get(count.strip().lower(), count)
    if count is not None and (count not in (0, 1) or not isinstance(count, bool | int)):
        raise TypeMismatch(None, "count", "true/false or 1/0", type_of(count))
    if count:
        out.append(("count", "1"))
    return tuple(out)


# -- rendering --------------------------------------------------------------------------------------------


def _curl(request: Request, url: str, headers: list[tuple[str, str]]) -> str:
    first = f"curl -X {request.method} {shlex.quote(url)}" + (" --globoff" if "[" in url else "")
    lines = [first, *(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in headers)]
    if request.query:
        lines += ["--get", *(f"--data-urlencode {shlex.quote(f'{k}={v}')}" for k, v in request.query)]
    if request.upload is not None:
        name = request.upload[0]
        lines.append(f"--data-binary {shlex.quote('@' + ('./-' if name == '-' else name))}")
    elif request.body is not None:
        lines.append(f"-d {shlex.quote(_compact(request.body))}")
    return " \\\n  ".join(lines)


def _python(request: Request, url: str, headers: list[tuple[str, str]]) -> str:
    lines = ["import httpx", ""]
    call = [repr(url), "headers={\n" + "".join(f"        {k!r}: {v!r},\n" for k, v in headers) + "    }"]
    if request.query:
        call.append(f"params={dict(request.query)!r}")
    if request.upload is not None:
        lines += [f"with open({request.upload[0]!r}, 'rb') as file:", "    content = file.read()", ""]
        call.append("content=content")
    elif request.body is not None:
        call.append(f"json={request.body!r}")
    lines += [f"response = httpx.{request.method.lower()}(", *(f"    {c}," for c in call), ")",
              "print(response.status_code, response.text)", "response.raise_for_status()"]
    return "\n".join(lines)


def _javascript(request: Request, url: str, headers: list[tuple[str, str]]) -> str:
    lines = ["// Node 18+ (save as request.mjs, run `node request.mjs`) or a browser's module script"]
    if request.upload is not None:
        lines.append('import { readFile } from "node:fs/promises";')
    target = _js(url)
    if request.query:
        target += f" + \"?\" + new URLSearchParams({_js(dict(request.query))})"
    lines += ["", f"const response = await fetch({target}, {{", f"  method: {_js(request.method)},",
              "  headers: {", *(f"    {_js(k)}: {_js(v)}," for k, v in headers), "  },"]
    if request.upload is not None:
        lines.append(f"  body: await readFile({_js(request.upload[0])}),")
    elif request.body is not None:
        text = _compact(request.body)  # a literal with "__proto__" would set a prototype, not a key
        lines.append(f"  body: {_js(text)}," if "__proto__" in text else f"  body: JSON.stringify({text}),")
    lines += ["});", "console.log(response.status, await response.text());",
              "if (!response.ok) throw new Error(`HTTP ${response.status}`);"]
    return "\n".join(lines)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _js(value: Any) -> str:
    """A JavaScript literal (JSON is one since ES2019)."""
    return json.dumps(value, ensure_ascii=False)
