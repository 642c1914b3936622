"""Queries: kind/kindless, ancestor, equality, keys-only, orders, limit/offset, cursors, batches, aggregations."""

from __future__ import annotations

import pytest

from framework.emulators.datastore import pb

from .conftest import code, commit, entity, key, prop_filter

pytestmark = pytest.mark.slow


def run(raw, namespace="", **fields):
    """RunQuery with a Query built from keyword fields; returns the batch."""
    query = fields.pop("query", None) or pb.Query(**fields)
    req = pb.RunQueryRequest(query=query)
    req.partition_id.namespace_id = namespace
    return raw("RunQuery", req).batch


def eq(name, v):
    return prop_filter(name, pb.OP.EQUAL, v)


def op(name, operator, v):
    return prop_filter(name, operator, v)


def ancestor(k):
    return prop_filter("__key__", pb.OP.HAS_ANCESTOR, k)


def conj(*filters):
    f = pb.Filter()
    f.composite_filter.op = pb.AND
    f.composite_filter.filters.extend(filters)
    return f


def kind(name):
    return [pb.KindExpression(name=name)] if hasattr(pb, "KindExpression") else [_kind(name)]


def _kind(name):
    q = pb.Query()
    q.kind.add(name=name)
    return q.kind[0]


def names(batch):
    return [r.entity.key.path[-1].name or r.entity.key.path[-1].id for r in batch.entity_results]


def order(name, descending=False):
    o = pb.PropertyOrder(direction=pb.DESCENDING if descending else pb.ASCENDING)
    o.property.name = name
    return o


@pytest.fixture
def people(raw):
    rows = [("ann", 30, "x"), ("bob", 25, "y"), ("cat", 30, "y"), ("dan", 41, "x"), ("eve", 19, "x")]
    commit(raw, *[("upsert", entity(key("Person", n), age=a, team=t, tags=[t, "all"])) for n, a, t in rows])
    commit(raw, ("upsert", entity(key("Person", "ann", "Pet", "rex"), age=3)),
           ("upsert", entity(key("Other", 1), age=30)))
    return rows


def test_kind_query_returns_key_order(raw, people):
    batch = run(raw, kind=kind("Person"))
    assert names(batch) == ["ann", "bob", "cat", "dan", "eve"]
    assert batch.more_results == pb.NO_MORE_RESULTS and batch.entity_result_type == pb.FULL
    assert all(r.version > 0 and r.cursor for r in batch.entity_results)


def test_kindless_and_ancestor_queries(raw, people):
    assert len(run(raw).entity_results) == 7
    batch = run(raw, filter=ancestor(key("Person", "ann")))
    assert [r.entity.key.path[-1].kind for r in batch.entity_results] == ["Person", "Pet"]
    batch = run(raw, kind=kind("Pet"), filter=ancestor(key("Person", "ann")))
    assert names(batch) == ["rex"]
    err = raw.error("RunQuery", pb.RunQueryRequest(query=pb.Query(filter=ancestor(key("Person", "ann", namespace="ns")))))
    assert code(err) == "INVALID_ARGUMENT" and "namespace" in err.details()


def test_equality_filters_and_arrays(raw, people):
    assert names(run(raw, kind=kind("Person"), filter=eq("age", 30))) == ["ann", "cat"]
    assert names(run(raw, kind=kind("Person"), filter=conj(eq("age", 30), eq("team", "y")))) == ["cat"]
    assert names(run(raw, kind=kind("Person"), filter=conj(eq("tags", "x"), eq("tags", "all")))) == ["ann", "dan", "eve"]
    assert names(run(raw, kind=kind("Person"), filter=eq("age", 30.0))) == []  # int 30 is not double 30.0
    assert names(run(raw, kind=kind("Person"), filter=conj(eq("age", 30), ancestor(key("Person", "cat"))))) == ["cat"]


def test_keys_only_limit_offset_and_more_results(raw, people):
    q = pb.Query(kind=kind("Person"))
    q.projection.add().property.name = "__key__"
    batch = run(raw, query=q)
    assert batch.entity_result_type == pb.KEY_ONLY and names(batch) == ["ann", "bob", "cat", "dan", "eve"]
    assert list(batch.entity_results[0].entity.properties) == []
    q.limit.value, q.offset = 2, 1
    batch = run(raw, query=q)
    assert names(batch) == ["bob", "cat"] and batch.skipped_results == 1 and batch.skipped_cursor
    assert batch.more_results == pb.MORE_RESULTS_AFTER_LIMIT
    q.offset = 3
    batch = run(raw, query=q)
    assert names(batch) == ["dan", "eve"] and batch.more_results == pb.NO_MORE_RESULTS


