"""Config: the app's settings dict, with loaders for objects, Python files, data files and the environment.

`from_prefixed_env` reads `FRAMEWORK_*` variables by default (our counterpart of Flask's `FLASK_*`).
Errors while loading a file name the file and, when known, the line.
"""

from __future__ import annotations

import errno
import json
import os
import types
import typing as t

from werkzeug.utils import import_string

if t.TYPE_CHECKING:  # pragma: no cover
    from .app import App

T = t.TypeVar("T")


class ConfigAttribute(t.Generic[T]):
    """Descriptor forwarding an app attribute (e.g. `app.testing`) to a config key."""

    def __init__(self, name: str, get_converter: t.Callable[[t.Any], T] | None = None) -> None:
        self.__name__ = name
        self.get_converter = get_converter

    @t.overload
    def __get__(self, obj: None, owner: None) -> ConfigAttribute[T]: ...

    @t.overload
    def __get__(self, obj: App, owner: type[App]) -> T: ...

    def __get__(self, obj: App | None, owner: type[App] | None = None) -> T | ConfigAttribute[T]:
        if obj is None:
            return self
        value = obj.config[self.__name__]
        if self.get_converter is not None:
            value = self.get_converter(value)
        return value

    def __set__(self, obj: App, value: t.Any) -> None:
        obj.config[self.__name__] = value


def _error_line(exc: BaseException) -> int | None:
    """Line number of a parse error (SyntaxError, JSON, YAML); TOML errors name it in their message."""
    line = getattr(exc, "lineno", None)  # SyntaxError, json.JSONDecodeError
    if isinstance(line, int):
        return line
    mark = getattr(exc, "problem_mark", None)  # PyYAML
    if mark is not None and isinstance(getattr(mark, "line", None), int):
        return int(mark.line) + 1
    return None


def _note_file_error(exc: BaseException, filename: str, fix: str, tb_line: int | None = None) -> None:
    line = _error_line(exc) or tb_line
    where = f"{filename}, line {line}" if line else filename
    exc.add_note(f"Could not load config file {where}: {fix}")


