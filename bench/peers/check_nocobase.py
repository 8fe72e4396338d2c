"""Installs and starts the NocoBase peer, sends each workload's first 3 requests and prints what comes back, so a
person can see the peer answers before a benchmark trusts it: `.venv/bin/python -m bench.peers.check_nocobase`."""

from __future__ import annotations

import sys
import time

import httpx

from bench.peers.base import PeerUnavailable, cache_dir
from bench.peers.nocobase import NocoBase
from bench.peers.nocobase_workloads import send


def main() -> int:
    cache = cache_dir()
    log = cache / "logs" / "nocobase.log"
    peer = NocoBase()
    print(f"{peer.name} on {peer.database}; cache {cache}; log {log}")
    try:
        began = time.monotonic()
        peer.install(cache, log)
        print(f"install: {time.monotonic() - began:.1f}s")
        began = time.monotonic()
        with peer.start(cache, log) as run, httpx.Client(timeout=60) as client:
            print(f"start (database install + boot + load + probe): {time.monotonic() - began:.1f}s")
            print(f"base_url {run.base_url}, server pid {run.pid}")
            for key, workload in run.workloads.items():
                print(f"\n== {key} ({len(workload.requests)} requests) — {run.notes.get(key, '')}")
                for request in workload.requests[:3]:
                    answer = send(client, workload, request)
                    bad = answer.status_code not in workload.ok_status or any(
                        m in answer.content for m in workload.error_markers)
                    print(f"{request.method} {request.path[:90]} -> {answer.status_code}{' ERROR' if bad else ''}"
                          f" {answer.content[:200]!r}")
            rest = run.workloads["rest.get"]
            page = client.get(f"{run.base_url}/api/players:list?pageSize=1", headers=dict(rest.requests[0].headers))
            print(f"\nrows in players: {page.json()['meta']['count']}")
            began = time.monotonic()
        print(f"stop: {time.monotonic() - began:.1f}s")
    except PeerUnavailable as exc:
        print(f"unavailable: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
