"""A busy server answers every correct ``$regex`` query, correctly (issue 15: under load a trivial ``^item``
failed with "takes too long" because SQLite's regex budget was wall-clock time per value).

The server runs in this process, so the writers, the heavy requests and a Python thread that only burns CPU
all compete with it for the GIL and the cores, as a loaded server's threads do. No durations are measured.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.rest.conftest import Server

SEEDED = 120  # rows item-0 … item-119 with n = i, plus as many "other-…" rows
BLOB = "x" * 1000 + "y"
QUERIERS, QUERIES_EACH = 4, 60  # 240 regex queries over HTTP
MAX_ROUNDS = 2000  # bound on each background loop, should the queries never finish


def seed(server: Server) -> None:
    server.make_table("Item", {"name": "String", "n": "Number", "blob": "String"})
    rows = [{"name": f"{kind}-{i}", "n": i, "blob": BLOB} for i in range(SEEDED) for kind in ("item", "other")]
    with server.client() as c:
        for start in range(0, len(rows), 50):
            r = c.post("/1/batch", json={"requests": [{"method": "POST", "path": "/1/classes/Item", "body": b}
                                                      for b in rows[start:start + 50]]})
            assert r.status_code == 200 and all("success" in x for x in r.json()), r.text


def expected(pattern: str, low: int) -> set[str]:
    """The seeded rows a query must return (writers only add names that no query pattern matches)."""
    names = (f"{kind}-{i}" for i in range(low, SEEDED) for kind in ("item", "other"))
    return {name for name in names if re.search(pattern, name)}


QUERIES: list[tuple[dict[str, Any], str]] = [  # ($regex operand, the same for Python's re on these names)
    ({"$regex": "^item"}, "^item"),
    ({"$regex": "^ITEM-1\\d*$", "$options": "i"}, "^item-1\\d*$"),
    ({"$regex": "(-1|-2)3"}, "(-1|-2)3"),
    ({"$regex": "^(\\w+)-\\d{2}$"}, "^(\\w+)-\\d{2}$"),
    ({"$regex": "(i+t*e*m*)+-7"}, "(i+t*e*m*)+-7"),
]


def background(server: Server, stop: threading.Event) -> list[Callable[[], int]]:
    """Writers, heavy reads and a CPU burner: each loops until ``stop`` (or MAX_ROUNDS) and returns its
    failure count."""

    def writer(seed_: int) -> int:
        rnd, failed = random.Random(seed_), 0
        with server.client() as c:
            for i in range(MAX_ROUNDS):
                if stop.wait(0.005):
                    break
                body = {"name": f"w.{seed_}.{i}", "n": rnd.randrange(SEEDED), "blob": BLOB}  # no pattern matches
                failed += c.post("/1/classes/Item", json=body).status_code != 201
        return failed

    def heavy(kind: int) -> int:
        params = [{"sum": "n", "groupby": "name", "limit": 300},  # groups every row
                  {"where": json.dumps({"blob": {"$regex": "(x+x+)+z"}}), "count": 1},  # scans every blob
                  {"where": json.dumps({"n": {"$gte": 0}}), "limit": 300, "order": "-n,name", "keys": "name,n"}
                  ][kind]
        failed = 0
        with server.client() as c:
            for _ in range(MAX_ROUNDS):
                if stop.wait(0.01):
                    break
                failed += c.get("/1/classes/Item", params=params).status_code != 200
        return failed

    def burner() -> int:
        for _ in range(MAX_ROUNDS * 10):  # holds the GIL in bursts of a few ms, as busy request threads do
            if stop.wait(0.004):
                break
            sum(i * i for i in range(20_000))
        return 0

    return [lambda: writer(1), lambda: writer(2), lambda: heavy(0), lambda: heavy(1), lambda: heavy(2), burner]


def querier(server: Server, who: int) -> list[str]:
    """QUERIES_EACH regex queries; the problems found (an error or a wrong answer), none expected."""
    rnd, problems = random.Random(who), []
    with server.client() as c:
        for i in range(QUERIES_EACH):
            operand, pattern = QUERIES[(who + i) % len(QUERIES)]
            low = rnd.randrange(SEEDED)
            where = {"n": {"$gte": low}, "name": operand}
            r = c.get("/1/classes/Item", params={"where": json.dumps(where), "keys": "name", "limit": 1000})
            if r.status_code != 200:
                problems.append(f"{where}: {r.status_code} {r.text[:200]}")
                continue
            got, want = {row["name"] for row in r.json()["results"]}, expected(pattern, low)
            if got != want:
                problems.append(f"{where}: {sorted(got ^ want)[:5]} differ")
    return problems


def test_regex_queries_never_fail_under_load(server: Server) -> None:
    seed(server)
    stop = threading.Event()
    jobs = background(server, stop)
    with ThreadPoolExecutor(len(jobs) + QUERIERS) as pool:
        busy = [pool.submit(job) for job in jobs]
        try:
            answers = [pool.submit(querier, server, who) for who in range(QUERIERS)]
            problems = [p for a in answers for p in a.result()]
        finally:
            stop.set()
        failed = [b.result() for b in busy]
    assert problems == []
    assert failed == [0] * len(jobs)
    with server.client() as c:  # the load really ran: the writers' rows are there
        counted = c.get("/1/classes/Item", params={"count": 1, "limit": 0}).json()["count"]
    assert counted > 2 * SEEDED
