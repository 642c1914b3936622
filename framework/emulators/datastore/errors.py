"""Errors the emulator answers with: a gRPC status code name and the real service's message."""

from __future__ import annotations

from ..errors import ServiceError


class DatastoreError(ServiceError):
    """A request failed with `code` (a grpc.StatusCode name such as "INVALID_ARGUMENT")."""


def invalid(message: str) -> DatastoreError:
    """INVALID_ARGUMENT: the request itself is wrong."""
    return DatastoreError("INVALID_ARGUMENT", message)


def not_found(message: str) -> DatastoreError:
    return DatastoreError("NOT_FOUND", message)


def already_exists(message: str) -> DatastoreError:
    return DatastoreError("ALREADY_EXISTS", message)


def unimplemented(message: str) -> DatastoreError:
    """UNIMPLEMENTED: a valid request this emulator does not support yet (clients do not retry it)."""
    return DatastoreError("UNIMPLEMENTED", message)


CONTENTION_MESSAGE = (
    "Aborted due to cross-transaction contention. This occurs when multiple transactions attempt to "
    "access the same data, requiring Firestore to abort at least one in order to enforce serializability."
)
EXPIRED_TRANSACTION = "The referenced transaction has expired or is no longer valid."


def aborted() -> DatastoreError:
    """ABORTED: a transaction lost against a concurrent commit (clients retry the whole transaction)."""
    return DatastoreError("ABORTED", CONTENTION_MESSAGE)


def expired_transaction() -> DatastoreError:
    return DatastoreError("INVALID_ARGUMENT", EXPIRED_TRANSACTION)
