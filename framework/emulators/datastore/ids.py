"""Scattered id allocation: random positive ids of at most 16 digits that were never used in the partition."""

from __future__ import annotations

import os
import random

from .encoding import encode_int
from .storage import Storage

MAX_ID = (1 << 53) - 1  # 9007199254740991: 16 digits, like the real service's ids


class IdAllocator:
    """Hands out ids unknown to storage (stored, allocated or reserved) and to the batch being built."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._rng = random.Random(os.urandom(16))

    @staticmethod
    def id_key(partition: bytes, value: int) -> bytes:
        """The storage form of a used id: partition prefix + encoded id."""
        return partition + encode_int(value)

    def allocate(self, partition: bytes, pending: set[bytes]) -> int:
        """A fresh id for `partition`; its id key is added to `pending` (to be stored with the batch).

        One id space per (project, database, namespace), whatever the kind or parent: whether production
        allocates per kind is UNCONFIRMED, and a single space never collides either way."""
        while True:
            value = self._rng.randint(1, MAX_ID)
            key = self.id_key(partition, value)
            if key not in pending and not self.storage.has_id(key):
                pending.add(key)
                return value
