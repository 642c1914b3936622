"""The emulator's shared port under hostile clients: descriptor exhaustion, half-open and idle connections.

A real emulator subprocess on one port (gRPC and HTTP/1 multiplexed), real google-cloud-datastore calls.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from framework.emulators.mux import ADMIN_THREADS

from .conftest import EmulatorProc, cpu_seconds, open_fds, thread_count

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@contextlib.contextmanager
def _sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        yield opened
    finally:
        for s in opened:
            s.close()


def _connect(emulator: EmulatorProc, first_bytes: bytes = b"") -> socket.socket:
    s = socket.create_connection((emulator.host, emulator.port), timeout=5)
    if first_bytes:
        s.sendall(first_bytes)
    return s


def _round_trip(emulator: EmulatorProc, name: str) -> None:
    """A normal put and get through google-cloud-datastore (gRPC), with a deadline and no retries."""
    from google.cloud import datastore

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATASTORE_EMULATOR_HOST", emulator.address)
        client = datastore.Client(project="local-project")
        entity = datastore.Entity(client.key("Hardening", name))
        entity["n"] = 1
        client.put(entity, retry=None, timeout=15)
        assert client.get(client.key("Hardening", name), retry=None, timeout=15)["n"] == 1


def _wait_for(predicate, what: str, limit: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def test_descriptor_exhaustion_sheds_load_and_recovers(spawn_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = spawn_emulator(nofile=96)
    _round_trip(emulator, "before")
    with _sockets() as held:
        # Connections that never speak: each costs the emulator a descriptor until EMFILE.
        while "out of file descriptors" not in emulator.log() and len(held) < 400:
            held.append(_connect(emulator))
            if len(held) % 20 == 0:
                time.sleep(0.05)  # let the emulator catch up with its accept queue
        assert "out of file descriptors" in emulator.log(), emulator.log()
        # A client that arrives now is told why it is refused (or waits in the backlog), never served half.
        late = _connect(emulator)
        late.settimeout(5)
        with contextlib.suppress(TimeoutError, ConnectionError):
            answer = late.recv(4096)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 503"), answer
        late.close()
    # Descriptors freed: the same process serves normally again.
    _round_trip(emulator, "after")
    with urllib.request.urlopen(emulator.url + "/", timeout=10) as response:
        assert response.read() == b"Ok\n"
    assert emulator.proc.poll() is None
    assert "Traceback" not in emulator.log()


def test_half_open_connections_cost_no_cpu_and_no_threads(spawn_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = spawn_emulator()
    pid = emulator.proc.pid
    _round_trip(emulator, "warm")
    threads_before = thread_count(pid)
    with _sockets() as held:
        for i in range(150):
            held.append(_connect(emulator, b"PR"))  # two bytes of the HTTP/2 preface, then silence
            held.append(_connect(emulator))  # connected, never a byte
            held.append(_connect(emulator, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"))  # a head never finished
            if i % 30 == 0:
                time.sleep(0.05)
        _wait_for(lambda: open_fds(pid) >= len(held), "the emulator accepted every connection")
        cpu_start = cpu_seconds(pid)
        time.sleep(2.0)
        idle_cpu = cpu_seconds(pid) - cpu_start
        threads_loaded = thread_count(pid)
        # Real clients are served meanwhile: gRPC and the admin surface from the command line.
        _round_trip(emulator, "during")
        with urllib.request.urlopen(emulator.url + "/", timeout=10) as response:
            assert response.read() == b"Ok\n"
    # 450 quiet connections: no polling (well under a tenth of a core over the window) and no thread each.
    assert idle_cpu < 0.2, f"{idle_cpu:.2f} CPU seconds spent on 450 quiet connections in a 2 s window"
    assert threads_loaded <= threads_before + 2, (threads_before, threads_loaded)


def test_partial_connections_time_out(spawn_emulator) -> None:  # type: ignore[no-untyped-def]
    emulator = spawn_emulator()
    with _sockets() as held:
        held.append(_connect(emulator, b"PR"))
        held.append(_connect(emulator, b"GET / HTTP/1.1\r\n"))
        for s in held:
            s.settimeout(30)
            # The emulator hangs up on a connection that never completes its first message (a reset, as
            # the bytes it got were never read).
            try:
                assert s.recv(1) == b""
            except ConnectionResetError:
                pass


@pytest.mark.parametrize("separate_admin", [False, True], ids=["shared port", "--admin-port"])
def test_admin_connections_are_bounded(spawn_emulator, separate_admin: bool) -> None:  # type: ignore[no-untyped-def]
    emulator = spawn_emulator(separate_admin=separate_admin)
    pid = emulator.proc.pid
    threads_before = thread_count(pid)
    answers: list[bytes] = []
    with _sockets() as held:
        for _ in range(ADMIN_THREADS + 20):
            s = socket.create_connection(emulator.admin, timeout=5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # then stays open (keep-alive)
            held.append(s)
        for s in held:
            s.settimeout(10)
            answers.append(s.recv(4096))
        threads_loaded = thread_count(pid)
    ok = [a for a in answers if a.startswith(b"HTTP/1.1 200")]
    busy = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
    assert len(ok) + len(busy) == len(answers)
    assert ok and busy and b"admin connections are in use" in busy[0]
    assert len(ok) == ADMIN_THREADS and threads_loaded - threads_before <= ADMIN_THREADS + 1


def test_relay_carries_big_messages_and_concurrent_clients(spawn_emulator) -> None:  # type: ignore[no-untyped-def]
    """The shared port's relay under real traffic: 9 MB commits and an 18 MB lookup, and 8 clients at once."""
    from google.cloud import datastore

    emulator = spawn_emulator()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATASTORE_EMULATOR_HOST", emulator.address)
        client = datastore.Client(project="local-project")
        entities = []
        for i in range(20):
            entity = datastore.Entity(client.key("Big", i + 1), exclude_from_indexes=("b",))
            entity["b"] = os.urandom(900_000)
            entities.append(entity)
        client.put_multi(entities[:10], timeout=60)
        client.put_multi(entities[10:], timeout=60)
        got = client.get_multi([e.key for e in entities], timeout=60)
        assert sorted(g["b"] for g in got) == sorted(e["b"] for e in entities)

        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                own = datastore.Client(project="local-project")
                for j in range(30):
                    e = datastore.Entity(own.key("T", f"{n}-{j}"))
                    e["v"] = j
                    own.put(e, timeout=30)
                    assert own.get(e.key, timeout=30)["v"] == j
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(list(client.query(kind="T").fetch())) == 8 * 30
