"""app.yaml `handlers:` (platform-facts §5.2): compiled as App Engine anchors them, and every rule's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.config.app_yaml import load_app_yaml

from .helpers import assert_one_error, errors, warnings, write

HEAD = "runtime: python313\nentrypoint: gunicorn -b :$PORT main:app\nhandlers:\n"  # handlers start on line 4


def app(tmp_path: Path, handlers: str) -> Path:
    (tmp_path / "static").mkdir(exist_ok=True)
    return write(tmp_path, "app.yaml", HEAD + handlers)


def test_url_is_matched_against_the_whole_path(tmp_path: Path) -> None:
    handler = load_app_yaml(app(tmp_path, "- url: /api/.*\n  script: auto\n")).handlers[0]
    assert handler.match("/api/users")
    assert not handler.match("/v1/api/users")  # anchored at the start
    short = load_app_yaml(app(tmp_path, "- url: /api\n  script: auto\n")).handlers[0]
    assert short.match("/api") and not short.match("/api/x")  # and at the end
    dotted = load_app_yaml(app(tmp_path, "- url: .*/favicon\\.ico\n  script: auto\n")).handlers[0]
    assert dotted.match("/a/favicon.ico") and not dotted.match("/a/favicon.icon")
    alternation = load_app_yaml(app(tmp_path, "- url: /a|/b\n  script: auto\n")).handlers[0]
    assert alternation.match("/b") and not alternation.match("/a/b")


def test_static_dir_url_is_a_prefix_and_maps_to_the_folder(tmp_path: Path) -> None:
    handler = load_app_yaml(app(tmp_path, "- url: /assets/\n  static_dir: static\n")).handlers[0]
    match = handler.match("/assets/css/site.css")
    assert match and handler.file_for(match) == "static/css/site.css"
    assert not handler.match("/assetsX/a") and not handler.match("/x/assets/a")
    assert handler.upload and handler.upload.fullmatch("static/css/site.css")


def test_static_files_substitutes_url_groups(tmp_path: Path) -> None:
    text = "- url: /(.*)/img/(.*\\.png)\n  static_files: static/\\1/\\2\n  upload: static/.*\\.png\n"
    handler = load_app_yaml(app(tmp_path, text)).handlers[0]
    match = handler.match("/blog/img/cat.png")
    assert match and handler.file_for(match) == "static/blog/cat.png"
    assert handler.upload.fullmatch("static/blog/cat.png") and not handler.upload.fullmatch("static/a.jpg")


def test_handler_settings_are_read(tmp_path: Path) -> None:
    text = """\
- url: /files/(.*)
  static_files: static/\\1
  upload: static/.*
  mime_type: text/plain
  expiration: "2h 30m"
  require_matching_file: true
  http_headers:
    X-Frame-Options: DENY
    Access-Control-Allow-Origin: https://example.com
  login: admin
  auth_fail_action: unauthorized
  secure: never
  redirect_http_response_code: 307
- url: /.*
  script: auto
