"""Limits and key rules are enforced with INVALID_ARGUMENT and the real service's messages."""

from __future__ import annotations

import pytest

from framework.emulators.datastore import pb

from .conftest import code, commit, entity, key

pytestmark = pytest.mark.slow


def upsert_error(raw, e):
    req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL)
    req.mutations.add().upsert.CopyFrom(e)
    err = raw.error("Commit", req)
    assert code(err) == "INVALID_ARGUMENT", err.details()
    return err.details()


def test_indexed_strings_and_blobs_are_limited_to_1500_bytes(raw):
    assert upsert_error(raw, entity(key("V", 1), p="x" * 1501)) == 'The value of property "p" is longer than 1500 bytes.'
    assert "longer than 1500" in upsert_error(raw, entity(key("V", 1), p=[b"y" * 1501]))
    ok = entity(key("V", 1), p="é" * 750)
    long = ok.properties["long"]
    long.string_value = "z" * 100_000
    long.exclude_from_indexes = True
    commit(raw, ("upsert", ok))


def test_entity_size_limit(raw):
    e = entity(key("V", 1))
    e.properties["big"].blob_value = b"x" * 1_048_000
    e.properties["big"].exclude_from_indexes = True
    e.properties["more"].blob_value = b"x" * 1000
    e.properties["more"].exclude_from_indexes = True
    assert "too big" in upsert_error(raw, e)
    del e.properties["more"]
    commit(raw, ("upsert", e))


@pytest.mark.parametrize("path, message", [
    (("V", 0), "Must not be zero"),
    (("", 1), "kind is the empty string"),
    (("V", ""), "name is the empty string"),
    (("__V__", 1), "reserved"),
    (("__V", 1), "reserved"),  # any kind starting with __
    (("V", "__n__"), "reserved"),
    (("P", "a", "V", "x" * 1501), "longer than 1500"),
])
def test_bad_keys(raw, path, message):
    assert message in upsert_error(raw, entity(key(*path)))


def test_only_the_last_element_may_be_incomplete(raw):
    k = key("P", 1, "V", 1)
    k.path[0].ClearField("id")
    assert "incomplete" in upsert_error(raw, entity(k))


def test_path_length_limit(raw):
    assert "100" in upsert_error(raw, entity(key(*(["K", 1] * 101))))


def test_reserved_property_names_nested_arrays_and_meaning_18(raw):
    assert "reserved" in upsert_error(raw, entity(key("V", 1), __p__=1))
    e = entity(key("V", 1))
    e.properties["sub"].entity_value.properties["__x__"].integer_value = 1
    assert "reserved" in upsert_error(raw, e)
    e = entity(key("V", 1))
    e.properties["a"].array_value.values.add().array_value.SetInParent()
    assert "array value inside an array" in upsert_error(raw, e)
    e = entity(key("V", 1), m=b"x")
    e.properties["m"].meaning = 18
    assert "meaning 18" in upsert_error(raw, e)
    e = entity(key("V", 1))
    e.properties["nothing"].SetInParent()
    assert "no value type" in upsert_error(raw, e)


def test_nesting_depth_limit(raw):
    e = entity(key("V", 1))
    inner = e
    for _ in range(21):
        inner = inner.properties["in"].entity_value
    assert "nested" in upsert_error(raw, e)


def test_incomplete_keys_where_complete_ones_are_required(raw):
    for op in ("update",):
        req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL)
        getattr(req.mutations.add(), op).CopyFrom(entity(key("V")))
        assert code(raw.error("Commit", req)) == "INVALID_ARGUMENT"
    req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL)
    req.mutations.add().delete.CopyFrom(key("V"))
    assert code(raw.error("Commit", req)) == "INVALID_ARGUMENT"
    assert code(raw.error("Lookup", pb.LookupRequest(keys=[key("V")]))) == "INVALID_ARGUMENT"
    assert "zero" in raw.error("Lookup", pb.LookupRequest(keys=[key("V", 0)])).details()


