"""The runner's parts on their own: service addressing, handler matching, header rules, the in-app middleware."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from deploy.config.app_yaml import load_app_yaml
from deploy.config.dispatch_yaml import load_dispatch
from deploy.local.addressing import addressed_service, choose_service
from deploy.local.handlers import find_route, secure_redirect
from deploy.local.headers import downstream_headers, upstream_headers
from framework.adapters.appengine import TRUSTED_ENVIRON_KEY
from framework.adapters.front_end import LocalFrontEnd

SERVICES = ("default", "api", "worker")


def test_service_hostnames() -> None:
    assert addressed_service("api.localhost:8080", SERVICES) == "api"
    assert addressed_service("API.LOCALHOST", SERVICES) == "api"
    assert addressed_service("api-dot-proj.appspot.com", SERVICES) == "api"
    assert addressed_service("v2-dot-worker-dot-proj.uc.r.appspot.com", SERVICES) == "worker"
    assert addressed_service("proj.appspot.com", SERVICES) is None
    assert addressed_service("nosuch.localhost", SERVICES) is None
    assert addressed_service("127.0.0.1:8080", SERVICES) is None


def test_dispatch_never_takes_ah_paths(tmp_path: Path) -> None:
    (tmp_path / "dispatch.yaml").write_text('dispatch:\n- url: "*/*"\n  service: api\n')
    dispatch = load_dispatch(tmp_path / "dispatch.yaml")
    assert choose_service("localhost:8080", "/x", SERVICES, dispatch, "default") == ("api", "dispatch")
    assert choose_service("localhost:8080", "/_ah/warmup", SERVICES, dispatch, "default") == ("default", "default")
    assert choose_service("worker.localhost", "/x", SERVICES, dispatch, "default") == ("worker", "host")


def test_handlers_first_match_and_secure_never(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("app = None\n")
    (tmp_path / "app.yaml").write_text(
        "runtime: python312\nhandlers:\n"
        "- url: /plain/.*\n  secure: never\n  script: auto\n"
        "- url: /(.*)\\.txt\n  static_files: files/\\1.txt\n  upload: files/.*\\.txt\n"
        "- url: /.*\n  script: auto\n"
    )
    handlers = load_app_yaml(tmp_path / "app.yaml").handlers
    assert find_route(handlers, "/plain/a.txt", tmp_path).handler is handlers[0]  # first match wins
    route = find_route(handlers, "/docs/a.txt", tmp_path)
    assert route.is_static and route.file == tmp_path / "files" / "docs" / "a.txt"
    assert find_route(handlers, "/x.txtx", tmp_path).handler is handlers[2]  # anchored at both ends
    assert find_route(handlers, "/../main.txt", tmp_path).file is None
    redirect = secure_redirect(handlers[0], "https", "example.com", "/plain/x?q=1")
    assert redirect is not None and redirect.headers["Location"] == "http://example.com/plain/x"  # query dropped
    assert secure_redirect(handlers[0], "http", "example.com", "/plain/x") is None


def _incoming(**headers: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in headers.items()}))


def test_upstream_headers_strip_and_add() -> None:
    out = upstream_headers(_incoming(X_AppEngine_TaskName="t", X_Appengine_Cntry="kept", Host="h"),
                           client_ip="10.0.0.5", scheme="http", front_end_host="h", token="tok",
                           from_platform=False, timeout_ms=599999)
    assert "X-AppEngine-TaskName" not in out and out["X-Appengine-User-IP"] == "10.0.0.5"
    assert out["X-Appengine-Timeout-Ms"] == "599999" and out["X-Local-Platform-Token"] == "tok"
    platform = upstream_headers(_incoming(X_AppEngine_TaskName="t", X_AppEngine_QueueName="q"), client_ip="10.0.0.5",
                                scheme="http", front_end_host="h", token="tok", from_platform=True, timeout_ms=1)
    assert (platform["X-AppEngine-TaskName"], platform["X-AppEngine-QueueName"]) == ("t", "q")
    assert platform["X-Appengine-User-IP"] == "0.1.0.2"


def test_downstream_headers() -> None:
    raw = [(b"Connection", b"X-Private"), (b"X-Private", b"1"), (b"Date", b"x"), (b"X-Name", "caf\u00e9".encode()),
           (b"Set-Cookie", b"a=1"), (b"Content-Type", b"text/plain")]
    out = downstream_headers(raw)
    assert dict(out) == {"Set-Cookie": "a=1", "Content-Type": "text/plain", "Cache-Control": "private"}


def _call(middleware: LocalFrontEnd, environ: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(env)
        return [b""]

    middleware.app = app
    middleware(environ, lambda *a: None)
    return seen


def test_in_app_middleware_trusts_the_token_only() -> None:
    forged = {"HTTP_X_APPENGINE_CRON": "true", "HTTP_X_APPENGINE_USER_IP": "0.1.0.2", "REMOTE_ADDR": "127.0.0.1",
              "wsgi.url_scheme": "http", "HTTP_X_FORWARDED_PROTO": "https"}
    middleware = LocalFrontEnd(lambda e, s: [], token="secret")
    trusted = _call(middleware, {**forged, "HTTP_X_LOCAL_PLATFORM_TOKEN": "secret"})
    assert trusted["HTTP_X_APPENGINE_CRON"] == "true" and trusted["REMOTE_ADDR"] == "0.1.0.2"
    assert trusted["wsgi.url_scheme"] == "https" and trusted[TRUSTED_ENVIRON_KEY] is True
    assert "HTTP_X_LOCAL_PLATFORM_TOKEN" not in trusted
    for token in ("wrong", None):
        environ = dict(forged) if token is None else {**forged, "HTTP_X_LOCAL_PLATFORM_TOKEN": token}
        seen = _call(middleware, environ)
        assert "HTTP_X_APPENGINE_CRON" not in seen and seen["HTTP_X_APPENGINE_USER_IP"] == "127.0.0.1"
        assert seen["wsgi.url_scheme"] == "http" and "HTTP_X_LOCAL_PLATFORM_TOKEN" not in seen
    # No token configured (gunicorn run by hand): nothing a client sends is believed.
    seen = _call(LocalFrontEnd(lambda e, s: [], token=""), {**forged, "HTTP_X_LOCAL_PLATFORM_TOKEN": ""})
    assert "HTTP_X_APPENGINE_CRON" not in seen


def test_a_service_virtualenv_follows_the_files_its_requirements_include(tmp_path: Path) -> None:
    from deploy.local.venvs import venv_key

    (tmp_path / "requirements.txt").write_text("-r base.txt\nflask>=3,<4\n")
    (tmp_path / "base.txt").write_text("gunicorn>=23,<24\n")
    first = venv_key(tmp_path / "requirements.txt", add_gunicorn=False)
    assert venv_key(tmp_path / "requirements.txt", add_gunicorn=False) == first  # stable
    (tmp_path / "base.txt").write_text("gunicorn>=23,<24\nrequests>=2,<3\n")
    second = venv_key(tmp_path / "requirements.txt", add_gunicorn=False)
    assert second != first  # an included file changed
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("requirements.txt", "base.txt"):
        (tmp_path / name).rename(moved / name)
    assert venv_key(moved / "requirements.txt", add_gunicorn=False) == second  # the same files elsewhere