def test_cursors_resume_and_stop(raw, people):
    q = pb.Query(kind=kind("Person"))
    q.limit.value = 2
    first = run(raw, query=q)
    q.start_cursor = first.end_cursor
    second = run(raw, query=q)
    assert names(second) == ["cat", "dan"]
    q.start_cursor = first.entity_results[0].cursor
    q.end_cursor = second.entity_results[0].cursor
    q.ClearField("limit")
    batch = run(raw, query=q)
    assert names(batch) == ["bob", "cat"] and batch.more_results == pb.MORE_RESULTS_AFTER_CURSOR
    q.start_cursor = b"garbage"
    assert code(raw.error("RunQuery", pb.RunQueryRequest(query=q))) == "INVALID_ARGUMENT"


def test_cursor_survives_deletion_of_its_entity(raw, people):
    q = pb.Query(kind=kind("Person"))
    q.limit.value = 2
    first = run(raw, query=q)
    commit(raw, ("delete", key("Person", "bob")), ("delete", key("Person", "cat")))
    q.start_cursor = first.end_cursor
    assert names(run(raw, query=q)) == ["dan", "eve"]


def test_single_property_orders_with_arrays(raw, people):
    q = pb.Query(kind=kind("Person"), order=[order("age")])
    assert names(run(raw, query=q)) == ["eve", "bob", "ann", "cat", "dan"]
    q = pb.Query(kind=kind("Person"), order=[order("age", True)])
    assert names(run(raw, query=q)) == ["dan", "ann", "cat", "bob", "eve"]
    commit(raw, ("upsert", entity(key("Multi", "a"), v=[1, 9])), ("upsert", entity(key("Multi", "b"), v=[4, 5, 6, 7])))
    assert names(run(raw, query=pb.Query(kind=kind("Multi"), order=[order("v")]))) == ["a", "b"]
    assert names(run(raw, query=pb.Query(kind=kind("Multi"), order=[order("v", True)]))) == ["a", "b"]
    assert names(run(raw, query=pb.Query(kind=kind("Person"), order=[order("__key__", True)])))[0] == "eve"


def test_cross_type_order(raw):
    values = [None, 5, True, b"blob", "str", 1.5, float("nan"), -3]
    commit(raw, *[("upsert", entity(key("Mixed", i + 1), v=v)) for i, v in enumerate(values)])
    got = [r.entity.key.path[-1].id for r in run(raw, query=pb.Query(kind=kind("Mixed"), order=[order("v")])).entity_results]
    assert got == [1, 8, 2, 3, 4, 5, 6, 7]  # null, -3, 5, true, blob, str, 1.5, NaN


def test_inequality_filter_orders_by_its_property(raw, people):
    assert names(run(raw, kind=kind("Person"), filter=op("age", pb.OP.GREATER_THAN_OR_EQUAL, 30))) == ["ann", "cat", "dan"]
    assert names(run(raw, kind=kind("Person"), filter=conj(op("age", pb.OP.LESS_THAN, 30), eq("team", "x")))) == ["eve"]
    assert names(run(raw, kind=kind("Person"), filter=op("age", pb.OP.GREATER_THAN, 29.0))) == []
    err = raw.error("RunQuery", pb.RunQueryRequest(query=pb.Query(
        kind=kind("Person"), filter=op("age", pb.OP.GREATER_THAN, 1), order=[order("team")])))
    assert code(err) == "INVALID_ARGUMENT"


def test_inequalities_on_several_properties(raw, people):
    q = pb.Query(kind=kind("Person"), filter=conj(op("age", pb.OP.GREATER_THAN, 20), op("team", pb.OP.LESS_THAN, "y")))
    assert names(run(raw, query=q)) == ["ann", "dan"]
    q.order.append(order("team"))
    q.order.append(order("age", True))
    assert names(run(raw, query=q)) == ["dan", "ann"]
    q = pb.Query(kind=kind("Person"), filter=conj(op("age", pb.OP.GREATER_THAN, 20), op("team", pb.OP.NOT_EQUAL, "x")))
    assert names(run(raw, query=q)) == ["bob", "cat"]


def test_batches_over_a_thousand_results(raw):
    for start in range(0, 1200, 500):
        commit(raw, *[("upsert", entity(key("Many", i + 1), g=1)) for i in range(start, min(start + 500, 1200))])
    q = pb.Query(kind=kind("Many"), filter=eq("g", 1))
    first = run(raw, query=q)
    assert len(first.entity_results) == 1000 and first.more_results == pb.NOT_FINISHED
    q.start_cursor = first.end_cursor
    second = run(raw, query=q)
    assert len(second.entity_results) == 200 and second.more_results == pb.NO_MORE_RESULTS


