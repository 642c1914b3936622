"""Request parsing parity: JSON (force/silent/malformed/wrong type), forms, multipart, files, limits."""

from __future__ import annotations

import io
from types import ModuleType

from .diff import both, call


def _json(fw: ModuleType):
    app = fw.Flask("req")

    @app.post("/json")
    def j() -> object:
        return {"got": fw.request.get_json(), "is_json": fw.request.is_json}

    @app.post("/force")
    def force() -> object:
        return {"got": fw.request.get_json(force=True)}

    @app.post("/silent")
    def silent() -> object:
        return {"got": fw.request.get_json(silent=True)}

    @app.post("/prop")
    def prop() -> object:
        return {"got": fw.request.json}

    return app


def test_get_json_variants() -> None:
    rv = both(_json, [
        call("POST", "/json", json={"a": [1, 2]}),
        call("POST", "/json", data="{bad", content_type="application/json"),
        call("POST", "/json", data='{"a": 1}', content_type="text/plain"),
        call("POST", "/force", data='{"a": 1}', content_type="text/plain"),
        call("POST", "/force", data="nope", content_type="text/plain"),
        call("POST", "/silent", data="{bad", content_type="application/json"),
        call("POST", "/silent", data="x", content_type="text/plain"),
        call("POST", "/prop", data="[1]", content_type="application/vnd.api+json"),
        call("POST", "/json", data=b"\xff\xfe", content_type="application/json"),
        call("POST", "/json", data="", content_type="application/json"),
    ])
    assert rv[1][0] == 400 and rv[2][0] == 415 and rv[3][0] == 200


def _forms(fw: ModuleType):
    app = fw.Flask("req")

    @app.route("/form", methods=["GET", "POST"])
    def form() -> object:
        r = fw.request
        files = {k: [f.filename, f.content_type, f.read().decode()] for k, f in r.files.items(multi=True)}
        return {"args": r.args.to_dict(flat=False), "form": r.form.to_dict(flat=False), "files": files,
                "values": r.values.to_dict(flat=False), "data": r.get_data(as_text=True),
                "mimetype": r.mimetype}

    @app.post("/key")
    def key() -> str:
        return fw.request.form["missing"]

    @app.get("/argkey")
    def argkey() -> str:
        return fw.request.args["missing"]

    return app


def test_forms_files_args() -> None:
    rv = both(_forms, [
        call("GET", "/form?a=1&a=2&b=%20"),
        call("POST", "/form?q=1", data={"x": "1", "y": ["2", "3"]}),
        call("POST", "/form", data={"f": (io.BytesIO(b"hello"), "h.txt", "text/plain"), "n": "v"}),
        call("POST", "/form", data="raw body", content_type="text/plain"),
        call("POST", "/key", data={"x": "1"}),
        call("GET", "/argkey"),
        call("POST", "/form", data=b"--x\r\nbroken", content_type="multipart/form-data; boundary=x"),
        call("POST", "/form", data=b"a", content_type="multipart/form-data"),
    ])
    assert rv[4][0] == 400 and rv[5][0] == 400


def _limits(fw: ModuleType):
    app = fw.Flask("req")
    app.config.update(MAX_CONTENT_LENGTH=100, MAX_FORM_MEMORY_SIZE=20, MAX_FORM_PARTS=3)

    @app.post("/")
    def index() -> object:
        return {"form": fw.request.form.to_dict(), "n": len(fw.request.files)}

    @app.post("/raw")
    def raw() -> str:
        return str(len(fw.request.get_data()))

    @app.post("/per")
    def per() -> str:
        fw.request.max_content_length = 5
        return str(len(fw.request.get_data()))

    return app


def test_size_limits() -> None:
    rv = both(_limits, [
        call("POST", "/", data={"a": "x" * 10}),
        call("POST", "/", data={"a": "x" * 200}),
        call("POST", "/raw", data="x" * 101, content_type="text/plain"),
        call("POST", "/raw", data="x" * 100, content_type="text/plain"),
        call("POST", "/", data={"a": "x" * 30, "f": (io.BytesIO(b"z"), "z.txt")}, content_type="multipart/form-data"),
        call("POST", "/", data={"a": "1", "b": "2", "c": "3", "d": "4"}, content_type="multipart/form-data"),
        call("POST", "/", data={"a": "x" * 30}, content_type="multipart/form-data"),
        call("POST", "/per", data="123456", content_type="text/plain"),
    ])
    assert rv[1][0] == 413 and rv[2][0] == 413 and rv[3][0] == 200
    assert rv[5][0] == 413 and rv[6][0] == 413


def _request_attrs(fw: ModuleType):
    app = fw.Flask("req")

    @app.route("/a/<x>", endpoint="ep")
    def attrs(x: str) -> object:
        r = fw.request
        return {"endpoint": r.endpoint, "view_args": r.view_args, "blueprint": r.blueprint,
                "blueprints": r.blueprints, "rule": r.url_rule.rule, "url": r.url, "base_url": r.base_url,
                "script_root": r.script_root, "max_content_length": r.max_content_length,
                "max_form_memory_size": r.max_form_memory_size, "max_form_parts": r.max_form_parts}

    return app


def test_request_attributes() -> None:
    rv = both(_request_attrs, [call("GET", "/a/1?q=2")])
    assert b'"endpoint":"ep"' in rv[0][2]
