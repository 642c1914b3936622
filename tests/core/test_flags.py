"""One rule for on/off switches (framework/flags.py), used by every flag the framework reads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import framework
from framework.flags import FlagError, config_flag, env_flag, parse_flag
from framework.helpers import get_debug_flag, get_load_dotenv
from tests.support.procs import REPO_ROOT

ON = ["1", "true", "TRUE", "Yes", "on", " On "]
OFF = ["0", "false", "False", "no", "NO", "off", "Off "]


@pytest.mark.parametrize("word", ON)
def test_on_words(word: str) -> None:
    assert parse_flag(word, "X") is True


@pytest.mark.parametrize("word", OFF)
def test_off_words(word: str) -> None:
    assert parse_flag(word, "X") is False


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset(value: str | None) -> None:
    assert parse_flag(value, "X") is None
    assert env_flag("X", environ={} if value is None else {"X": value}) is False
    assert env_flag("X", default=True, environ={} if value is None else {"X": value}) is True


@pytest.mark.parametrize("value", ["maybe", "2", "enable", "y"])
def test_anything_else_is_an_error_naming_variable_value_and_words(value: str) -> None:
    with pytest.raises(FlagError) as info:
        parse_flag(value, "SOME_FLAG")
    message = str(info.value)
    assert f"SOME_FLAG={value!r}" in message and "off" in message and "yes" in message


def test_config_values_already_typed_pass_through() -> None:
    assert config_flag({"K": True}, "K") is True
    assert config_flag({"K": False}, "K") is False
    assert config_flag({"K": 0}, "K") is False
    assert config_flag({}, "K") is None
    with pytest.raises(FlagError):
        config_flag({"K": [1]}, "K")


def test_first_set_name_wins() -> None:
    assert env_flag("A", "B", environ={"A": "off", "B": "on"}) is False
    assert env_flag("A", "B", environ={"A": "", "B": "on"}) is True


@pytest.mark.parametrize(("value", "expected"), [("off", False), ("no", False), ("on", True), ("1", True)])
def test_framework_debug(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("FRAMEWORK_DEBUG", value)
    assert get_debug_flag() is expected
    assert framework.App("flags_debug").debug is expected


def test_framework_debug_bad_value_stops_app_creation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_DEBUG", "verbose")
    with pytest.raises(FlagError, match="FRAMEWORK_DEBUG='verbose'"):
        framework.App("flags_bad")


@pytest.mark.parametrize(("value", "expected"), [("off", True), ("on", False), ("", True)])
def test_skip_dotenv(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.delenv("FLASK_SKIP_DOTENV", raising=False)
    monkeypatch.setenv("FRAMEWORK_SKIP_DOTENV", value)
    assert get_load_dotenv() is expected
    assert get_load_dotenv(False) is (expected if value else False)


@pytest.mark.parametrize(("value", "ndb_on"), [("off", False), ("false", False), ("on", True), ("yes", True)])
def test_ndb_context_config_from_env_text(monkeypatch: pytest.MonkeyPatch, value: str, ndb_on: bool) -> None:
    """NDB_CONTEXT as env-file text follows the same rule (`off` is off, `on` forces a context)."""
    from framework import ndb

    # A client for an emulator address connects only when used: nothing listens there, nothing is sent.
    monkeypatch.setenv("DATASTORE_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "flags-test")
    app = framework.App("flags_ndb")
    app.config["NDB_CONTEXT"] = value
    cm = ndb.context_hook(app)
    assert (cm is not ndb._NO_CONTEXT) is ndb_on


def test_ndb_context_bad_value_is_an_error() -> None:
    from framework import ndb

    app = framework.App("flags_ndb_bad")
    app.config["NDB_CONTEXT"] = "sometimes"
    with pytest.raises(FlagError, match="NDB_CONTEXT"):
        ndb.context_hook(app)


def _werkzeug_init_ran(value: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FRAMEWORK_EAGER_WERKZEUG"}
    if value is not None:
        env["FRAMEWORK_EAGER_WERKZEUG"] = value
    code = "import framework, werkzeug\nprint('run_simple' in vars(werkzeug))"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(("value", "eager"), [(None, False), ("off", False), ("0", False), ("1", True),
                                              ("on", True)])
def test_eager_werkzeug_flag(value: str | None, eager: bool) -> None:
    """Deferred: `import werkzeug` gives the package before its __init__ ran; eager: a normal import."""
    out = _werkzeug_init_ran(value)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(eager)


def test_eager_werkzeug_bad_value_fails_the_import_clearly() -> None:
    out = _werkzeug_init_ran("sure")
    assert out.returncode != 0
    assert "FRAMEWORK_EAGER_WERKZEUG='sure' is not an on/off value" in out.stderr
