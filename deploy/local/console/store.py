"""The console's Datastore side: namespaces, kinds with counts, pages of entities, edits, deletes, reset.

Everything goes through the real google-cloud-datastore client against the local emulator (its host from
the runner's environment), so the console sees exactly what the app sees.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import datastore

PAGE_SIZE = 25
# Each call gives up after this long and is not retried: an emulator that is down is a page saying so
# at once, not a page that hangs while the client backs off.
CALL: dict[str, Any] = {"retry": Retry(predicate=lambda exc: False), "timeout": 15.0}
DELETE_BATCH = 500
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")


class StoreError(Exception):
    """A Datastore request the console cannot make (no emulator, or the emulator refused); a readable reason."""


@dataclass(frozen=True)
class Page:
    entities: list[datastore.Entity]
    columns: list[str]
    next_cursor: str | None


class Store:
    """The emulator reached through the runner's environment (read when used: the emulator starts later)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._clients: dict[tuple[str, str], datastore.Client] = {}

    @property
    def host(self) -> str | None:
        return self._env.get("DATASTORE_EMULATOR_HOST") or None

    @property
    def project(self) -> str:
        return self._env.get("DATASTORE_PROJECT_ID") or self._env.get("GOOGLE_CLOUD_PROJECT") or "local-project"

    def client(self, database: str = "") -> datastore.Client:
        host = self.host
        if host is None:
            raise StoreError("no Datastore emulator is running (DATASTORE_EMULATOR_HOST is not set)")
        found = self._clients.get((host, database))
        if found is None:
            # An http:// endpoint makes the client use an insecure gRPC channel, as with DATASTORE_EMULATOR_HOST,
            # without changing the runner's own environment. When the runner was started with that variable
            # set (an emulator of the user's, which the runner then reuses), the client takes it by itself and
            # refuses explicit credentials.
            own = os.environ.get("DATASTORE_EMULATOR_HOST")
            found = datastore.Client(project=self.project, database=database or None,
                                     credentials=None if own else AnonymousCredentials(),
                                     client_options={"api_endpoint": f"http://{host}"})
            self._clients[(host, database)] = found
        return found

    def namespaces(self, database: str = "") -> list[str]:
        query = self.client(database).query(kind="__namespace__")
        query.keys_only()
        names = []
        for entity in query.fetch(**CALL):
            ident = entity.key.id_or_name
            names.append("" if ident in (1, None) else str(ident))
        return sorted(set(names) | {""})

    def kinds(self, namespace: str, database: str = "") -> list[tuple[str, int]]:
        client = self.client(database)
        query = client.query(kind="__kind__", namespace=namespace or None)
        query.keys_only()
        names = sorted(str(e.key.id_or_name) for e in query.fetch(**CALL) if not str(e.key.id_or_name).startswith("__"))
        return [(name, self.count(name, namespace, database)) for name in names]

    def count(self, kind: str, namespace: str, database: str = "") -> int:
        client = self.client(database)
        query = client.query(kind=kind, namespace=namespace or None)
        result = list(client.aggregation_query(query).count(alias="n").fetch(**CALL))
        return int(result[0][0].value) if result and result[0] else 0

    def page(self, kind: str, namespace: str, database: str = "", *, prop: str = "", op: str = "=",
             value: Any = None, order: str = "", cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
        client = self.client(database)
        query = client.query(kind=kind, namespace=namespace or None)
        if prop:
            query.add_filter(filter=datastore.query.PropertyFilter(prop, op, value))
        if order:
            query.order = [order]
        iterator = query.fetch(limit=size, start_cursor=cursor.encode() if cursor else None, **CALL)
        entities = list(next(iterator.pages, []))
        token = iterator.next_page_token
        more = len(entities) == size and token is not None
        columns = sorted({name for entity in entities for name in entity})
        return Page(entities, columns, token.decode() if more and isinstance(token, bytes) else None)

    def get(self, key: datastore.Key) -> datastore.Entity | None:
        return self.client(key.database or "").get(key, **CALL)

    def put(self, entity: datastore.Entity) -> None:
        self.client(entity.key.database or "").put(entity, **CALL)

    def delete(self, key: datastore.Key) -> None:
        self.client(key.database or "").delete(key, **CALL)

    def delete_kind(self, kind: str, namespace: str, database: str = "") -> int:
        """Delete every entity of a kind (keys-only pages, batched deletes); how many were deleted."""
        client = self.client(database)
        deleted = 0
        while True:
            query = client.query(kind=kind, namespace=namespace or None)
            query.keys_only()
            keys = [e.key for e in query.fetch(limit=DELETE_BATCH, **CALL)]
            if not keys:
                return deleted
            client.delete_multi(keys, **CALL)
            deleted += len(keys)

    def reset(self) -> None:
        """Empty the whole store (every project, database and namespace): the emulator's POST /reset."""
        if self.host is None:
            raise StoreError("no Datastore emulator is running (DATASTORE_EMULATOR_HOST is not set)")
        request = urllib.request.Request(f"http://{self.host}/reset", data=b"", method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=30) as response:
                response.read()
        except OSError as exc:
            raise StoreError(f"the emulator did not reset: {exc}") from None
