"""Insert, update, upsert, delete and their errors; versions and times; conflicts; same-entity rules."""

from __future__ import annotations

import pytest

from framework.emulators.datastore import pb

from .conftest import code, commit, entity, key

pytestmark = pytest.mark.slow


def lookup(raw, k):
    return raw("Lookup", pb.LookupRequest(keys=[k]))


def test_insert_then_insert_again_is_already_exists(raw):
    e = entity(key("W", "a"), v=1)
    result = commit(raw, ("insert", e)).mutation_results[0]
    assert result.version > 0 and not result.HasField("key")
    err = raw.error("Commit", _req(("insert", entity(key("W", "a"), v=2))))
    assert code(err) == "ALREADY_EXISTS" and "entity already exists" in err.details()
    assert lookup(raw, key("W", "a")).found[0].entity.properties["v"].integer_value == 1


def _req(*mutations, mode=pb.NON_TRANSACTIONAL):
    req = pb.CommitRequest(mode=mode, project_id="local-project")
    for op, target in mutations:
        getattr(req.mutations.add(), op).CopyFrom(target)
    return req


def test_update_missing_is_not_found_and_update_existing_works(raw):
    err = raw.error("Commit", _req(("update", entity(key("W", "u"), v=1))))
    assert code(err) == "NOT_FOUND" and "no entity to update" in err.details()
    first = commit(raw, ("upsert", entity(key("W", "u"), v=1))).mutation_results[0]
    second = commit(raw, ("update", entity(key("W", "u"), v=2))).mutation_results[0]
    assert second.version > first.version
    assert second.create_time == first.create_time and second.update_time.seconds >= first.update_time.seconds
    found = lookup(raw, key("W", "u")).found[0]
    assert found.entity.properties["v"].integer_value == 2 and found.version == second.version


def test_upsert_and_insert_of_incomplete_keys_get_ids(raw):
    res = commit(raw, ("insert", entity(key("W"))), ("upsert", entity(key("P", "p", "W")))).mutation_results
    ids = [r.key.path[-1].id for r in res]
    assert all(i > 0 for i in ids) and ids[0] != ids[1]
    assert res[1].key.path[0].name == "p"
    assert len(lookup(raw, res[0].key).found) == 1


def test_delete_and_delete_of_missing(raw):
    commit(raw, ("upsert", entity(key("W", 5))))
    res = commit(raw, ("delete", key("W", 5)), ("delete", key("W", 6))).mutation_results
    assert len(res) == 2 and all(r.version > 0 for r in res) and not res[0].HasField("update_time")
    assert len(lookup(raw, key("W", 5)).missing) == 1


def test_base_version_conflict_is_reported_and_not_applied(raw):
    v = commit(raw, ("upsert", entity(key("W", "c"), v=1))).mutation_results[0].version
    req = _req(("upsert", entity(key("W", "c"), v=2)), ("upsert", entity(key("W", "d"), v=3)))
    req.mutations[0].base_version = v - 1
    res = raw("Commit", req).mutation_results
    assert res[0].conflict_detected and not res[1].conflict_detected
    assert lookup(raw, key("W", "c")).found[0].entity.properties["v"].integer_value == 1
    req = _req(("upsert", entity(key("W", "c"), v=4)))
    req.mutations[0].base_version = v
    assert not raw("Commit", req).mutation_results[0].conflict_detected
    assert lookup(raw, key("W", "c")).found[0].entity.properties["v"].integer_value == 4


def test_non_transactional_commit_may_not_touch_an_entity_twice(raw):
    err = raw.error("Commit", _req(("upsert", entity(key("W", 1))), ("delete", key("W", 1))))
    assert code(err) == "INVALID_ARGUMENT" and "multiple mutations" in err.details()


def test_transactional_sequences_on_one_entity(raw):
    txn = raw("BeginTransaction", pb.BeginTransactionRequest()).transaction
    res = commit(raw, ("upsert", entity(key("W", 1), v=1)), ("delete", key("W", 1)),
                 ("insert", entity(key("W", 1), v=3)), txn=txn)
    assert len(res.mutation_results) == 3 and res.HasField("commit_time")
    assert lookup(raw, key("W", 1)).found[0].entity.properties["v"].integer_value == 3
    txn = raw("BeginTransaction", pb.BeginTransactionRequest()).transaction
    req = _req(("upsert", entity(key("W", 2))), ("insert", entity(key("W", 2))), mode=pb.TRANSACTIONAL)
    req.transaction = txn
    assert code(raw.error("Commit", req)) == "INVALID_ARGUMENT"
    assert len(lookup(raw, key("W", 2)).missing) == 1


