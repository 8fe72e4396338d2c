"""Property tests of the query engine: random rows and random conditions, run through the real compiler on
SQLite (and PostgreSQL when HIVEBASE_TEST_DATABASE_URL is set), compared with a plain-Python reference
(``tests/core/reference.py``) written from the documented semantics.

Three levels: IR trees straight into ``reads.find``/``reads.count``; Bmob ``where`` dicts through
``parse_where``; NocoBase ``filter`` dicts through ``parse_filter``. Plus a GROUP BY against Python's own
grouping. The end of the file keeps, as plain regression tests, the minimal examples of every engine
discrepancy this property test has found (all fixed since).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from hivebase.core import reads, records, schema
from hivebase.core.apps import App
from hivebase.core.model import FieldDef, TableDef
from hivebase.core.principal import Principal
from hivebase.core.query import ir
from hivebase.core.query.filter import parse_filter
from hivebase.core.query.where import parse_where
from tests.core import reference as ref

pytestmark = pytest.mark.anyio
ROOT = Principal.root()
UTC = dt.UTC

TYPES = {"name": "String", "score": "Number", "flag": "Bool", "when": "Date", "tags": "Array", "meta": "Object"}
F = {name: FieldDef(name, t) for name, t in TYPES.items()}

# 100 examples per property keep the file well under a minute per backend; raise it for a deeper search.
EXAMPLES = int(os.environ.get("HIVEBASE_PROPERTY_EXAMPLES", "100"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# -- the table ------------------------------------------------------------------------------------------------

class Item:
    """The ``Item`` table of one test function, refilled for every example."""

    def __init__(self, app: App, tdef: TableDef) -> None:
        self.app = app
        self.tdef = tdef
        self.stored: list[dict[str, Any]] = []
        self.ids: list[str] = []

    def __repr__(self) -> str:
        return "Item()"

    async def fill(self, rows: Sequence[Mapping[str, Any]]) -> None:
        async with self.app.db.write() as conn:
            await conn.execute(sa.delete(self.tdef.table))
        self.ids = [(await records.create(self.app, ROOT, "Item", dict(r)))["objectId"] for r in rows]
        self.stored = [ref.stored_row(r, TYPES) for r in rows]

    def expected(self, matches: Callable[[Mapping[str, Any]], bool]) -> set[str]:
        want = {oid for oid, row in zip(self.ids, self.stored, strict=True) if matches(row)}
        if currently_in_test_context():  # --hypothesis-show-statistics: how often a condition splits the rows
            event("no row" if not want else "every row" if len(want) == len(self.ids) else "some rows")
        return want

    async def found(self, where: ir.Pred) -> set[str]:
        rows, total = await reads.find(self.app, ROOT, ir.Select("Item", where=where, limit=None), with_count=True)
        got = [r["objectId"] for r in rows]
        assert len(got) == len(set(got)) == total, "find returned duplicates or a count that disagrees"
        assert await reads.count(self.app, ROOT, "Item", where) == total
        return set(got)

    def explain(self, got: set[str], want: set[str]) -> str:
        lines = []
        for oid, row in zip(self.ids, self.stored, strict=True):
            if (oid in got) != (oid in want):
                lines.append(f"  {'engine only' if oid in got else 'reference only'}: {row}")
        return "\n".join(lines)


@pytest.fixture
async def item(app: App) -> Item:
    tdef = await schema.create_table(app, ROOT, "Item", {name: {"type": t} for name, t in TYPES.items()})
    for name, f in F.items():
        assert tdef.fields[name] == f
    return Item(app, tdef)


# -- rows -----------------------------------------------------------------------------------------------------

STR_POOL = ["", "a", "A", "ab", "aB", "Ab", "abc", "b", "ba", "zz", " a", "a%c", "a_c", "%", "_", "'", '"', "\\",
            "b\\", "a\\%", "a/b", "x'y", 'q"', "A_%"]
ALPHABET = "aAbB%_'\"\\/ z1"
strings = st.one_of(st.sampled_from(STR_POOL), st.sampled_from(STR_POOL), st.text(ALPHABET, max_size=4))
numbers = st.one_of(st.sampled_from([0, 1, -1, 2, 3, 1.5, -2.5, 0.25, 10, -0.0, 1e-3]),
                    st.integers(-4, 4), st.floats(-5, 5, allow_nan=False).map(lambda x: round(x, 2)))
DAYS = [dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 2, tzinfo=UTC), dt.datetime(2024, 2, 29, tzinfo=UTC)]
TIMES = [dt.timedelta(0), dt.timedelta(hours=12, minutes=30), dt.timedelta(hours=23, minutes=59, seconds=59),
         dt.timedelta(hours=7, milliseconds=500), dt.timedelta(hours=-2)]
instants = st.builds(lambda d, t: d + t, st.sampled_from(DAYS), st.sampled_from(TIMES))
ELEMENTS = [0, 1, 2, -1, 1.5, "a", "b", "1", "", True]
elements = st.sampled_from(ELEMENTS)
json_scalars = st.one_of(numbers, strings, st.booleans())


def date_wire(instant: dt.datetime, style: int) -> Any:
    """A Date as a caller writes it: Bmob's object, ISO with Z, or ISO with an offset."""
    if style == 0:
        return {"__type": "Date", "iso": instant.strftime("%Y-%m-%d %H:%M:%S")} if not instant.microsecond \
            else {"__type": "Date", "iso": instant.isoformat().replace("+00:00", "")}
    if style == 1:
        return instant.isoformat().replace("+00:00", "Z")
    return instant.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()


