"""Malformed requests get INVALID_ARGUMENT (never INTERNAL or UNKNOWN), and the emulator keeps serving."""

from __future__ import annotations

import random

import grpc
import pytest

from framework.emulators.datastore import pb

from .conftest import _RESPONSES, PROJECT, commit, entity, key

pytestmark = pytest.mark.slow


def _call_bytes(raw, method, data):
    call = raw.channel.unary_unary(f"/google.datastore.v1.Datastore/{method}",
                                   request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return call(data, timeout=30)


def test_garbage_bytes_are_invalid_argument(raw):
    rng = random.Random(3)
    for method in _RESPONSES:
        for _ in range(10):
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 60)))
            try:
                _call_bytes(raw, method, data)
            except grpc.RpcError as err:
                assert err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED), (
                    method, data, err.details())


def test_mutated_valid_requests_never_fail_internally(raw):
    commit(raw, ("upsert", entity(key("M", 1), a=1, s="x")))
    query = pb.Query()
    query.kind.add(name="M")
    query.order.add().property.name = "a"
    f = query.filter.property_filter
    f.property.name, f.op = "a", pb.OP.GREATER_THAN
    f.value.integer_value = 0
    base = {
        "RunQuery": pb.RunQueryRequest(project_id=PROJECT, query=query),
        "Lookup": pb.LookupRequest(project_id=PROJECT, keys=[key("M", 1)]),
        "Commit": pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL,
                                   mutations=[pb.Mutation(upsert=entity(key("M", 2), b=[1, 2]))]),
        "AllocateIds": pb.AllocateIdsRequest(project_id=PROJECT, keys=[key("M")]),
    }
    rng = random.Random(11)
    for method, request in base.items():
        data = request.SerializeToString()
        for _ in range(60):
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 3)):
                mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
            try:
                _call_bytes(raw, method, bytes(mutated))
            except grpc.RpcError as err:
                assert err.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (
                    method, bytes(mutated), err.details())
    assert raw("Lookup", pb.LookupRequest(keys=[key("M", 1)])).found


def _random_value(rng: random.Random, out: pb.Value, depth: int = 0) -> None:
    """A random Value: every type, edge numbers, odd strings, nested entities and arrays, meanings."""
    kind = rng.choice(["null", "bool", "int", "double", "ts", "key", "str", "blob", "geo", "entity", "array"])
    if kind == "null":
        out.null_value = 0
    elif kind == "bool":
        out.boolean_value = rng.random() < 0.5
    elif kind == "int":
        out.integer_value = rng.choice([0, -1, 2**63 - 1, -(2**63), rng.randint(-10**6, 10**6)])
    elif kind == "double":
        out.double_value = rng.choice([0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e308, rng.random()])
    elif kind == "ts":
        out.timestamp_value.seconds = rng.choice([0, -62135596800, 253402300799, rng.randint(0, 2**31)])
        out.timestamp_value.nanos = rng.choice([0, 999_999_999, rng.randint(0, 999_999_999)])
    elif kind == "key":
        out.key_value.CopyFrom(key(rng.choice(["K", "__kind__", "é"]), rng.choice([1, -5, "n", "__x__", 2**63 - 1])))
    elif kind == "str":
        out.string_value = rng.choice(["", "\x00", "ß" * rng.randint(0, 800), "\U0001f600", "a.b", "`x`"])
    elif kind == "blob":
        out.blob_value = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 1499, 1501])))
    elif kind == "geo":
        out.geo_point_value.latitude, out.geo_point_value.longitude = rng.uniform(-200, 200), rng.uniform(-400, 400)
    elif kind == "entity" and depth < 3:
        for _ in range(rng.randint(0, 3)):
            _random_value(rng, out.entity_value.properties[rng.choice(["a", "b.c", "", "__k__", "x" * 40])], depth + 1)
    elif kind == "array" and depth < 3:
        out.array_value.SetInParent()
        for _ in range(rng.randint(0, 3)):
            _random_value(rng, out.array_value.values.add(), depth + 1)
    else:
        out.string_value = "leaf"
    if rng.random() < 0.2:
        out.meaning = rng.choice([0, 7, 14, 15, 18, 22, -1])
    if rng.random() < 0.3:
        out.exclude_from_indexes = True


def _to_microseconds(message: pb.Entity) -> None:
    """What the service stores of timestamps: microseconds, rounded down."""
    for value in message.properties.values():
        for v in [value, *value.array_value.values]:
            if v.WhichOneof("value_type") == "timestamp_value":
                v.timestamp_value.nanos -= v.timestamp_value.nanos % 1000
            elif v.WhichOneof("value_type") == "entity_value":
                _to_microseconds(v.entity_value)


def _random_filter(rng: random.Random, out: pb.Filter, depth: int = 0) -> None:
    if depth < 2 and rng.random() < 0.3:
        out.composite_filter.op = rng.choice([pb.AND, pb.AND, pb.OR, pb.OR, 0])
        for _ in range(rng.randint(0 if rng.random() < 0.1 else 1, 3)):
            _random_filter(rng, out.composite_filter.filters.add(), depth + 1)
        return
    f = out.property_filter
    f.property.name = rng.choice(["a", "a", "b", "b", "__key__", "", "a.b"])
    f.op = rng.choice([pb.OP.EQUAL] * 6 + list(pb.OP.values()) + [0, 99])
    if f.op in (pb.OP.IN, pb.OP.NOT_IN) and rng.random() < 0.7:
        for _ in range(rng.randint(1, 3)):
            _random_value(rng, f.value.array_value.values.add(), 3)
    elif f.property.name == "__key__" and rng.random() < 0.7:
        f.value.key_value.CopyFrom(key("F", rng.randint(1, 30)))
    else:
        _random_value(rng, f.value, 2)