"""
    handler = load_app_yaml(app(tmp_path, text)).handlers[0]
    assert handler.mime_type == "text/plain" and handler.expiration == 9000 and handler.require_matching_file
    assert handler.http_headers == (("X-Frame-Options", "DENY"),
                                    ("Access-Control-Allow-Origin", "https://example.com"))
    assert (handler.login, handler.auth_fail_action, handler.secure) == ("admin", "unauthorized", "never")
    assert handler.redirect_http_response_code == 307 and handler.line == 4


@pytest.mark.parametrize(("text", "line", "words"), [
    ("- url: ^/x\n  script: auto\n", 4, "starts with ^"),
    ("- url: x/y\n  script: auto\n", 4, "does not start with /"),
    ("- url: /(unclosed\n  script: auto\n", 4, "not a valid regular expression"),
    ("- script: auto\n", 4, "has no url"),
    ("- url: /x\n", 4, "none of script, static_dir, static_files"),
    ("- url: /x\n  script: auto\n  static_dir: static\n", 6, "only one of"),
    ("- url: /x\n  script: main.app\n", 5, "accept only `auto`"),
    ("- url: /x/(.*)\n  static_dir: static\n", 4, "plain prefix"),
    ("- url: /x\n  static_files: static/a.txt\n", 5, "needs an upload"),
    ("- url: /x\n  static_files: static/a\n  upload: static/(\n", 6, "not a valid regular expression"),
    ("- url: /(.*)\n  static_files: static/\\2\n  upload: static/.*\n", 5, "uses \\2"),
    ("- url: /x\n  script: auto\n  mime_type: text/html\n", 6, "not allowed in a script handler"),
    ("- url: /x\n  script: auto\n  upload: .*\n", 6, "not allowed in a script handler"),
    ("- url: /x\n  static_dir: static\n  upload: static/.*\n", 6, "not allowed in a static_dir handler"),
    ("- url: /x\n  script: auto\n  securee: always\n", 6, "unknown key 'securee'"),
    ("- url: /x\n  script: auto\n  application_readable: true\n", 6, "application_readable"),
    ("- url: /x\n  script: auto\n  secure: sometimes\n", 6, "secure is"),
    ("- url: /x\n  script: auto\n  login: everyone\n", 6, "login is"),
    ("- url: /x\n  script: auto\n  auth_fail_action: deny\n", 6, "auth_fail_action is"),
    ("- url: /x\n  script: auto\n  redirect_http_response_code: 308\n", 6, "redirect_http_response_code"),
    ("- url: /x\n  static_dir: static\n  mime_type: html\n", 6, "not TYPE/SUBTYPE"),
    ("- url: /x\n  static_dir: static\n  expiration: 1w\n", 6, "not a duration"),
    ("- url: /x\n  static_dir: static\n  require_matching_file: perhaps\n", 6, "true or false"),
    ("- url: /x\n  static_dir: /etc\n", 5, "outside the service folder"),
    ("- url: /x\n  static_dir: ../other\n", 5, "outside the service folder"),
])
def test_handler_rules(tmp_path: Path, text: str, line: int, words: str) -> None:
    assert_one_error(load_app_yaml, app(tmp_path, text), line, words)


@pytest.mark.parametrize(("header", "words"), [
    ("Content-Length: '10'", "may not set 'Content-Length'"),
    ("X-AppEngine-Country: US", "may not set"),
    ("Host: example.com", "may not set"),
    ("Connection: close", "may not set"),
    ("If-None-Match: abc", "may not set"),
    ("Server: mine", "may not set"),
    ("Bad Name: x", "not a valid header name"),
    ("X-Long: " + "a" * 490, "must stay under 500"),  # `X-Long: ` (8) + 490 + CRLF (2) = 500
    ("Cookie-Policy: x", None),
    ("Content-Type: text/plain", "also has mime_type"),
])
def test_http_headers_rules(tmp_path: Path, header: str, words: str | None) -> None:
    text = f"- url: /x\n  static_dir: static\n  mime_type: text/html\n  http_headers:\n    {header}\n"
    if words is None:
        assert errors(load_app_yaml, app(tmp_path, text)) == []
    else:
        assert_one_error(load_app_yaml, app(tmp_path, text), 8, words)


def test_the_longest_plain_header_line_passes(tmp_path: Path) -> None:
    text = "- url: /x\n  static_dir: static\n  http_headers:\n    X-Long: " + "a" * 487 + "\n"
    assert errors(load_app_yaml, app(tmp_path, text)) == []


def test_http_headers_with_their_own_size_limits(tmp_path: Path) -> None:
    csp = "default-src " + "a" * 5000
    text = f"- url: /x\n  static_dir: static\n  http_headers:\n    Content-Security-Policy: {csp}\n"
    assert errors(load_app_yaml, app(tmp_path, text)) == []
    cookie = "a=" + "b" * 4094
    text = f"- url: /x\n  static_dir: static\n  http_headers:\n    Set-Cookie: {cookie}\n"
    assert errors(load_app_yaml, app(tmp_path, text)) == []
    text = f"- url: /x\n  static_dir: static\n  http_headers:\n    Set-Cookie: {cookie}b\n"
    assert_one_error(load_app_yaml, app(tmp_path, text), 7, "the limit is 4096")


def test_at_most_100_handlers(tmp_path: Path) -> None:
    ok = "".join(f"- url: /p{i}\n  script: auto\n" for i in range(100))
    assert errors(load_app_yaml, app(tmp_path, ok)) == []
    too_many = ok + "- url: /last\n  script: auto\n"
    assert_one_error(load_app_yaml, app(tmp_path, too_many), 4 + 200, "101 handlers")


def test_static_dir_that_does_not_exist_is_a_warning(tmp_path: Path) -> None:
    path = app(tmp_path, "- url: /s\n  static_dir: missing\n- url: /.*\n  script: auto\n")
    assert errors(load_app_yaml, path) == []
    assert [line for line, _ in warnings(load_app_yaml, path)] == [5]


def test_only_static_handlers_without_an_app_is_refused(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    path = write(tmp_path, "app.yaml", "runtime: python313\nhandlers:\n- url: /s\n  static_dir: static\n")
    assert_one_error(load_app_yaml, path, 2, "only static handlers and no app")
    (tmp_path / "main.py").write_text("app = None\n")
    assert errors(load_app_yaml, path) == []
    assert [line for line, _ in warnings(load_app_yaml, path)] == [2]  # no catch-all: unconfirmed routing


@pytest.mark.parametrize(("text", "line"), [
    ("- url: /(.*)\n  static_files: \\1\n  upload: .*\n", 6),
    ("- url: /files\n  static_dir: .\n", 5),
])
def test_static_handlers_that_would_take_the_code_are_warnings(tmp_path: Path, text: str, line: int) -> None:
    path = app(tmp_path, text + "- url: /.*\n  script: auto\n")
    assert errors(load_app_yaml, path) == []
    assert [found for found, _ in warnings(load_app_yaml, path)] == [line]


def test_a_misspelt_handler_kind_gets_one_did_you_mean(tmp_path: Path) -> None:
    problem = assert_one_error(load_app_yaml, app(tmp_path, "- url: /s\n  static_dirs: static\n"), 5,
                               "unknown key 'static_dirs'")
    assert "static_dir" in problem.fix


@pytest.mark.parametrize(("url", "words"), [("(/x)$", "ends with $"), ("/form", "reserved")])
def test_url_warnings(tmp_path: Path, url: str, words: str) -> None:
    path = app(tmp_path, f"- url: {url}\n  script: auto\n")
    assert errors(load_app_yaml, path) == []
    assert [(line, words in message) for line, message in warnings(load_app_yaml, path)] == [(4, True)]


def test_googles_sample_url_with_a_trailing_dollar_passes_unchanged(tmp_path: Path) -> None:
    # From the app.yaml reference's static_files example.
    path = app(tmp_path, "- url: /(.*\\.(gif|png|jpg))$\n  static_files: static/\\1\n"
               "  upload: static/.*\\.(gif|png|jpg)$\n- url: /.*\n  script: auto\n")
    assert errors(load_app_yaml, path) == [] and warnings(load_app_yaml, path) == []
