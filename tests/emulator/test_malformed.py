"""Malformed requests get INVALID_ARGUMENT (never INTERNAL or UNKNOWN), and the emulator keeps serving."""

from __future__ import annotations

import random

import grpc
import pytest

from framework.emulator import pb

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
