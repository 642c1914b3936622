"""The protobuf wire format of the few fields the gRPC short paths write themselves (fast_query, fast_lookup).

Responses there are assembled from bytes: stored entities as they are, with the varints, lengths and timestamps
encoded here, fields in field-number order as protobuf writes them (tests compare both ways' answers).
"""

from __future__ import annotations

import functools

MALFORMED = "The request is not a valid protocol buffer message."  # what grpc_handlers answers for bytes that do not parse

SMALL = [bytes((i,)) for i in range(0x80)]  # the one-byte varints


def varint(n: int) -> bytes:
    """A non-negative integer as a protobuf varint."""
    if n < 0x80:
        return SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(tag: bytes, data: bytes) -> bytes:
    """A length-delimited field: its tag byte, the length, the bytes."""
    return tag + varint(len(data)) + data


@functools.lru_cache(maxsize=8)  # read times: a few distinct seconds at a time
def _seconds(seconds: int) -> bytes:
    return b"\x08" + varint(seconds) if seconds else b""


def timestamp(micros: int) -> bytes:
    """A google.protobuf.Timestamp's bytes with their length (seconds = 1, nanos = 2; zeros left out)."""
    seconds, rem = divmod(micros, 1_000_000)
    body = _seconds(seconds) + (b"\x10" + varint(rem * 1000) if rem else b"")
    return varint(len(body)) + body


@functools.lru_cache(maxsize=4096)  # the records repeated reads return
def result_tail(version: int, update_us: int, create_us: int) -> bytes:
    """An EntityResult's last fields, as executor.set_times sets them: version (4), update_time (5), create_time (6)."""
    return b"".join((b"\x20", varint(version), b"\x2a", timestamp(update_us), b"\x32", timestamp(create_us)))
