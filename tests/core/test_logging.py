"""app.logger: named after the app, default handler only when nothing would handle its records."""

from __future__ import annotations

import logging

from framework import App
from framework.logging import default_handler, has_level_handler


def test_logger_name_and_default_handler() -> None:
    app = App("log_app_one")
    logger = app.logger
    assert logger.name == "log_app_one"
    assert logger is app.logger
    root_has = has_level_handler(logging.getLogger())
    assert (default_handler in logger.handlers) is (not root_has)


def test_no_default_handler_when_configured() -> None:
    logger = logging.getLogger("log_app_two")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        app = App("log_app_two")
        assert default_handler not in app.logger.handlers
    finally:
        logger.removeHandler(handler)


def test_debug_sets_level() -> None:
    app = App("log_app_three")
    app.debug = True
    assert app.logger.level == logging.DEBUG


def test_errors_go_to_wsgi_errors_stream() -> None:
    import io

    app = App("log_app_four")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.logger.handlers[:] = [default_handler]
    app.logger.propagate = False
    app.add_url_rule("/", "i", lambda: 1 / 0)
    stream = io.StringIO()
    rv = app.test_client().get("/", errors_stream=stream)
    assert rv.status_code == 500
    assert "ERROR in app: Exception on / [GET]" in stream.getvalue()
    assert "ZeroDivisionError" in stream.getvalue()


def test_default_handler_only_without_configured_logging() -> None:
    """In a fresh interpreter (no pytest handlers on the root logger): added when nothing would log the
    app's records, left out once the root logger or the app's own logger has a handler."""
    import subprocess
    import sys

    code = (
        "import logging, sys\n"
        "from framework import App\n"
        "from framework.logging import default_handler\n"
        "bare = App('fresh_a').logger\n"
        "own = logging.getLogger('fresh_b'); own.addHandler(logging.NullHandler())\n"
        "mine = App('fresh_b').logger\n"
        "logging.basicConfig()\n"
        "rooted = App('fresh_c').logger\n"
        "bare.error('to the default handler')\n"
        "print(default_handler in bare.handlers, default_handler in mine.handlers, default_handler in rooted.handlers)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["True", "False", "False"]
    assert "ERROR in <string>: to the default handler" in out.stderr