def test_ndb_queries(ndb_client):
    from google.cloud import ndb

    class Book(ndb.Model):
        title = ndb.StringProperty()
        year = ndb.IntegerProperty()
        tags = ndb.StringProperty(repeated=True)

    with ndb_client.context(cache_policy=False):
        shelf = ndb.Key("Shelf", "s")
        for i in range(12):
            Book(parent=shelf if i % 2 else None, title=f"t{i:02d}", year=2000 + i % 3, tags=["a", f"n{i}"]).put()
        assert Book.query().count() == 12
        assert Book.query(Book.year == 2001).count() == 4
        assert len(Book.query(ancestor=shelf).fetch()) == 6
        assert [b.title for b in Book.query().order(-Book.title).fetch(3)] == ["t11", "t10", "t09"]
        assert len(Book.query(Book.tags == "a").fetch(keys_only=True)) == 12
        seen, cursor, more = [], None, True
        while more:
            page, cursor, more = Book.query().order(Book.title).fetch_page(5, start_cursor=cursor)
            seen += [b.title for b in page]
        assert seen == [f"t{i:02d}" for i in range(12)]
        by_year = Book.query().order(-Book.year, Book.title).fetch()
        assert [(b.year, b.title) for b in by_year] == sorted(((b.year, b.title) for b in by_year),
                                                              key=lambda t: (-t[0], t[1]))
        assert [b.year for b in by_year][:4] == [2002] * 4 and by_year[0].title == "t02"
        assert sorted(b.title for b in Book.query(Book.year != 2001).fetch()) == [
            f"t{i:02d}" for i in range(12) if i % 3 != 1]
        assert len(Book.query(Book.year.IN([2000, 2002])).fetch()) == 8
        years = [b.year for b in Book.query(projection=[Book.year], distinct=True).order(Book.year).fetch()]
        assert years == [2000, 2001, 2002]


def test_datastore_client_queries_and_count(ds_client):
    from google.cloud import datastore

    for i in range(7):
        e = datastore.Entity(ds_client.key("Row", i + 1))
        e.update({"n": i, "even": i % 2 == 0})
        ds_client.put(e)
    q = ds_client.query(kind="Row")
    q.add_filter(filter=datastore.query.PropertyFilter("even", "=", True))
    assert sorted(e["n"] for e in q.fetch()) == [0, 2, 4, 6]
    it = ds_client.query(kind="Row").fetch(limit=3)
    page = next(it.pages)
    assert [e["n"] for e in page] == [0, 1, 2] and it.next_page_token
    q = ds_client.query(kind="Row")
    q.add_filter(filter=datastore.query.PropertyFilter("n", "IN", [1, 3, 5]))
    assert sorted(e["n"] for e in q.fetch()) == [1, 3, 5]
    q = ds_client.query(kind="Row")
    q.add_filter(filter=datastore.query.PropertyFilter("n", "NOT_IN", [1, 3, 5]))
    assert [e["n"] for e in q.fetch()] == [0, 2, 4, 6]
    q = ds_client.query(kind="Row")
    q.add_filter(filter=datastore.query.Or([
        datastore.query.PropertyFilter("n", "=", 1),
        datastore.query.And([datastore.query.PropertyFilter("even", "=", True),
                             datastore.query.PropertyFilter("n", ">", 3)]),
    ]))
    assert [e["n"] for e in q.fetch()] == [1, 4, 6]
    q = ds_client.query(kind="Row", projection=["n"])
    q.add_filter(filter=datastore.query.PropertyFilter("n", ">", 4))
    assert [dict(e) for e in q.fetch()] == [{"n": 5}, {"n": 6}]
    agg = ds_client.aggregation_query(ds_client.query(kind="Row")).count(alias="c").sum("n", alias="s").avg("n", alias="a")
    result = {r.alias: r.value for r in list(agg.fetch())[0]}
    assert result == {"c": 7, "s": 21, "a": 3.0}


