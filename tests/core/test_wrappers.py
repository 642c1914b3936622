"""Request/Response wrappers: JSON parsing, size limits from config, routing info, response defaults."""

from __future__ import annotations

import io

import pytest
from werkzeug.exceptions import BadRequest

from framework import App, Request, Response, request


def _json_app(app: App) -> App:
    @app.post("/json")
    def json_view() -> dict:
        return {"got": request.get_json()}

    @app.post("/silent")
    def silent_view() -> dict:
        return {"got": request.get_json(silent=True)}

    @app.post("/force")
    def force_view() -> dict:
        return {"got": request.get_json(force=True)}

    return app


def test_get_json(app: App, client) -> None:
    _json_app(app)
    assert client.post("/json", json={"a": [1, 2]}).json == {"got": {"a": [1, 2]}}
    assert client.post("/force", data='{"b": 1}', content_type="text/plain").json == {"got": {"b": 1}}
    assert client.post("/silent", data="{nope", content_type="application/json").json == {"got": None}


def test_malformed_json_is_400_even_in_production(app: App) -> None:
    _json_app(app)
    app.config["TESTING"] = False
    client = app.test_client()
    rv = client.post("/json", data="{not json", content_type="application/json")
    assert rv.status_code == 400
    assert b"Traceback" not in rv.data
    rv = client.post("/json", data=b"\xff\xfe{", content_type="application/json")
    assert rv.status_code == 400


def test_wrong_content_type_is_415(app: App, client) -> None:
    _json_app(app)
    assert client.post("/json", data="{}", content_type="text/plain").status_code == 415
    assert client.post("/silent", data="{}", content_type="text/plain").json == {"got": None}


def test_get_json_cache(app: App) -> None:
    with app.test_request_context(method="POST", json={"x": 1}):
        first = request.get_json()
        assert request.get_json() is first
        assert request.json is first
    with app.test_request_context(method="POST", json={"x": 1}):
        assert request.get_json(cache=False) == {"x": 1}
        assert request.get_json(silent=True) is None  # not cached, and the body was consumed


def test_debug_json_error_is_detailed(app: App) -> None:
    app.debug = True
    with app.test_request_context(method="POST", data="{bad", content_type="application/json"):
        with pytest.raises(BadRequest) as info:
            request.get_json()
        assert "Failed to decode JSON" in info.value.description
    app.debug = False
    with app.test_request_context(method="POST", data="{bad", content_type="application/json"):
        with pytest.raises(BadRequest) as info:
            request.get_json()
        assert "Failed to decode JSON" not in info.value.description


def test_max_content_length_413(app: App, client) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.post("/upload")
    def upload() -> str:
        return str(len(request.get_data()))

    @app.post("/form")
    def form() -> str:
        return request.form.get("a", "")

    assert client.post("/upload", data=b"x" * 10).data == b"10"
    assert client.post("/upload", data=b"x" * 11).status_code == 413
    assert client.post("/form", data={"a": "y" * 50}).status_code == 413


def test_form_limits_from_config(app: App, client) -> None:
    app.config["MAX_FORM_MEMORY_SIZE"] = 1000
    app.config["MAX_FORM_PARTS"] = 3

    @app.post("/form")
    def form() -> str:
        return ",".join(sorted(request.form))

    assert client.post("/form", data={"a": "1", "b": "2"}, content_type="multipart/form-data").data == b"a,b"
    big = {"a": "z" * 5000}
    assert client.post("/form", data=big, content_type="multipart/form-data").status_code == 413
    many = {f"k{i}": "v" for i in range(10)}
    assert client.post("/form", data=many, content_type="multipart/form-data").status_code == 413


def test_per_request_limit_override(app: App) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10
    with app.test_request_context(method="POST", data=b"x" * 20):
        assert request.max_content_length == 10
        request.max_content_length = 100
        assert request.get_data() == b"x" * 20
    req = Request.from_values()
    assert req.max_content_length is None  # no app context: werkzeug's default


