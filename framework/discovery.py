"""How the CLI finds the app: `--app` / `FRAMEWORK_APP` strings, factories, and the default files.

`ScriptInfo` carries what the CLI knows about the app to load; `locate_app` imports and picks it.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import traceback
import typing as t
from types import ModuleType

import click

from .app import App
from .helpers import get_debug_flag, get_load_dotenv

#: Files tried, in order, when neither --app nor FRAMEWORK_APP names the app: App Engine's main.py,
#: then Flask's own order (wsgi.py before app.py).
DEFAULT_APP_FILES = ("main.py", "wsgi.py", "app.py")

class NoAppException(click.UsageError):
    """The app could not be found or imported."""


def _is_app(value: object) -> bool:
    return isinstance(value, App)


def _call_factory(module: ModuleType, factory: t.Callable[..., t.Any], args: list[t.Any], kwargs: dict[str, t.Any]) -> t.Any:
    try:
        return factory(*args, **kwargs)
    except TypeError as exc:
        if exc.__traceback__ is not None and exc.__traceback__.tb_next is None:
            # Raised by the call itself (wrong arguments), not inside the factory.
            raise NoAppException(
                f"Could not call {factory.__name__!r} in module {module.__name__!r} with the given arguments "
                f"({exc}). Pass them as --app '{module.__name__}:{factory.__name__}(...)'."
            ) from exc
        raise


def find_best_app(module: ModuleType) -> t.Any:
    """The app in `module`: `app` or `application`, the only App instance, or `create_app()` / `make_app()`."""
    for attr in ("app", "application"):
        if _is_app(getattr(module, attr, None)):
            return getattr(module, attr)
    found = [value for value in vars(module).values() if _is_app(value)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise NoAppException(
            f"Several apps were found in module {module.__name__!r}. Name the one to use with "
            f"--app '{module.__name__}:name'."
        )
    for attr in ("create_app", "make_app"):
        factory = getattr(module, attr, None)
        if callable(factory):
            app = _call_factory(module, factory, [], {})
            if _is_app(app):
                return app
            raise NoAppException(
                f"{attr}() in module {module.__name__!r} returned {app!r}, not an App instance."
            )
    raise NoAppException(
        f"No app was found in module {module.__name__!r}: it has no 'app' or 'application' App instance and "
        "no 'create_app' or 'make_app' factory. Name it with --app 'module:name'."
    )


def find_app_by_string(module: ModuleType, app_name: str) -> t.Any:
    """The app named by `app_name` in `module`: an attribute, or a factory call with literal arguments."""
    try:
        expr = ast.parse(app_name.strip(), mode="eval").body
    except SyntaxError:
        raise NoAppException(f"Could not parse {app_name!r} as an attribute name or function call.") from None
    if isinstance(expr, ast.Name):
        name, args, kwargs = expr.id, [], {}
    elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        name = expr.func.id
        try:
            args = [ast.literal_eval(arg) for arg in expr.args]
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in expr.keywords if kw.arg is not None}
        except ValueError:
            raise NoAppException(f"The arguments in {app_name!r} must be Python literals.") from None
    else:
        raise NoAppException(f"Could not parse {app_name!r} as an attribute name or function call.")
    try:
        target = getattr(module, name)
    except AttributeError:
        raise NoAppException(f"Module {module.__name__!r} has no attribute {name!r}.") from None
    app = _call_factory(module, target, args, kwargs) if callable(target) and not _is_app(target) else target
    if isinstance(expr, ast.Call) and not callable(target):
        raise NoAppException(f"{name!r} in module {module.__name__!r} is not callable.")
    if _is_app(app):
        return app
    raise NoAppException(f"{app_name!r} in module {module.__name__!r} is {app!r}, not an App instance.")


def prepare_import(path: str) -> str:
    """Module name for a file or dotted path; the directory above its package goes first on sys.path."""
    path = os.path.realpath(path)
    base, ext = os.path.splitext(path)
    if ext == ".py":
        path = base
    if os.path.basename(path) == "__init__":
        path = os.path.dirname(path)
    parts: list[str] = []
    while True:
        path, name = os.path.split(path)
        parts.append(name)
        if not os.path.exists(os.path.join(path, "__init__.py")):
            break
    if sys.path[0] != path:
        sys.path.insert(0, path)
    return ".".join(reversed(parts))


def locate_app(module_name: str, app_name: str | None, raise_if_not_found: bool = True) -> t.Any:
    """Import `module_name` and find the app in it; None if the module is missing and that is allowed."""
    try:
        __import__(module_name)
    except ImportError:
        if sys.exc_info()[2] is not None and sys.exc_info()[2].tb_next is not None:  # type: ignore[union-attr]
            # The module exists but an import inside it failed.
            raise NoAppException(
                f"While importing {module_name!r}, an ImportError was raised:\n\n{traceback.format_exc()}"
            ) from None
        if raise_if_not_found:
            raise NoAppException(f"Could not import {module_name!r}.") from None
        return None
    module = sys.modules[module_name]
    return find_best_app(module) if app_name is None else find_app_by_string(module, app_name)


class ScriptInfo:
    """What the CLI knows about the app to load: import path or factory, and loading options."""

    def __init__(
        self, app_import_path: str | None = None, create_app: t.Callable[..., t.Any] | None = None,
        set_debug_flag: bool = True, load_dotenv_defaults: bool = True,
    ) -> None:
        self.app_import_path = app_import_path
        self.create_app = create_app
        self.data: dict[t.Any, t.Any] = {}
        self.set_debug_flag = set_debug_flag
        self.load_dotenv_defaults = get_load_dotenv(load_dotenv_defaults)
        self._loaded_app: App | None = None

    def load_app(self) -> App:
        """Find, import and return the app (once; later calls return the same object)."""
        if self._loaded_app is not None:
            return self._loaded_app
        app = None
        if self.create_app is not None:
            app = self.create_app()
        elif self.app_import_path:
            parts = re.split(r":(?![\\/])", self.app_import_path, maxsplit=1)
            module_part, name = parts[0], (parts[1] if len(parts) > 1 else None)
            app = locate_app(prepare_import(module_part), name)
        else:
            for filename in DEFAULT_APP_FILES:
                if os.path.exists(filename):
                    app = locate_app(prepare_import(filename), None, raise_if_not_found=False)
                    if app is not None:
                        break
        if app is None:
            raise NoAppException(
                "Could not locate an app. Use the '--app' option or the 'FRAMEWORK_APP' environment variable "
                "(e.g. 'main:app' or 'factory:create_app()'), or put a 'main.py', 'wsgi.py' or 'app.py' in the current "
                "directory."
            )
        if self.set_debug_flag:
            app.debug = get_debug_flag()
        self._loaded_app = app
        return app