def test_partition_rules(raw):
    assert "mismatched" in upsert_error(raw, entity(key("V", 1, project="other")))
    assert "mismatched" in upsert_error(raw, entity(key("V", 1, database="db2")))
    assert "namespace" in upsert_error(raw, entity(key("V", 1, namespace="bad ns!")))
    assert "read-only" in upsert_error(raw, entity(key("V", 1, namespace="__meta__")))
    err = raw.error("Lookup", pb.LookupRequest(keys=[key("V", 1)], database_id="(default)"))
    assert code(err) == "INVALID_ARGUMENT"
    k = key("V", 1)
    k.partition_id.project_id = ""
    req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL)
    req.mutations.add().upsert.CopyFrom(entity(k))
    assert raw("Commit", req).mutation_results[0].version > 0  # an empty project is the request's


def test_lookup_key_limit(raw):
    keys = [key("V", i + 1) for i in range(1001)]
    err = raw.error("Lookup", pb.LookupRequest(keys=keys))
    assert err.details() == "cannot get more than 1000 keys in a single call"
    assert len(raw("Lookup", pb.LookupRequest(keys=keys[:1000])).missing) == 1000


def test_unsupported_features_are_unimplemented_not_internal(raw):
    req = pb.RunQueryRequest()
    req.gql_query.query_string = "SELECT * FROM K"
    assert code(raw.error("RunQuery", req)) == "UNIMPLEMENTED"
    query = pb.Query()
    query.kind.add(name="K")
    query.find_nearest.vector_property.name = "v"
    assert code(raw.error("RunQuery", pb.RunQueryRequest(query=query))) == "UNIMPLEMENTED"
    query = pb.Query()
    query.kind.add(name="__entity_group__")
    assert code(raw.error("RunQuery", pb.RunQueryRequest(query=query))) == "INVALID_ARGUMENT"


def test_invalid_queries(raw):
    query = pb.Query()
    query.kind.add(name="A")
    query.kind.add(name="B")
    assert "one kind" in raw.error("RunQuery", pb.RunQueryRequest(query=query)).details()
    query = pb.Query(offset=-1)
    assert code(raw.error("RunQuery", pb.RunQueryRequest(query=query))) == "INVALID_ARGUMENT"
    query = pb.Query()
    f = query.filter.property_filter
    f.property.name, f.op = "p", pb.OP.EQUAL
    f.value.integer_value = 1
    assert "kindless" in raw.error("RunQuery", pb.RunQueryRequest(query=query)).details()
    query.kind.add(name="K")
    f.op = pb.OP.IN
    assert "non-empty array" in raw.error("RunQuery", pb.RunQueryRequest(query=query)).details()


def test_datastore_client_sees_bad_request(ds_client):
    from google.api_core import exceptions
    from google.cloud import datastore

    e = datastore.Entity(ds_client.key("V", "long"))
    e["s"] = "x" * 2000
    with pytest.raises(exceptions.BadRequest, match="longer than 1500 bytes"):
        ds_client.put(e)
    e.exclude_from_indexes.add("s")
    ds_client.put(e)
    assert ds_client.get(e.key)["s"] == "x" * 2000


def test_key_size_negative_ids_and_reserved_keys_in_deletes_and_allocations(raw):
    k = key(*(["K", "n" * 1000] * 7))  # under 1,500 bytes per name, over 6 KiB in all
    assert "longer than 6144 bytes" in upsert_error(raw, entity(k))
    commit(raw, ("upsert", entity(key("V", -7), v=1)))  # negative ids are discouraged, not refused
    assert len(raw("Lookup", pb.LookupRequest(keys=[key("V", -7)])).found) == 1
    req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL)
    req.mutations.add().delete.CopyFrom(key("__kind__", "V"))
    assert "reserved" in raw.error("Commit", req).details()
    err = raw.error("AllocateIds", pb.AllocateIdsRequest(keys=[key("__V__")]))
    assert code(err) == "INVALID_ARGUMENT" and "reserved" in err.details()
