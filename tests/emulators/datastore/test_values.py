"""Every value type, meaning and exclude_from_indexes round-trips exactly (raw protobuf, ndb, datastore)."""

from __future__ import annotations

import datetime

import pytest

from framework.emulators.datastore import pb

from .conftest import PROJECT, commit, entity, key

pytestmark = pytest.mark.slow


def _every_value_entity(k):
    e = entity(k, null=None, yes=True, no=False, int=-(2**63), big=2**63 - 1, dbl=-1.5e300, s="héllo\x00", b=b"\x00\xff")
    e.properties["nan"].double_value = float("nan")
    e.properties["ts"].timestamp_value.seconds = 1_700_000_000
    e.properties["ts"].timestamp_value.nanos = 123456000
    e.properties["geo"].geo_point_value.latitude = -33.5
    e.properties["geo"].geo_point_value.longitude = 151.25
    e.properties["ref"].key_value.CopyFrom(key("Other", "x", "Child", 7))
    inner = e.properties["inner"].entity_value
    inner.properties["deep"].string_value = "d"
    inner.properties["deep2"].entity_value.properties["x"].integer_value = 1
    e.properties["arr"].array_value.values.add().integer_value = 1
    e.properties["arr"].array_value.values.add().string_value = "two"
    e.properties["empty"].array_value.SetInParent()
    long_text = e.properties["text"]
    long_text.string_value = "x" * 5000
    long_text.exclude_from_indexes = True
    long_text.meaning = 15
    e.properties["zipped"].blob_value = b"z" * 2000
    e.properties["zipped"].exclude_from_indexes = True
    e.properties["zipped"].meaning = 22
    e.properties["user"].entity_value.properties["email"].string_value = "a@b.c"
    e.properties["user"].meaning = 20
    return e


def test_every_value_type_round_trips_exactly(raw):
    e = _every_value_entity(key("AllTypes", "one"))
    commit(raw, ("upsert", e))
    found = raw("Lookup", pb.LookupRequest(keys=[e.key])).found
    assert len(found) == 1
    got = found[0].entity
    assert got.properties["nan"].double_value != got.properties["nan"].double_value  # NaN survives
    del got.properties["nan"], e.properties["nan"]
    assert got == e
    assert found[0].version > 0 and found[0].create_time.seconds > 0


def test_timestamp_precision_is_microseconds_rounded_down(raw):
    e = entity(key("T", 1))
    e.properties["ts"].timestamp_value.seconds = 5
    e.properties["ts"].timestamp_value.nanos = 999_999_999
    commit(raw, ("upsert", e))
    got = raw("Lookup", pb.LookupRequest(keys=[e.key])).found[0].entity
    assert (got.properties["ts"].timestamp_value.seconds, got.properties["ts"].timestamp_value.nanos) == (5, 999_999_000)
    query = pb.Query()
    query.kind.add(name="T")
    f = query.filter.property_filter
    f.property.name, f.op = "ts", pb.OP.EQUAL
    f.value.timestamp_value.seconds, f.value.timestamp_value.nanos = 5, 999_999_500  # the same microsecond
    assert len(raw("RunQuery", pb.RunQueryRequest(query=query)).batch.entity_results) == 1


def test_ndb_model_with_every_property_type(ndb_client):
    from google.cloud import ndb

    class Address(ndb.Model):
        city = ndb.StringProperty()

    class Everything(ndb.Model):
        i = ndb.IntegerProperty()
        f = ndb.FloatProperty()
        b = ndb.BooleanProperty()
        s = ndb.StringProperty()
        t = ndb.TextProperty()
        blob = ndb.BlobProperty()
        zipped = ndb.BlobProperty(compressed=True)
        dt = ndb.DateTimeProperty()
        d = ndb.DateProperty()
        geo = ndb.GeoPtProperty()
        ref = ndb.KeyProperty()
        js = ndb.JsonProperty()
        pick = ndb.PickleProperty()
        addr = ndb.StructuredProperty(Address)
        local = ndb.LocalStructuredProperty(Address)
        tags = ndb.StringProperty(repeated=True)
        nothing = ndb.StringProperty()
        gen = ndb.GenericProperty()

    with ndb_client.context(cache_policy=False):
        _put_and_compare(Everything, Address)


