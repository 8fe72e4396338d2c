"""What every peer offers the comparative benchmark."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench.load.spec import Workload

# Row keys shared by hivebase and the peers; a peer fills the ones it can answer.
REST_ROWS = ("rest.get", "rest.query", "rest.count", "rest.create", "rest.update", "rest.aggregate")
MCP_ROWS = ("mcp.get", "mcp.list", "mcp.create", "mcp.aggregate")


class PeerUnavailable(Exception):
    """The peer cannot be installed or started on this machine; the message says why, for the report."""


@dataclass(slots=True)
class Running:
    base_url: str
    pid: int  # the server process, whose CPU time the bench reads from /proc
    workloads: dict[str, Workload] = field(default_factory=dict)  # keyed by REST_ROWS / MCP_ROWS
    notes: dict[str, str] = field(default_factory=dict)  # per row: how the peer answers it, if not obvious


class Peer(Protocol):
    name: str  # with its version, e.g. "NocoBase 2.2.15"
    database: str  # "PostgreSQL" or "SQLite": hivebase on the same database is its comparison

    def install(self, cache: Path, log: Path) -> None:
        """Install into ``cache`` (idempotent: a second call with everything in place returns at once);
        long output goes to ``log``. Raises PeerUnavailable with the reason when it cannot."""

    def start(self, cache: Path, log: Path) -> AbstractContextManager[Running]:
        """Start the peer on a free loopback port with fresh data (``bench.dataset.rows()`` loaded, not
        measured), yield its workloads, and stop it and drop its data on exit."""


def cache_dir() -> Path:
    path = Path(os.environ.get("HIVEBASE_BENCH_CACHE") or Path.home() / ".cache" / "hivebase-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_peers(names: list[str]) -> list[Peer]:
    """The peers by short name (``nocobase``, ``directus``, ``parse``), imported only when asked for."""
    from bench.peers.directus import Directus
    from bench.peers.nocobase import NocoBase
    from bench.peers.parse import Parse

    known: dict[str, type] = {"nocobase": NocoBase, "directus": Directus, "parse": Parse}
    return [known[n]() for n in names]
