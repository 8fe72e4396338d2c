"""`$regex`: one syntax that matches the same rows on SQLite (RE2) and PostgreSQL, refusals named in the core
before any SQL, patterns that would backtrack answered correctly, and size limits that name themselves."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hivebase.core import records, schema
from hivebase.core.apps import App
from hivebase.core.bmob_reads import bmob_query
from hivebase.core.principal import Principal
from hivebase.core.query import regex
from hivebase.errors import InvalidQuery

pytestmark = pytest.mark.anyio
ROOT = Principal.root()
KELVIN = "\u212aelvin"  # starts with the Kelvin sign, which folds to k
SPECIAL = "[x]{1,2}\\"
ROWS = ["item 1", "Item 2", "itemize", "an item", "ITEM", "émile", "Émile", "kelvin", KELVIN, "a.b", "a\nb",
        "foo bar", "foobar", "x_y z", "12-34", "naïve café", "tab\there", "line\n", SPECIAL, "ς σ Σ", "😀 smile"]
SPACED = ["item 1", "Item 2", "an item", "a\nb", "foo bar", "x_y z", "naïve café", "tab\there", "line\n", "ς σ Σ",
          "😀 smile"]

# (pattern, $options, the rows it matches: the same on both databases)
MATCHES: list[tuple[str, str, list[str]]] = [
    ("^item", "", ["item 1", "itemize"]),
    ("^item", "i", ["ITEM", "Item 2", "item 1", "itemize"]),
    ("item$", "", ["an item"]),
    (r"\d+-\d+", "", ["12-34"]),
    (r"\bbar\b", "", ["foo bar"]),
    (r"(?i)ITEM\b", "", ["ITEM", "Item 2", "an item", "item 1"]),
    ("a.b", "", ["a.b"]),  # `.` is anything but a newline
    (r"a[\s\S]b", "", ["a.b", "a\nb"]),
    (r"^\w+$", "", ["ITEM", "foobar", "itemize", "kelvin"]),  # \w is ASCII: not é, not the Kelvin sign
    (r"^[\w.]+$", "", ["ITEM", "a.b", "foobar", "itemize", "kelvin"]),
    (r"\s", "", SPACED),
    (r"^\S+$", "", sorted(set(ROWS) - set(SPACED))),
    ("[[:upper:]]", "", ["ITEM", "Item 2"]),  # POSIX classes are ASCII too, whatever the database locale
    ("b[[:space:]]h", "", ["tab\there"]),
    ("^é", "i", ["Émile", "émile"]),
    ("É", "", ["Émile"]),
    ("É", "i", ["naïve café", "Émile", "émile"]),
    ("ï", "i", ["naïve café"]),
    ("^k", "i", ["kelvin", KELVIN]),
    ("kelvin", "", ["kelvin"]),
    ("σ", "i", ["ς σ Σ"]),
    ("line$", "", []),  # `$` is the end of the value, not before a final newline
    (r"line\n$", "", ["line\n"]),
    (r"\[x\]\{1,2\}\\", "", [SPECIAL]),
    (r"\Qa.b\E", "", ["a.b"]),
    (r"\x{e9}mile", "", ["émile"]),
    ("café$", "", ["naïve café"]),
    ("^[^a-z]", "", sorted(["Item 2", "ITEM", "Émile", "émile", KELVIN, "12-34", SPECIAL, "ς σ Σ", "😀 smile"])),
    ("^.{7}$", "", ["an item", "foo bar", "itemize", "😀 smile"]),  # characters, not bytes
    ("😀", "", ["😀 smile"]),
    ("x_y|12", "", ["12-34", "x_y z"]),
    ("^(?:foo|bar)+$", "", ["foobar"]),
    ("^(f|o)*ba(?#a comment)r$", "", ["foobar"]),
    ("", "", sorted(ROWS)),
]

PREFIX = "`text`: $regex: "
# (pattern, the error after "`text`: $regex: ")
UNSUPPORTED: list[tuple[str, str]] = [
    (r"(a)\1", regex.BACKREFERENCE),
    (r"(?P<n>a)\k<n>", regex.NAMED),
    (r"\k<n>", regex.BACKREFERENCE),
    ("(?P=n)", regex.BACKREFERENCE),
    ("a(?=b)", regex.LOOKAROUND),
    ("a(?!b)", regex.LOOKAROUND),
    ("(?<=a)b", regex.LOOKAROUND),
    ("(?<!a)b", regex.LOOKAROUND),
    ("(?>a+)b", "atomic groups (`(?>…)`) are not supported"),
    ("a++", "possessive quantifiers (`*+`, `++`, `?+`, `{n}+`) are not supported"),
    ("a{2}+", "possessive quantifiers (`*+`, `++`, `?+`, `{n}+`) are not supported"),
    ("(a)?(?(1)b|c)", "conditionals (`(?(1)…|…)`) are not supported"),
    ("(?R)", "recursion (`(?R)`, `(?1)`, `(?&name)`) is not supported"),
    ("(a)(?1)", "recursion (`(?R)`, `(?1)`, `(?&name)`) is not supported"),
    ("(?|a|b)", "branch-reset groups (`(?|…)`) are not supported"),
    ("(?P<n>a)", regex.NAMED),
    ("(?<n>a)", regex.NAMED),
    ("(?s)a.b", "the inline flag `s` is not supported; only `(?i)` and `(?-i)` (case-insensitivity) are"),
    ("(?m)^a", "the inline flag `m` is not supported; only `(?i)` and `(?-i)` (case-insensitivity) are"),
    (r"\p{L}", "Unicode property classes (`\\p{…}`, `\\P{…}`) are not supported; list the characters or ranges, "
               "such as [a-zà-ÿ]"),
    (r"a\Z", "`\\Z` is not supported (regex flavours disagree about a final newline); use `$` or `\\z` for the end "
             "of the value"),
    (r"\0", "octal escapes (`\\0`, `\\012`) are not supported; use `\\xHH`"),
    (r"a\B", "`\\B` (not at a word boundary) is not supported"),
    (r"\yitem", "`\\y` is not supported; a word boundary is `\\b`"),
    (r"\G", "the escape `\\G` is not supported"),
    (r"\C", "the escape `\\C` is not supported"),
    ("[[=e=]]", "collating elements and equivalence classes (`[[.a.]]`, `[[=a=]]`) are not supported"),
    ("[\\b]", "`\\b` is not supported inside [...]; a backspace is `\\x08`"),
    ("a{,3}", "`{,n}` is not supported (regex flavours read it differently); write `{0,n}`"),
    (r"(\bx)+", "word boundaries (`\\b`) inside a repeated part (such as `(\\bx)+` or `(\\bx)?`) are not supported"),
    # size limits, each naming itself
    ("a{256}", "repetition counts are limited to 255 (`{256}`)"),
    ("((a{10}){10}){11}", "nested repetition counts multiply to more than 1000"),
    ("(a*){17}", "a part that can match the empty string is repeated at most 16 times (`{17}` on such a part)"),
    ("[a-z]{255}" * 20, "the pattern is too large once its repetitions are expanded (size 5120, limit 5000); use "
                        "smaller {n,m} counts or fewer of them"),
    ("(" * 51 + "a" + ")" * 51, "groups nest more than 50 levels deep"),
    (r"\ba" * 9, "patterns are limited to 8 word boundaries (`\\b`)"),
]
INVALID: list[tuple[str, str]] = [
    ("(", "missing ), unterminated subpattern at position 1"),
    ("a)", "unbalanced parenthesis at position 1"),
    ("[a", "unterminated character set at position 2"),
    ("*a", "nothing to repeat at position 0"),
    ("a**", "multiple repeat (group the first one: `(?:a*)*`) at position 3"),
    ("[z-a]", "bad character range at position 4"),
    ("[[:letter:]]", "unknown POSIX class [:letter:] at position 11"),
    (r"\x{110000}", "bad escape \\x110000 at position 10"),
    ("a\\", "bad escape (end of pattern) at position 2"),
]
# the largest patterns of several shapes: accepted, and run on both databases
LARGEST: list[tuple[str, list[str]]] = [
    ("[a-z]{255}" * 19, []), ("((a{10}){10}){10}", []), (r"\ba\bb\bc\bd\be\bf\bg\bh", []),
    ("(a*){16}b", ["a.b", "a\nb", "foo bar", "foobar", "tab\there"]), ("(?:[a-z]{0,10}x?){16}", ROWS),
    ("(?i)" + "é" * 996, [])]


@pytest.fixture
async def words(app: App) -> App:
    await schema.create_table(app, ROOT, "Word", {"text": {"type": "String"}, "meta": {"type": "Object"}})
    for text in ROWS:
        await records.create(app, ROOT, "Word", {"text": text, "meta": {"t": text}})
    return app


async def texts(app: App, cond: dict[str, Any], key: str = "text") -> list[str]:
    out = await bmob_query(app, ROOT, "Word", {"where": orjson.dumps({key: cond}).decode(), "limit": 1000})
    assert isinstance(out, dict)
    return sorted(r["text"] for r in out["results"])


def cond(pattern: str, options: str = "") -> dict[str, str]:
    return {"$regex": pattern, **({"$options": options} if options else {})}


async def test_supported_patterns_match_the_same_rows(words: App) -> None:
    for pattern, options, expected in MATCHES:
        assert await texts(words, cond(pattern, options)) == sorted(expected), (pattern, options)
    for pattern, options, expected in MATCHES[:12]:  # inside an Object value: the same engine, the same rows
        assert await texts(words, cond(pattern, options), "meta.t") == sorted(expected), (pattern, options)


async def test_refused_up_front_with_the_construct_named(words: App) -> None:
    before = await texts(words, {"$exists": True})
    for pattern, message in UNSUPPORTED:
        with pytest.raises(InvalidQuery) as info:
            await texts(words, cond(pattern))
        assert info.value.message == PREFIX + message, pattern
        assert info.value.field == "text"
    for pattern, detail in INVALID:
        with pytest.raises(InvalidQuery) as info:
            await texts(words, cond(pattern))
        assert info.value.message == f"`text`: $regex is not a valid regular expression ({detail})", pattern
    with pytest.raises(InvalidQuery) as info:
        await texts(words, cond("a" * 1001))
    assert info.value.message == "`text`: $regex patterns are limited to 1000 characters, without NUL"
    with pytest.raises(InvalidQuery) as info:
        await texts(words, cond("a", "s"))
    assert info.value.message == "`text`: $options supports only `i` (case-insensitive)"
    assert await texts(words, {"$exists": True}) == before == sorted(ROWS)


async def test_largest_patterns_run(words: App) -> None:
    for pattern, expected in LARGEST:
        assert await texts(words, cond(pattern)) == sorted(expected), pattern
    assert await texts(words, cond("^(?:[a-z]{0,10}x?){16}$", "i")) == ["ITEM", "foobar", "itemize", "kelvin", KELVIN]


async def test_patterns_that_would_backtrack_answer_correctly(app: App) -> None:
    """Exponential for a backtracking engine, linear here: each answers, correctly, and nothing times out."""
    await schema.create_table(app, ROOT, "Long", {"text": {"type": "String"}})
    values = {"a…ab": "a" * 30_000 + "b", "a…a": "a" * 30_000, "abab…!": "ab" * 15_000 + "!", "a×20": "a" * 20}
    for text in values.values():
        await records.create(app, ROOT, "Long", {"text": text})
    name = {v: k for k, v in values.items()}

    async def found(pattern: str) -> list[str]:
        out = await bmob_query(app, ROOT, "Long", {"where": orjson.dumps({"text": cond(pattern)}).decode()})
        assert isinstance(out, dict)
        return sorted(name[r["text"]] for r in out["results"])

    assert await found("(a+)+$") == ["a×20", "a…a"]
    assert await found("^(a+)+$") == ["a×20", "a…a"]
    assert await found("^(a|aa)+$") == ["a×20", "a…a"]
    assert await found("^(a|a)*b$") == ["a…ab"]
    assert await found("(x+x+)+y") == []
    assert await found("^(ab|a|b)*!$") == ["abab…!"]
    assert await found("(a*)*b") == ["abab…!", "a…ab"]
    assert await found("(.*a){12}") == ["abab…!", "a×20", "a…a", "a…ab"]
    assert await found("^(a?){16}a{16}$") == ["a×20"]
    assert await found("^(a|aa)+c") == []


def test_the_same_answer_whatever_the_database() -> None:
    """Refusals come from the core, before any SQL: what one database refuses, the other does too."""
    for pattern, _ in UNSUPPORTED + INVALID:
        with pytest.raises(regex.PatternError):
            regex.check(pattern)
    for pattern, options, _ in MATCHES:
        regex.check(pattern, options == "i")
        for dialect in ("sqlite", "postgresql"):
            assert isinstance(regex.translate(pattern, options == "i", dialect), str)


@pytest.mark.parametrize(("pattern", "ci", "sqlite", "postgresql"), [
    (r"\w+\.\d", False, r"[0-9A-Z_a-z]+\.[0-9]", r"[0-9A-Z_a-z]+\.[0-9]"),
    ("a.b", False, r"a[^\n]b", r"a[^\n]b"),
    ("(a+)+$", False, "(?:a+)+$", "(?:a+)+$"),
    ("k", True, "[Kk\u212a]", "[Kk\u212a]"),
    ("[^a-c]", True, "[^A-Ca-c]", "[^A-Ca-c]"),
    (r"\bx", False, r"\bx", regex.PG_WORD_EDGE + "x"),
    ("a{2,}?b", False, "a{2,}b", "a{2,}b"),
    (r"\Aa\z", False, "^a$", "^a$"),
])
def test_written_for_each_engine(pattern: str, ci: bool, sqlite: str, postgresql: str) -> None:
    """Classes are written out in ASCII, case-insensitivity as sets: no flag or locale changes a meaning."""
    assert regex.translate(pattern, ci, "sqlite") == sqlite
    assert regex.translate(pattern, ci, "postgresql") == postgresql
