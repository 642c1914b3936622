"""tests/support/procs.free_port: parallel pytest-xdist workers never pick the same port."""

from __future__ import annotations

import socket

from tests.support import procs


def test_worker_slices_are_disjoint_and_below_the_ephemeral_range() -> None:
    slices = [procs.port_slice(f"gw{n}") for n in range(8)] + [procs.port_slice("")]
    seen: set[int] = set()
    for ports in slices:
        assert len(ports) >= 500
        assert not seen & set(ports)
        seen |= set(ports)
    assert max(seen) < 32768  # Linux hands out outgoing ports from 32768 up


def test_ports_come_from_this_workers_slice_and_never_twice() -> None:
    ports = [procs.free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(port in procs.port_slice() for port in ports)


def test_a_port_in_use_is_never_handed_out() -> None:
    ours = procs.port_slice()
    saved = set(procs._handed_out)
    target = next(p for p in ours if p not in saved and _bindable(p))
    try:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", target))
            holder.listen()
            procs._handed_out.update(p for p in ours if p != target)  # the held port is the only candidate
            try:
                port = procs.free_port()
            except RuntimeError as exc:
                assert "no free port left" in str(exc)
            else:
                raise AssertionError(f"port {port} was handed out although it is in use")
        assert procs.free_port() == target  # released: now it is free
    finally:
        procs._handed_out.clear()
        procs._handed_out.update(saved)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