def test_ndb_metadata_queries(ndb_client):
    from google.cloud import ndb
    from google.cloud.ndb import metadata

    class Alpha(ndb.Model):
        a = ndb.IntegerProperty()
        s = ndb.StringProperty()
        hidden = ndb.TextProperty()

    class Beta(ndb.Model):
        b = ndb.FloatProperty()

    with ndb_client.context(cache_policy=False):
        Alpha(a=1, s="x", hidden="h").put()
        Alpha(a=None, s="y").put()
        Beta(b=1.5).put()
        Beta(namespace="other", b=2.0).put()
        assert metadata.get_kinds() == ["Alpha", "Beta"]
        assert metadata.get_kinds(start="B") == ["Beta"]
        assert metadata.get_namespaces() == ["", "other"]
        assert metadata.get_properties_of_kind("Alpha") == ["a", "s"]
        reps = metadata.get_representations_of_kind("Alpha")
        assert reps == {"a": ["NULL", "INT64"], "s": ["STRING"]}


def test_projection_of_timestamps_and_count_up_to(ndb_client, ds_client):
    import datetime

    from google.cloud import ndb

    class Event(ndb.Model):
        when = ndb.DateTimeProperty()
        tags = ndb.StringProperty(repeated=True)

    stamps = [datetime.datetime(2021, 1, d, 8, 0, 0, 250) for d in (3, 1, 2)]
    with ndb_client.context(cache_policy=False):
        for s in stamps:
            Event(when=s, tags=["a", "b"]).put()
        got = Event.query(projection=[Event.when]).order(Event.when).fetch()
        assert [e.when for e in got] == sorted(stamps)
        rows = Event.query(projection=[Event.tags]).fetch()
        assert sorted(e.tags[0] for e in rows) == ["a"] * 3 + ["b"] * 3  # one result per array element
    agg = ds_client.aggregation_query(ds_client.query(kind="Event")).count(alias="n")
    assert list(agg.fetch(limit=2))[0][0].value == 2
    assert list(ds_client.aggregation_query(ds_client.query(kind="Event")).count().fetch())[0][0].value == 3


def test_not_equal_not_in_distinct_and_key_filters(raw, people):
    commit(raw, ("upsert", entity(key("Person", "zed"), team="z")))  # no age at all
    assert names(run(raw, kind=kind("Person"), filter=op("age", pb.OP.NOT_EQUAL, 30))) == ["eve", "bob", "dan"]
    f = op("team", pb.OP.NOT_IN, ["x", "z"])
    assert names(run(raw, kind=kind("Person"), filter=f)) == ["bob", "cat"]
    f = op("team", pb.OP.IN, ["y", "z"])
    assert names(run(raw, kind=kind("Person"), filter=f)) == ["bob", "cat", "zed"]
    q = pb.Query(kind=kind("Person"), order=[order("team")])
    q.projection.add().property.name = "team"
    q.distinct_on.add().name = "team"
    batch = run(raw, query=q)
    assert batch.entity_result_type == pb.PROJECTION
    assert [r.entity.properties["team"].string_value for r in batch.entity_results] == ["x", "y", "z"]
    f = op("__key__", pb.OP.GREATER_THAN, key("Person", "cat"))
    assert names(run(raw, kind=kind("Person"), filter=f)) == ["dan", "eve", "zed"]
    f = pb.Filter()
    f.property_filter.property.name, f.property_filter.op = "__key__", pb.OP.IN
    for n in ("bob", "nobody", "eve"):
        f.property_filter.value.array_value.values.add().key_value.CopyFrom(key("Person", n))
    assert names(run(raw, kind=kind("Person"), filter=f)) == ["bob", "eve"]
    assert names(run(raw, filter=op("__key__", pb.OP.LESS_THAN, key("Person", "bob")))) == [1, "ann", "rex"]


def test_or_with_ancestor_and_descending_end_cursor(raw, people):
    f = pb.Filter()
    f.composite_filter.op = pb.OR
    f.composite_filter.filters.extend([conj(eq("team", "y"), ancestor(key("Person", "cat"))),
                                       conj(eq("age", 41), ancestor(key("Person", "cat")))])
    assert names(run(raw, kind=kind("Person"), filter=f)) == ["cat"]
    q = pb.Query(kind=kind("Person"), order=[order("age", True)])
    full = run(raw, query=q)
    q.end_cursor = full.entity_results[2].cursor
    batch = run(raw, query=q)
    assert names(batch) == ["dan", "ann", "cat"] and batch.more_results == pb.MORE_RESULTS_AFTER_CURSOR


