"""dispatch.yaml (platform-facts §5.5): rules compiled as production matches them, and every rule's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.config.dispatch_yaml import load_dispatch

from .helpers import assert_one_error, errors, problems, warnings, write

SAMPLE = """
dispatch:
- url: "*/api/*"          # [*]host/path[*] ; quotes recommended
  service: api
- url: "admin.example.com/*"
  service: admin
"""


def test_the_sample_of_the_platform_facts_passes_and_routes(tmp_path: Path) -> None:
    path = write(tmp_path, "dispatch.yaml", SAMPLE)
    dispatch = load_dispatch(path)
    assert problems(load_dispatch, path) == []
    assert [(r.service, r.line) for r in dispatch.rules] == [("api", 2), ("admin", 4)]
    assert dispatch.service_for("anything.example.org", "/api/users") == "api"
    assert dispatch.service_for("admin.example.com:8080", "/") == "admin"
    assert dispatch.service_for("ADMIN.example.com", "/x") == "admin"  # hosts compare in lower case
    assert dispatch.service_for("www.example.com", "/") is None
    assert dispatch.service_for("admin.example.com", "/_ah/warmup") is None  # never dispatched


def test_first_match_wins_and_matching_is_exact_without_a_star(tmp_path: Path) -> None:
    dispatch = load_dispatch(write(tmp_path, "dispatch.yaml", """
        dispatch:
        - url: "*.example.com/exact"
          service: one
        - url: "*/exact*"
          service: two
        """))
    assert dispatch.service_for("a.example.com", "/exact") == "one"
    assert dispatch.service_for("example.com", "/exact") == "two"  # `*.example.com` needs a subdomain
    assert dispatch.service_for("a.example.com", "/exact/more") == "two"
    assert dispatch.service_for("a.example.com", "/other") is None


def test_an_empty_list_removes_every_rule(tmp_path: Path) -> None:
    assert load_dispatch(write(tmp_path, "dispatch.yaml", "dispatch: []\n")).rules == ()


@pytest.mark.parametrize(("url", "words"), [
    ("api.example.com", "has no path part"),
    ("/api/*", "has no host part"),
    ("api.*.com/*", "`*` inside the host"),
    ("*/a*b", "`*` inside the path"),
    ("10.0.0.1/*", "IPv4 address"),
    ("*/" + "a" * 100, "the limit is 100"),
    ("h" * 101 + "/x", "the limit is 100"),
    ("example.com:8080/*", "invalid host"),
    ("Admin.example.com/*", "invalid host"),
    ("-a.example.com/*", "invalid host"),
    ("a..example.com/*", "invalid host"),
    ("*..example.com/*", "invalid host"),
    ("*example-/*", "invalid host"),
])
def test_url_rules(tmp_path: Path, url: str, words: str) -> None:
    path = write(tmp_path, "dispatch.yaml", f'dispatch:\n- service: api\n  url: "{url}"\n')
    assert_one_error(load_dispatch, path, 3, words)


@pytest.mark.parametrize(("text", "line", "words"), [
    ("dispatch:\n- url: '*/a'\n  service: Bad_Name\n", 3, "not a valid service id"),
    ("dispatch:\n- url: '*/a'\n", 2, "has no service"),
    ("dispatch:\n- service: api\n", 2, "has no url"),
    ("dispatch:\n- url: '*/a'\n  service: api\n  servce: x\n", 4, "unknown key 'servce'"),
    ("application: my-app\ndispatch: []\n", 1, "`application:` is not allowed"),
    ("rules: []\n", 1, "has no `dispatch:` list"),
    ("dispatch: {url: x}\n", 1, "must be a list"),
])
def test_rule_shape(tmp_path: Path, text: str, line: int, words: str) -> None:
    found = errors(load_dispatch, write(tmp_path, "dispatch.yaml", text))
    assert (line, True) in [(n, words in m) for n, m in found], found


def test_at_most_20_rules(tmp_path: Path) -> None:
    rules = "".join(f'- url: "*/p{i}/*"\n  service: s{i}\n' for i in range(20))
    assert errors(load_dispatch, write(tmp_path, "dispatch.yaml", "dispatch:\n" + rules)) == []
    path = write(tmp_path, "dispatch.yaml", "dispatch:\n" + rules + '- url: "*/last"\n  service: s\n')
    assert_one_error(load_dispatch, path, 42, "21 dispatch rules")


def test_dash_dot_host_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "dispatch.yaml", 'dispatch:\n- url: "api-dot-my-app.appspot.com/*"\n  service: api\n')
    assert errors(load_dispatch, path) == []
    assert [line for line, _ in warnings(load_dispatch, path)] == [2]


def test_a_repeated_url_never_matches_and_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "dispatch.yaml", """
        dispatch:
        - url: "*/a/*"
          service: one
        - url: "*/a/*"
          service: two
        """)
    assert errors(load_dispatch, path) == []
    assert warnings(load_dispatch, path) == [(4, "the url '*/a/*' is already dispatched on line 2; this rule "
                                                 "never matches")]


@pytest.mark.parametrize("url", ["*/x", "*-staging.example.com/x", "*.example.com/x", "*example.com/x",
                                 "*-a/x", "api.example.com/x", "*10.0.0.1/x", "256.1.1.1/x", "a-b.c-d.e/x"])
def test_host_patterns_the_sdk_accepts(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, "dispatch.yaml", f'dispatch:\n- url: "{url}"\n  service: api\n')
    assert problems(load_dispatch, path) == []


def test_a_rule_for_ah_paths_has_no_effect_and_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "dispatch.yaml", 'dispatch:\n- url: "*/_ah/*"\n  service: api\n'
                 '- url: "*/_ahx/*"\n  service: api\n- url: "*/*"\n  service: api\n')
    assert errors(load_dispatch, path) == []
    [(line, message)] = warnings(load_dispatch, path)  # `*/*` also catches other paths: no warning
    assert line == 2 and "never dispatches" in message
