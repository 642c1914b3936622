"""Transactions: optimistic conflicts (ABORTED, nothing written), read-only rules, ndb retries, contention."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from framework.emulators.datastore import pb
from framework.emulators.datastore.errors import DatastoreError

from .conftest import code, commit, entity, key

pytestmark = pytest.mark.slow


def begin(raw, read_only=False):
    req = pb.BeginTransactionRequest()
    if read_only:
        req.transaction_options.read_only.SetInParent()
    return raw("BeginTransaction", req).transaction


def read(raw, k, txn):
    return raw("Lookup", pb.LookupRequest(keys=[k], read_options=pb.ReadOptions(transaction=txn)))


def value(raw, k):
    found = raw("Lookup", pb.LookupRequest(keys=[k])).found
    return found[0].entity.properties["v"].integer_value if found else None


def query_read(raw, kind, txn):
    """Read through RunQuery in the transaction: recorded for validation and locked."""
    req = pb.RunQueryRequest(read_options=pb.ReadOptions(transaction=txn))
    req.query.kind.add(name=kind)
    return raw("RunQuery", req).batch


def test_conflict_with_a_commit_since_the_read_is_aborted(monkeypatch):
    """Validation at commit: once a lock's holder has been idle past LOCK_WAIT (0 here) writers go through, and
    the holder's commit then fails with ABORTED and writes nothing."""
    from framework.emulators.datastore import transactions
    from framework.emulators.datastore.service import DatastoreService
    from framework.emulators.datastore.storage.memory import MemoryStorage

    monkeypatch.setattr(transactions, "LOCK_WAIT", 0.0)
    svc = DatastoreService(MemoryStorage())

    def call(method, request):
        request.project_id = "local-project"
        return getattr(svc, method)(request)

    def write(*mutations):
        call("commit", pb.CommitRequest(mode=pb.NON_TRANSACTIONAL, mutations=[pb.Mutation(upsert=e) for e in mutations]))

    write(entity(key("C", 1), v=1))
    txn = call("begin_transaction", pb.BeginTransactionRequest()).transaction
    req = pb.RunQueryRequest(read_options=pb.ReadOptions(transaction=txn))
    req.query.kind.add(name="C")
    assert len(call("run_query", req).batch.entity_results) == 1
    write(entity(key("C", 1), v=2))  # the lock is stale at once: a concurrent writer wins
    with pytest.raises(DatastoreError) as info:
        call("commit", _txn_commit(txn, ("upsert", entity(key("C", 1), v=10)), ("upsert", entity(key("C", 2)))))
    assert info.value.code == "ABORTED" and "contention" in info.value.message
    found = call("lookup", pb.LookupRequest(keys=[key("C", 1), key("C", 2)]))
    assert [f.entity.properties["v"].integer_value for f in found.found] == [2] and len(found.missing) == 1
    # The aborted transaction is finished; a rollback of it is still a silent success.
    with pytest.raises(DatastoreError, match="expired or is no longer valid"):
        call("commit", _txn_commit(txn))
    call("rollback", pb.RollbackRequest(transaction=txn))


def test_query_results_are_locked_like_lookups(raw):
    commit(raw, ("upsert", entity(key("C", 1), v=1)))
    txn = begin(raw)
    assert len(query_read(raw, "C", txn).entity_results) == 1
    assert code(raw.error("Commit", pb.CommitRequest(mode=pb.NON_TRANSACTIONAL, mutations=[
        pb.Mutation(upsert=entity(key("C", 1), v=2))]))) == "ABORTED"
    raw("Commit", _txn_commit(txn, ("upsert", entity(key("C", 1), v=3))))
    assert value(raw, key("C", 1)) == 3


def test_an_outside_write_to_an_entity_a_transaction_looked_up_is_aborted_and_the_transaction_commits(raw):
    commit(raw, ("upsert", entity(key("C", 1), v=1)))
    txn = begin(raw)
    read(raw, key("C", 1), txn)
    err = raw.error("Commit", pb.CommitRequest(mode=pb.NON_TRANSACTIONAL, mutations=[
        pb.Mutation(upsert=entity(key("C", 1), v=2))]))
    assert code(err) == "ABORTED" and err.details().startswith("Aborted due to cross-transaction contention.")
    other = begin(raw)  # another transaction's blind write is refused the same way, and ends that transaction
    assert code(raw.error("Commit", _txn_commit(other, ("delete", key("C", 1))))) == "ABORTED"
    raw("Commit", _txn_commit(txn, ("upsert", entity(key("C", 1), v=10))))
    assert value(raw, key("C", 1)) == 10
    commit(raw, ("upsert", entity(key("C", 1), v=11)))  # the lock went with the transaction
    assert value(raw, key("C", 1)) == 11


