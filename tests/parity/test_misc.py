"""Parity of the remaining surface: static files, hosts (SERVER_NAME, TRUSTED_HOSTS), tagged JSON,
key rotation, streaming, CLI commands and app attributes."""

from __future__ import annotations

import datetime
import importlib
import pathlib
import typing as t
import uuid
from types import ModuleType

import itsdangerous
import pytest
from markupsafe import Markup

from .diff import both, call, same


@pytest.fixture
def root(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "site.css").write_text("body{}")
    (tmp_path / "static" / "app.js").write_text("x=1")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "report.txt").write_text("report body")
    return tmp_path


def _static(fw: ModuleType, root: pathlib.Path, **config: object):
    app = fw.Flask("static_app", root_path=str(root))
    app.config.update(config)
    files = str(root / "files")
    app.add_url_rule("/dl/<path:name>", "dl", lambda name: fw.send_from_directory(files, name))
    app.add_url_rule("/attach", "attach", lambda: fw.send_file(str(root / "files" / "report.txt"),
                                                                 as_attachment=True, download_name="r é.txt"))
    app.add_url_rule("/mem", "mem", lambda: fw.send_file(__import__("io").BytesIO(b"mem"), mimetype="text/plain"))
    return app


def _etag_free(result: t.Any) -> t.Any:
    """Mask the clock-derived headers (Last-Modified, ETag from the files' mtimes; Date and Expires
    from now when a max age is set): they differ only if the clock ticks between the two runs."""
    if result[0] == "raised":
        return result
    clock = ("Last-Modified", "ETag", "Expires", "Date")
    headers = [(k, "<clock>" if k in clock else v) for k, v in result[1]]  # presence and order still count
    return result[0], headers, result[2]


@pytest.mark.parametrize("config", [{}, {"SEND_FILE_MAX_AGE_DEFAULT": 60}, {"USE_X_SENDFILE": True}])
def test_static_and_send_file(root: pathlib.Path, config: dict[str, object]) -> None:
    calls = [call("GET", "/static/site.css"), call("GET", "/static/app.js"), call("HEAD", "/static/site.css"),
             call("GET", "/static/../files/report.txt"), call("GET", "/static/missing.css"),
             call("GET", "/dl/report.txt"), call("GET", "/dl/../static/site.css"), call("GET", "/attach"),
             call("GET", "/mem"), call("GET", "/static/site.css", headers={"Range": "bytes=0-1"})]
    rv = both(lambda fw: _static(fw, root, **config), calls, normalise=_etag_free)
    assert rv[0][2] in (b"body{}", b"") and rv[4][0] == 404 and rv[6][0] == 404


def test_conditional_static(root: pathlib.Path) -> None:
    def run(fw: ModuleType) -> list[t.Any]:
        c = _static(fw, root).test_client()
        first = c.get("/static/site.css")
        etag = first.headers["ETag"]
        again = c.get("/static/site.css", headers={"If-None-Match": etag})
        since = c.get("/static/site.css", headers={"If-Modified-Since": first.headers["Last-Modified"]})
        out = [first.status_code, again.status_code, since.status_code, again.data]
        for rv in (first, again, since):
            rv.close()
        return out

    assert same(run)[1][:3] == [200, 304, 304]


def _hosts(fw: ModuleType, **config: object):
    app = fw.Flask("hosts", subdomain_matching=bool(config.pop("subdomain_matching", False)))
    app.config.update(config)
    app.add_url_rule("/", "i", lambda: f"{fw.request.host} {fw.url_for('i', _external=True)}")
    return app


@pytest.mark.parametrize("config", [
    {"SERVER_NAME": "site.test"},
    {"SERVER_NAME": "site.test", "subdomain_matching": True},
    {"TRUSTED_HOSTS": ["site.test", ".good.test"]},
    {"TRUSTED_HOSTS": ["site.test"], "SERVER_NAME": "site.test"},
])
def test_server_name_and_trusted_hosts(config: dict[str, object]) -> None:
    calls = [call("GET", "http://site.test/"), call("GET", "http://other.test/"),
             call("GET", "http://a.good.test/"), call("GET", "http://site.test:8080/"), call("GET", "/")]
    rv = both(lambda fw: _hosts(fw, **dict(config)), calls)
    assert rv[0][0] == 200