def test_failed_commit_writes_nothing(raw):
    commit(raw, ("upsert", entity(key("W", "exists"))))
    err = raw.error("Commit", _req(("upsert", entity(key("W", "new"))), ("insert", entity(key("W", "exists")))))
    assert code(err) == "ALREADY_EXISTS"
    assert len(lookup(raw, key("W", "new")).missing) == 1


def test_no_mutation_count_limit_but_a_size_limit(raw):
    # Datastore mode accepts more than the legacy 500 mutations; it limits a commit to 10 MiB of writes.
    assert len(commit(raw, *[("upsert", entity(key("W", i + 1))) for i in range(600)]).mutation_results) == 600
    blob = b"x" * 1_000_000
    big = []
    for i in range(11):
        e = entity(key("Big", i + 1))
        e.properties["b"].blob_value = blob
        e.properties["b"].exclude_from_indexes = True
        big.append(("upsert", e))
    err = raw.error("Commit", _req(*big))
    assert code(err) == "INVALID_ARGUMENT" and "10 MiB" in err.details()
    assert len(lookup(raw, key("Big", 1)).missing) == 1


def test_commit_mode_rules(raw):
    req = _req(("upsert", entity(key("W", 1))), mode=pb.TRANSACTIONAL)
    assert code(raw.error("Commit", req)) == "INVALID_ARGUMENT"
    req = _req(("upsert", entity(key("W", 1))), mode=0)
    assert code(raw.error("Commit", req)) == "INVALID_ARGUMENT"
    req = _req(("upsert", entity(key("W", 1))), mode=pb.TRANSACTIONAL)
    req.single_use_transaction.read_write.SetInParent()
    assert raw("Commit", req).HasField("commit_time")


def test_ndb_put_get_delete_and_multi(ndb_client):
    from google.cloud import ndb

    class Item(ndb.Model):
        n = ndb.IntegerProperty()

    with ndb_client.context(cache_policy=False):
        keys = ndb.put_multi([Item(n=i) for i in range(600)])
        assert len(set(keys)) == 600 and all(k.id() > 0 for k in keys)
        got = ndb.get_multi(keys)
        assert [g.n for g in got] == list(range(600))
        ndb.delete_multi(keys[:300])
        assert ndb.get_multi(keys[:2]) == [None, None] and keys[300].get().n == 300


def test_datastore_client_errors_map_to_exceptions(ds_client):
    from google.api_core import exceptions
    from google.cloud import datastore

    e = datastore.Entity(ds_client.key("X", "a"))
    ds_client.put(e)
    with pytest.raises(exceptions.AlreadyExists):
        ds_client._datastore_api.commit(request={
            "project_id": ds_client.project, "mode": 2,
            "mutations": [{"insert": datastore.helpers.entity_to_protobuf(e)._pb}],
        })
    batch = ds_client.batch()
    batch.begin()
    batch._mutations.append(pb.Mutation())
    batch._mutations[-1].update.CopyFrom(datastore.helpers.entity_to_protobuf(datastore.Entity(ds_client.key("X", "no")))._pb)
    with pytest.raises(exceptions.NotFound):
        batch.commit()


def test_conflict_resolution_fail_fails_the_whole_commit(raw):
    v = commit(raw, ("upsert", entity(key("W", "f"), v=1))).mutation_results[0].version
    req = _req(("upsert", entity(key("W", "g"), v=1)), ("upsert", entity(key("W", "f"), v=2)))
    req.mutations[1].base_version = v + 1
    req.mutations[1].conflict_resolution_strategy = pb.Mutation.ConflictResolutionStrategy.Value("FAIL")
    assert code(raw.error("Commit", req)) == "FAILED_PRECONDITION"
    assert len(lookup(raw, key("W", "g")).missing) == 1
    req.mutations[1].ClearField("base_version")
    assert code(raw.error("Commit", req)) == "INVALID_ARGUMENT"
