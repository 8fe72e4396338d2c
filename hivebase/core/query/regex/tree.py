"""The parsed form of a `$regex` pattern: nodes over sets of code points, and the code-point arithmetic
(union, complement, case folding) that parsing and rendering share."""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from typing import Literal

Ranges = tuple[tuple[int, int], ...]
UNIVERSE: Ranges = ((0x1, 0xD7FF), (0xE000, 0x10FFFF))  # what text can hold (no NUL, no surrogates)
DIGIT: Ranges = ((0x30, 0x39),)
WORD: Ranges = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
SPACE: Ranges = ((0x9, 0xD), (0x20, 0x20))  # \t \n \v \f \r and space
POSIX: dict[str, Ranges] = {
    "alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)), "alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "ascii": ((0x1, 0x7F),), "blank": ((0x9, 0x9), (0x20, 0x20)), "cntrl": ((0x1, 0x1F), (0x7F, 0x7F)),
    "digit": DIGIT, "graph": ((0x21, 0x7E),), "lower": ((0x61, 0x7A),), "print": ((0x20, 0x7E),),
    "punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)), "space": SPACE,
    "upper": ((0x41, 0x5A),), "word": WORD, "xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
}


# -- the tree -------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Chars:
    """One character out of a set of code-point ranges (a literal is a set of one)."""

    ranges: Ranges


@dataclass(frozen=True, slots=True)
class Anchor:
    kind: Literal["start", "end", "word"]


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Alt:
    branches: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Repeat:
    body: Node
    low: int
    high: int | None  # None: unbounded


Node = Chars | Anchor | Seq | Alt | Repeat
EMPTY = Seq(())
DOT = Chars(((0x1, 0x9), (0xB, 0xD7FF), (0xE000, 0x10FFFF)))


# -- code-point sets ------------------------------------------------------------------------------------------

def merged(ranges: list[tuple[int, int]]) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def complement(ranges: Ranges) -> Ranges:
    """The code points of ``UNIVERSE`` outside ``ranges``."""
    out: list[tuple[int, int]] = []
    for u_lo, u_hi in UNIVERSE:
        at = u_lo
        for lo, hi in ranges:
            if hi < at or lo > u_hi:
                continue
            if lo > at:
                out.append((at, lo - 1))
            at = max(at, hi + 1)
        if at <= u_hi:
            out.append((at, u_hi))
    return tuple(out)


@functools.cache
def case_pairs() -> tuple[list[int], list[int]]:
    """Every character that has other cases (sorted, repeated once per case) beside each of its cases: the
    characters sharing one one-character case fold (``k``, ``K`` and the Kelvin sign; ``σ``, ``Σ``, ``ς``)."""
    by_fold: dict[int, set[int]] = {}
    for cp in range(0x20000):  # no cased character lies beyond plane 1
        if 0xD800 <= cp <= 0xDFFF:
            continue
        fold = chr(cp).casefold()
        if len(fold) == 1 and ord(fold) != cp:
            by_fold.setdefault(ord(fold), {ord(fold)}).add(cp)
    pairs = sorted((cp, other) for members in by_fold.values() for cp in members for other in members)
    return [cp for cp, _ in pairs], [other for _, other in pairs]


@functools.lru_cache(maxsize=1024)
def folded(ranges: Ranges) -> Ranges:
    """``ranges`` plus every other case of the characters in it."""
    chars, cases = case_pairs()
    outside: list[int] = []
    for lo, hi in ranges:  # the cases of the characters in [lo, hi] that lie outside it (few, for wide ranges)
        found = sorted(set(cases[bisect.bisect_left(chars, lo):bisect.bisect_right(chars, hi)]))
        outside += found[:bisect.bisect_left(found, lo)] + found[bisect.bisect_right(found, hi):]
    return merged([*ranges, *((cp, cp) for cp in outside)]) if outside else ranges
