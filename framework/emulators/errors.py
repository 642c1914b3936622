"""The error every emulator service raises: a gRPC status code name and the message the real service answers.

Kept free of grpc so the services' modules stay cheap to import; grpc_handlers.py turns it into a status.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request failed with `code` (a grpc.StatusCode name such as "INVALID_ARGUMENT") and `message`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