def _line_in_file(exc: BaseException, filename: str) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class Config(dict):
    """A dict of settings; file names are resolved against `root_path`."""

    def __init__(self, root_path: str | os.PathLike[str], defaults: dict[str, t.Any] | None = None) -> None:
        super().__init__(defaults or {})
        self.root_path = root_path

    # Keys watched and their callbacks. The class's empty dict until `watch` is first called, so a Config made
    # without __init__ (unpickled: pickle sets the items before the attributes) writes like any other.
    _watchers: dict[str, list[t.Callable[[], object]]] = {}

    def watch(self, key: str, callback: t.Callable[[], object]) -> None:
        """Call `callback()` after each write that may have set `key`: `config[key] = ...`, `update`,
        `setdefault`, `|=` and the `from_*` loaders. Lets an extension read a key once, at registration,
        instead of on every request."""
        if "_watchers" not in self.__dict__:
            self._watchers = {}
        self._watchers.setdefault(key, []).append(callback)

    def __getstate__(self) -> dict[str, t.Any]:
        """Pickled and copied without its watchers: they are callbacks of the app that owns this config."""
        state = dict(self.__dict__)
        state.pop("_watchers", None)
        return state

    def _notify(self, keys: t.Iterable[str]) -> None:
        for key in keys:
            for callback in self._watchers.get(key, ()):
                callback()

    def __setitem__(self, key: str, value: t.Any) -> None:
        super().__setitem__(key, value)
        if self._watchers and key in self._watchers:
            self._notify((key,))

    def update(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().update(*args, **kwargs)
        if self._watchers:
            self._notify([key for key in self._watchers if key in self])

    def setdefault(self, key: str, default: t.Any = None) -> t.Any:
        value = super().setdefault(key, default)
        if self._watchers and key in self._watchers:
            self._notify((key,))
        return value

    def __ior__(self, other: t.Any) -> Config:  # type: ignore[misc]
        self.update(other)
        return self

    def from_envvar(self, variable_name: str, silent: bool = False) -> bool:
        """Load the Python config file named by an environment variable."""
        rv = os.environ.get(variable_name)
        if not rv:
            if silent:
                return False
            raise RuntimeError(
                f"The environment variable {variable_name!r} is not set, so no config file can be loaded"
                " from it. Set it to the path of a Python config file."
            )
        return self.from_pyfile(rv, silent=silent)

    def from_prefixed_env(
        self, prefix: str = "FRAMEWORK", *, loads: t.Callable[[str], t.Any] = json.loads
    ) -> bool:
        """Load every `PREFIX_NAME` variable as key `NAME`; values go through `loads`, else stay strings.

        `PREFIX_A__B` sets `config["A"]["B"]`, creating intermediate dicts. `secret://` values are then
        resolved by framework.secrets (Secret Manager on Google's hosts, `.env` locally), and there a
        weak SECRET_KEY stops the app here, as it starts.
        """
        prefix = f"{prefix}_"
        for key in sorted(os.environ):
            if not key.startswith(prefix):
                continue
            value: t.Any = os.environ[key]
            key = key.removeprefix(prefix)
            try:
                value = loads(value)
            except Exception:
                pass
            if "__" not in key:
                self[key] = value
                continue
            current: dict[str, t.Any] = self
            *parts, tail = key.split("__")
            for part in parts:
                if part not in current:
                    current[part] = {}
                current = current[part]
            current[tail] = value
        from . import secrets

        secrets.resolve_config(self, self.root_path)
        return True

    def from_pyfile(self, filename: str | os.PathLike[str], silent: bool = False) -> bool:
        """Execute a Python file as a module named `config` and load its UPPERCASE names."""
        filename = os.path.join(self.root_path, filename)
        d = types.ModuleType("config")
        d.__file__ = filename
        try:
            with open(filename, mode="rb") as config_file:
                source = config_file.read()
        except OSError as e:
            if silent and e.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
                return False
            e.strerror = f"Unable to load configuration file ({e.strerror})"
            raise
        try:
            exec(compile(source, filename, "exec"), d.__dict__)
        except SyntaxError as e:
            _note_file_error(e, filename, "fix the Python syntax at that line.")
            raise
        except Exception as e:
            _note_file_error(e, filename, "the file raised an error while running; fix that line.",
                             _line_in_file(e, filename))
            raise
        self.from_object(d)
        return True

    def from_object(self, obj: object | str) -> None:
        """Copy the UPPERCASE attributes of an object, class or module (a string is imported first)."""
        if isinstance(obj, str):
            obj = import_string(obj)
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)

    def from_file(
        self,
        filename: str | os.PathLike[str],
        load: t.Callable[[t.IO[t.Any]], t.Mapping[str, t.Any]],
        silent: bool = False,
        text: bool = True,
    ) -> bool:
        """Load a data file (JSON, TOML, YAML ...) with `load(fp)` and merge its UPPERCASE keys."""
        filename = os.path.join(self.root_path, filename)
        try:
            with open(filename, "r" if text else "rb") as f:
                try:
                    obj = load(f)
                except Exception as e:
                    _note_file_error(e, filename, "the file is not valid for its loader; fix that line.")
                    raise
        except OSError as e:
            if silent and e.errno in (errno.ENOENT, errno.EISDIR):
                return False
            e.strerror = f"Unable to load configuration file ({e.strerror})"
            raise
        return self.from_mapping(obj)

    def from_mapping(self, mapping: t.Mapping[str, t.Any] | None = None, **kwargs: t.Any) -> bool:
        """Update with the UPPERCASE keys of a mapping and keyword arguments."""
        items: dict[str, t.Any] = {}
        if mapping is not None:
            items.update(mapping)
        items.update(kwargs)
        for key, value in items.items():
            if key.isupper():
                self[key] = value
        return True

    def get_namespace(self, namespace: str, lowercase: bool = True, trim_namespace: bool = True) -> dict[str, t.Any]:
        """Keys starting with `namespace` (e.g. `"IMAGE_STORE_"`), optionally trimmed and lower-cased."""
        rv = {}
        for k, v in self.items():
            if not k.startswith(namespace):
                continue
            key = k[len(namespace):] if trim_namespace else k
            rv[key.lower() if lowercase else key] = v
        return rv

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"