def _put_and_compare(Everything, Address):
    from google.cloud import ndb

    values = dict(
        i=-5, f=2.5, b=True, s="str", t="long " * 1000, blob=b"\x00\x01", zipped=b"z" * 5000,
        dt=datetime.datetime(2024, 2, 29, 12, 30, 45, 123456), d=datetime.date(2020, 1, 2),
        geo=ndb.GeoPt(10.5, -20.25), ref=ndb.Key("Other", 3, "Child", "c"), js={"a": [1, 2]}, pick={1, 2},
        addr=Address(city="Paris"), local=Address(city="Rome"), tags=["x", "y"], nothing=None, gen=None,
    )
    k = Everything(**values).put()
    got = k.get(use_cache=False)
    for name, value in values.items():
        if name == "addr":  # legacy dotted storage: ndb itself gives the read-back model a partial key
            assert got.addr.city == "Paris"
        else:
            assert getattr(got, name) == value, name


def test_datastore_client_round_trip(ds_client):
    from google.cloud import datastore
    from google.cloud.datastore.helpers import GeoPoint

    e = datastore.Entity(ds_client.key("Thing"), exclude_from_indexes=("long",))
    stamp = datetime.datetime(2023, 5, 6, 7, 8, 9, 10, tzinfo=datetime.UTC)
    e.update({
        "n": None, "i": 7, "f": 0.5, "b": False, "s": "s", "blob": b"\x01", "when": stamp,
        "geo": GeoPoint(1.0, 2.0), "ref": ds_client.key("Ref", "r"), "arr": [1, "a", None], "empty": [],
        "long": "y" * 3000, "emb": datastore.Entity(),
    })
    e["emb"]["x"] = 1
    ds_client.put(e)
    assert e.key.id is not None and e.key.id > 0
    got = ds_client.get(e.key)
    assert dict(got) == dict(e)
    assert got.exclude_from_indexes == {"long"}


def test_key_values_may_point_to_other_projects_and_are_filled_when_empty(raw):
    e = entity(key("Ref", 1))
    e.properties["far"].key_value.CopyFrom(key("X", 1, project="elsewhere", namespace="n"))
    near = e.properties["near"].key_value
    near.CopyFrom(key("X", 2))
    near.partition_id.project_id = ""
    commit(raw, ("upsert", e))
    got = raw("Lookup", pb.LookupRequest(keys=[e.key])).found[0].entity
    assert got.properties["far"].key_value.partition_id.project_id == "elsewhere"
    assert got.properties["near"].key_value.partition_id.project_id == PROJECT


def test_meaning_and_exclusion_survive_both_clients(ndb_client, ds_client, raw):
    """ndb writes meanings (text, compressed blob) and exclusions; google-cloud-datastore reads the entity
    and writes it back; the stored protobuf is byte-for-byte what ndb wrote."""
    from google.cloud import ndb

    class Meant(ndb.Model):
        t = ndb.TextProperty()
        z = ndb.BlobProperty(compressed=True)
        s = ndb.IntegerProperty(indexed=False)
        i = ndb.IntegerProperty()

    with ndb_client.context(cache_policy=False):
        k = Meant(t="text", z=b"z" * 3000, s=9, i=3).put()
    raw_key = key("Meant", k.id())
    before = raw("Lookup", pb.LookupRequest(keys=[raw_key])).found[0].entity
    props = before.properties
    assert props["t"].exclude_from_indexes  # ndb 2.x sends text without the legacy meaning 15
    assert (props["z"].meaning, props["z"].exclude_from_indexes) == (22, True)
    assert props["s"].exclude_from_indexes and not props["i"].exclude_from_indexes
    got = ds_client.get(ds_client.key("Meant", k.id()))
    ds_client.put(got)
    after = raw("Lookup", pb.LookupRequest(keys=[raw_key])).found[0].entity
    assert after.SerializeToString(deterministic=True) == before.SerializeToString(deterministic=True)