dates = st.builds(date_wire, instants, st.integers(0, 2))
arrays = st.lists(elements, max_size=4)
objects = st.fixed_dictionaries({}, optional={
    "n": st.one_of(numbers, st.none(), st.sampled_from(["1", "x", True])),
    "s": st.one_of(strings, st.none(), st.sampled_from([1, 0])),
    "d": st.fixed_dictionaries({}, optional={"k": st.one_of(numbers, st.none())}),
    "l": st.one_of(arrays, arrays, st.none(), st.sampled_from(["[1]", "abc", "", 1, True])),
})


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value, often null: missing (``...``) or an explicit null."""
    return st.one_of(st.just(...), st.none(), values, values)


row_strategy = st.fixed_dictionaries({
    "name": maybe(strings), "score": maybe(numbers), "flag": maybe(st.booleans()), "when": maybe(dates),
    "tags": maybe(arrays), "meta": maybe(objects),
}).map(lambda r: {k: v for k, v in r.items() if v is not ...})
# The size first: plain lists average ~4 elements, too few rows to tell conditions apart.
rows_strategy = st.integers(0, 30).flatmap(lambda n: st.lists(row_strategy, min_size=n, max_size=n))


# -- IR conditions --------------------------------------------------------------------------------------------

def P(name: str, *json: str | int) -> ir.Path:
    return ir.Path(F[name], json=json)


ORDER_OPS = ["eq", "ne", "lt", "lte", "gt", "gte"]
JSON_PATHS = [P("meta", "n"), P("meta", "s"), P("meta", "d", "k"), P("meta", "l", 0), P("tags", 0)]
CMP_TARGETS: list[tuple[ir.Path, st.SearchStrategy[Any]]] = [
    (P("name"), strings), (P("score"), numbers), (P("flag"), st.booleans()), (P("when"), instants),
    (P("tags"), st.nothing()), (P("meta"), st.nothing()), *((p, json_scalars) for p in JSON_PATHS)]
IN_TARGETS = [t for t in CMP_TARGETS if t[0].json or t[0].field.type not in ("Array", "Object")]
TEXT_PATHS = [P("name"), P("meta", "s"), P("meta", "n")]
ARRAY_PATHS = [P("tags"), P("meta", "l"), P("meta", "s")]  # meta.s: array operators on JSON scalars
LIKE_ALPHABET = "aAb%_'\"\\ z"

regex_atoms = st.sampled_from(["a", "b", "A", "z", "1", " ", "%", "_", "'", ".", "[a-c]", "[0-9]", "[A-Z]", "[ab1]"])
regexes = st.builds(lambda start, pieces, end: ("^" if start else "") + "".join(pieces) + ("$" if end else ""),
                    st.booleans(), st.lists(st.builds(str.__add__, regex_atoms, st.sampled_from(["", "", "*"])),
                                            max_size=4), st.booleans())


@st.composite
def cmp_leaf(draw: st.DrawFn) -> ir.Pred:
    path, values = draw(st.sampled_from(CMP_TARGETS))
    value = draw(st.one_of(st.none(), values, values))
    return ir.Cmp(path, draw(st.sampled_from(ORDER_OPS if value is not None else ["eq", "ne"])), value)


@st.composite
def in_leaf(draw: st.DrawFn) -> ir.Pred:
    path, values = draw(st.sampled_from(IN_TARGETS))
    items = draw(st.lists(st.one_of(values, values, values, st.none()), max_size=4))
    return ir.InList(path, tuple(items), negate=draw(st.booleans()))


@st.composite
def text_leaf(draw: st.DrawFn) -> ir.Pred:
    op = draw(st.sampled_from(["contains", "startswith", "endswith", "like", "eq"]))
    pattern = draw(st.text(LIKE_ALPHABET, max_size=4) if op == "like" else strings)
    return ir.Text(draw(st.sampled_from(TEXT_PATHS)), op, pattern, draw(st.booleans()), draw(st.booleans()))


regex_leaf = st.builds(ir.Regex, st.sampled_from(TEXT_PATHS[:2]), regexes, st.booleans(), st.booleans())
array_leaf = st.one_of(
    st.builds(ir.ArrayHas, st.sampled_from(ARRAY_PATHS), st.lists(elements, max_size=3).map(tuple),
              st.sampled_from(["any", "all", "none", "exact"])),
    st.builds(ir.ArrayEmpty, st.sampled_from(ARRAY_PATHS), st.booleans()))
ir_leaves = st.one_of(cmp_leaf(), in_leaf(), text_leaf(), regex_leaf, array_leaf)


def ir_tree(depth: int) -> st.SearchStrategy[ir.Pred]:
    if depth == 0:
        return ir_leaves
    sub = ir_tree(depth - 1)
    return st.one_of(ir_leaves, ir_leaves,
                     st.builds(ir.And, st.lists(sub, max_size=3).map(tuple)),
                     st.builds(ir.Or, st.lists(sub, max_size=3).map(tuple)),
                     st.builds(ir.Not, sub))


@PROPERTY
@given(rows=rows_strategy, preds=st.lists(ir_tree(3), min_size=1, max_size=4))
async def test_ir_matches_reference(item: Item, rows: list[dict[str, Any]], preds: list[ir.Pred]) -> None:
    await item.fill(rows)
    for pred in preds:
        got = await item.found(pred)
        want = item.expected(lambda row, pred=pred: ref.eval_ir(pred, row))
        assert got == want, f"{pred}\n{item.explain(got, want)}"


# -- aggregation ----------------------------------------------------------------------------------------------

def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@PROPERTY
@given(rows=rows_strategy, where=st.one_of(st.just(ir.Const(True)), ir_tree(1)))
async def test_group_by_matches_python(item: Item, rows: list[dict[str, Any]], where: ir.Pred) -> None:
    await item.fill(rows)
    agg = ir.Aggregate("Item", where=where, dimensions=[ir.Dimension(P("name"), "name")], measures=[
        ir.Measure("count", "rows"), ir.Measure("count", "scored", P("score")),
        ir.Measure("sum", "total", P("score")), ir.Measure("min", "low", P("score")),
        ir.Measure("max", "high", P("score")), ir.Measure("avg", "mean", P("score"))])
    got = {r["name"]: r for r in await reads.aggregate(item.app, ROOT, agg)}
    groups: dict[str | None, list[Any]] = {}
    for row in item.stored:
        if ref.eval_ir(where, row):
            groups.setdefault(row.get("name"), []).append(row.get("score"))
    assert set(got) == set(groups)
    for name, scores in groups.items():
        r, present = got[name], [s for s in scores if s is not None]
        assert (r["rows"], r["scored"]) == (len(scores), len(present)), name
        assert close(r["total"], math.fsum(present) if present else None), (name, r, present)
        assert close(r["low"], min(present) if present else None), (name, r, present)
        assert close(r["high"], max(present) if present else None), (name, r, present)
        assert close(r["mean"], math.fsum(present) / len(present) if present else None), (name, r, present)


# -- Bmob where -----------------------------------------------------------------------------------------------

BMOB_KEYS = {"name": "String", "score": "Number", "flag": "Bool", "when": "Date", "tags": "Array",
             "meta": "Object", "meta.n": "json", "meta.s": "json", "meta.d.k": "json", "meta.l.0": "json",
             "tags.0": "json", "meta.l": "json array"}
bmob_dates = st.builds(date_wire, instants, st.sampled_from([0, 0, 1]))  # mostly {"__type":"Date",…}
OPERANDS: dict[str, st.SearchStrategy[Any]] = {"String": strings, "Number": numbers, "Bool": st.booleans(),
                                               "Date": bmob_dates, "json": json_scalars, "Array": elements}
COMPARE = ["$lt", "$lte", "$gt", "$gte"]


@st.composite
def bmob_condition(draw: st.DrawFn, key: str) -> Any:
    """A condition on one key: a bare value or an object of one or two operators."""
    kind = BMOB_KEYS[key]
    if kind == "Object":
        return {"$exists": draw(st.booleans())}
    if kind == "json array":
        return draw(st.one_of(st.builds(lambda v: {"$all": v}, st.lists(elements, min_size=1, max_size=3)),
                              st.builds(lambda v: {"$exists": v}, st.booleans())))
    value = OPERANDS[kind]
    nullable = st.one_of(st.none(), value, value)
    if kind == "Array":
        lists = st.lists(elements, max_size=3)
        ops: dict[str, st.SearchStrategy[Any]] = {
            "$eq": st.one_of(nullable, lists), "$ne": st.one_of(nullable, lists), "$in": lists, "$nin": lists,
            "$all": st.lists(elements, min_size=1, max_size=3), "$exists": st.booleans()}
    else:
        ops = {"$eq": nullable, "$ne": nullable, "$exists": st.booleans(), **dict.fromkeys(COMPARE, value),
               "$in": st.lists(nullable, max_size=4), "$nin": st.lists(nullable, max_size=4)}
        if kind in ("String", "json"):
            ops["$regex"] = regexes
    if draw(st.integers(0, 2)) == 0:
        return draw(ops["$eq"])
    names = draw(st.lists(st.sampled_from(sorted(ops)), min_size=1, max_size=2, unique=True))
    cond = {name: draw(ops[name]) for name in names}
    if "$regex" in cond and draw(st.booleans()):
        cond["$options"] = "i"
    return cond


@st.composite
def bmob_where(draw: st.DrawFn, depth: int) -> dict[str, Any]:
    """Conditions on one or two keys, or $or/$and of smaller wheres (beside a key condition at times)."""
    shape = draw(st.integers(0, 3)) if depth > 0 else draw(st.integers(0, 1))
    keys = draw(st.lists(st.sampled_from(sorted(BMOB_KEYS)), min_size=1, max_size=1 if shape != 1 else 2,
                         unique=True))
    where = {key: draw(bmob_condition(key)) for key in keys} if shape < 2 or draw(st.booleans()) else {}
    if shape >= 2:
        op = "$or" if shape == 2 else draw(st.sampled_from(["$or", "$and"]))
        where[op] = draw(st.lists(bmob_where(depth - 1), min_size=1, max_size=3))
    return where


@PROPERTY
@given(rows=rows_strategy, wheres=st.lists(bmob_where(2), min_size=1, max_size=4))
async def test_bmob_where_matches_reference(item: Item, rows: list[dict[str, Any]],
                                            wheres: list[dict[str, Any]]) -> None:
    await item.fill(rows)
    bmob = ref.BmobRef(TYPES)
    for where in wheres:
        pred = parse_where(item.app.catalog, item.tdef, where)
        got = await item.found(pred)
        want = item.expected(lambda row, where=where: bmob.matches(where, row))
        assert got == want, f"{where}\n{pred}\n{item.explain(got, want)}"


# -- NocoBase filter ------------------------------------------------------------------------------------------

NOCO_KEYS = {"name": "String", "score": "Number", "flag": "Bool", "when": "Date", "tags": "Array",
             "meta": "Object", "meta.n": "json", "meta.s": "json", "meta.d.k": "json", "tags.0": "json"}
noco_dates = st.one_of(
    st.sampled_from(["2024-01-01", "2024-01-02", "2024-02-29", "2024-01", "2024-02", "2024", "2023-12-31"]),
    instants.map(lambda i: i.isoformat().replace("+00:00", "Z")),
    instants.map(lambda i: i.strftime("%Y-%m-%d %H:%M:%S")),  # naive: read at the caller's offset
    instants.map(lambda i: i.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()))
flags = st.sampled_from([True, True, True, False, 1, "yes"])
EMPTY_OPS = {"$exists": flags, "$notExists": flags, "$empty": flags, "$notEmpty": flags}
TEXT_OPERATORS = ["$includes", "$notIncludes", "$startsWith", "$notStartsWith", "$endWith", "$notEndWith"]


def noco_ops(kind: str) -> dict[str, st.SearchStrategy[Any]]:
    if kind == "Object":
        return dict(EMPTY_OPS)
    if kind == "Array":
        lists = st.lists(elements, max_size=3)
        return {"$eq": st.one_of(st.none(), elements, lists), "$ne": st.one_of(st.none(), elements, lists),
                **dict.fromkeys(["$in", "$notIn", "$anyOf", "$noneOf"], lists),
                "$arrayEmpty": flags, "$arrayNotEmpty": flags, **EMPTY_OPS}
    value = {"String": strings, "Number": numbers, "Bool": st.booleans(), "Date": noco_dates,
             "json": json_scalars}[kind]
    nullable = st.one_of(st.none(), value, value)
    ops = {"$eq": nullable, "$ne": nullable, **EMPTY_OPS}
    ops["$eq"] = ops["$ne"] = st.one_of(nullable, st.lists(nullable, max_size=3))
    ops.update(dict.fromkeys(["$in", "$notIn", "$anyOf", "$noneOf"], st.lists(nullable, max_size=4)))
    if kind in ("Bool", "json"):
        ops.update({"$isTruly": flags, "$isFalsy": flags, "$is": st.one_of(st.none(), st.booleans()),
                    "$not": st.one_of(st.none(), st.booleans())})
    if kind != "Bool":  # NocoBase does not order Bool fields (refused); JSON booleans order false < true
        ops.update(dict.fromkeys(["$gt", "$gte", "$lt", "$lte"], value))
        same_kind = st.one_of(st.lists(numbers, min_size=2, max_size=2), st.lists(strings, min_size=2, max_size=2))
        pair = st.lists(value, min_size=2, max_size=2) if kind != "json" else same_kind
        ops["$between"] = ops["$notBetween"] = pair
    if kind in ("String", "json"):
        texts = st.one_of(strings, st.lists(strings, min_size=1, max_size=3))
        ops.update(dict.fromkeys(TEXT_OPERATORS, texts))
        ops.update(dict.fromkeys(["$like", "$notLike", "$iLike", "$notILike"], st.text(LIKE_ALPHABET, max_size=4)))
    if kind == "Date":
        ops.update(dict.fromkeys(["$dateOn", "$dateNotOn", "$dateBefore", "$dateAfter", "$dateNotBefore",
                                  "$dateNotAfter"], noco_dates))
        ops["$dateBetween"] = st.one_of(noco_dates, st.lists(noco_dates, min_size=2, max_size=2))
    return ops


NOCO_OPS = {key: noco_ops(kind) for key, kind in NOCO_KEYS.items()}


@st.composite
def noco_condition(draw: st.DrawFn, key: str, depth: int = 1) -> Any:
    """A bare value, an object of operators, or (sometimes) $or/$and of operator objects on the same key."""
    ops = NOCO_OPS[key]
    choice = draw(st.integers(0, 5))
    if choice == 0 and "$eq" in ops and NOCO_KEYS[key] != "Object":
        return draw(ops["$eq"])
    if choice == 1 and depth > 0:
        return {draw(st.sampled_from(["$and", "$or"])):
                draw(st.lists(noco_condition(key, 0).filter(lambda c: isinstance(c, dict)), min_size=1,
                              max_size=2))}
    names = draw(st.lists(st.sampled_from(sorted(ops)), min_size=1, max_size=2, unique=True))
    return {name: draw(ops[name]) for name in names}


def nest(key: str, cond: Any) -> dict[str, Any]:
    """``{"meta.n": c}`` or, as NocoBase also allows, ``{"meta": {"n": c}}``."""
    head, _, rest = key.partition(".")
    return {head: nest(rest, cond)} if rest else {key: cond}


@st.composite
def noco_filter(draw: st.DrawFn, depth: int) -> dict[str, Any]:
    """Conditions on one or two keys, or $or/$and of smaller filters (beside a key condition at times)."""
    shape = draw(st.integers(0, 3)) if depth > 0 else draw(st.integers(0, 1))
    keys = draw(st.lists(st.sampled_from(sorted(NOCO_KEYS)), min_size=1, max_size=1 if shape != 1 else 2,
                         unique=True))
    flt: dict[str, Any] = {}
    for key in keys if shape < 2 or draw(st.booleans()) else []:
        cond = draw(noco_condition(key))
        entry = nest(key, cond) if "." in key and draw(st.booleans()) else {key: cond}
        head, value = next(iter(entry.items()))
        if head in flt:  # a second condition under the same Object key: AND it
            flt.setdefault("$and", []).append(entry)
        else:
            flt[head] = value
    if shape >= 2:
        op = "$or" if shape == 2 else draw(st.sampled_from(["$or", "$and"]))
        flt.setdefault(op, []).extend(draw(st.lists(noco_filter(depth - 1), min_size=1, max_size=3)))
    return flt


@PROPERTY
@given(rows=rows_strategy, filters=st.lists(noco_filter(2), min_size=1, max_size=4),
       tz=st.sampled_from([0, 0, 480, -300]))
async def test_nocobase_filter_matches_reference(item: Item, rows: list[dict[str, Any]],
                                                 filters: list[dict[str, Any]], tz: int) -> None:
    await item.fill(rows)
    noco = ref.NocoRef(TYPES, tz)
    for flt in filters:
        pred = parse_filter(item.app.catalog, item.tdef, flt, tz_offset_minutes=tz)
        got = await item.found(pred)
        want = item.expected(lambda row, flt=flt: noco.matches(flt, row))
        assert got == want, f"{flt}\n{pred}\n{item.explain(got, want)}"


# -- regressions ----------------------------------------------------------------------------------------------
# Minimal examples of the discrepancies the properties above found (engine fixes in 11cdf4f). The generators
# cover them too; these pin each one deterministically, whatever examples Hypothesis happens to draw.


Query = ir.Pred | tuple[str, dict[str, Any]]


async def check_queries(item: Item, queries: Sequence[Query], tz: int = 0) -> None:
    """Each query (an IR tree, or ("bmob"|"nocobase", wire dict)) finds exactly the reference's rows."""
    for q in queries:
        if isinstance(q, ir.Pred):
            pred, matches = q, partial(ref.eval_ir, q)
        elif q[0] == "bmob":
            pred, matches = parse_where(item.app.catalog, item.tdef, q[1]), partial(ref.BmobRef(TYPES).matches, q[1])
        else:
            pred = parse_filter(item.app.catalog, item.tdef, q[1], tz_offset_minutes=tz)
            matches = partial(ref.NocoRef(TYPES, tz).matches, q[1])
        got, want = await item.found(pred), item.expected(matches)
        assert got == want, f"{q}\n{item.explain(got, want)}"