def test_tagged_json_serializer() -> None:
    value = {"t": (1, 2), "b": b"\x00\xff", "m": Markup("<b>"), "u": uuid.UUID(int=7),
             "d": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
             " t": "key that looks like a tag", "l": [{" di": 1}], "s": "plain"}

    def probe(fw: ModuleType) -> list[t.Any]:
        tag = importlib.import_module(f"{fw.__name__}.json.tag")
        s = tag.TaggedJSONSerializer()
        dumped = s.dumps(value)
        return [dumped, s.loads(dumped) == value, [ty.key for ty in s.order]]

    assert same(probe)[1][1] is True


def test_secret_key_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: 1_700_000_000)

    def run(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("keys")
        app.secret_key = "old-key"
        app.add_url_rule("/set", "set", lambda: (fw.session.__setitem__("u", 1), "set")[1])
        app.add_url_rule("/get", "get", lambda: repr(dict(fw.session)))
        c = app.test_client()
        c.get("/set")
        app.config["SECRET_KEY"] = "new-key"
        before = c.get("/get").data
        app.config["SECRET_KEY_FALLBACKS"] = ["old-key"]
        after = c.get("/get").data
        rewritten = c.get("/set").headers.get("Set-Cookie")
        return [before, after, rewritten]

    assert same(run)[1][:2] == [b"{}", b"{'u': 1}"]


def _streaming(fw: ModuleType):
    app = fw.Flask("stream")

    @app.route("/s")
    def stream() -> t.Any:
        @fw.stream_with_context
        def gen() -> t.Iterator[str]:
            yield "a "
            yield fw.request.args.get("x", "none")

        return gen()

    @app.route("/s2")
    def stream2() -> t.Any:
        def gen() -> t.Iterator[str]:
            yield fw.request.path

        return fw.Response(fw.stream_with_context(gen()))

    return app


def test_stream_with_context() -> None:
    rv = both(_streaming, [call("GET", "/s?x=1"), call("GET", "/s2")])
    assert rv[0][2] == b"a 1"


def test_cli_commands() -> None:
    def run(fw: ModuleType) -> list[t.Any]:
        import click

        app = fw.Flask("cli_app")
        app.config["GREETING"] = "hello"

        @app.cli.command("greet")
        @click.argument("name")
        def greet(name: str) -> None:
            click.echo(f"{fw.current_app.config['GREETING']} {name}")

        group = importlib.import_module(f"{fw.__name__}.cli").AppGroup("grp")

        @group.command("sub")
        def sub() -> None:
            click.echo(fw.current_app.name)

        app.cli.add_command(group)
        runner = app.test_cli_runner()
        out = []
        for args in (["greet", "bob"], ["grp", "sub"], ["greet"], ["nope"]):
            res = runner.invoke(args=args)
            out.append((res.exit_code, res.output.replace(fw.__name__, "pkg")))
        return out

    assert same(run)[1][0] == (0, "hello bob\n")


def test_app_attributes() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("attrs", static_url_path="/assets", template_folder="tpl")
        return [app.name, app.import_name, app.static_url_path, app.template_folder, app.debug, app.testing,
                app.secret_key, app.permanent_session_lifetime, app.url_map.strict_slashes, app.subdomain_matching,
                app.logger.name, app.json_provider_class.__name__, app.request_class.__name__,
                app.response_class.__name__, app.config_class.__name__, app.url_rule_class.__name__,
                app.jinja_options, app.test_client_class, app.aborter.__class__.__name__,
                sorted(app.url_map.converters)]

    assert same(probe)[1][0] == "attrs"


_SUBMODULES = ("app", "blueprints", "cli", "config", "ctx", "globals", "helpers", "json", "logging", "sessions",
               "signals", "templating", "typing", "wrappers")


def test_submodules_reachable_after_plain_import() -> None:
    """`import flask` makes `flask.sessions`, `flask.ctx`, ... usable; ported code relies on that.
    Checked in a fresh interpreter, since this test run has imported most submodules already."""
    import subprocess
    import sys

    def reachable(package: str) -> list[str]:
        code = f"import {package}; print(' '.join(n for n in {_SUBMODULES!r} if hasattr({package}, n)))"
        out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                             check=True, timeout=60)
        return out.stdout.split()

    assert reachable("flask") == list(_SUBMODULES)
    assert reachable("framework") == list(_SUBMODULES)