def _random_query(rng: random.Random) -> pb.Query:
    query = pb.Query()
    for _ in range(rng.choice([0, 1, 1, 1, 1, 1, 2])):
        query.kind.add(name=rng.choice(["F"] * 8 + ["", "__kind__", "__property__", "__namespace__", "__x__"]))
    if rng.random() < 0.6:
        _random_filter(rng, query.filter)
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        o = query.order.add(direction=rng.choice([0, 1, 1, 2, 2, 7]))
        o.property.name = rng.choice(["a", "a", "b", "__key__", ""])
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        query.projection.add().property.name = rng.choice(["a", "b", "__key__"])
    if rng.random() < 0.1:
        query.distinct_on.add(name=rng.choice(["a", "b"]))
    query.offset = rng.choice([0, 0, 0, 0, 1, -1, 2**31 - 1])
    if rng.random() < 0.5:
        query.limit.value = rng.choice([0, 1, 5, -3])
    if rng.random() < 0.2:
        query.start_cursor = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 12)))
    return query


def test_odd_but_valid_commits_and_queries_never_fail_internally_or_lose_data(raw):
    """Well-formed protos with odd contents: every answer is a proper status, and what was acknowledged
    reads back exactly."""
    rng = random.Random(5)
    stored: dict[bytes, pb.Entity] = {}
    for _ in range(150):
        req = pb.CommitRequest(project_id=PROJECT, mode=rng.choice([pb.NON_TRANSACTIONAL, 0]))
        written = []
        for _ in range(rng.randint(1, 3)):
            m = req.mutations.add()
            op = rng.choice(["insert", "update", "upsert", "upsert", "delete"])
            k = key("F", rng.choice([rng.randint(1, 30), "n" + str(rng.randint(0, 5))]))
            if op == "delete":
                m.delete.CopyFrom(k)
            else:
                e = getattr(m, op)
                e.key.CopyFrom(k)
                for _ in range(rng.randint(0, 4)):
                    _random_value(rng, e.properties[rng.choice(["a", "b", "c.d", "__r__", ""])])
            if rng.random() < 0.1:
                m.base_version = rng.choice([0, 1, 2**62])
            written.append((op, k, m))
        try:
            response = raw("Commit", req)
        except grpc.RpcError as err:
            assert err.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (req, err.details())
            continue
        for (op, k, m), result in zip(written, response.mutation_results, strict=True):
            if result.conflict_detected:
                continue
            skey = k.SerializeToString()
            if op == "delete":
                stored.pop(skey, None)
            else:
                stored[skey] = getattr(m, op)
    agg_rng = random.Random(13)  # its own generator: the queries stay those of `rng`
    for _ in range(400):
        query = _random_query(rng)
        aggregation = pb.AggregationQuery(nested_query=query)
        for _ in range(agg_rng.randint(1, 2)):
            a = aggregation.aggregations.add()
            op_name = agg_rng.choice(["count", "count", "sum", "avg", None])
            if op_name == "count":
                a.count.SetInParent()
            elif op_name:
                getattr(a, op_name).property.name = agg_rng.choice(["a", "b", "", "c.d"])
        for method, request in (("RunQuery", pb.RunQueryRequest(project_id=PROJECT, query=query)),
                                ("RunAggregationQuery", pb.RunAggregationQueryRequest(
                                    project_id=PROJECT, aggregation_query=aggregation))):
            try:
                raw(method, request)
            except grpc.RpcError as err:
                assert err.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (query, err.details())
    assert stored, "some commits must have succeeded"
    keys = [pb.Key.FromString(k) for k in stored]
    found = {f.entity.key.SerializeToString(): f.entity for f in raw("Lookup", pb.LookupRequest(keys=keys)).found}
    assert found.keys() == stored.keys()
    for skey, e in stored.items():
        _to_microseconds(e)
        assert found[skey].SerializeToString(deterministic=True) == e.SerializeToString(deterministic=True)


HTTP_GARBAGE = [
    (b"\x00\x01\x02garbage\r\n\r\n", b"400"),  # no HTTP version: answered HTTP/0.9 style, body only
    (b"POST /v1/projects/p:lookup HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nabc", b"413"),
    (b"POST /v1/projects/p:lookup HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"400"),
    (b"POST /v1/projects/p:lookup HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{{{{{", b"400"),
    (b"POST /v1/projects/p:commit HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\nnull", b"400"),
    (b"POST /v1/projects/p:commit HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]", b"400"),
    (b"POST /v1/projects/p:lookup HTTP/1.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: 3\r\n\r\n\xff\xff\xff",
     b"400"),
    (b"POST /v1/projects/p:commit HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}", b"400"),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", b"414"),
]


@pytest.mark.parametrize("payload, status", HTTP_GARBAGE, ids=range(len(HTTP_GARBAGE)))
def test_malformed_http_is_a_4xx(emulator, payload, status):
    import socket
    import urllib.parse

    address = urllib.parse.urlsplit(emulator.admin_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(payload)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
            if b"\r\n\r\n" in reply or b"</html>" in reply:
                break
    assert reply.startswith(b"HTTP/1.1 " + status) or b"Error code: " + status in reply, reply[:200]