async def test_explicit_null_in_json_field(item: Item) -> None:
    """An explicit null in an Array/Object field is null (it was stored as JSON 'null' and missed)."""
    await item.fill([{"tags": None, "meta": None}, {}, {"tags": [1], "meta": {"n": 1}}, {"tags": []}])
    await check_queries(item, [
        ir.Cmp(P("tags"), "eq", None), ir.Cmp(P("meta"), "eq", None), ir.ArrayEmpty(P("tags")),
        ("bmob", {"meta": {"$exists": False}}), ("bmob", {"tags": None}),
        ("nocobase", {"tags": {"$empty": True}}), ("nocobase", {"meta": {"$notExists": True}})])


async def test_array_empty_on_json_null(item: Item) -> None:
    """A JSON null inside an Object is an empty array (PostgreSQL's ``#>`` gave jsonb 'null', not NULL)."""
    await item.fill([{"meta": {"l": None}}, {"meta": {"l": []}}, {"meta": {"l": [1]}}, {"meta": {}}, {}])
    await check_queries(item, [ir.ArrayEmpty(P("meta", "l")), ir.ArrayEmpty(P("meta", "l"), negate=True)])


async def test_array_has_on_json_string(item: Item) -> None:
    """A JSON string is not an array, even '[1]' (SQLite re-parsed json_extract's text: malformed JSON
    errors, and '[1]' passed for an array)."""
    await item.fill([{"meta": {"l": "[1]"}}, {"meta": {"l": "abc"}}, {"meta": {"l": [1]}}])
    await check_queries(item, [ir.ArrayHas(P("meta", "l"), (1,), "any"), ir.ArrayHas(P("meta", "l"), (1,), "none"),
                               ("bmob", {"meta.l": {"$all": [1]}})])


