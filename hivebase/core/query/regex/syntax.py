"""Reading a `$regex` pattern into its tree (``tree.py``): constructs one engine lacks or reads differently
are refused with their name, and the size limits that keep both engines fast are enforced."""

from __future__ import annotations

import functools
import re
from typing import Literal

from hivebase.core.query.regex.tree import (
    DIGIT,
    DOT,
    EMPTY,
    POSIX,
    SPACE,
    WORD,
    Alt,
    Anchor,
    Chars,
    Node,
    Ranges,
    Repeat,
    Seq,
    complement,
    folded,
    merged,
)

MAX_REPEAT = 255  # PostgreSQL's largest {n,m} count
MAX_NESTED_REPEAT = 1000  # RE2's limit on the product of nested {n,m} counts
MAX_COST = 5000  # states after {n,m} are expanded (see measure); PostgreSQL refuses from about 15,000 to 40,000
MAX_GROUP_DEPTH = 50
MAX_EMPTY_REPEAT = 16  # {n,m} on a part that can match nothing (``(a*){20}``): PostgreSQL compiles it slowly
MAX_WORD_ANCHORS = 8  # \b: PostgreSQL's compile time grows exponentially with adjacent ones

CONTROL = {"t": 0x9, "n": 0xA, "v": 0xB, "f": 0xC, "r": 0xD, "a": 0x7}
BOUND = re.compile(r"\{(\d*)(,(\d*))?\}")
RECURSION = re.compile(r"R|&|P>|[+-]?\d")
FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")

BACKREFERENCE = "backreferences (`\\1`, `\\k<name>`, `(?P=name)`) are not supported; no linear-time engine has them"
LOOKAROUND = "lookahead and lookbehind (`(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`) are not supported"
NAMED = "named groups (`(?P<name>…)`) are not supported; use (…) or (?:…)"


class PatternError(ValueError):
    """Why a pattern is refused. ``kind``: ``syntax`` (not a regular expression), ``unsupported`` (a
    construct outside the common syntax) or ``too_large`` (a size limit, named in the message)."""

    def __init__(self, message: str, kind: Literal["syntax", "unsupported", "too_large"]) -> None:
        super().__init__(message)
        self.kind = kind


def unsupported(message: str) -> PatternError:
    return PatternError(message, "unsupported")


# -- parsing --------------------------------------------------------------------------------------------------

