"""Parity probes of single API calls: JSON providers and tags, request contexts, config loaders,
logging, teardown and view registration details. Each probe runs once per package through `same`."""

from __future__ import annotations

import datetime
import decimal
import importlib
import logging
import typing as t
from types import ModuleType

import pytest

from .diff import errors as _errors
from .diff import same


def test_custom_json_provider() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        provider = importlib.import_module(f"{fw.__name__}.json.provider")

        class SetProvider(provider.DefaultJSONProvider):
            sort_keys = False

            @staticmethod
            def default(o: t.Any) -> t.Any:
                if isinstance(o, set):
                    return sorted(o)
                return provider.DefaultJSONProvider.default(o)

        class MyApp(fw.Flask):
            json_provider_class = SetProvider

        app = MyApp("p")
        with app.test_request_context():
            return [fw.jsonify({"s": {3, 1}, "b": 1}).get_data(), app.json.dumps({"z": 1, "a": 2}),
                    app.json.response(1, 2).get_data(), app.json.loads("[1]")]

    assert same(probe)[1][0] == b'{"s":[1,3],"b":1}\n'


def test_jsonify_needs_an_app_context() -> None:
    def probe(fw: ModuleType) -> object:
        try:
            fw.jsonify(1)
        except RuntimeError as e:
            return "application context" in str(e)
        return "no error"

    assert same(probe) == ("ok", True)


def test_register_custom_tag() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        tag = importlib.import_module(f"{fw.__name__}.json.tag")

        class TagComplex(tag.JSONTag):
            __slots__ = ("serializer",)
            key = " cx"

            def check(self, value: t.Any) -> bool:
                return isinstance(value, complex)

            def to_json(self, value: complex) -> t.Any:
                return [value.real, value.imag]

            def to_python(self, value: t.Any) -> complex:
                return complex(*value)

        s = tag.TaggedJSONSerializer()
        s.register(TagComplex, index=0)
        dumped = s.dumps({"c": 1 + 2j})
        return [dumped, s.loads(dumped), _errors(lambda: s.register(TagComplex)), [x.key for x in s.order][:2]]

    assert same(probe)[1][2] == ["KeyError"]


def test_client_json_and_session_transaction_without_key() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("c")
        app.json.sort_keys = False
        app.add_url_rule("/", "i", lambda: fw.request.get_data(), methods=["POST"])
        c = app.test_client()
        rv = c.post("/", json={"z": datetime.date(2020, 1, 1), "a": decimal.Decimal("1.5")})

        def transaction() -> None:
            with c.session_transaction():
                pass

        return [rv.data, _errors(transaction)]

    assert same(probe)[1] == [b'{"z": "Wed, 01 Jan 2020 00:00:00 GMT", "a": "1.5"}', ["RuntimeError"]]


def test_test_request_context_variants() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("r")
        app.config["SERVER_NAME"] = "s.test"
        out: list[t.Any] = []
        with app.test_request_context("/a", subdomain="api", url_scheme="https"):
            out += [fw.request.url, fw.request.host]
        with app.test_request_context("/b", base_url="http://x.test/root/"):
            out += [fw.request.url, fw.request.script_root]
        with app.test_request_context(json={"a": 1}, method="PUT", headers={"X-A": "1"}):
            out += [fw.request.json, fw.request.method, fw.request.headers["X-A"], fw.request.content_type]
        return out

    assert same(probe)[1][:2] == ["https://api.s.test/a", "api.s.test"]


def test_logger() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask(f"logme_{fw.__name__}")  # loggers are global by name: one per side
        logger = app.logger
        out = [logger.name.replace(fw.__name__, "pkg"), logger.level, logger.propagate, len(logger.handlers)]
        app.debug = True
        out.append(app.logger.level)
        return out

    assert same(probe)[1][:3] == ["logme_pkg", 0, True]  # handler count depends on root handlers (pytest)


