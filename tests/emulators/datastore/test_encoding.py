"""The order-preserving encodings: byte order equals Datastore's value and key order."""

from __future__ import annotations

import math
import random

from framework.emulators.datastore import encoding, pb

from .conftest import key, set_value


def enc(v):
    value = pb.Value()
    set_value(value, v)
    return encoding.encode_value(value)


def ts(micros):
    value = pb.Value()
    value.timestamp_value.seconds, rest = divmod(micros, 1_000_000)
    value.timestamp_value.nanos = rest * 1000
    return encoding.encode_value(value)


def keyval(k):
    value = pb.Value()
    value.key_value.CopyFrom(k)
    return encoding.encode_value(value)


def test_cross_type_order():
    ordered = [enc(None), enc(-(2**63)), enc(-1), enc(0), enc(2**63 - 1), enc(False), enc(True), enc(b""),
               enc(b"\x00"), enc(b"\xff"), enc(""), enc("a"), enc("a\x00"), enc("ab"), enc("é"),
               enc(-math.inf), enc(-1.5), enc(0.0), enc(2.5), enc(math.inf), enc(math.nan),
               keyval(key("A", 1))]
    assert ordered == sorted(ordered) and len(set(ordered)) == len(ordered)


def test_numbers_sort_numerically():
    rng = random.Random(5)
    ints = [rng.randint(-(2**63), 2**63 - 1) for _ in range(300)]
    assert sorted(ints) == sorted(ints, key=enc)
    doubles = [rng.uniform(-1e300, 1e300) for _ in range(300)] + [1e-310, -1e-310, 0.0]
    assert sorted(doubles) == sorted(doubles, key=enc)
    assert enc(-0.0) == enc(0.0) and enc(3) != enc(3.0)


def test_integers_and_timestamps_interleave_but_differ():
    assert enc(4) < ts(5) < enc(6)
    assert enc(5) != ts(5)


def test_strings_sort_by_code_point():
    words = ["", "a", "A", "ab", "b", "\x00", "a\x00b", "zz", "é", "中", "\U0001f600"]
    assert sorted(words, key=lambda w: w.encode()) == sorted(words, key=enc)


def test_key_order_and_ancestor_prefixes():
    keys = [key("A", 1), key("A", 1, "B", 1), key("A", 1, "B", "x"), key("A", 2), key("A", "a"),
            key("A", "a", "C", 3), key("B", 1)]
    encoded = [encoding.encode_path(k) for k in keys]
    assert encoded == sorted(encoded)
    prefix = encoding.path_prefix(key("A", 1))
    assert [e.startswith(prefix) for e in encoded] == [True, True, True, False, False, False, False]
    assert encoding.decode_path(encoded[2]) == [("A", 1, None), ("B", None, "x")]


def test_value_end_finds_the_end_of_each_encoding():
    for v in (enc(None), enc(5), enc(True), enc(b"a\x00b"), enc("x"), enc(1.5), enc(math.nan), keyval(key("A", "n", "B", 2))):
        assert encoding.value_end(v + b"\x02tail") == len(v)


def test_index_values_cover_arrays_entities_and_skip_excluded():
    e = pb.Entity()
    set_value(e.properties["tags"], ["a", "b", "a"])
    e.properties["sub"].entity_value.properties["city"].string_value = "P"
    e.properties["hidden"].string_value = "h"
    e.properties["hidden"].exclude_from_indexes = True
    e.properties["empty"].array_value.SetInParent()
    values = encoding.index_values(e)
    assert values == {"tags": {enc("a"), enc("b")}, "sub.city": {enc("P")}}