class Parser:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.fold = False  # case-insensitive where we are: $options i, or (?i) in an enclosing group
        self.depth = 0

    def syntax(self, what: str) -> PatternError:
        return PatternError(f"{what} at position {self.i}", "syntax")

    def peek(self, ahead: int = 0) -> str:
        at = self.i + ahead
        return self.p[at] if at < len(self.p) else ""

    def parse(self, fold: bool) -> Node:
        self.fold = fold
        node = self.alternation()
        if self.i < len(self.p):  # only an unmatched ")" stops an alternation early
            raise self.syntax("unbalanced parenthesis")
        return node

    def alternation(self) -> Node:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else Alt(tuple(branches))

    def sequence(self) -> Node:
        items: list[Node] = []
        while self.i < len(self.p) and self.peek() not in "|)":
            quoting = self.p.startswith("\\Q", self.i)
            atom = self.atom()
            if atom is None:  # a comment or a flag change: nothing to match, nothing to repeat
                if self.quantifier() is not None:
                    raise self.syntax("nothing to repeat")
                continue
            if quoting and isinstance(atom, Seq) and atom.items:  # a quantifier after \Q…\E takes its last character
                items.extend(atom.items[:-1])
                atom = atom.items[-1]
            items.append(self.quantified(atom))
        flat = [x for item in items for x in (item.items if isinstance(item, Seq) else (item,))]
        return flat[0] if len(flat) == 1 else Seq(tuple(flat))

    def quantifier(self) -> tuple[int, int | None] | None:
        c = self.peek()
        if c in ("*", "+", "?") and c:
            self.i += 1
            return {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
        if c != "{":
            return None
        m = self.bound()
        if m is None:
            return None  # a literal brace
        if m.group(1) == "":
            raise unsupported("`{,n}` is not supported (regex flavours read it differently); write `{0,n}`")
        low = int(m.group(1))
        high = low if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
        if max(low, high or 0) > MAX_REPEAT:
            raise PatternError(f"repetition counts are limited to {MAX_REPEAT} (`{m.group(0)}`)", "too_large")
        if high is not None and low > high:
            raise self.syntax("min repeat greater than max repeat")
        self.i = m.end()
        return low, high

    def bound(self) -> re.Match[str] | None:
        """``{n}``, ``{n,}``, ``{n,m}`` (or ``{,m}``) at the current position; anything else is literal."""
        m = BOUND.match(self.p, self.i)
        return None if m is None or (m.group(1) == "" and m.group(2) is None) else m

    def quantified(self, atom: Node) -> Node:
        q = self.quantifier()
        if q is None:
            return atom
        if self.peek() == "+":
            raise unsupported("possessive quantifiers (`*+`, `++`, `?+`, `{n}+`) are not supported")
        if self.peek() == "?":  # lazy: whether a value matches does not depend on it
            self.i += 1
        if self.quantifier() is not None:
            raise self.syntax("multiple repeat (group the first one: `(?:a*)*`)")
        low, high = q
        if high == 0:
            return EMPTY
        if isinstance(atom, Anchor):  # a zero-width assertion repeated is itself, or nothing
            return atom if low else EMPTY
        return EMPTY if atom == EMPTY else Repeat(atom, low, high)

    def atom(self) -> Node | None:
        c = self.peek()
        self.i += 1
        if c == "(":
            return self.group()
        if c == "[":
            return self.char_class()
        if c == ".":
            return DOT
        if c == "^":
            return Anchor("start")
        if c == "$":
            return Anchor("end")
        if c == "\\":
            return self.escape()
        if c in "*+?" or (c == "{" and self.bound_at(self.i - 1)):
            self.i -= 1
            raise self.syntax("nothing to repeat")
        return self.literal(ord(c))

    def bound_at(self, at: int) -> bool:
        saved, self.i = self.i, at
        try:
            return self.bound() is not None
        finally:
            self.i = saved

    def literal(self, cp: int, fold: bool = True) -> Chars:
        if cp == 0:
            raise unsupported("NUL characters cannot be matched")
        ranges = ((cp, cp),)
        return Chars(folded(ranges) if fold and self.fold else ranges)

    def group(self) -> Node | None:
        p, at = self.p, self.i
        if not p.startswith("?", at):
            return self.group_body(self.fold)
        rest = p[at + 1:at + 4]
        if rest.startswith(":"):
            self.i += 2
            return self.group_body(self.fold)
        if rest.startswith("#"):
            end = p.find(")", at)
            if end < 0:
                raise self.syntax("missing ), unterminated comment")
            self.i = end + 1
            return None
        if rest.startswith(("=", "!", "<=", "<!")):
            raise unsupported(LOOKAROUND)
        if rest.startswith(("P<", "<", "'")):
            raise unsupported(NAMED)
        if rest.startswith("P="):
            raise unsupported(BACKREFERENCE)
        if rest.startswith(">"):
            raise unsupported("atomic groups (`(?>…)`) are not supported")
        if rest.startswith("("):
            raise unsupported("conditionals (`(?(1)…|…)`) are not supported")
        if rest.startswith("|"):
            raise unsupported("branch-reset groups (`(?|…)`) are not supported")
        if RECURSION.match(rest):
            raise unsupported("recursion (`(?R)`, `(?1)`, `(?&name)`) is not supported")
        m = FLAGS.match(p, at - 1)
        if m is None or not (m.group(1) or m.group(2)):
            raise self.syntax("unknown extension `(?`")
        on, off = m.group(1), m.group(2) or ""
        other = sorted(set(on + off) - {"i"})
        if other:
            raise unsupported(f"the inline flag `{other[0]}` is not supported; only `(?i)` and `(?-i)` "
                              "(case-insensitivity) are")
        fold = "i" in on and "i" not in off
        self.i = m.end()
        if m.group(3) == ":":
            return self.group_body(fold)
        self.fold = fold  # (?i): to the end of the enclosing group
        return None

    def group_body(self, fold: bool) -> Node:
        self.depth += 1
        if self.depth > MAX_GROUP_DEPTH:
            raise PatternError(f"groups nest more than {MAX_GROUP_DEPTH} levels deep", "too_large")
        outer, self.fold = self.fold, fold
        node = self.alternation()
        if self.peek() != ")":
            raise self.syntax("missing ), unterminated subpattern")
        self.i += 1
        self.fold, self.depth = outer, self.depth - 1
        return node

    def escape(self, in_class: bool = False) -> Node | None:
        """After a backslash: a set of characters, an anchor, or (``\\Q…\\E``) a literal run."""
        c = self.peek()
        if not c:
            raise self.syntax("bad escape (end of pattern)")
        self.i += 1
        fold = self.fold and not in_class  # a class folds its whole set at the end
        if c in "dDwWsS":
            base = {"d": DIGIT, "w": WORD, "s": SPACE}[c.lower()]
            return Chars(folded(base) if fold else base) if c.islower() else Chars(complement(base))
        if c in CONTROL:
            return self.literal(CONTROL[c], fold)
        if c in "xuU":
            return self.literal(self.hex_escape(c), fold)
        if c in "123456789" or c in "kg":
            raise unsupported(BACKREFERENCE)
        if c == "0":
            raise unsupported("octal escapes (`\\0`, `\\012`) are not supported; use `\\xHH`")
        if c in "pP":
            raise unsupported("Unicode property classes (`\\p{…}`, `\\P{…}`) are not supported; list the "
                              "characters or ranges, such as [a-zà-ÿ]")
        if in_class and c in "bBAzZQE":
            raise unsupported(f"`\\{c}` is not supported inside [...]" + ("; a backspace is `\\x08`" if c == "b"
                                                                          else ""))
        if c == "b":
            return Anchor("word")
        if c == "B":  # RE2 reads text as UTF-8 bytes: its \B holds inside a multi-byte character
            raise unsupported("`\\B` (not at a word boundary) is not supported")
        if c == "A":
            return Anchor("start")
        if c == "z":
            return Anchor("end")
        if c == "Z":
            raise unsupported("`\\Z` is not supported (regex flavours disagree about a final newline); use `$` "
                              "or `\\z` for the end of the value")
        if c == "Q":
            end = self.p.find("\\E", self.i)
            text, self.i = (self.p[self.i:], len(self.p)) if end < 0 else (self.p[self.i:end], end + 2)
            return Seq(tuple(self.literal(ord(ch)) for ch in text))
        if c in "yYmM":
            raise unsupported(f"`\\{c}` is not supported; a word boundary is `\\b`")
        if c.isalnum():
            raise unsupported(f"the escape `\\{c}` is not supported")
        return self.literal(ord(c), fold)

    def hex_escape(self, kind: str) -> int:
        p, at = self.p, self.i
        if kind == "x" and p.startswith("{", at):
            end = p.find("}", at)
            digits, self.i = p[at + 1:end], end + 1
            if end < 0 or not 1 <= len(digits) <= 6:
                raise self.syntax("bad escape \\x{…}")
        else:
            size = {"x": 2, "u": 4, "U": 8}[kind]
            digits, self.i = p[at:at + size], at + size
            if len(digits) != size:
                raise self.syntax(f"bad escape \\{kind}")
        if not all(ch in "0123456789abcdefABCDEF" for ch in digits) or int(digits, 16) > 0x10FFFF:
            raise self.syntax(f"bad escape \\{kind}{digits}")
        return int(digits, 16)

    def char_class(self) -> Chars:
        negate = self.peek() == "^"
        self.i += negate
        positive: list[Ranges] = []
        negative: list[Ranges] = []  # \D \W \S and [:^name:]: not folded (they are not letters' cases)
        first = True
        while True:
            c = self.peek()
            if not c:
                raise self.syntax("unterminated character set")
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[" and self.peek(1) in (":", ".", "="):
                item = self.posix_class()
                (negative if item[0] else positive).append(item[1])
                continue
            start = self.class_char()
            if isinstance(start, tuple) and start[0]:
                negative.append(start[1])
                continue
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                end = self.class_char()
                if not (isinstance(start, int) and isinstance(end, int)) or start > end:
                    raise self.syntax("bad character range")
                positive.append(((start, end),))
            elif isinstance(start, tuple):
                positive.append(start[1])
            else:
                positive.append(((start, start),))
        pos = merged([r for ranges in positive for r in ranges])
        chars = merged([*(folded(pos) if self.fold else pos), *(r for ranges in negative for r in ranges)])
        return Chars(complement(chars) if negate else chars)

    def class_char(self) -> int | tuple[bool, Ranges]:
        """One character (its code point) or a class escape (negated?, its ranges) inside [...]."""
        c = self.peek()
        self.i += 1
        if c != "\\":
            if c == "\x00":
                raise unsupported("NUL characters cannot be matched")
            return ord(c)
        letter = self.peek()
        node = self.escape(in_class=True)
        assert isinstance(node, Chars)  # inside [...] the anchors and \Q are refused
        if letter in "dwsDWS":
            return letter.isupper(), node.ranges
        return node.ranges[0][0]

    def posix_class(self) -> tuple[bool, Ranges]:
        kind = self.peek(1)
        end = self.p.find(kind + "]", self.i + 2)
        if kind != ":":
            raise unsupported("collating elements and equivalence classes (`[[.a.]]`, `[[=a=]]`) are not supported")
        if end < 0:
            raise self.syntax("unterminated character set")
        name = self.p[self.i + 2:end]
        self.i = end + 2
        negate = name.startswith("^")
        ranges = POSIX.get(name.removeprefix("^"))
        if ranges is None:
            raise self.syntax(f"unknown POSIX class [:{name[:20]}:]")
        return (True, complement(ranges)) if negate else (False, ranges)


# -- size -----------------------------------------------------------------------------------------------------

def measure(node: Node, product: int = 1) -> tuple[int, int, bool, int]:
    """An upper estimate of PostgreSQL's compiled size, as (states, arcs, nullable, chain): a run of
    consecutive optional parts (``a?b?c?``) adds arcs quadratic in its length, counted where the run ends.
    Also refuses what RE2 refuses: nested {n,m} counts whose product passes 1000."""
    if isinstance(node, Chars):
        return 1, 0, False, 0
    if isinstance(node, Anchor):
        return (1 if node.kind in ("start", "end") else 4), 0, True, 1
    if isinstance(node, Alt | Seq):
        parts = [measure(x, product) for x in (node.branches if isinstance(node, Alt) else node.items)]
        states, arcs = sum(p[0] for p in parts), sum(p[1] for p in parts)
        if isinstance(node, Alt):
            nullable = any(p[2] for p in parts)
            return states + 1, arcs + sum(p[3] * p[3] // 2 for p in parts), nullable, int(nullable)
        run = 0
        for p in parts:
            if p[2]:
                run += p[3]
            else:
                arcs, run = arcs + run * run // 2, 0
        if all(p[2] for p in parts):
            return states, arcs, True, run
        return states, arcs + run * run // 2, False, 0
    count = node.high if node.high is not None else node.low
    if count > 1:
        product *= count
        if product > MAX_NESTED_REPEAT:
            raise PatternError(f"nested repetition counts multiply to more than {MAX_NESTED_REPEAT}", "too_large")
    states, arcs, nullable, chain = measure(node.body, product)
    if nullable and count > MAX_EMPTY_REPEAT:
        raise PatternError(f"a part that can match the empty string is repeated at most {MAX_EMPTY_REPEAT} times "
                           f"(`{{{count}}}` on such a part)", "too_large")
    copies = max(count, 1)
    states = states * copies * (1 if node.high == node.low else 2) + 1
    if nullable:
        return states, arcs * copies, True, chain * copies
    return states, arcs * copies, node.low == 0, int(node.low == 0)


def word_anchors(node: Node, repeated: bool = False) -> int:
    """How many ``\\b`` a pattern holds; refused inside a repeated part, where PostgreSQL's
    compiler (which pulls each boundary through the states around it) blows up."""
    if isinstance(node, Anchor):
        if node.kind in ("start", "end"):
            return 0
        if repeated:
            raise unsupported("word boundaries (`\\b`) inside a repeated part (such as `(\\bx)+` or "
                              "`(\\bx)?`) are not supported")
        return 1
    if isinstance(node, Chars):
        return 0
    if isinstance(node, Repeat):
        return word_anchors(node.body, True)
    return sum(word_anchors(x, repeated) for x in (node.items if isinstance(node, Seq) else node.branches))


def cost(node: Node) -> int:
    states, arcs, _, chain = measure(node)
    return states + (arcs + chain * chain // 2) // 32

# -- entry points ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=512)
def parse(pattern: str, case_insensitive: bool = False) -> Node:
    """The tree of a pattern within the common syntax and the size limits, or PatternError."""
    tree = Parser(pattern).parse(case_insensitive)
    if word_anchors(tree) > MAX_WORD_ANCHORS:
        raise PatternError(f"patterns are limited to {MAX_WORD_ANCHORS} word boundaries (`\\b`)",
                           "too_large")
    size = cost(tree)
    if size > MAX_COST:
        raise PatternError(f"the pattern is too large once its repetitions are expanded (size {size}, limit "
                           f"{MAX_COST}); use smaller {{n,m}} counts or fewer of them", "too_large")
    return tree

