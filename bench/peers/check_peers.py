"""Installs a peer, starts it, sends the first requests of each of its workloads and prints what came back:
a quick look at a peer before benchmarking it. ``python -m bench.peers.check_peers nocobase|directus|parse``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping

import httpx

from bench.load.spec import Workload
from bench.peers.base import PeerUnavailable, cache_dir, load_peers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("peer", choices=["nocobase", "directus", "parse"])
    parser.add_argument("--requests", type=int, default=3, help="requests sent from each workload")
    args = parser.parse_args()
    (target,) = load_peers([args.peer])
    cache = cache_dir()
    log = cache / "logs" / f"{args.peer}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"{target.name} on {target.database}; cache {cache}; log {log}")
    try:
        began = time.monotonic()
        target.install(cache, log)
        print(f"install: {time.monotonic() - began:.1f} s")
        began = time.monotonic()
        with target.start(cache, log) as running:
            print(f"start (incl. loading): {time.monotonic() - began:.1f} s; {running.base_url} pid {running.pid}")
            show(running.workloads, running.notes, args.requests)
        print("stopped")
    except PeerUnavailable as exc:
        print(f"unavailable: {exc}")
        return 1
    return 0


def show(workloads: Mapping[str, Workload], notes: Mapping[str, str], count: int) -> None:
    with httpx.Client(timeout=60) as client:
        for key, workload in workloads.items():
            print(f"== {key} ({len(workload.requests)} requests){' — ' + notes[key] if key in notes else ''}")
            for r in list(workload.requests)[:count]:
                answer = client.request(r.method, workload.base_url + r.path, headers=dict(r.headers),
                                        content=r.body)
                failed = answer.status_code not in workload.ok_status or any(
                    m in answer.content for m in workload.error_markers)
                print(f"  {r.method} {r.path[:100]}")
                print(f"  -> {answer.status_code}{' ERROR' if failed else ''} {answer.content[:200]!r}")


if __name__ == "__main__":
    sys.exit(main())
