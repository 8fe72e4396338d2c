"""Writing a checked `$regex` pattern out for each database's engine (RE2 on SQLite, ``~`` on PostgreSQL)
with one meaning on both."""

from __future__ import annotations

import functools

from hivebase.core.query.regex.syntax import PatternError, parse
from hivebase.core.query.regex.tree import UNIVERSE, Alt, Anchor, Chars, Node, Ranges, Seq, complement
from hivebase.db.engine import RegexError as EngineRegexError
from hivebase.db.engine import compile_regex

WRITTEN = {0x9: "\\t", 0xA: "\\n", 0xB: "\\v", 0xC: "\\f", 0xD: "\\r"}
META = set("\\.+*?()|[]{}^$")
IN_CLASS_META = set("\\]-^[")
W = "[0-9A-Za-z_]"
PG_WORD_EDGE = f"(?:(?<={W})(?!{W})|(?<!{W})(?={W}))"


# -- rendering ------------------------------------------------------------------------------------------------

def literal_text(cp: int) -> str:
    ch = chr(cp)
    return WRITTEN.get(cp) or ("\\" + ch if ch in META else ch)


def class_text(ranges: Ranges) -> str:
    def one(cp: int) -> str:
        ch = chr(cp)
        return WRITTEN.get(cp) or ("\\" + ch if ch in IN_CLASS_META else ch)

    return "".join(one(lo) if lo == hi else one(lo) + one(hi) if hi == lo + 1 else f"{one(lo)}-{one(hi)}"
                   for lo, hi in ranges)


def chars_text(ranges: Ranges) -> str:
    chars = complement(complement(ranges))  # within UNIVERSE
    if not chars:
        return f"[^{class_text(UNIVERSE)}]"  # nothing a text can hold
    if len(chars) == 1 and chars[0][0] == chars[0][1]:
        return literal_text(chars[0][0])
    others = complement(chars)
    inside, outside = class_text(chars), class_text(others)
    return f"[{inside}]" if not others or len(inside) <= len(outside) else f"[^{outside}]"


def text_of(node: Node, dialect: str) -> str:
    if isinstance(node, Chars):
        return chars_text(node.ranges)
    if isinstance(node, Anchor):
        if node.kind in ("start", "end"):
            return "^" if node.kind == "start" else "$"
        # PostgreSQL's \y would follow the locale's letters (its \b is a backspace)
        return PG_WORD_EDGE if dialect == "postgresql" else "\\b"
    if isinstance(node, Alt):
        return "|".join(text_of(b, dialect) for b in node.branches)
    if isinstance(node, Seq):
        return "".join(f"(?:{text_of(x, dialect)})" if isinstance(x, Alt) else text_of(x, dialect)
                       for x in node.items)
    body = text_of(node.body, dialect)
    if not isinstance(node.body, Chars):
        body = f"(?:{body})"
    low, high = node.low, node.high
    suffix = {(0, None): "*", (1, None): "+", (0, 1): "?"}.get((low, high))
    if suffix is None:
        suffix = f"{{{low}}}" if low == high else f"{{{low},}}" if high is None else f"{{{low},{high}}}"
    return body + suffix


@functools.lru_cache(maxsize=512)
def translate(pattern: str, case_insensitive: bool, dialect: str) -> str:
    """The pattern for ``dialect``'s engine (``sqlite``: RE2, ``postgresql``: the ``~`` operator)."""
    text = text_of(parse(pattern, case_insensitive), dialect)
    if dialect != "postgresql":
        try:
            compile_regex(text)
        except EngineRegexError as exc:  # the limits in syntax.py keep RE2 within its own; should one still refuse
            raise PatternError(f"the pattern is too large for the regular-expression engine ({exc})",
                               "too_large") from None
    return text


def check(pattern: str, case_insensitive: bool = False) -> None:
    """Refuse (PatternError) what either database would run differently, or not at all; the same answer
    on SQLite and PostgreSQL."""
    translate(pattern, case_insensitive, "sqlite")
