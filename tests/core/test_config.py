"""Config: built-in keys and defaults, loaders, env prefix, namespaces, app attributes, bad files."""

from __future__ import annotations

import json
import tomllib
from datetime import timedelta

import pytest

from framework import App, Config

EXPECTED_DEFAULTS = {
    "DEBUG": False, "TESTING": False, "PROPAGATE_EXCEPTIONS": None, "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": None, "PERMANENT_SESSION_LIFETIME": timedelta(days=31), "USE_X_SENDFILE": False,
    "TRUSTED_HOSTS": None, "SERVER_NAME": None, "APPLICATION_ROOT": "/", "SESSION_COOKIE_NAME": "session",
    "SESSION_COOKIE_DOMAIN": None, "SESSION_COOKIE_PATH": None, "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": False, "SESSION_COOKIE_PARTITIONED": False, "SESSION_COOKIE_SAMESITE": None,
    "SESSION_REFRESH_EACH_REQUEST": True, "MAX_CONTENT_LENGTH": None, "MAX_FORM_MEMORY_SIZE": 500_000,
    "MAX_FORM_PARTS": 1_000, "SEND_FILE_MAX_AGE_DEFAULT": None, "TRAP_BAD_REQUEST_ERRORS": None,
    "TRAP_HTTP_EXCEPTIONS": False, "EXPLAIN_TEMPLATE_LOADING": False, "PREFERRED_URL_SCHEME": "http",
    "TEMPLATES_AUTO_RELOAD": None, "MAX_COOKIE_SIZE": 4093, "PROVIDE_AUTOMATIC_OPTIONS": True,
}


def test_all_29_builtin_keys() -> None:
    app = App("cfg")
    assert len(App.default_config) == 29
    assert App.default_config["DEBUG"] is None
    assert dict(app.config) == EXPECTED_DEFAULTS
    with pytest.raises(TypeError):
        App.default_config["X"] = 1  # type: ignore[index]


def test_debug_env_seeds_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_DEBUG", "1")
    assert App("dbg").debug is True
    monkeypatch.setenv("FRAMEWORK_DEBUG", "false")
    assert App("dbg").debug is False


def test_app_attributes_map_to_config() -> None:
    app = App("attrs")
    app.testing = True
    app.secret_key = "s3"
    app.debug = True
    assert app.config["TESTING"] is True and app.config["SECRET_KEY"] == "s3" and app.config["DEBUG"] is True
    app.config["PERMANENT_SESSION_LIFETIME"] = 60
    assert app.permanent_session_lifetime == timedelta(seconds=60)


def test_from_mapping_object_and_namespace(tmp_path) -> None:
    config = Config(str(tmp_path))
    config.from_mapping({"A": 1, "lower": 2}, B=3)
    assert config == {"A": 1, "B": 3}

    class Settings:
        SECRET = "x"
        private = "no"

    config.from_object(Settings)
    assert config["SECRET"] == "x" and "private" not in config
    config.from_object("json.decoder")  # a dotted import string: copies its UPPERCASE names
    assert "NaN" not in config  # mixed case is skipped
    config.from_mapping(IMAGE_STORE_TYPE="fs", IMAGE_STORE_PATH="/x", OTHER=1)
    assert config.get_namespace("IMAGE_STORE_") == {"type": "fs", "path": "/x"}
    assert config.get_namespace("IMAGE_STORE_", lowercase=False, trim_namespace=False) == {
        "IMAGE_STORE_TYPE": "fs", "IMAGE_STORE_PATH": "/x",
    }
    assert repr(config).startswith("<Config {")


def test_from_pyfile_and_envvar(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "settings.py").write_text("DEBUG_LEVEL = 3\nname = 'ignored'\n")
    config = Config(str(tmp_path))
    assert config.from_pyfile("settings.py") is True
    assert config == {"DEBUG_LEVEL": 3}
    assert config.from_pyfile("missing.py", silent=True) is False
    with pytest.raises(FileNotFoundError, match="Unable to load configuration file"):
        config.from_pyfile("missing.py")
    monkeypatch.setenv("MY_SETTINGS", str(tmp_path / "settings.py"))
    assert Config(str(tmp_path)).from_envvar("MY_SETTINGS") is True
    monkeypatch.delenv("MY_SETTINGS")
    with pytest.raises(RuntimeError, match="MY_SETTINGS"):
        config.from_envvar("MY_SETTINGS")
    assert config.from_envvar("MY_SETTINGS", silent=True) is False


