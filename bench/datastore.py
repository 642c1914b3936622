"""Datastore benchmarks: ndb round trips per second against the emulator, and indexed-query scaling.

`python -m bench datastore`. The emulator runs as its own process on loopback (in memory, and on
SQLite as `make run` uses it). Scaling: two kinds of the same shape, small and big, in one database,
queried alternately with the same indexed equality filter (10 results each). Environment knobs: BENCH_DATASTORE_SMALL / BENCH_DATASTORE_BIG (kind
sizes for the query-latency comparison, default 1000 / 100000), BENCH_DATASTORE_SECONDS (time per
round-trip measurement, default 2).
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator

GROUP_SIZE = 10  # entities per value of the indexed property: every measured query returns this many
BATCH = 500  # entities per put_multi call (what ndb batches into one commit anyway)
SAMPLES = 300  # queries per latency measurement
TARGET_RATIO = 1.5


@contextlib.contextmanager
def emulator(data_dir: str | None = None) -> Iterator[str]:
    """Run the emulator (`framework.emulators.datastore.start`, one port as `make run` serves it); yield its host:port."""
    from framework.emulators.datastore import start

    with start(data_dir=data_dir, project="bench", timeout=60) as running:
        yield running.address


@contextlib.contextmanager
def ndb_context(host: str) -> Iterator[None]:
    """An ndb context on the emulator at `host`, with the in-context cache off (every call is a round trip)."""
    from framework import ndb as datastore

    os.environ["DATASTORE_EMULATOR_HOST"] = host
    try:
        client = datastore.get_client({"NDB_PROJECT": "bench"})
        with client.context(cache_policy=False):
            yield
    finally:
        del os.environ["DATASTORE_EMULATOR_HOST"]


def rate(op: Callable[[int], object], seconds: float) -> tuple[float, float]:
    """Run `op(i)` back to back for about `seconds`; return (calls per second, mean ms per call)."""
    for i in range(5):
        op(i)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or count < 20:
        op(count)
        count += 1
    return count / elapsed, elapsed / count * 1000


def round_trips(seconds: float) -> list[tuple[str, float, float]]:
    """ndb put, get (by key) and query (equality, 10 results) round trips in the current context."""
    from google.cloud import ndb

    class Item(ndb.Model):
        tag = ndb.StringProperty()
        n = ndb.IntegerProperty()

    ndb.put_multi([Item(id=f"q{i}", tag="q", n=i) for i in range(GROUP_SIZE)])
    keys = ndb.put_multi([Item(id=f"g{i}", tag="g", n=i) for i in range(100)])
    return [
        ("put", *rate(lambda i: Item(tag="p", n=i).put(), seconds)),
        ("get", *rate(lambda i: keys[i % len(keys)].get(), seconds)),
        ("query", *rate(lambda i: Item.query(Item.tag == "q").fetch(), seconds)),
    ]


def fill(model: type, start: int, stop: int) -> float:
    """Write entities start..stop-1 of `model` with put_multi batches; return entities per second."""
    from google.cloud import ndb

    began = time.perf_counter()
    for low in range(start, stop, BATCH):
        ndb.put_multi([model(group=i // GROUP_SIZE, label=f"entity {i}") for i in range(low, min(stop, low + BATCH))])
    return (stop - start) / (time.perf_counter() - began)


def query_latencies(models: list[tuple[type, int]]) -> list[tuple[float, float]]:
    """Median and p95 ms of `group == g` queries (random existing g, GROUP_SIZE results each) per kind.

    Samples alternate between the kinds, so load on the machine affects every kind alike.
    """
    rng = random.Random(5)
    times: list[list[float]] = [[] for _ in models]
    for i in range(SAMPLES + 20):
        for slot, (model, groups) in enumerate(models):
            group = rng.randrange(groups)
            began = time.perf_counter()
            found = model.query(model.group == group).fetch()
            elapsed = (time.perf_counter() - began) * 1000
            if len(found) != GROUP_SIZE:
                raise RuntimeError(f"query for group {group} returned {len(found)} entities, not {GROUP_SIZE}")
            if i >= 20:  # the first queries warm up caches on both sides
                times[slot].append(elapsed)
    return [(statistics.median(ts), sorted(ts)[int(len(ts) * 0.95) - 1]) for ts in times]


def scaling(small: int, big: int) -> list[tuple[int, float, float, float]]:
    """Fill a kind with `small` entities and another with `big` (same shape), then time both."""
    from google.cloud import ndb

    class ScaledSmall(ndb.Model):
        group = ndb.IntegerProperty()
        label = ndb.StringProperty()

    class ScaledBig(ndb.Model):
        group = ndb.IntegerProperty()
        label = ndb.StringProperty()

    sized = [(ScaledSmall, small), (ScaledBig, big)]
    write_rates = [fill(model, 0, size) for model, size in sized]
    latencies = query_latencies([(model, size // GROUP_SIZE) for model, size in sized])
    return [(size, rate_, *lat) for (_, size), rate_, lat in zip(sized, write_rates, latencies, strict=True)]


def context_overhead(host: str, rounds: int = 20000) -> tuple[float, float]:
    """Microseconds per app-context push/pop with the per-context ndb context, and with it opted out."""
    from framework import App

    os.environ["DATASTORE_EMULATOR_HOST"] = host
    try:
        timings = []
        for mode in (True, False):
            app = App("bench_ndb_context")
            app.config.update(NDB_PROJECT="bench", NDB_CONTEXT=mode)
            for _ in range(100):
                with app.app_context():
                    pass
            began = time.perf_counter()
            for _ in range(rounds):
                with app.app_context():
                    pass
            timings.append((time.perf_counter() - began) / rounds * 1e6)
    finally:
        del os.environ["DATASTORE_EMULATOR_HOST"]
    return timings[0], timings[1]


def bench_store(name: str, data_dir: str | None, seconds: float, small: int, big: int) -> None:
    with emulator(data_dir) as host, ndb_context(host):
        print(f"-- {name} store (emulator at {host})")
        for op, per_second, mean_ms in round_trips(seconds):
            print(f"   ndb {op:<6} {per_second:8.0f} round trips/s   {mean_ms:6.2f} ms each")
        rows = scaling(small, big)
        for size, write_rate, median, p95 in rows:
            print(f"   indexed equality query, {size:>7} entities of the kind: median {median:6.2f} ms, "
                  f"p95 {p95:6.2f} ms   (filled with put_multi at {write_rate:,.0f} entities/s)")
        ratio = rows[1][2] / rows[0][2]
        verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
        print(f"   median latency {big} vs {small}: {ratio:.2f}x  (target <= {TARGET_RATIO}x: {verdict})")


def main() -> None:
    """Run the datastore benchmarks and print a report."""
    seconds = float(os.environ.get("BENCH_DATASTORE_SECONDS", "2"))
    small = int(os.environ.get("BENCH_DATASTORE_SMALL", "1000"))
    big = int(os.environ.get("BENCH_DATASTORE_BIG", "100000"))
    with emulator() as host:
        with_ndb, without = context_overhead(host)
    print(f"-- app context push/pop: {with_ndb:.1f} us with an ndb context, {without:.1f} us "
          f"opted out ({with_ndb / without:.1f}x); the context makes no RPC")
    bench_store("in-memory", None, seconds, small, big)
    with tempfile.TemporaryDirectory(prefix="bench-datastore-") as data_dir:
        bench_store("SQLite", data_dir, seconds, small, big)


if __name__ == "__main__":
    main()
