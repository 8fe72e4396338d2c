"""NocoBase ``resource_query`` → Aggregate: measures, date grains, orders, having, time zones."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest

from hivebase.core.apps import App
from hivebase.core.catalog import Catalog
from hivebase.core.model import TableDef
from hivebase.core.query.dates import parse_timezone
from hivebase.core.query.ir import (
    Aggregate,
    AliasRef,
    And,
    Cmp,
    Const,
    Dimension,
    InList,
    Measure,
    Or,
    Order,
    Path,
    Text,
)
from hivebase.core.query.resource_query import parse_resource_query
from hivebase.errors import InvalidQuery, TypeMismatch, UnknownField
from tests.core.test_nocobase_filter import make_tables

pytestmark = pytest.mark.anyio


@pytest.fixture
async def cat(app: App) -> Catalog:
    return await make_tables(app)


def post(cat: Catalog) -> TableDef:
    return cat.get("Post")


def q(cat: Catalog, **args: Any) -> Aggregate:
    return parse_resource_query(cat, post(cat), args)


def ref(alias: str) -> Path:
    """An AliasRef where the IR expects a Path (having compares result columns)."""
    return cast(Path, AliasRef(alias))


def p(cat: Catalog, name: str) -> Path:
    return Path(post(cat).fields[name])


async def test_reference_example(cat: Catalog) -> None:
    agg = q(cat, measures=[{"field": ["id"], "aggregation": "count", "alias": "count"}],
            dimensions=[{"field": ["title"], "alias": "status"}], having={"count": {"$gt": 1}}, limit=10)
    assert agg == Aggregate(
        "Post", where=Const(True), dimensions=[Dimension(p(cat, "title"), "status")],
        measures=[Measure("count", "count", p(cat, "objectId"))],
        having=Cmp(ref("count"), "gt", 1),
        order=[], limit=10, offset=0, tz_offset_minutes=0)


async def test_fields_as_strings_or_path_arrays_join_through_pointers(cat: Catalog) -> None:
    author = post(cat).fields["author"]
    name = Path(cat.get("Author").fields["name"], (author,))
    a = q(cat, dimensions=[{"field": "author.name"}], measures=[{"field": "views", "aggregation": "sum"}])
    b = q(cat, dimensions=[{"field": ["author", "name"]}],
          measures=[{"field": ["views"], "aggregation": "SUM"}])
    assert a == b
    assert a.dimensions == [Dimension(name, "author.name")]
    assert a.measures == [Measure("sum", "views", p(cat, "views"))]
    assert a.limit == 2000


async def test_measures(cat: Catalog) -> None:
    agg = q(cat, measures=[
        {"aggregation": "count"},
        {"field": "views", "aggregation": "avg", "alias": "avgViews"},
        {"field": "published", "aggregation": "max"},
        {"field": "title", "aggregation": "min", "alias": "first_title"},
        {"field": "author", "aggregation": "count", "distinct": True, "alias": "authors"},
        {"field": "meta.size", "aggregation": "sum", "alias": "size"},
    ])
    assert agg.measures == [
        Measure("count", "count"),
        Measure("avg", "avgViews", p(cat, "views")),
        Measure("max", "published", p(cat, "published")),
        Measure("min", "first_title", p(cat, "title")),
        Measure("count", "authors", p(cat, "author"), distinct=True),
        Measure("sum", "size", Path(post(cat).fields["meta"], (), ("size",))),
    ]


async def test_measure_errors(cat: Catalog) -> None:
    for measure, fragment in [
        ({"field": "title", "aggregation": "sum"}, r"`sum` does not apply to `title` \(a String field\)"),
        ({"field": "draft", "aggregation": "avg"}, "needs Number"),
        ({"field": "tags", "aggregation": "max"}, "Number or Date or String"),
        ({"field": "views"}, "aggregation` must be one of"),
        ({"field": "views", "aggregation": "median"}, "must be one of count, sum, avg, min, max"),
        ({"aggregation": "sum"}, "needs a field"),
        ({"aggregation": "count", "distinct": True}, "needs a field"),
        ({"field": "views", "aggregation": "sum", "distinct": "yes"}, "true or false"),
        ({"field": "labels", "aggregation": "count"}, "Relation"),
        ({"field": 5, "aggregation": "count"}, "field name or a list"),
        ({"field": ["author.name"], "aggregation": "count"}, "field name or a list"),
    ]:
        with pytest.raises(InvalidQuery, match=fragment):
            q(cat, measures=[measure])
    with pytest.raises(UnknownField, match="did you mean `views`"):
        q(cat, measures=[{"field": "veiws", "aggregation": "sum"}])
    with pytest.raises(InvalidQuery, match="alias `views` is used twice"):
        q(cat, measures=[{"field": "views", "aggregation": "sum"}, {"field": "views", "aggregation": "avg"}])
    with pytest.raises(InvalidQuery, match="at least one measure or dimension"):
        q(cat)
    with pytest.raises(InvalidQuery, match="`measures` must be a list"):
        q(cat, measures={"field": "views"})


async def test_date_dimensions_map_formats_to_grains(cat: Catalog) -> None:
    pub = p(cat, "published")
    for fmt, grain in [("YYYY", "year"), ("YYYY-MM", "month"), ("YYYY-MM-DD", "day"),
                       ("YYYY-MM-DD HH", "hour"), ("YYYY-MM-DD HH:00", "hour"),
                       ("YYYY-MM-DD HH:mm", "minute"), ("YYYY-MM-DD HH:mm:ss", "second")]:
        agg = q(cat, dimensions=[{"field": "published", "format": fmt, "alias": "d"}])
        assert agg.dimensions == [Dimension(pub, "d", grain)]  # type: ignore[arg-type]
    assert q(cat, dimensions=[{"field": "published"}]).dimensions == [Dimension(pub, "published")]
    with pytest.raises(InvalidQuery, match="is not supported; use one of YYYY, YYYY-MM, YYYY-MM-DD"):
        q(cat, dimensions=[{"field": "published", "format": "DD/MM/YYYY"}])
    with pytest.raises(InvalidQuery, match="applies only to Date fields"):
        q(cat, dimensions=[{"field": "title", "format": "YYYY"}])


async def test_orders(cat: Catalog) -> None:
    agg = q(cat, measures=[{"aggregation": "count", "alias": "n"}],
            dimensions=[{"field": "title", "alias": "t"}, {"field": "author.name"}],
            orders=[{"field": "n", "order": "desc", "nulls": "last"}, {"field": "title"},
                    {"field": ["author", "name"], "order": "ASC"}, {"alias": "t", "field": "ignored"}])
    assert agg.order == [Order(alias="n", desc=True, nulls="last"), Order(alias="t"),
                         Order(alias="author.name"), Order(alias="t")]
    for order, fragment in [
        ({"field": "views"}, "neither an alias nor the field of a dimension"),
        ({"field": "n", "order": "up"}, "asc or desc"),
        ({"field": "n", "nulls": "middle"}, "default, first or last"),
    ]:
        with pytest.raises(InvalidQuery, match=fragment):
            q(cat, measures=[{"aggregation": "count", "alias": "n"}], dimensions=[{"field": "title"}],
              orders=[order])


async def test_filter_and_having(cat: Catalog) -> None:
    agg = q(cat, measures=[{"aggregation": "count", "alias": "n"}, {"field": "views", "aggregation": "sum"},
                           {"field": "published", "aggregation": "max", "alias": "latest"}],
            dimensions=[{"field": "title"}],
            filter={"title": {"$includes": "a"}},
            having={"$or": [{"n": {"$gte": 2}}, {"views": {"$in": [1, 2]}}],
                    "title": {"$startsWith": "x"}, "latest": {"$dateAfter": "2024-01-05"}})
    assert agg.where == Text(p(cat, "title"), "contains", "a", True)
    n, v, t, latest = ref("n"), ref("views"), ref("title"), ref("latest")
    assert agg.having == And((
        Or((Cmp(n, "gte", 2), InList(v, (1, 2)))),
        Text(t, "startswith", "x", True),
        Cmp(latest, "gte", dt.datetime(2024, 1, 6, tzinfo=dt.UTC)),
    ))


async def test_having_names_fields_as_written_or_canonical(cat: Catalog) -> None:
    agg = q(cat, measures=[{"field": ["id"], "aggregation": "count"},
                           {"field": "views", "aggregation": "max"}],
            dimensions=[{"field": "title", "alias": "t"}],
            having={"objectId": {"$gt": 1}, "views": {"$lt": 5}, "title": {"$ne": "x"}})
    assert [m.alias for m in agg.measures] == ["id", "views"]
    assert agg.having == And((Cmp(ref("id"), "gt", 1), Cmp(ref("views"), "lt", 5),
                              Cmp(ref("t"), "ne", "x")))


async def test_having_errors(cat: Catalog) -> None:
    base: dict[str, Any] = {"measures": [{"field": "views", "aggregation": "sum", "alias": "total"},
                                         {"field": "views", "aggregation": "avg", "alias": "mean"}],
                            "dimensions": [{"field": "title"}]}
    with pytest.raises(InvalidQuery, match="is the field of several columns"):
        q(cat, **base, having={"views": {"$gt": 1}})
    with pytest.raises(InvalidQuery, match="did you mean `total`"):
        q(cat, **base, having={"totl": {"$gt": 1}})
    with pytest.raises(TypeMismatch, match="total"):
        q(cat, **base, having={"total": {"$gt": "abc"}})
    with pytest.raises(InvalidQuery, match=r"`\$includes` does not apply to `total`"):
        q(cat, **base, having={"total": {"$includes": "1"}})
    with pytest.raises(InvalidQuery, match="not a measure or dimension alias"):
        q(cat, **base, having={'total" OR 1=1 --': 1})
    with pytest.raises(InvalidQuery, match="must be a JSON object"):
        q(cat, **base, having=[1])
    with pytest.raises(InvalidQuery, match="nested deeper than 16"):
        deep: dict[str, Any] = {"total": 1}
        for _ in range(20):
            deep = {"$and": [deep]}
        q(cat, **base, having=deep)


async def test_aliases_are_plain_names(cat: Catalog) -> None:
    for alias in ['title" OR 1=1 --', "a b", "1abc", "x" * 65, "", 5, "a;b"]:
        if alias == "":
            continue
        with pytest.raises(InvalidQuery, match="alias"):
            q(cat, dimensions=[{"field": "title", "alias": alias}])
    assert q(cat, dimensions=[{"field": "title", "alias": "标题"}]).dimensions[0].alias == "标题"


async def test_limit_offset(cat: Catalog) -> None:
    dims = [{"field": "title"}]
    assert q(cat, dimensions=dims, limit=10000, offset="5").limit == 10000
    assert q(cat, dimensions=dims, offset="5").offset == 5
    with pytest.raises(InvalidQuery, match="`limit` may be at most 10000"):
        q(cat, dimensions=dims, limit=10001)
    with pytest.raises(InvalidQuery, match="whole number"):
        q(cat, dimensions=dims, offset=-1)


async def test_timezones(cat: Catalog) -> None:
    dims = [{"field": "published", "format": "YYYY-MM-DD"}]
    assert q(cat, dimensions=dims, timezone="+08:00").tz_offset_minutes == 480
    assert q(cat, dimensions=dims, timezone="-0530").tz_offset_minutes == -330
    assert q(cat, dimensions=dims, timezone="UTC").tz_offset_minutes == 0
    assert q(cat, dimensions=dims, timezone="Asia/Kolkata").tz_offset_minutes == 330
    agg = q(cat, dimensions=dims, timezone="+08:00", filter={"published": {"$dateOn": "2024-01-05"}})
    pub = p(cat, "published")
    assert agg.where == And((Cmp(pub, "gte", dt.datetime(2024, 1, 4, 16, tzinfo=dt.UTC)),
                             Cmp(pub, "lt", dt.datetime(2024, 1, 5, 16, tzinfo=dt.UTC))))
    for bad in ("Mars/Olympus", "+25:00", "../../etc/passwd", "+08:99", 8):
        with pytest.raises(InvalidQuery, match="timezone"):
            q(cat, dimensions=dims, timezone=bad)


def test_iana_zones_use_the_offset_at_the_instant() -> None:
    winter = dt.datetime(2024, 1, 15, tzinfo=dt.UTC)
    summer = dt.datetime(2024, 7, 15, tzinfo=dt.UTC)
    assert parse_timezone("Europe/Paris", now=winter) == 60
    assert parse_timezone("Europe/Paris", now=summer) == 120
    assert parse_timezone("America/New_York", now=winter) == -300
    assert parse_timezone("Z") == 0 and parse_timezone(None) == 0 and parse_timezone("+8") == 480
