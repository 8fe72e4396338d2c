"""The data every system under test holds, so that each row of the comparison asks the same question of the
same rows: a ``Player`` table (``players`` where a system wants plural names) of ``ROWS`` rows."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

ROWS = 100_000
TEAMS = 20
FIELDS = {"name": "String", "team": "String", "score": "Number", "level": "Number"}
# The 2-condition query and the count: team = QUERY_TEAM and score >= QUERY_MIN_SCORE, 20 rows a page.
QUERY_TEAM = "t7"
QUERY_MIN_SCORE = 500
PAGE = 20
# The aggregate: group by team, sum(score), over every row.


def rows(count: int = ROWS, seed: int = 42) -> Iterator[dict[str, Any]]:
    """The same rows, in the same order, for every system and every run."""
    rng = random.Random(seed)
    for i in range(count):
        yield {"name": f"player{i}", "team": f"t{rng.randrange(TEAMS)}", "score": rng.randrange(1000),
               "level": rng.randrange(1, 101)}


def new_row(n: int) -> dict[str, Any]:
    """A row for the create benchmarks (the n-th of a run)."""
    return {"name": f"new{n}", "team": f"t{n % TEAMS}", "score": n % 1000, "level": 1 + n % 100}
