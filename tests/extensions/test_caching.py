"""Flask-Caching (SimpleCache) on framework.App: a cached view runs once per key, and with
query_string=True the key is the query string (the order of its arguments does not matter)."""

from __future__ import annotations

from types import ModuleType


def test_cached_view_runs_once_per_query_string(site: ModuleType) -> None:
    client = site.app.test_client()
    first = client.get("/api/report?year=2024&q=a").get_json()
    again = client.get("/api/report?q=a&year=2024").get_json()
    assert first == again == {"pid": first["pid"], "run": 1, "args": {"year": "2024", "q": "a"}}
    other = client.get("/api/report?year=2025").get_json()
    assert other["run"] == 2 and other["args"] == {"year": "2025"}
    assert client.get("/api/report?year=2024&q=a").get_json()["run"] == 1
    assert client.get("/api/runs").get_json() == {"report": 2}


def test_cache_is_per_app(site: ModuleType) -> None:
    from .conftest import load_site

    client = site.app.test_client()
    client.get("/api/report?x=1")
    other_site = load_site()
    assert other_site.app.test_client().get("/api/report?x=1").get_json()["run"] == 1
    assert client.get("/api/report?x=1").get_json()["run"] == 1


def test_cache_api_in_an_app_context(site: ModuleType) -> None:
    with site.app.app_context():
        site.cache.set("k", {"v": 1})
        assert site.cache.get("k") == {"v": 1}
        calls = []

        @site.cache.memoize(60)
        def square(n: int) -> int:
            calls.append(n)
            return n * n

        assert square(3) == square(3) == 9
        assert calls == [3]