def _txn_commit(txn, *mutations):
    req = pb.CommitRequest(mode=pb.TRANSACTIONAL, transaction=txn, project_id="local-project")
    for op, target in mutations:
        getattr(req.mutations.add(), op).CopyFrom(target)
    return req


def test_an_entity_looked_up_missing_is_locked_until_the_transaction_creates_it(raw):
    txn = begin(raw)
    assert len(read(raw, key("C", "m"), txn).missing) == 1
    assert code(raw.error("Commit", pb.CommitRequest(mode=pb.NON_TRANSACTIONAL, mutations=[
        pb.Mutation(insert=entity(key("C", "m"), v=1))]))) == "ABORTED"
    raw("Commit", _txn_commit(txn, ("insert", entity(key("C", "m"), v=5))))
    assert value(raw, key("C", "m")) == 5


def test_blind_write_conflicts_with_a_commit_since_begin(raw):
    txn = begin(raw)
    commit(raw, ("upsert", entity(key("C", "b"), v=1)))
    assert code(raw.error("Commit", _txn_commit(txn, ("upsert", entity(key("C", "b"), v=2))))) == "ABORTED"
    assert value(raw, key("C", "b")) == 1


def test_non_conflicting_transaction_commits_and_reads_do_not_see_own_writes(raw):
    commit(raw, ("upsert", entity(key("C", 1), v=1)))
    txn = begin(raw)
    assert read(raw, key("C", 1), txn).found[0].entity.properties["v"].integer_value == 1
    commit(raw, ("upsert", entity(key("C", 99), v=1)))  # unrelated entity
    raw("Commit", _txn_commit(txn, ("upsert", entity(key("C", 1), v=2))))
    assert value(raw, key("C", 1)) == 2


def test_rollback_discards_and_unknown_transaction_is_invalid(raw):
    txn = begin(raw)
    raw("Rollback", pb.RollbackRequest(transaction=txn))
    assert code(raw.error("Commit", _txn_commit(txn))) == "INVALID_ARGUMENT"
    err = raw.error("Lookup", pb.LookupRequest(keys=[key("C", 1)], read_options=pb.ReadOptions(transaction=b"nope")))
    assert code(err) == "INVALID_ARGUMENT" and "no longer valid" in err.details()
    raw("Rollback", pb.RollbackRequest(transaction=b"unknown"))


def test_read_only_transaction_cannot_write_but_commits_empty(raw):
    txn = begin(raw, read_only=True)
    read(raw, key("C", 1), txn)
    assert code(raw.error("Commit", _txn_commit(txn, ("upsert", entity(key("C", 1)))))) == "INVALID_ARGUMENT"
    txn = begin(raw, read_only=True)
    raw("Commit", _txn_commit(txn))


def test_new_transaction_on_a_read_returns_its_id(raw):
    opts = pb.ReadOptions()
    opts.new_transaction.read_write.SetInParent()
    res = raw("Lookup", pb.LookupRequest(keys=[key("C", 1)], read_options=opts))
    assert res.transaction
    raw("Commit", _txn_commit(res.transaction, ("upsert", entity(key("C", 1), v=3))))
    assert value(raw, key("C", 1)) == 3


def test_ndb_transaction_retries_after_aborted(ndb_client, raw):
    from google.cloud import ndb

    class Counter(ndb.Model):
        v = ndb.IntegerProperty(default=0)

    calls = []
    with ndb_client.context(cache_policy=False):
        k = Counter(id="c", v=0).put()

        other = begin(raw)
        blocker = ndb.Key("Counter", "blocked")._key.to_protobuf()._pb

        def work():
            if not calls:
                read(raw, blocker, other)  # another transaction locks the entity this one writes blindly
            else:
                raw("Rollback", pb.RollbackRequest(transaction=other))
            calls.append(1)
            c = k.get()
            c.v += 1
            ndb.put_multi([c, Counter(id="blocked", v=1)])  # ABORTED at commit the first time; ndb retries

        ndb.transaction(work)
        assert len(calls) == 2 and k.get().v == 1 and ndb.Key("Counter", "blocked").get().v == 1


def test_ndb_transactional_put_of_incomplete_key_and_rollback(ndb_client):
    from google.cloud import ndb

    class Thing(ndb.Model):
        n = ndb.IntegerProperty()

    with ndb_client.context(cache_policy=False):
        k = ndb.transaction(lambda: Thing(n=1).put())
        assert k.get().n == 1

        def fails():
            Thing(id="never", n=2).put()
            raise ValueError("boom")

        with pytest.raises(ValueError):
            ndb.transaction(fails)
        assert Thing.get_by_id("never") is None


