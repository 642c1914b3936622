"""Datastore benchmarks: round trips per second against the emulator beside a no-op gRPC floor, paging, scaling.

`python -m bench datastore`. The emulator runs as its own process on loopback (in memory, and on SQLite as
`make run` uses it). Floor: a no-op gRPC server in its own process answering an empty message, called with a
raw channel in the same run; Lookup, Commit and RunQuery of one entity are reported as ratios to it, both
through google-cloud-datastore (what the target judges) and as raw protobuf calls (the emulator's own cost), with the
server process's CPU per call beside the floor server's (cold caches included, as served). Paging: a kind of
BENCH_DATASTORE_PAGING entities (default 100000) read to the end in batches, first pages against last.
Scaling: two kinds of the same shape, small and big, queried alternately with the same indexed equality
filter (10 results each). Environment knobs: BENCH_DATASTORE_SMALL / BENCH_DATASTORE_BIG (default 1000 /
100000), BENCH_DATASTORE_SECONDS (time per round-trip measurement, default 2).
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

GROUP_SIZE = 10  # entities per value of the indexed property: every measured query returns this many
BATCH = 500  # entities per put_multi call (what ndb batches into one commit anyway)
SAMPLES = 300  # queries per latency measurement
TARGET_RATIO = 1.5
FLOOR_TARGET = 2.0  # issue 11: single-entity Lookup, RunQuery, Commit through the client within 2x (+ one fsync
# for a durable Commit); the verdict judges the google-cloud-datastore figure, the raw one shows the emulator's own cost
NOOP_METHOD = "/bench.Noop/Call"


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


def serve_noop() -> None:
    """The floor's server: answers every NOOP_METHOD call with an empty message; prints its port, runs until stdin closes."""
    from concurrent import futures

    import grpc

    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: b"")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         handlers=[grpc.method_handlers_generic_handler("bench.Noop", {"Call": handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()
    server.stop(0)


@contextlib.contextmanager
def noop_server() -> Iterator[tuple[str, int]]:
    """A no-op gRPC server in its own process (as the emulator is); yields its host:port and process id."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", "from bench.datastore import serve_noop; serve_noop()"],
                            cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield f"127.0.0.1:{int(proc.stdout.readline())}", proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


SLICES = 10  # floor and operation alternate in this many short slices, so load on the machine hits both alike


def paired(floor: Callable[[int], object], op: Callable[[int], object], seconds: float) -> tuple[float, float]:
    """(operation calls per second, its ratio to the floor's time per call): medians over alternating slices."""
    rates, ratios = [], []
    for _ in range(SLICES):
        floor_rate = rate(floor, seconds / SLICES / 2)[0]
        op_rate = rate(op, seconds / SLICES / 2)[0]
        rates.append(op_rate)
        ratios.append(floor_rate / op_rate)
    return statistics.median(rates), statistics.median(ratios)


def raw_ops(channel: Any) -> dict[str, Callable[[int], object]]:
    """Lookup, Commit and RunQuery of one entity as raw protobuf calls (no client library)."""
    from framework.emulators.datastore import pb

    def stub(name: str, response: Any, request: Any) -> Callable[[int], object]:
        call = channel.unary_unary(f"/google.datastore.v1.Datastore/{name}",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=response.FromString)
        return lambda i: call(request)

    key = pb.Key(path=[pb.Key.PathElement(kind="RawBench", name="one")])
    key.partition_id.project_id = "bench"
    entity = pb.Entity(key=key)
    entity.properties["n"].integer_value = 1
    commit = pb.CommitRequest(project_id="bench", mode=pb.NON_TRANSACTIONAL, mutations=[pb.Mutation(upsert=entity)])
    query = pb.RunQueryRequest(project_id="bench")
    query.query.kind.add(name="RawBench")
    query.query.filter.property_filter.property.name = "n"
    query.query.filter.property_filter.op = pb.OP.EQUAL
    query.query.filter.property_filter.value.integer_value = 1
    return {"Commit": stub("Commit", pb.CommitResponse, commit),
            "Lookup": stub("Lookup", pb.LookupResponse, pb.LookupRequest(project_id="bench", keys=[key])),
            "RunQuery": stub("RunQuery", pb.RunQueryResponse, query)}


def client_ops(address: str) -> dict[str, Callable[[int], object]]:
    """Lookup, Commit and RunQuery of one entity through google-cloud-datastore."""
    from google.cloud import datastore

    os.environ["DATASTORE_EMULATOR_HOST"] = address
    try:
        client = datastore.Client(project="bench")
    finally:
        del os.environ["DATASTORE_EMULATOR_HOST"]
    key = client.key("ClientBench", "one")
    entity = datastore.Entity(key)
    entity["n"] = 1
    client.put(entity)

    def query(i: int) -> None:
        q = client.query(kind="ClientBench")
        q.add_filter(filter=datastore.query.PropertyFilter("n", "=", 1))
        list(q.fetch())

    return {"Commit": lambda i: client.put(entity), "Lookup": lambda i: client.get(key), "RunQuery": query}


def fsync_seconds(directory: str, rounds: int = 50) -> float:
    """Mean seconds of one small write + fsync in `directory` (what a durable commit must add)."""
    path = os.path.join(directory, "bench-fsync")
    with open(path, "wb") as f:
        began = time.perf_counter()
        for _ in range(rounds):
            f.write(b"x" * 100)
            f.flush()
            os.fsync(f.fileno())
        elapsed = (time.perf_counter() - began) / rounds
    os.remove(path)
    return elapsed


def paging(address: str, total: int) -> tuple[float, float, int]:
    """Load `total` entities with big raw commits, then page to the end; (median ms per batch of the first and of
    the last tenth of the batches, number of batches)."""
    import grpc

    from framework.emulators.datastore import pb

    with grpc.insecure_channel(address) as channel:
        commit = channel.unary_unary("/google.datastore.v1.Datastore/Commit",
                                     request_serializer=lambda m: m.SerializeToString(),
                                     response_deserializer=pb.CommitResponse.FromString)
        run = channel.unary_unary("/google.datastore.v1.Datastore/RunQuery",
                                  request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=pb.RunQueryResponse.FromString)
        for low in range(0, total, 5000):
            req = pb.CommitRequest(project_id="bench", mode=pb.NON_TRANSACTIONAL)
            for i in range(low, min(total, low + 5000)):
                e = req.mutations.add().upsert
                e.key.partition_id.project_id = "bench"
                e.key.path.add(kind="Paged", id=i + 1)
                e.properties["n"].integer_value = i
            commit(req)
        request = pb.RunQueryRequest(project_id="bench")
        request.query.kind.add(name="Paged")
        times, seen = [], 0
        while True:
            began = time.perf_counter()
            batch = run(request).batch
            times.append(time.perf_counter() - began)
            seen += len(batch.entity_results)
            if batch.more_results != pb.NOT_FINISHED:
                break
            request.query.start_cursor = batch.end_cursor
    if seen != total:
        raise RuntimeError(f"paging returned {seen} entities, not {total}")
    edge = max(1, len(times) // 10)
    return statistics.median(times[:edge]) * 1000, statistics.median(times[-edge:]) * 1000, len(times)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc; every thread counted)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CPU_CALLS = 2000  # calls per server CPU measurement (the clock ticks in 10 ms: about 1% resolution)


def server_cpu(pid: int, op: Callable[[int], object], calls: int = CPU_CALLS) -> float:
    """Microseconds of the server process's CPU per call of `op` (gRPC's own threads and the handler): what a call
    costs the server, with its caches as cold as the client and the kernel leave them between calls."""
    began = cpu_seconds(pid)
    for i in range(calls):
        op(i)
    return (cpu_seconds(pid) - began) / calls * 1e6


def floor_allowance(name: str, fsync: float, floor_per_second: float) -> float:
    """Issue 11's target as a ratio to the floor: 2x, and for a durable Commit 2x plus one fsync (`fsync`
    seconds, measured in the same directory) expressed in floor round trips."""
    return FLOOR_TARGET + (fsync * floor_per_second if name == "Commit" else 0.0)


def bench_floor(data_dir: str | None, seconds: float, pages: int) -> None:
    """Round trips beside the no-op floor, and paging, for one store."""
    import grpc

    with noop_server() as (noop, noop_pid), emulator_direct(data_dir) as (address, pid), \
            grpc.insecure_channel(noop) as noop_channel, grpc.insecure_channel(address) as channel:
        call = noop_channel.unary_unary(NOOP_METHOD)

        def floor(i: int) -> object:
            return call(b"")

        floor_per_second, _ = paired(floor, floor, seconds)
        floor_cpu = server_cpu(noop_pid, floor)
        print(f"   no-op gRPC round trip (floor): {floor_per_second:8.0f}/s  ({1000 / floor_per_second:.3f} ms; "
              f"server CPU {floor_cpu:.0f} us per call)")
        extra = fsync_seconds(data_dir) if data_dir else 0.0
        raw, client = raw_ops(channel), client_ops(address)
        for name in ("Lookup", "Commit", "RunQuery"):
            raw_rate, raw_ratio = paired(floor, raw[name], seconds)
            client_rate, client_ratio = paired(floor, client[name], seconds)
            cpu = server_cpu(pid, client[name])
            allowed = floor_allowance(name, extra, floor_per_second)
            verdict = "met" if client_ratio <= allowed else "MISSED"
            print(f"   {name:<8} google-cloud-datastore {client_rate:7.0f}/s = {client_ratio:4.2f}x floor "
                  f"(target <= {allowed:.2f}x{' = 2x + one fsync' if extra and name == 'Commit' else ''}: "
                  f"{verdict});  raw protobuf {raw_rate:7.0f}/s = {raw_ratio:4.2f}x floor;  emulator CPU "
                  f"{cpu:.0f} us per call ({cpu - floor_cpu:+.0f} us against the floor's server)")
        if extra:
            print(f"   one fsync in the data directory: {extra * 1000:.2f} ms")
        first, last, count = paging(address, pages)
        verdict = "steady" if last <= first * TARGET_RATIO else "SLOWS DOWN"
        print(f"   paging {pages} entities in {count} batches: first pages {first:.1f} ms, last pages {last:.1f} ms "
              f"each ({last / first:.2f}x: {verdict})")


@contextlib.contextmanager
def emulator_direct(data_dir: str | None) -> Iterator[tuple[str, int]]:
    """The emulator with gRPC directly on its port (admin on another), as the pytest plugin runs it; yields its
    host:port and process id."""
    from framework.emulators.datastore import start

    with start(data_dir=data_dir, project="bench", timeout=60, admin_port=0) as running:
        yield running.address, running.pid


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
    pages = int(os.environ.get("BENCH_DATASTORE_PAGING", "100000"))
    print("-- in-memory store: round trips against the floor")
    bench_floor(None, seconds, pages)
    with tempfile.TemporaryDirectory(prefix="bench-datastore-") as data_dir:
        print("-- SQLite store: round trips against the floor")
        bench_floor(data_dir, seconds, pages)
    bench_store("in-memory", None, seconds, small, big)
    with tempfile.TemporaryDirectory(prefix="bench-datastore-") as data_dir:
        bench_store("SQLite", data_dir, seconds, small, big)


if __name__ == "__main__":
    main()
