"""Id allocation and reservation; projects, named databases and namespaces are isolated."""

from __future__ import annotations

import pytest

from framework.emulators.datastore import pb

from .conftest import code, commit, entity, key

pytestmark = pytest.mark.slow


def test_allocate_ids_are_scattered_positive_and_unique(raw):
    res = raw("AllocateIds", pb.AllocateIdsRequest(keys=[key("A") for _ in range(300)] + [key("P", "p", "A")]))
    ids = [k.path[-1].id for k in res.keys]
    assert len(set(ids)) == 301 and all(0 < i < 10**16 for i in ids)
    assert res.keys[-1].path[0].name == "p"
    assert sorted(ids) != ids  # not handed out in sequence
    assert max(ids) > 10**12


def test_allocate_ids_rejects_complete_keys(raw):
    err = raw.error("AllocateIds", pb.AllocateIdsRequest(keys=[key("A", 5)]))
    assert code(err) == "INVALID_ARGUMENT" and "complete" in err.details()


def test_reserved_and_stored_ids_are_never_allocated(raw):
    raw("ReserveIds", pb.ReserveIdsRequest(keys=[key("A", 7), key("A", "named")]))
    commit(raw, ("upsert", entity(key("A", 8))))
    # Directly probe the allocator's memory of used ids through the service contract: a fresh insert never
    # lands on a reserved or stored id, and ids already handed out are never handed out again.
    seen = set()
    for _ in range(5):
        res = commit(raw, *[("insert", entity(key("A"))) for _ in range(200)])
        got = {r.key.path[-1].id for r in res.mutation_results}
        assert len(got) == 200 and not got & seen and not got & {7, 8}
        seen |= got
    assert code(raw.error("ReserveIds", pb.ReserveIdsRequest(keys=[key("A")]))) == "INVALID_ARGUMENT"


def test_ndb_allocate_ids(ndb_client):
    from google.cloud import ndb

    class Thing(ndb.Model):
        pass

    with ndb_client.context():
        keys = Thing.allocate_ids(5)
        assert len({k.id() for k in keys}) == 5


def test_namespaces_databases_and_projects_are_isolated(raw):
    places = [dict(), dict(namespace="ns1"), dict(database="db2"), dict(database="db2", namespace="ns1"),
              dict(project="other-project")]
    for i, where in enumerate(places):
        req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL, project_id=where.get("project", "local-project"),
                               database_id=where.get("database", ""))
        req.mutations.add().upsert.CopyFrom(entity(key("Iso", "same", **where), where=i))
        raw("Commit", req)
    for i, where in enumerate(places):
        project, database = where.get("project", "local-project"), where.get("database", "")
        found = raw("Lookup", pb.LookupRequest(keys=[key("Iso", "same", **where)], project_id=project,
                                               database_id=database)).found
        assert found[0].entity.properties["where"].integer_value == i
        query = pb.Query()
        query.kind.add(name="Iso")
        req = pb.RunQueryRequest(query=query, project_id=project, database_id=database)
        req.partition_id.namespace_id = where.get("namespace", "")
        results = raw("RunQuery", req).batch.entity_results
        assert [r.entity.properties["where"].integer_value for r in results] == [i]


def test_ndb_namespaces_and_named_database(ndb_client, emulator):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import ndb

    class Note(ndb.Model):
        text = ndb.StringProperty()

    with ndb_client.context(namespace="tenant-a"):
        Note(id="n", text="a").put()
    with ndb_client.context():
        assert Note.get_by_id("n") is None and Note.query().count() == 0
    other = ndb.Client(project="local-project", database="second-db", credentials=AnonymousCredentials())
    with other.context():
        assert Note.get_by_id("n", namespace="tenant-a") is None
        Note(id="n", text="db").put()
    with ndb_client.context(namespace="tenant-a"):
        assert Note.get_by_id("n").text == "a"
    with other.context():
        assert Note.get_by_id("n").text == "db"


def test_datastore_client_namespace_and_database(emulator):
    from google.cloud import datastore

    a = datastore.Client(project="local-project", namespace="x")
    b = datastore.Client(project="local-project", database="db-b")
    e = datastore.Entity(a.key("K", 1))
    e["v"] = "a"
    a.put(e)
    assert b.get(b.key("K", 1)) is None
    assert a.get(a.key("K", 1))["v"] == "a"


def test_allocator_skips_every_used_id(monkeypatch):
    from framework.emulators.datastore import ids as ids_module
    from framework.emulators.datastore.encoding import partition_prefix
    from framework.emulators.datastore.storage import Batch, open_storage

    storage = open_storage(None)
    ns = partition_prefix("p", "", "")
    storage.apply(Batch(version=1, ids={ids_module.IdAllocator.id_key(ns, i) for i in range(1, 10)}))
    monkeypatch.setattr(ids_module, "MAX_ID", 11)
    allocator = ids_module.IdAllocator(storage)
    pending: set[bytes] = set()
    assert sorted(allocator.allocate(ns, pending) for _ in range(2)) == [10, 11]
    assert allocator.allocate(partition_prefix("p", "", "other-ns"), set()) <= 11


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_reserved_stored_and_allocated_ids_are_remembered_by_the_service(monkeypatch, tmp_path, store):
    """With only 12 possible ids, ReserveIds, stored entities and earlier allocations leave exactly the rest."""
    from framework.emulators.datastore import ids as ids_module
    from framework.emulators.datastore.service import DatastoreService
    from framework.emulators.datastore.storage import open_storage

    monkeypatch.setattr(ids_module, "MAX_ID", 12)
    service = DatastoreService(open_storage(str(tmp_path) if store == "sqlite" else None))
    try:
        service.reserve_ids(pb.ReserveIdsRequest(project_id="p", keys=[key("A", i, project="p") for i in (1, 2, 3)]))
        req = pb.CommitRequest(project_id="p", mode=pb.NON_TRANSACTIONAL)
        for i in (4, 5):
            req.mutations.add().upsert.CopyFrom(entity(key("A", i, project="p")))
        req.mutations.add().insert.CopyFrom(entity(key("B", project="p")))  # any kind: one id space
        allocated = {service.commit(req).mutation_results[-1].key.path[-1].id}
        for _ in range(3):
            res = service.allocate_ids(pb.AllocateIdsRequest(project_id="p", keys=[key("A", project="p")] * 2))
            allocated |= {k.path[-1].id for k in res.keys}
        assert allocated == set(range(6, 13))
    finally:
        service.storage.close()