COUNTER_SCRIPT = textwrap.dedent("""
    import sys, threading
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import ndb

    class Counter(ndb.Model):
        v = ndb.IntegerProperty(default=0)

    client = ndb.Client(project="local-project", credentials=AnonymousCredentials())

    def increment():
        with client.context(cache_policy=False, global_cache=None):
            def work():
                c = Counter.get_by_id("hot") or Counter(id="hot")
                c.v += 1
                c.put()
            ndb.transaction(work)

    threads = [threading.Thread(target=increment) for _ in range(int(sys.argv[1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
""")


def _counter(ndb_client):
    from google.cloud import ndb

    class Counter(ndb.Model):
        v = ndb.IntegerProperty(default=0)

    with ndb_client.context(cache_policy=False):
        c = Counter.get_by_id("hot")
        return c.v if c else 0


def test_fifty_concurrent_ndb_increments_in_threads(ndb_client, emulator):
    from google.cloud import ndb

    class Counter(ndb.Model):
        v = ndb.IntegerProperty(default=0)

    errors = []

    def increment():
        try:
            with ndb_client.context(cache_policy=False):
                def work():
                    c = Counter.get_by_id("hot") or Counter(id="hot")
                    c.v += 1
                    c.put()
                ndb.transaction(work)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=increment) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _counter(ndb_client) == 50


def test_fifty_concurrent_ndb_increments_from_separate_processes(ndb_client, emulator, tmp_path):
    script = tmp_path / "counter.py"
    script.write_text(COUNTER_SCRIPT)
    env = {**__import__("os").environ, **emulator.env}
    procs = [subprocess.Popen([sys.executable, str(script), "10"], env=env) for _ in range(5)]
    try:
        codes = [p.wait(timeout=110) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert codes == [0] * 5
    assert _counter(ndb_client) == 50


def test_datastore_client_transactions(ds_client):
    from google.api_core import exceptions
    from google.cloud import datastore

    k = ds_client.key("Acct", "a")
    e = datastore.Entity(k)
    e["balance"] = 10
    ds_client.put(e)
    with ds_client.transaction():
        acct = ds_client.get(k)
        acct["balance"] += 5
        ds_client.put(acct)
    assert ds_client.get(k)["balance"] == 15

    txn = ds_client.transaction()
    txn.begin()
    acct = ds_client.get(k, transaction=txn)
    other = datastore.Entity(k)
    other["balance"] = 0
    with pytest.raises(exceptions.Aborted):
        ds_client.put(other)  # a concurrent write to the entity the transaction read
    acct["balance"] += 1
    txn.put(acct)
    txn.commit()
    assert ds_client.get(k)["balance"] == 16

    outside = datastore.Client(project=ds_client.project)
    with ds_client.transaction() as txn:
        [acct] = list(ds_client.query(kind="Acct").fetch())  # query results are locked as well
        with pytest.raises(exceptions.Aborted):
            outside.put(other)
        acct["balance"] += 1
        txn.put(acct)
    assert ds_client.get(k)["balance"] == 17

    with ds_client.transaction(read_only=True) as ro:
        assert ds_client.get(k, transaction=ro)["balance"] == 17
    later = ds_client.transaction(begin_later=True)
    with later:
        acct = ds_client.get(k, transaction=later)  # begins the transaction with new_transaction
        acct["balance"] = 7
        later.put(acct)
    assert ds_client.get(k)["balance"] == 7


def test_deadlock_between_two_transactions_aborts_exactly_one(raw, emulator):
    from .conftest import Raw

    commit(raw, ("upsert", entity(key("D", "a"), v=1)), ("upsert", entity(key("D", "b"), v=1)))
    t1, t2 = begin(raw), begin(raw)
    read(raw, key("D", "a"), t1)
    read(raw, key("D", "b"), t2)
    outcome = {}
    other = Raw(emulator.address)

    def t1_reads_b():
        try:
            read(other, key("D", "b"), t1)
            outcome["t1"] = "ok"
        except Exception as exc:  # judged below
            outcome["t1"] = code(exc)

    thread = threading.Thread(target=t1_reads_b)
    thread.start()
    try:
        read(raw, key("D", "a"), t2)
        outcome["t2"] = "ok"
    except Exception as exc:
        outcome["t2"] = code(exc)
    if outcome["t2"] == "ABORTED":
        raw("Rollback", pb.RollbackRequest(transaction=t2))
    thread.join(30)
    other.channel.close()
    assert sorted(outcome.values()) == ["ABORTED", "ok"]
    winner = t1 if outcome["t1"] == "ok" else t2
    raw("Commit", _txn_commit(winner, ("upsert", entity(key("D", "a"), v=2))))
    assert value(raw, key("D", "a")) == 2


def test_update_time_conflict_detection(raw):
    first = commit(raw, ("upsert", entity(key("U", 1), v=1))).mutation_results[0]
    req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL, project_id="local-project")
    m = req.mutations.add()
    m.upsert.CopyFrom(entity(key("U", 1), v=2))
    m.update_time.CopyFrom(first.update_time)
    assert not raw("Commit", req).mutation_results[0].conflict_detected
    assert raw("Commit", req).mutation_results[0].conflict_detected  # the update time moved on
    assert value(raw, key("U", 1)) == 2