def test_teardown_chain_stops_at_raising_callback() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("t")
        log: list[str] = []
        app.teardown_request(lambda e: log.append("registered first, runs last"))

        def boom(e: BaseException | None) -> None:
            raise RuntimeError("teardown failed")

        app.teardown_request(boom)
        app.add_url_rule("/", "i", lambda: "x")
        return [_errors(lambda: app.test_client().get("/")), log]

    assert same(probe)[1] == [["RuntimeError"], []]


def test_should_ignore_error_is_honoured() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        class IgnoringApp(fw.Flask):
            def should_ignore_error(self, error: BaseException | None) -> bool:
                return True

        app = IgnoringApp("i")
        seen: list[str] = []
        app.teardown_request(lambda e: seen.append(repr(e)))
        app.config["PROPAGATE_EXCEPTIONS"] = False
        app.add_url_rule("/", "i", lambda: 1 / 0)
        return [app.test_client().get("/").status_code, seen]

    assert same(probe)[1] == [500, ["None"]]


def test_config_from_object_string_and_mapping() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("c")
        app.config.from_object("datetime")
        c = app.config
        return ["MINYEAR" in c, c["MINYEAR"], c.from_mapping(None), sorted(c.get_namespace("SESSION_COOKIE_"))]

    assert same(probe)[1][:2] == [True, 1]