async def test_array_empty_on_json_scalar(item: Item) -> None:
    """A scalar is neither an empty nor a non-empty array (SQLite raised malformed JSON; PostgreSQL's
    negation was true for scalars)."""
    await item.fill([{"meta": {"s": "abc"}}, {"meta": {"s": 5}}, {"meta": {"s": [2]}}, {}])
    await check_queries(item, [ir.ArrayEmpty(P("meta", "s")), ir.ArrayEmpty(P("meta", "s"), negate=True)])


async def test_in_list_on_date(item: Item) -> None:
    """IN lists of dates (the compiler refused datetimes as if they were inside JSON)."""
    day = dt.datetime(2024, 1, 2, tzinfo=UTC)
    await item.fill([{"when": day.isoformat()}, {"when": "2024-01-03T00:00:00Z"}, {}])
    await check_queries(item, [
        ir.InList(P("when"), (day,)),
        ("bmob", {"when": {"$in": [{"__type": "Date", "iso": "2024-01-02 00:00:00"}]}}),
        ("bmob", {"when": {"$nin": [{"__type": "Date", "iso": "2024-01-02 00:00:00"}]}}),
        ("nocobase", {"when": {"$in": ["2024-01-02"]}}), ("nocobase", {"when": ["2024-01-02", None]}),
        ("nocobase", {"when": {"$notIn": ["2024-01-02T00:00:00Z"]}})])