def test_read_only_transaction_reads_its_snapshot(raw):
    commit(raw, ("upsert", entity(key("S", 1), v=1)), ("upsert", entity(key("S", 2), v=1)))
    txn = begin(raw, read_only=True)
    commit(raw, ("upsert", entity(key("S", 1), v=2)), ("delete", key("S", 2)), ("insert", entity(key("S", 3), v=1)))
    commit(raw, ("upsert", entity(key("S", 1), v=3)))
    res = raw("Lookup", pb.LookupRequest(keys=[key("S", 1), key("S", 2), key("S", 3)],
                                         read_options=pb.ReadOptions(transaction=txn)))
    assert sorted(f.entity.properties["v"].integer_value for f in res.found) == [1, 1]
    assert [m.entity.key.path[0].id for m in res.missing] == [3]
    raw("Commit", _txn_commit(txn))
    assert value(raw, key("S", 1)) == 3


def _snapshot_query(raw, txn, **fields):
    query = pb.Query(**fields)
    query.kind.add(name="Q")
    return raw("RunQuery", pb.RunQueryRequest(query=query, read_options=pb.ReadOptions(transaction=txn))).batch


def test_read_only_transaction_queries_and_counts_see_its_snapshot(raw):
    commit(raw, *[("upsert", entity(key("Q", i), v=i, tag="a")) for i in (1, 2, 3)])
    txn = begin(raw, read_only=True)
    commit(raw, ("upsert", entity(key("Q", 1), v=10, tag="b")), ("delete", key("Q", 2)),
           ("insert", entity(key("Q", 4), v=0, tag="a")))
    commit(raw, ("upsert", entity(key("Q", 3), v=30, tag="a")))
    ids = lambda batch: [r.entity.key.path[0].id for r in batch.entity_results]  # noqa: E731
    assert ids(_snapshot_query(raw, txn)) == [1, 2, 3]
    by_v = pb.PropertyOrder(direction=pb.DESCENDING)
    by_v.property.name = "v"
    batch = _snapshot_query(raw, txn, order=[by_v])
    assert ids(batch) == [3, 2, 1] and [r.entity.properties["v"].integer_value for r in batch.entity_results] == [3, 2, 1]
    flt = pb.Filter()
    flt.property_filter.property.name, flt.property_filter.op = "tag", pb.OP.EQUAL
    flt.property_filter.value.string_value = "a"
    assert ids(_snapshot_query(raw, txn, filter=flt)) == [1, 2, 3]
    kindless = pb.RunQueryRequest(query=pb.Query(), read_options=pb.ReadOptions(transaction=txn))
    assert ids(raw("RunQuery", kindless).batch) == [1, 2, 3]
    assert _snapshot_query(raw, txn).snapshot_version < raw("Lookup", pb.LookupRequest(keys=[key("Q", 1)])).found[0].version
    agg = pb.AggregationQuery()
    agg.nested_query.kind.add(name="Q")
    agg.aggregations.add(alias="n").count.SetInParent()
    req = pb.RunAggregationQueryRequest(aggregation_query=agg, read_options=pb.ReadOptions(transaction=txn))
    assert raw("RunAggregationQuery", req).batch.aggregation_results[0].aggregate_properties["n"].integer_value == 3
    # Outside the transaction the same queries see the latest data.
    assert ids(raw("RunQuery", pb.RunQueryRequest(query=pb.Query(kind=[pb.Query().kind.add(name="Q")]))).batch) == [1, 3, 4]
    raw("Commit", _txn_commit(txn))


def test_ndb_put_retries_its_aborted_write_until_the_locking_transaction_ends(ndb_client, raw):
    from google.cloud import ndb

    class Cell(ndb.Model):
        v = ndb.IntegerProperty()

    commit(raw, ("upsert", entity(key("Cell", "x"), v=1)))
    txn = begin(raw)
    read(raw, key("Cell", "x"), txn)
    done = threading.Timer(0.3, lambda: raw("Commit", _txn_commit(txn, ("upsert", entity(key("Cell", "x"), v=2)))))
    done.start()
    try:
        with ndb_client.context(cache_policy=False):
            Cell(id="x", v=3).put()  # ABORTED while locked; ndb retries it as transient
            assert ndb.Key("Cell", "x").get().v == 3
    finally:
        done.join()
    assert value(raw, key("Cell", "x")) == 3
