"""Static files and send_file / send_from_directory: conditional requests, ETag, Range, caching, traversal."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.exceptions import NotFound

from framework import App, send_file, send_from_directory


@pytest.fixture
def app(tmp_path: Path) -> App:
    static = tmp_path / "static"
    static.mkdir()
    (static / "hello.txt").write_text("hello world\n")
    (static / "sub").mkdir()
    (static / "sub" / "page.css").write_text("p {}\n")
    (tmp_path / "secret.txt").write_text("top secret\n")
    app = App(__name__, root_path=str(tmp_path))

    @app.route("/download/<path:name>")
    def download(name: str):
        return send_from_directory("static", name)

    @app.route("/attach")
    def attach():
        return send_file("static/hello.txt", as_attachment=True, download_name="greeting.txt")

    @app.route("/buffer")
    def buffer():
        return send_file(io.BytesIO(b"in memory"), mimetype="application/octet-stream", download_name="m.bin")

    return app


def get(client, path: str, **kwargs):
    response = client.get(path, **kwargs)
    data = response.get_data()
    response.close()
    return response, data


def test_static_route(app: App) -> None:
    response, data = get(app.test_client(), "/static/hello.txt")
    assert response.status_code == 200 and data == b"hello world\n"
    assert response.mimetype == "text/plain"
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert response.headers["Cache-Control"] == "no-cache"


def test_conditional_requests(app: App) -> None:
    client = app.test_client()
    response, _ = get(client, "/static/hello.txt")
    etag = response.headers["ETag"]
    again, body = get(client, "/static/hello.txt", headers={"If-None-Match": etag})
    assert again.status_code == 304 and body == b""
    since, _ = get(client, "/static/hello.txt", headers={"If-Modified-Since": response.headers["Last-Modified"]})
    assert since.status_code == 304


def test_range_requests(app: App) -> None:
    client = app.test_client()
    response, data = get(client, "/static/hello.txt", headers={"Range": "bytes=0-4"})
    assert response.status_code == 206 and data == b"hello"
    assert response.headers["Content-Range"] == "bytes 0-4/12"
    bad, _ = get(client, "/static/hello.txt", headers={"Range": "bytes=100-200"})
    assert bad.status_code == 416


def test_max_age_from_config(app: App) -> None:
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = timedelta(hours=1)
    response, _ = get(app.test_client(), "/static/hello.txt")
    assert "max-age=3600" in response.headers["Cache-Control"]
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 60
    response, _ = get(app.test_client(), "/download/hello.txt")
    assert "max-age=60" in response.headers["Cache-Control"]


def test_get_send_file_max_age_override(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.js").write_text("1")

    class MyApp(App):
        def get_send_file_max_age(self, filename):
            return 10 if filename and filename.endswith(".js") else None

    app = MyApp(__name__, root_path=str(tmp_path))
    response, _ = get(app.test_client(), "/static/a.js")
    assert "max-age=10" in response.headers["Cache-Control"]


def test_use_x_sendfile(app: App) -> None:
    app.config["USE_X_SENDFILE"] = True
    response, data = get(app.test_client(), "/static/hello.txt")
    assert response.headers["X-Sendfile"].endswith("hello.txt") and data == b""


def test_send_file_attachment_and_file_objects(app: App) -> None:
    client = app.test_client()
    response, data = get(client, "/attach")
    assert data == b"hello world\n"
    assert response.headers["Content-Disposition"] == "attachment; filename=greeting.txt"
    response, data = get(client, "/buffer")
    assert data == b"in memory" and response.mimetype == "application/octet-stream"


def test_send_from_directory_subdirectory(app: App) -> None:
    response, data = get(app.test_client(), "/download/sub/page.css")
    assert response.status_code == 200 and data == b"p {}\n"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/..%2Fsecret.txt",
        "/static/sub/..%2F..%2Fsecret.txt",
        "/static/%2Fetc%2Fpasswd",
        "/static//etc/passwd",
        "/static/hello.txt%00.png",
        "/static/..%5Csecret.txt",
        "/static/missing.txt",
        "/static/sub",
        "/download/../secret.txt",
        "/download/..%2fsecret.txt",
        "/download/%2Fetc%2Fpasswd",
        "/download/hello.txt%00",
    ],
)
def test_traversal_and_missing_are_404(app: App, path: str) -> None:
    # `//` is first merged by a routing redirect; the file behind it must still be missing.
    response, data = get(app.test_client(), path, follow_redirects=True)
    assert response.status_code == 404, (path, response.status_code)
    assert b"top secret" not in data and b"root:" not in data


def test_send_from_directory_refuses_escapes_given_directly(app: App, tmp_path: Path) -> None:
    """Routing never hands a view a leading `/`, but code may: those names are 404 too."""
    names = ["/etc/passwd", str(tmp_path / "secret.txt"), "../secret.txt", "sub/../../secret.txt",
             "hello.txt\x00", "\x00", "..\\secret.txt", "sub\\..\\..\\secret.txt", "", "."]
    with app.test_request_context():
        control = send_from_directory("static", "hello.txt")
        assert control.status_code == 200
        control.close()
        for name in names:
            with pytest.raises(NotFound):
                send_from_directory("static", name)


def test_no_static_folder(tmp_path: Path) -> None:
    app = App(__name__, root_path=str(tmp_path), static_folder=None)
    assert app.test_client().get("/static/x").status_code == 404
    with app.test_request_context(), pytest.raises(RuntimeError):
        app.send_static_file("x")
