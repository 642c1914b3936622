"""framework.adapters.gunicorn_worker.RequestThreads, the worker's request threads: every connection is handled
on one of them and reported once, errors included; none start before the first request; shutdown lets them end."""

from __future__ import annotations

import threading
import time

import pytest

from framework.adapters.gunicorn_worker import Outcome, RequestThreads


class Recorder:
    def __init__(self) -> None:
        self.done: list[tuple[object, Outcome, str]] = []
        self.lock = threading.Lock()
        self.all_in = threading.Event()
        self.expected = 0

    def finished(self, conn: object, outcome: Outcome) -> None:
        with self.lock:
            self.done.append((conn, outcome, threading.current_thread().name))
            if len(self.done) == self.expected:
                self.all_in.set()


def test_each_connection_is_handled_on_a_request_thread_and_reported_once() -> None:
    rec = Recorder()
    rec.expected = 200
    seen_threads: set[str] = set()

    def handle(conn: int) -> bool:
        seen_threads.add(threading.current_thread().name)
        time.sleep(0.001)
        return conn % 2 == 0

    pool = RequestThreads(4, handle, rec.finished)
    try:
        for n in range(200):
            pool.submit(n)
        assert rec.all_in.wait(10)
    finally:
        pool.shutdown(wait=True)
    assert sorted(conn for conn, _, _ in rec.done) == list(range(200))  # type: ignore[type-var]
    assert all(outcome.result() == (conn % 2 == 0) for conn, outcome, _ in rec.done)  # type: ignore[operator]
    assert not any(outcome.cancelled() for _, outcome, _ in rec.done)
    assert threading.main_thread().name not in seen_threads and 1 < len(seen_threads) <= 4


def test_an_error_escaping_handle_is_reported_not_lost() -> None:
    rec = Recorder()
    rec.expected = 2

    def handle(conn: str) -> bool:
        if conn == "bad":
            raise RuntimeError("boom")
        return True

    pool = RequestThreads(2, handle, rec.finished)
    try:
        pool.submit("bad")
        pool.submit("good")
        assert rec.all_in.wait(10)
    finally:
        pool.shutdown(wait=True)
    outcomes = {conn: outcome for conn, outcome, _ in rec.done}
    with pytest.raises(RuntimeError, match="boom"):
        outcomes["bad"].result()
    assert outcomes["good"].result() is True


def _request_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("request-")]


def test_threads_start_with_the_first_request_and_stop_on_shutdown() -> None:
    release = threading.Event()
    rec = Recorder()
    rec.expected = 1
    pool = RequestThreads(3, lambda conn: release.wait(10), rec.finished)
    assert not _request_threads()  # a worker that never serves starts none
    pool.submit("slow")
    started = _request_threads()
    assert len(started) == 3 and not any(t.daemon for t in started)
    pool.shutdown(wait=False)
    with pytest.raises(RuntimeError):
        pool.submit("late")
    release.set()  # the request in hand still finishes and is reported
    for t in started:
        t.join(10)
        assert not t.is_alive()
    assert rec.all_in.is_set() and rec.done[0][1].result() is True
