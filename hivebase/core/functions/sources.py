"""Where a function's source comes from, and turning it into code: names, size, compiling, caches.

Deployed sources live in the app's ``_hb_functions`` table and are read at every call, so a deployment made
by any process is seen at once by all of them; their compiled code is cached by the source's hash. File
sources (``<data_dir>/functions/<app>/<name>.py``) are read when called and cached by modification time
and size, so editing a file takes effect at the next call. A deployed function wins over a file of the
same name.
"""

from __future__ import annotations

import ast
import hashlib
import linecache
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Any, Literal

from hivebase.core.functions.errors import FunctionError
from hivebase.errors import InvalidName

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
MAX_SOURCE_BYTES = 256 * 1024
#: largest deploy request body a door should read: a JSON-encoded source may be longer than the source
MAX_DEPLOY_BODY = 4 * MAX_SOURCE_BYTES
CACHE_SIZE = 256
Origin = Literal["deployed", "file"]


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        shown = str(name)[:64]
        raise InvalidName(f"invalid cloud function name {shown!r}: use 1-64 letters, digits or '_', starting "
                          "with a letter", reason="function_name")
    return name


def as_text(name: str, source: Any) -> str:
    """The source as text within the size limit (bytes must be UTF-8)."""
    if isinstance(source, bytes | bytearray):
        if len(source) > MAX_SOURCE_BYTES:
            raise _too_large(name, len(source))
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError:
            raise FunctionError(f"the source of `{name}` is not UTF-8 text", reason="source") from None
    if not isinstance(source, str):
        raise FunctionError(f"the source of `{name}` must be text", reason="source")
    try:
        size = len(source.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates, e.g. from a JSON "\ud800"
        raise FunctionError(f"the source of `{name}` is not valid Unicode text", reason="source") from None
    if size > MAX_SOURCE_BYTES:
        raise _too_large(name, size)
    if not source.strip():
        raise FunctionError(f"the source of `{name}` is empty; it must define main(ctx)", reason="source")
    return source


def _too_large(name: str, size: int) -> FunctionError:
    return FunctionError(f"the source of `{name}` is {size} bytes; at most {MAX_SOURCE_BYTES} are accepted",
                         reason="too_large", limit=MAX_SOURCE_BYTES)


def _defines_main(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main":
            return True
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "main" for t in targets):
                return True
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == "main" for a in node.names):
            return True
    return False


def compile_source(name: str, source: str, filename: str) -> CodeType:
    """Compiled module code; a clean error naming the line of a syntax error, or a missing ``main``."""
    try:
        tree = ast.parse(source, filename)
        code = compile(tree, filename, "exec")
    except SyntaxError as exc:
        where = f"line {exc.lineno}: " if exc.lineno else ""
        raise FunctionError(f"the source of `{name}` does not compile: {where}{exc.msg}", reason="source",
                            line=exc.lineno) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        raise FunctionError(f"the source of `{name}` does not compile: {str(exc)[:200]}", reason="source") from None
    if not _defines_main(tree):
        raise FunctionError(f"the source of `{name}` defines no top-level main(ctx) function", reason="source")
    return code


@dataclass(frozen=True, slots=True)
class Source:
    """A function found for a call: its text (deployed) or path (file), compiled in the worker thread."""

    app: str
    name: str
    origin: Origin
    text: str | None = None
    path: Path | None = None


class CodeCache:
    """Compiled code of deployed sources (by hash) and of files (by path, mtime and size); thread-safe."""

    def __init__(self) -> None:
        self._deployed: dict[str, CodeType] = {}
        self._files: dict[Path, tuple[int, int, CodeType]] = {}
        self._lock = threading.Lock()

    def code(self, src: Source) -> tuple[CodeType, str]:
        """(code, filename) of ``src``; raises ``FunctionError`` when it does not compile."""
        if src.origin == "deployed":
            assert src.text is not None
            return self._for_text(src), f"<cloud function {src.app}/{src.name}>"
        assert src.path is not None
        return self._for_file(src.name, src.path), str(src.path)

    def _for_text(self, src: Source) -> CodeType:
        assert src.text is not None
        filename = f"<cloud function {src.app}/{src.name}>"
        key = hashlib.sha256(f"{filename}\0{src.text}".encode()).hexdigest()
        code = self._deployed.get(key)
        if code is None:
            code = compile_source(src.name, src.text, filename)
            with self._lock:
                if len(self._deployed) >= CACHE_SIZE:
                    self._deployed.clear()
                self._deployed[key] = code
        # tracebacks in the server log show the deployed lines
        linecache.cache[filename] = (len(src.text), None, src.text.splitlines(True), filename)
        return code

    def _for_file(self, name: str, path: Path) -> CodeType:
        try:
            st = path.stat()
        except OSError:
            raise FunctionError(f"the file of `{name}` disappeared", reason="source") from None
        cached = self._files.get(path)
        if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
            return cached[2]
        try:
            raw = path.read_bytes()
        except OSError:
            raise FunctionError(f"the file of `{name}` cannot be read", reason="source") from None
        code = compile_source(name, as_text(name, raw), str(path))
        with self._lock:
            if len(self._files) >= CACHE_SIZE:
                self._files.clear()
            self._files[path] = (st.st_mtime_ns, st.st_size, code)
        return code


def functions_dir(data_dir: Path, app: str) -> Path:
    return Path(data_dir) / "functions" / app


def file_of(data_dir: Path, app: str, name: str) -> Path | None:
    """The file of function ``name`` (already a checked name) when it exists."""
    path = functions_dir(data_dir, app) / f"{name}.py"
    return path if path.is_file() else None


def file_names(data_dir: Path, app: str) -> list[str]:
    """Names of the app's file functions (files whose stem is a valid function name)."""
    folder = functions_dir(data_dir, app)
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    return sorted(e[:-3] for e in entries if e.endswith(".py") and NAME.fullmatch(e[:-3])
                  and (folder / e).is_file())