def test_from_prefixed_env_custom_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARITYPX_A", "[1")
    monkeypatch.setenv("PARITYPX_B", "1")

    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("c")
        app.config.from_prefixed_env("PARITYPX", loads=lambda v: v + "!")
        return [app.config["A"], app.config["B"]]

    assert same(probe)[1] == ["[1!", "1!"]


def test_view_methods_collection() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        views = importlib.import_module(f"{fw.__name__}.views")

        class A(views.MethodView):
            def get(self) -> str:
                return "a"

            def post(self) -> str:
                return "a"

        class B(A):
            methods = ["PUT"]

            def delete(self) -> str:
                return "b"

        class C(views.View):
            methods = ["get"]

            def dispatch_request(self) -> str:
                return "c"

        app = fw.Flask("m")
        app.add_url_rule("/c", view_func=C.as_view("c"))
        rule = next(app.url_map.iter_rules("c"))
        return [sorted(A.methods), sorted(B.methods), sorted(rule.methods)]

    assert same(probe)[1][0] == ["GET", "POST"]


def test_add_url_rule_arguments() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("rk")
        out: list[t.Any] = _errors(
            lambda: app.add_url_rule("/x0", "e0", lambda: "", methods="GET"),
            lambda: app.add_url_rule("/x1", "e1", lambda: "", provide_automatic_options=False),
            lambda: app.route("/g", methods=["GET"])(lambda: ""),
            lambda: app.route("/g2")(lambda: ""),
        )

        def f() -> str:
            return ""

        f.methods = ["POST"]  # type: ignore[attr-defined]
        f.required_methods = ["PATCH"]  # type: ignore[attr-defined]
        f.provide_automatic_options = False  # type: ignore[attr-defined]
        app.add_url_rule("/f", view_func=f)
        out.append(sorted(next(app.url_map.iter_rules("f")).methods))
        return out

    assert same(probe)[1] == ["TypeError", "ok", "ok", "AssertionError", ["PATCH", "POST"]]


def test_null_session_without_secret_key() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("n")
        with app.test_request_context():
            s = fw.session
            return [type(s).__name__, s.get("x"), s.permanent, s.new, s.modified,
                    *_errors(lambda: s.__setitem__("a", 1), lambda: s.pop("a"), s.clear)]

    assert same(probe)[1][-3:] == ["RuntimeError"] * 3


def test_nested_contexts_of_two_apps() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        a, b = fw.Flask("a"), fw.Flask("b")
        out: list[t.Any] = []
        with a.app_context():
            with b.test_request_context("/x"):
                out.append(fw.current_app.name)
            out.append(fw.current_app.name)
        with a.test_request_context("/"), a.app_context():
            out.append(fw.has_request_context())
        return out

    assert same(probe)[1][:2] == ["b", "a"]


def test_make_response_and_redirect_helpers() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("m")
        out: list[t.Any] = _errors(lambda: fw.make_response("x"))
        with app.app_context():
            rv = fw.make_response("x", 201)
            out += [rv.status_code, rv.get_data(), fw.make_response(["a", 1]).get_data(),
                    fw.make_response({"a": 1}, {"X": "1"}).headers.get("X")]
            out += _errors(lambda: fw.make_response("a", "b", "c"), lambda: fw.abort(404))
            rv = fw.redirect("/x", 307)
            out += [rv.status_code, rv.headers["Location"], rv.get_data()]
        return out

    assert same(probe)[1][:3] == ["RuntimeError", 201, b"x"]


def test_stream_template_response() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("st")
        app.add_url_rule("/", "i", lambda: fw.stream_template_string(
            "{{ request.path }}{% for i in range(3) %}{{ i }}{% endfor %}"))
        rv = app.test_client().get("/")
        return [rv.data, rv.headers.get("Content-Type"), rv.is_streamed]

    assert same(probe)[1][:2] == [b"/012", "text/html; charset=utf-8"]


def test_jsonify_corner_values() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("j")
        with app.app_context():
            return [fw.jsonify().get_data(), fw.jsonify([]).get_data(), fw.jsonify(None).get_data(),
                    fw.jsonify("s").get_data(), *_errors(lambda: fw.jsonify(object()))]

    assert same(probe)[1] == [b"null\n", b"[]\n", b"null\n", b'"s"\n', "TypeError"]


def test_flash_signal_and_storage() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("f")
        app.secret_key = "k"
        recorded: list[t.Any] = []

        def record(sender: t.Any, message: str, category: str, **extra: t.Any) -> None:
            recorded.append((message, category))

        fw.message_flashed.connect(record, app)
        with app.test_request_context():
            fw.flash("m")
            fw.flash("n", category="c")
            out = [fw.get_flashed_messages(with_categories=True, category_filter=["c"]),
                   fw.get_flashed_messages(), dict(fw.session)]
        fw.message_flashed.disconnect(record, app)
        return [recorded, *out]

    assert same(probe)[1][0] == [("m", "message"), ("n", "c")]


def test_as_view_function_attributes() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        views = importlib.import_module(f"{fw.__name__}.views")

        class V(views.View):
            """Doc of V."""

            methods = ["GET"]

            def dispatch_request(self, **kw: t.Any) -> str:
                return "v"

        f = V.as_view("vname", 1)
        return [f.__name__, f.__doc__, f.__module__, f.view_class is V, f.methods,
                getattr(f, "provide_automatic_options", "unset"), getattr(f, "required_methods", "unset"),
                *_errors(lambda: views.View().dispatch_request())]

    assert same(probe)[1][:2] == ["vname", "Doc of V."]


class _Records(logging.Handler):
    """Collects (logger, level, message, exception type) of each record."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, str, str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        self.records.append((record.name, record.levelname, record.getMessage(), exc))


def test_unhandled_exceptions_are_logged() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask(f"parity_logs_{fw.__name__}")  # loggers are global by name: one per side
        handler = _Records()
        app.logger.addHandler(handler)
        propagate = app.logger.propagate
        app.logger.propagate = False
        try:
            app.config["PROPAGATE_EXCEPTIONS"] = False
            app.add_url_rule("/boom", "boom", lambda: 1 / 0)
            app.add_url_rule("/a", "a", lambda: fw.abort(500))
            app.add_url_rule("/k", "k", lambda: fw.request.args["x"])
            c = app.test_client()
            for path in ("/boom", "/a", "/k", "/nope"):
                c.get(path)
            app.debug = True
            c.get("/k")
            records = [(name.replace(fw.__name__, "pkg"), *rest) for name, *rest in handler.records]
            return [records, [type(h).__name__ for h in app.logger.handlers]]
        finally:
            app.logger.removeHandler(handler)
            app.logger.propagate = propagate

    records = same(probe)[1][0]
    assert records == [("parity_logs_pkg", "ERROR", "Exception on /boom [GET]", "ZeroDivisionError"),
                       ("parity_logs_pkg", "ERROR", "Exception on /k [GET]", "BadRequestKeyError")]