def test_request_routing_attributes(app: App, client) -> None:
    @app.route("/u/<int:id>")
    def user(id: int) -> dict:
        return {
            "endpoint": request.endpoint,
            "view_args": request.view_args,
            "rule": request.url_rule.rule,
            "blueprint": request.blueprint,
            "blueprints": request.blueprints,
        }

    assert client.get("/u/5").json == {
        "endpoint": "user", "view_args": {"id": 5}, "rule": "/u/<int:id>", "blueprint": None, "blueprints": [],
    }
    with app.test_request_context("/nowhere"):
        assert request.url_rule is None
        assert request.view_args is None
        assert request.endpoint is None
        assert request.routing_exception is not None
        assert request.routing_exception.code == 404


def test_blueprints_property() -> None:
    req = Request.from_values()
    assert req.blueprints == []

    class FakeRule:
        endpoint = "outer.inner.view"

    req.url_rule = FakeRule()  # type: ignore[assignment]
    assert req.blueprint == "outer.inner"
    assert req.blueprints == ["outer.inner", "outer"]


def test_response_defaults(app: App) -> None:
    rv = Response("hi")
    assert rv.mimetype == "text/html"
    assert rv.content_type == "text/html; charset=utf-8"
    rv = Response("x", headers={"Location": "/relative"}, status=302)
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SERVER_NAME": "h", "SERVER_PORT": "80",
               "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
    headers = rv.get_wsgi_headers(environ)
    assert headers["Location"] == "/relative"  # not made absolute
    assert Response().max_cookie_size == 4093
    app.config["MAX_COOKIE_SIZE"] = 100
    with app.app_context():
        assert Response().max_cookie_size == 100


def test_response_json(app: App, client) -> None:
    @app.route("/")
    def index() -> dict:
        return {"when": "now"}

    rv = client.get("/")
    assert rv.mimetype == "application/json"
    assert rv.json == {"when": "now"}
    assert rv.get_json() == {"when": "now"}


def test_debug_files_key_error_explains_enctype(app: App) -> None:
    from framework.wrappers import DebugFilesKeyError

    app.debug = True
    with app.test_request_context(method="POST", data={"upload": "photo.png"}):
        with pytest.raises(DebugFilesKeyError, match="multipart/form-data"):
            request.files["upload"]
        with pytest.raises(KeyError) as info:
            request.files["absent"]
        assert not isinstance(info.value, DebugFilesKeyError)
    app.debug = False
    with app.test_request_context(method="POST", data={"upload": "photo.png"}):
        with pytest.raises(KeyError) as info:
            request.files["upload"]
        assert not isinstance(info.value, DebugFilesKeyError)


def test_appengine_info_is_computed_once(app: App) -> None:
    with app.test_request_context():
        info = request.appengine
        assert info is request.appengine


@pytest.mark.parametrize(
    "extra",
    [{}, {"SERVER_PORT": "8080"}, {"SERVER_PORT": "x"}, {"SERVER_PORT": ""}, {"SERVER_NAME": None},
     {"PATH_INFO": "/caf\xc3\xa9", "SCRIPT_NAME": "/root/"}, {"REQUEST_METHOD": "post", "QUERY_STRING": "a=1"}],
)
def test_request_attributes_are_werkzeugs(extra: dict) -> None:
    from werkzeug.wrappers import Request as WerkzeugRequest

    from framework.wrappers import Request

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/p", "SERVER_NAME": "example.test", "SERVER_PORT": "80",
               "wsgi.url_scheme": "https", "REMOTE_ADDR": "10.0.0.1"}
    environ.update(extra)
    environ = {k: v for k, v in environ.items() if v is not None}
    ours, theirs = Request(dict(environ)), WerkzeugRequest(dict(environ))
    for name in ("method", "scheme", "server", "root_path", "path", "query_string", "remote_addr", "shallow"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert list(ours.headers.items()) == list(theirs.headers.items())


def test_request_constructor_attributes_can_be_set() -> None:
    from framework.wrappers import Request

    request = Request({"REQUEST_METHOD": "GET", "PATH_INFO": "/a", "REMOTE_ADDR": "10.0.0.1"})
    request.path, request.remote_addr = "/b", "10.0.0.2"  # as werkzeug allows; the value then stays
    assert (request.path, request.remote_addr) == ("/b", "10.0.0.2")
    assert request.headers is request.headers  # built once