async def test_order_on_booleans(item: Item) -> None:
    """Booleans order false < true (SQLAlchemy raised ArgumentError on ``col > False``, a 500)."""
    await item.fill([{"flag": True, "meta": {"n": True}}, {"flag": False, "meta": {"n": False}}, {}])
    await check_queries(item, [
        *(ir.Cmp(P("flag"), op, v) for op in ("lt", "lte", "gt", "gte") for v in (False, True)),
        ("bmob", {"flag": {"$gt": False}}), ("bmob", {"meta.n": {"$lt": True}}),
        ("nocobase", {"meta.n": {"$gte": True}})])


async def test_like_backslash(item: Item) -> None:
    """Only % and _ are special in a LIKE pattern (PostgreSQL read a backslash as an escape)."""
    await item.fill([{"name": "a\\b"}, {"name": "ab"}, {"name": "a%"}, {"name": "a\\"}, {"name": "a\\%x"}])
    await check_queries(item, [
        ir.Text(P("name"), "like", "a\\b"), ir.Text(P("name"), "like", "a\\%"), ir.Text(P("name"), "like", "a\\"),
        ("nocobase", {"name": {"$like": "a\\b"}}), ("nocobase", {"name": {"$notILike": "A\\%"}})])


async def test_not_between_on_json_kinds(item: Item) -> None:
    """$notBetween is everything $between is not, JSON values of another kind included, like $notIn
    (it was ``< lo OR > hi OR IS NULL``, which left them out)."""
    await item.fill([{"tags": [0]}, {"tags": ["b"]}, {"tags": ["z"]}, {"tags": []}])
    await check_queries(item, [("nocobase", {"tags.0": {"$notIn": ["a", "b"]}}),
                               ("nocobase", {"tags.0": {"$notBetween": ["a", "b"]}})])


async def test_in_list_int_then_fraction(item: Item) -> None:
    """Mixed int/float IN lists (asyncpg bound them all as INTEGER after an int first: 0.25 → 0)."""
    await item.fill([{"score": v, "tags": [v], "meta": {"n": v}} for v in (-2.5, 0, 0.25, 2.5, 3)])
    await check_queries(item, [
        ir.InList(P("score"), (0, -2.5)), ir.InList(P("tags", 0), (1, 0.25)),
        ir.InList(P("score"), (3, 2.5), negate=True),
        ("bmob", {"score": {"$in": [3, 2.5]}}), ("bmob", {"meta.n": {"$nin": [0, 0.25]}}),
        ("nocobase", {"score": {"$anyOf": [0, -2.5]}}), ("nocobase", {"score": [1, 0.25]}),
        ("nocobase", {"meta.n": {"$notIn": [3, 2.5]}})])