def test_aggregations_over_empty_and_mixed_values(raw):
    commit(raw, ("upsert", entity(key("Agg", 1), x=1)), ("upsert", entity(key("Agg", 2), x=2.5)),
           ("upsert", entity(key("Agg", 3), x="s")), ("upsert", entity(key("Agg", 4), y=1)))

    def aggregate(kind_name, *aggs):
        req = pb.RunAggregationQueryRequest()
        req.aggregation_query.nested_query.kind.add(name=kind_name)
        for alias, op_name, prop in aggs:
            a = req.aggregation_query.aggregations.add(alias=alias)
            if op_name == "count":
                a.count.SetInParent()
            else:
                getattr(a, op_name).property.name = prop
        batch = raw("RunAggregationQuery", req).batch
        assert batch.more_results == pb.NO_MORE_RESULTS
        return dict(batch.aggregation_results[0].aggregate_properties)

    got = aggregate("Agg", ("c", "count", None), ("s", "sum", "x"), ("a", "avg", "x"))
    assert got["c"].integer_value == 3 and got["s"].double_value == 3.5 and got["a"].double_value == 1.75
    got = aggregate("None", ("s", "sum", "x"), ("a", "avg", "x"), ("c", "count", None))
    assert got["s"].integer_value == 0 and got["a"].WhichOneof("value_type") == "null_value"
    assert got["c"].integer_value == 0


def test_malformed_aggregations_are_invalid_argument(raw):
    for op_name in (None, "sum", "avg"):  # no operator at all; sum/avg without a property
        req = pb.RunAggregationQueryRequest()
        req.aggregation_query.nested_query.kind.add(name="Agg")
        a = req.aggregation_query.aggregations.add(alias="x")
        if op_name:
            getattr(a, op_name).SetInParent()
        err = raw.error("RunAggregationQuery", req)
        assert code(err) == "INVALID_ARGUMENT", (op_name, err.details())


def test_property_masks_on_lookup_and_query(raw):
    e = entity(key("Mask", 1), a=1, b=2)
    e.properties["sub"].entity_value.properties["x"].integer_value = 1
    e.properties["sub"].entity_value.properties["y"].integer_value = 2
    commit(raw, ("upsert", e))
    req = pb.LookupRequest(keys=[key("Mask", 1)])
    req.property_mask.paths.extend(["a", "sub.y"])
    got = raw("Lookup", req).found[0].entity
    assert set(got.properties) == {"a", "sub"} and set(got.properties["sub"].entity_value.properties) == {"y"}
    query = pb.Query()
    query.kind.add(name="Mask")
    req = pb.RunQueryRequest(query=query)
    req.property_mask.paths.append("b")
    assert set(raw("RunQuery", req).batch.entity_results[0].entity.properties) == {"b"}


def test_every_cursor_a_batch_returns_resumes_right_after_its_position(raw, people):
    full = names(run(raw, query=pb.Query(kind=kind("Person"), order=[order("age", True)])))
    q = pb.Query(kind=kind("Person"), order=[order("age", True)], offset=2)
    q.limit.value = 1
    batch = run(raw, query=q)
    assert batch.skipped_results == 2 and names(batch) == full[2:3]
    for cursor, rest in ((batch.skipped_cursor, full[2:]), (batch.entity_results[0].cursor, full[3:]),
                         (batch.end_cursor, full[3:])):
        resumed = pb.Query(kind=kind("Person"), order=[order("age", True)], start_cursor=cursor)
        assert names(run(raw, query=resumed)) == rest
    q = pb.Query(kind=kind("Person"), filter=eq("age", 99))
    empty = run(raw, query=q)
    assert not empty.entity_results and empty.end_cursor and empty.more_results == pb.NO_MORE_RESULTS
    assert not run(raw, query=pb.Query(kind=kind("Person"), filter=eq("age", 99), start_cursor=empty.end_cursor)).entity_results
    q = pb.Query(kind=kind("Person"))
    q.limit.value = 0
    batch = run(raw, query=q)
    assert not batch.entity_results and batch.more_results == pb.MORE_RESULTS_AFTER_LIMIT


def test_snapshot_versions_are_set_for_strong_reads_and_zero_for_eventual_ones(raw, people):
    eventual = pb.ReadOptions(read_consistency=pb.EVENTUAL)
    strong = raw("Lookup", pb.LookupRequest(keys=[key("Person", "zed")])).missing[0].version
    assert strong >= raw("Lookup", pb.LookupRequest(keys=[key("Person", "ann")])).found[0].version > 0
    assert raw("Lookup", pb.LookupRequest(keys=[key("Person", "zed")], read_options=eventual)).missing[0].version == 0
    query = pb.Query(kind=kind("Person"))
    assert run(raw, query=query).snapshot_version == strong
    batch = raw("RunQuery", pb.RunQueryRequest(query=query, read_options=eventual)).batch
    assert batch.snapshot_version == 0 and len(batch.entity_results) == 5  # still strongly consistent
