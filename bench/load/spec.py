"""What a load generator is asked to do and what it reports; shared by hivebase's targets and the peers'."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # absolute path with its query string, e.g. "/1/classes/Player?where=%7B%7D"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Workload:
    """Requests sent over keep-alive connections to ``base_url``; each connection cycles through
    ``requests`` (so ids and values vary). A response is an error when its status is not in ``ok_status``
    or its body contains one of ``error_markers`` (MCP tool errors come back as HTTP 200)."""

    base_url: str
    requests: Sequence[Request]
    ok_status: frozenset[int] = frozenset({200, 201})
    error_markers: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class SseWorkload:
    """Legacy MCP (HTTP+SSE, protocol 2024-11-05): each connection opens ``GET sse_path``, reads the
    ``endpoint`` event, initializes, then sends ``tools/call`` messages (the ``params`` of ``calls``, cycled)
    one at a time and waits for each answer on its stream."""

    base_url: str
    sse_path: str
    headers: Mapping[str, str]
    calls: Sequence[Mapping[str, Any]]  # each {"name": tool, "arguments": {...}}


@dataclass(slots=True)
class Result:
    requests: int
    errors: int
    seconds: float
    rps: float  # successful and failed requests per second
    p50_ms: float
    p99_ms: float
    first_error: str = ""  # status and the start of the first failing body, for the report

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.errors == 0