def test_bad_python_config_names_file_and_line(tmp_path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("A = 1\nB = (\n")
    with pytest.raises(SyntaxError) as info:
        Config(str(tmp_path)).from_pyfile("broken.py")
    message = "\n".join([str(info.value), *getattr(info.value, "__notes__", [])])
    assert str(path) in message
    assert "line" in message
    path.write_text("A = 1\nB = undefined_name\n")
    with pytest.raises(NameError) as info2:
        Config(str(tmp_path)).from_pyfile("broken.py")
    notes = "\n".join(info2.value.__notes__)
    assert f"{path}, line 2" in notes


def test_from_file_json_toml_and_bad_file(tmp_path) -> None:
    (tmp_path / "c.json").write_text('{"SECRET_KEY": "j", "lower": 1}')
    (tmp_path / "c.toml").write_text('SECRET_KEY = "t"\n')
    config = Config(str(tmp_path))
    assert config.from_file("c.json", load=json.load) is True
    assert config == {"SECRET_KEY": "j"}
    config.from_file("c.toml", load=tomllib.load, text=False)
    assert config["SECRET_KEY"] == "t"
    assert config.from_file("nope.json", load=json.load, silent=True) is False
    (tmp_path / "bad.json").write_text('{\n  "A": 1,\n  oops\n}')
    with pytest.raises(json.JSONDecodeError) as info:
        config.from_file("bad.json", load=json.load)
    assert f"{tmp_path / 'bad.json'}, line 3" in "\n".join(info.value.__notes__)


def test_from_prefixed_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_SECRET_KEY", "env-secret")
    monkeypatch.setenv("FRAMEWORK_PORT", "8080")
    monkeypatch.setenv("FRAMEWORK_FLAG", "true")
    monkeypatch.setenv("FRAMEWORK_DB__HOST", "db.local")
    monkeypatch.setenv("FRAMEWORK_DB__PORT", "5432")
    monkeypatch.setenv("OTHER_KEY", "x")
    config = Config(".")
    assert config.from_prefixed_env() is True
    assert config["SECRET_KEY"] == "env-secret"
    assert config["PORT"] == 8080
    assert config["FLAG"] is True
    assert config["DB"] == {"HOST": "db.local", "PORT": 5432}
    assert "OTHER_KEY" not in config and "KEY" not in config
    monkeypatch.setenv("MYAPP_NAME", "n")
    config.from_prefixed_env("MYAPP", loads=str.upper)
    assert config["NAME"] == "N"


def test_instance_relative_config(tmp_path) -> None:
    inst = tmp_path / "instance"
    inst.mkdir()
    (inst / "cfg.py").write_text("FROM_INSTANCE = True\n")
    app = App("inst", instance_path=str(inst), instance_relative_config=True)
    assert app.config.from_pyfile("cfg.py")
    assert app.config["FROM_INSTANCE"] is True
    with pytest.raises(ValueError):
        App("inst2", instance_path="relative/path")
    with app.open_instance_resource("cfg.py", "r") as f:
        assert "FROM_INSTANCE" in f.read()


def test_default_instance_path_and_root_path() -> None:
    app = App(__name__)
    assert app.root_path.endswith("tests/core")
    assert app.instance_path.endswith("instance")
    assert app.name == __name__


def test_watch_sees_every_way_of_writing_a_key(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = Config(str(tmp_path))
    calls: list[object] = []
    config.watch("WATCHED", lambda: calls.append(config.get("WATCHED")))
    config["OTHER"] = 1
    config.update(OTHER=2)
    assert calls == []  # writes that cannot have set the key call nobody
    config["WATCHED"] = "item"
    config.update({"WATCHED": "update"})
    config |= {"WATCHED": "ior"}
    config.from_mapping(WATCHED="mapping")
    config.setdefault("WATCHED", "ignored")
    (tmp_path / "settings.py").write_text("WATCHED = 'pyfile'\n")
    config.from_pyfile("settings.py")
    monkeypatch.setenv("FRAMEWORK_WATCHED", '"env"')
    config.from_prefixed_env()
    assert calls == ["item", "update", "ior", "mapping", "mapping", "pyfile", "env"]


def test_a_watched_config_pickles_and_copies() -> None:
    import copy
    import pickle

    calls: list[str] = []
    config = Config("/tmp", {"A": 1})
    config.watch("A", lambda: calls.append("A"))  # a lambda: the watchers themselves cannot be pickled
    for clone in (pickle.loads(pickle.dumps(config)), copy.deepcopy(config), copy.copy(config)):
        clone["A"] = 2
        assert clone["A"] == 2 and clone.root_path == "/tmp" and isinstance(clone, Config)
    assert calls == []  # a copy's writes are its own
    assert pickle.loads(pickle.dumps(App(__name__).config))["SERVER_NAME"] is None  # an app's config, watched by ndb
