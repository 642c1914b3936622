"""Transactions: ids, read sets for optimistic validation at commit, and entity locks that queue writers.

Correctness comes from validation: a read-write commit fails with ABORTED when an entity it read changed
after it was read, or an entity it blindly writes changed after the transaction began. Read-write Lookups
also take a per-entity lock (waiting for the holder, with deadlock detection and a timeout after which the
read proceeds unlocked), so concurrent read-modify-write transactions queue instead of failing and retrying;
a write from outside to a locked entity fails with ABORTED at once (no wait, so no deadlock). Query results
read in a read-write transaction are locked too when no other transaction holds them (queries never wait).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from .errors import aborted, expired_transaction

IDLE_TIMEOUT = 60.0
TOTAL_TIMEOUT = 270.0
LOCK_WAIT = 10.0


@dataclass
class Transaction:
    """One open transaction."""

    id: bytes
    read_only: bool
    begin_version: int
    reads: dict[bytes, int] = field(default_factory=dict)  # storage key -> version read (0 = missing)
    locks: set[bytes] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)

    def record_read(self, key: bytes, version: int) -> None:
        """Remember the first version seen of an entity (validated at commit)."""
        self.reads.setdefault(key, version)


class TransactionManager:
    """All open transactions; every method is called with `cond`'s lock held."""

    def __init__(self, cond: threading.Condition) -> None:
        self.cond = cond
        self._open: dict[bytes, Transaction] = {}
        self._owners: dict[bytes, bytes] = {}
        self._waiting: dict[bytes, bytes] = {}

    def begin(self, read_only: bool, begin_version: int) -> Transaction:
        self._expire()
        txn = Transaction(os.urandom(16), read_only, begin_version)
        self._open[txn.id] = txn
        return txn

    def get(self, txn_id: bytes) -> Transaction:
        """The open transaction `txn_id`, or INVALID_ARGUMENT when it is unknown, finished or expired."""
        self._expire()
        txn = self._open.get(txn_id)
        if txn is None:
            raise expired_transaction()
        txn.last_used = time.monotonic()
        return txn

    def finish(self, txn: Transaction) -> None:
        """Close a transaction (commit, rollback, abort or expiry) and release its locks."""
        self._open.pop(txn.id, None)
        for key in txn.locks:
            if self._owners.get(key) == txn.id:
                del self._owners[key]
        txn.locks.clear()
        self.cond.notify_all()

    def discard(self, txn_id: bytes) -> None:
        """Rollback: finishing an unknown or finished transaction is a silent success (production's answer is
        UNCONFIRMED; an error here would make ndb lose its ABORTED retry)."""
        txn = self._open.get(txn_id)
        if txn is not None:
            self.finish(txn)

    def oldest_read_only(self) -> int | None:
        """The earliest begin version among open read-only transactions (None when there are none)."""
        if not self._open:
            return None
        self._expire()  # an abandoned read-only transaction must not keep history alive for ever
        versions = [t.begin_version for t in self._open.values() if t.read_only]
        return min(versions) if versions else None

    def clear(self) -> None:
        for txn in list(self._open.values()):
            self.finish(txn)

    def _expire(self) -> None:
        now = time.monotonic()
        for txn in list(self._open.values()):
            if now - txn.last_used > IDLE_TIMEOUT or now - txn.started > TOTAL_TIMEOUT:
                self.finish(txn)

    def _deadlocked(self, txn: Transaction, owner: bytes) -> bool:
        seen = {txn.id}
        current: bytes | None = owner
        while current is not None:
            if current in seen:
                return True
            seen.add(current)
            current = self._waiting.get(current)
        return False

    def check_writable(self, keys: list[bytes], writer: Transaction | None) -> None:
        """ABORTED when a write touches an entity another open read-write transaction has read (and so locked),
        as production's pessimistic mode answers; the reader's commit then goes through. A lock whose holder has
        been idle longer than LOCK_WAIT no longer blocks writers (its commit will fail validation instead)."""
        if not self._owners:  # no entity is locked
            return
        now = time.monotonic()
        for key in keys:
            owner = self._owners.get(key)
            if owner is None or (writer is not None and owner == writer.id):
                continue
            holder = self._open.get(owner)
            if holder is not None and now - holder.last_used <= LOCK_WAIT:
                raise aborted()

    def lock_if_free(self, txn: Transaction, key: bytes) -> None:
        """Lock an entity a query of `txn` read, unless another transaction holds it (queries never wait; the
        commit's validation still catches a change)."""
        if key not in self._owners:
            self._owners[key] = txn.id
            txn.locks.add(key)

    def lock(self, txn: Transaction, keys: list[bytes]) -> None:
        """Take the entity locks of a read-write read; ABORTED on deadlock, unlocked after LOCK_WAIT."""
        deadline = time.monotonic() + LOCK_WAIT
        for key in keys:
            while True:
                owner = self._owners.get(key)
                if owner is None or owner == txn.id:
                    self._owners[key] = txn.id
                    txn.locks.add(key)
                    break
                if self._deadlocked(txn, owner):
                    self.finish(txn)
                    raise aborted()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._waiting[txn.id] = owner
                try:
                    self.cond.wait(min(remaining, 1.0))
                finally:
                    self._waiting.pop(txn.id, None)
                self._expire()
                if txn.id not in self._open:
                    raise expired_transaction()
        txn.last_used = time.monotonic()
