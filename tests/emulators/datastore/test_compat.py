"""The remaining query rules (ndb's keys-only multiquery, key tie-breaks, distinct_on, refusals), gcloud's emulator
flags, and export/import of a whole store on the admin surface."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from framework.emulators.datastore import pb, start
from tests.support.procs import free_port, run_server

from .conftest import build_query, code, commit, entity, key, prop_filter
from .test_process import REPO_ROOT, _get, _put
from .test_values import _every_value_entity

pytestmark = pytest.mark.slow
OP = pb.OP


def test_ndb_keys_only_or_and_in_with_an_order(ndb_client):
    from google.cloud import ndb

    class Book(ndb.Model):
        title = ndb.StringProperty()
        year = ndb.IntegerProperty()

    with ndb_client.context(cache_policy=False):
        ndb.put_multi([Book(id=i + 1, title=f"t{i:02d}", year=2000 + i % 4) for i in range(12)])
        expected = [ndb.Key("Book", i + 1) for i in sorted((i for i in range(12) if i % 4 in (1, 3)), reverse=True)]
        either = ndb.OR(Book.year == 2001, Book.year == 2003)
        assert Book.query(either).order(-Book.title).fetch(keys_only=True) == expected
        assert Book.query(Book.year.IN([2001, 2003])).order(-Book.title).fetch(keys_only=True) == expected
        assert Book.query(either).order(-Book.title).fetch(2, keys_only=True) == expected[:2]


def run(raw, query):
    return raw("RunQuery", pb.RunQueryRequest(query=query)).batch


def ids(batch):
    return [r.entity.key.path[0].id for r in batch.entity_results]


def test_key_descending_after_other_orders_and_orders_after_the_key(raw):
    commit(raw, *[("upsert", entity(key("T", i + 1), g=i % 3)) for i in range(9)])
    query = build_query(kind="T", order="g", then=[("__key__", True)])
    assert ids(run(raw, query)) == [7, 4, 1, 8, 5, 2, 9, 6, 3]
    query.limit.value = 4
    first = run(raw, query)
    query.ClearField("limit")
    query.start_cursor = first.end_cursor
    assert ids(first) + ids(run(raw, query)) == [7, 4, 1, 8, 5, 2, 9, 6, 3]
    moot = build_query(kind="T", order="__key__", desc=True, then=[("g", False)])
    assert ids(run(raw, moot)) == list(range(9, 0, -1))


def test_distinct_on_rules(raw):
    commit(raw, *[("upsert", entity(key("D", i + 1), a=i % 2, b=i)) for i in range(6)])

    def query(*filters, projection=("a",), distinct=("a",), order=()):
        q = build_query(*filters, kind="D")
        for name in projection:
            q.projection.add().property.name = name
        for name in distinct:
            q.distinct_on.add().name = name
        for name in order:
            q.order.add().property.name = name
        return q

    assert [r.entity.properties["a"].integer_value for r in run(raw, query(order=["a"])).entity_results] == [0, 1]
    err = raw.error("RunQuery", pb.RunQueryRequest(query=query(prop_filter("b", OP.GREATER_THAN, 1),
                                                             projection=("a", "b"), order=["b"])))
    assert code(err) == "INVALID_ARGUMENT" and err.details() == (
        "Inequality filter on b must also be a group by property when group by properties are set.")
    err = raw.error("RunQuery", pb.RunQueryRequest(query=query(projection=("b",))))
    assert code(err) == "INVALID_ARGUMENT" and "must also be projected" in err.details()
    err = raw.error("RunQuery", pb.RunQueryRequest(query=query(projection=("a", "b"), order=["b", "a"])))
    assert code(err) == "INVALID_ARGUMENT" and "come first" in err.details()


def test_refused_queries_are_invalid_argument(raw):
    either = pb.Filter()
    either.composite_filter.op = pb.OR
    either.composite_filter.filters.extend([prop_filter("a", OP.NOT_IN, [1, 2]), prop_filter("b", OP.EQUAL, 1)])
    q = build_query(kind="R")
    q.filter.CopyFrom(either)
    assert code(raw.error("RunQuery", pb.RunQueryRequest(query=q))) == "INVALID_ARGUMENT"
    bad = {
        "two not-equals": build_query(prop_filter("a", OP.NOT_EQUAL, 1), prop_filter("b", OP.NOT_EQUAL, 2), kind="R"),
        "IN with NOT_IN": build_query(prop_filter("a", OP.IN, [1]), prop_filter("b", OP.NOT_IN, [2]), kind="R"),
        "sort not on the inequality": build_query(prop_filter("a", OP.GREATER_THAN, 1), kind="R", order="b"),
        "projected equality": build_query(prop_filter("a", OP.EQUAL, 1), kind="R"),
        "empty IN": build_query(prop_filter("a", OP.IN, []), kind="R"),
        "kindless property filter": build_query(prop_filter("a", OP.EQUAL, 1), kind="R"),
    }
    bad["projected equality"].projection.add().property.name = "a"
    del bad["kindless property filter"].kind[:]
    for name, query in bad.items():
        assert code(raw.error("RunQuery", pb.RunQueryRequest(query=query))) == "INVALID_ARGUMENT", name


def test_gcloud_flags(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "framework.emulators.datastore", f"--host-port=127.0.0.1:{port}", "--project", "gp",
           "--data-dir", str(data), "--no-store-on-disk", "--consistency=0.9", "--use-firestore-in-datastore-mode"]
    with run_server(cmd, port=port, tmp_path=tmp_path, ready_path=None) as server:
        _put(f"127.0.0.1:{port}", key("K", 1, project="gp"))
        assert len(_get(f"127.0.0.1:{port}", key("K", 1, project="gp")).found) == 1
        log = server.log()
    assert f"export DATASTORE_EMULATOR_HOST=127.0.0.1:{port}" in log and "data in memory" in log
    assert not (data / "datastore.sqlite3").exists()
    for flags, message in ((["--store-on-disk"], "needs --data-dir"), (["--host-port", "h:x"], "HOST:PORT"),
                           (["--consistency", "2"], "between 0 and 1"),
                           (["--require-indexes", "--index-mode", "record"], "contradicts")):
        result = subprocess.run([sys.executable, "-m", "framework.emulators.datastore", *flags], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 2 and message in result.stderr, flags


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_export_and_import_round_trip_every_value(tmp_path, raw):
    everything = _every_value_entity(key("AllTypes", "one"))
    others = [entity(key("Plain", i + 1, namespace=ns), n=i) for i, ns in enumerate(["", "", "ns1"])]
    commit(raw, ("upsert", everything), *[("upsert", e) for e in others])
    with start(admin_port=0, project="local-project") as source, start(admin_port=0) as target:
        raw_source = type(raw)(source.address)
        commit(raw_source, ("upsert", everything), *[("upsert", e) for e in others])
        status, answer = _post(f"{source.admin_url}/v1/projects/local-project:export",
                               {"output_url_prefix": str(tmp_path / "out")})
        assert status == 200 and answer["response"]["entities"] == 4
        metadata = answer["response"]["outputUrl"]
        assert metadata.endswith(".overall_export_metadata") and os.path.exists(metadata)
        status, answer = _post(f"{target.admin_url}/v1/projects/local-project:import", {"input_url": metadata})
        assert status == 200 and answer["response"]["entities"] == 4
        raw_target = type(raw)(target.address)
        found = raw_target("Lookup", pb.LookupRequest(keys=[everything.key])).found[0].entity
        assert found.properties["nan"].double_value != found.properties["nan"].double_value
        del found.properties["nan"], everything.properties["nan"]
        assert found == everything
        req = pb.RunQueryRequest(query=build_query(kind="Plain"))
        req.partition_id.namespace_id = "ns1"
        assert len(raw_target("RunQuery", req).batch.entity_results) == 1

        status, answer = _post(f"{target.admin_url}/emulator/v1/projects/other:import",
                               {"export_directory": str(tmp_path / "out"), "entity_filter": {"kinds": ["Plain"]}})
        assert status == 200 and answer["response"]["entities"] == 3
        status, answer = _post(f"{target.admin_url}/v1/projects/local-project:import",
                               {"input_url": str(tmp_path / "missing.overall_export_metadata")})
        assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
        data = metadata.replace(".overall_export_metadata", ".entities")
        with open(data, "ab") as f:
            f.write(b"\x00\x00\x00\x03\xff\xff\xff")  # a record that is no entity
        status, answer = _post(f"{target.admin_url}/v1/projects/local-project:import", {"input_url": metadata})
        assert status == 400 and "not an entity" in answer["error"]["message"]
        raw_source.channel.close()
        raw_target.channel.close()
