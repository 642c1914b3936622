"""Scaffold: what App and Blueprint share — routes, hooks, error handlers, static files, resources."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys
import typing as t
from collections import defaultdict
from datetime import timedelta
from functools import cached_property, update_wrapper

from werkzeug.exceptions import HTTPException, default_exceptions

from .files import send_from_directory
from .globals import current_app

if t.TYPE_CHECKING:  # pragma: no cover
    from werkzeug.wrappers import Response as BaseResponse

    from . import typing as ft

_sentinel = object()

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
# Only the type checker reads these (annotations are strings here): a TypeVar with a string bound compiles
# it, a cost every cold start would pay.
if t.TYPE_CHECKING:  # pragma: no cover
    T_after_request = t.TypeVar("T_after_request", bound="ft.AfterRequestCallable[t.Any]")
    T_before_request = t.TypeVar("T_before_request", bound="ft.BeforeRequestCallable")
    T_error_handler = t.TypeVar("T_error_handler", bound="ft.ErrorHandlerCallable")
    T_teardown = t.TypeVar("T_teardown", bound="ft.TeardownCallable")
    T_template_context_processor = t.TypeVar(
        "T_template_context_processor", bound="ft.TemplateContextProcessorCallable"
    )
    T_url_defaults = t.TypeVar("T_url_defaults", bound="ft.URLDefaultCallable")
    T_url_value_preprocessor = t.TypeVar("T_url_value_preprocessor", bound="ft.URLValuePreprocessorCallable")
    T_route = t.TypeVar("T_route", bound="ft.RouteCallable")


def setupmethod(f: F) -> F:
    """Mark a registration method: it refuses to run once setup is over (see `_check_setup_finished`)."""
    name = f.__name__

    def wrapper_func(self: Scaffold, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self._check_setup_finished(name)
        return f(self, *args, **kwargs)

    return t.cast(F, update_wrapper(wrapper_func, f))


def get_root_path(import_name: str) -> str:
    """Directory of the module or package `import_name` (cwd when it cannot be found)."""
    mod = sys.modules.get(import_name)
    file: str | None = getattr(mod, "__file__", None) if mod is not None else None
    if file is not None:
        return os.path.dirname(os.path.abspath(file))
    try:
        spec = importlib.util.find_spec(import_name)
        if spec is None:
            raise ValueError
    except (ImportError, ValueError):
        return os.getcwd()
    if spec.origin is not None and spec.origin not in ("namespace", "built-in", "frozen"):
        return os.path.dirname(os.path.abspath(spec.origin))
    raise RuntimeError(
        f"Cannot find a root path for {import_name!r}: it is a namespace package or has no file."
        " Pass 'root_path' explicitly."
    )


def _package_location(import_name: str) -> str:
    """Directory containing the top-level package (or module) of `import_name`."""
    top = import_name.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)
        if spec is None:
            raise ValueError
    except (ImportError, ValueError):
        return os.getcwd()
    if spec.submodule_search_locations:
        if spec.origin is None or spec.origin == "namespace":
            return os.path.dirname(next(iter(spec.submodule_search_locations)))
        return os.path.dirname(os.path.dirname(spec.origin))
    return os.path.dirname(spec.origin or os.getcwd())


def find_package(import_name: str) -> tuple[str | None, str]:
    """(installation prefix or None, directory containing the package) for `import_name`."""
    location = _package_location(import_name)
    prefix = os.path.abspath(sys.prefix)
    if pathlib.PurePath(location).is_relative_to(prefix):
        return prefix, location
    parent, folder = os.path.split(location)
    if folder.lower() == "site-packages":
        grand, name = os.path.split(parent)
        if name.lower() == "lib":
            return grand, location
        if os.path.basename(grand).lower() == "lib":
            return os.path.dirname(grand), location
        return parent, location
    return None, location


def _endpoint_from_view_func(view_func: t.Callable[..., t.Any] | None) -> str:
    assert view_func is not None, "expected a view function when no endpoint is given"
    return view_func.__name__


class Scaffold:
    """Registration shared by App and Blueprint; data lives in the dicts ARCHITECTURE.md names."""

    name: str
    _static_folder: str | None = None
    _static_url_path: str | None = None

    def __init__(
        self,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        root_path: str | None = None,
    ) -> None:
        self.import_name = import_name
        self.static_folder = static_folder
        self.static_url_path = static_url_path
        self.template_folder = template_folder
        if root_path is None:
            root_path = get_root_path(self.import_name)
        self.root_path = root_path
        self.view_functions: dict[str, ft.RouteCallable] = {}
        self.error_handler_spec: dict[
            ft.AppOrBlueprintKey, dict[int | None, dict[type[Exception], ft.ErrorHandlerCallable]]
        ] = defaultdict(lambda: defaultdict(dict))
        self.before_request_funcs: dict[ft.AppOrBlueprintKey, list[ft.BeforeRequestCallable]] = defaultdict(list)
        self.after_request_funcs: dict[ft.AppOrBlueprintKey, list[ft.AfterRequestCallable[t.Any]]] = defaultdict(list)
        self.teardown_request_funcs: dict[ft.AppOrBlueprintKey, list[ft.TeardownCallable]] = defaultdict(list)
        self.template_context_processors: dict[
            ft.AppOrBlueprintKey, list[ft.TemplateContextProcessorCallable]
        ] = defaultdict(list)
        self.url_value_preprocessors: dict[
            ft.AppOrBlueprintKey, list[ft.URLValuePreprocessorCallable]
        ] = defaultdict(list)
        self.url_default_functions: dict[ft.AppOrBlueprintKey, list[ft.URLDefaultCallable]] = defaultdict(list)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _check_setup_finished(self, f_name: str) -> None:
        raise NotImplementedError

    # --- static files, templates, resources -------------------------------------------------------
    @property
    def static_folder(self) -> str | None:
        """Absolute path of the static folder, or None."""
        if self._static_folder is not None:
            return os.path.join(self.root_path, self._static_folder)
        return None

    @static_folder.setter
    def static_folder(self, value: str | os.PathLike[str] | None) -> None:
        if value is not None:
            value = os.fspath(value).rstrip(r"\/")
        self._static_folder = value

    @property
    def has_static_folder(self) -> bool:
        """True if a static folder is configured."""
        return self.static_folder is not None

    @property
    def static_url_path(self) -> str | None:
        """URL prefix of the static route (default: `/` + the static folder's base name)."""
        if self._static_url_path is not None:
            return self._static_url_path
        if self.static_folder is not None:
            basename = os.path.basename(self.static_folder)
            return f"/{basename}".rstrip("/")
        return None

    @static_url_path.setter
    def static_url_path(self, value: str | None) -> None:
        if value is not None:
            value = value.rstrip("/")
        self._static_url_path = value

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """Cache max-age for static files: `SEND_FILE_MAX_AGE_DEFAULT` in seconds, or None."""
        value = current_app.config["SEND_FILE_MAX_AGE_DEFAULT"]
        if value is None:
            return None
        if isinstance(value, timedelta):
            return int(value.total_seconds())
        return value

    def send_static_file(self, filename: str) -> BaseResponse:
        """Serve a file from the static folder (the view of the `static` route)."""
        if not self.has_static_folder:
            raise RuntimeError("'static_folder' must be set to serve static files.")
        max_age = self.get_send_file_max_age(filename)
        return send_from_directory(t.cast(str, self.static_folder), filename, max_age=max_age)

    @cached_property
    def jinja_loader(self) -> t.Any:
        """A jinja2 FileSystemLoader for `template_folder`, or None (jinja2 imported on first use)."""
        if self.template_folder is None:
            return None
        from jinja2 import FileSystemLoader  # cold start: jinja2

        return FileSystemLoader(os.path.join(self.root_path, self.template_folder))

    def open_resource(self, resource: str, mode: str = "rb", encoding: str | None = None) -> t.IO[t.AnyStr]:
        """Open a file relative to `root_path` for reading."""
        if mode not in {"r", "rt", "rb"}:
            raise ValueError("Resources can only be opened for reading ('r', 'rt' or 'rb').")
        path = os.path.join(self.root_path, resource)
        if mode == "rb":
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    # --- routes ------------------------------------------------------------------------------------
    def _method_route(self, method: str, rule: str, options: dict[str, t.Any]) -> t.Callable[[T_route], T_route]:
        if "methods" in options:
            raise TypeError(f"Use the 'route' decorator to pass 'methods'; '{method.lower()}' sets it to {method}.")
        return self.route(rule, methods=[method], **options)

    @setupmethod
    def get(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """`route` for GET."""
        return self._method_route("GET", rule, options)

    @setupmethod
    def post(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """`route` for POST."""
        return self._method_route("POST", rule, options)

    @setupmethod
    def put(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """`route` for PUT."""
        return self._method_route("PUT", rule, options)

    @setupmethod
    def delete(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """`route` for DELETE."""
        return self._method_route("DELETE", rule, options)

    @setupmethod
    def patch(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """`route` for PATCH."""
        return self._method_route("PATCH", rule, options)

    @setupmethod
    def route(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """Decorator registering a view for `rule` (options as for `add_url_rule`)."""

        def decorator(f: T_route) -> T_route:
            endpoint = options.pop("endpoint", None)
            self.add_url_rule(rule, endpoint, f, **options)
            return f

        return decorator

    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | None = None,
        provide_automatic_options: bool | None = None,
        **options: t.Any,
    ) -> None:
        """Register a URL rule (implemented by App and Blueprint)."""
        raise NotImplementedError

    @setupmethod
    def endpoint(self, endpoint: str) -> t.Callable[[F], F]:
        """Decorator storing the function as the view of `endpoint`."""

        def decorator(f: F) -> F:
            self.view_functions[endpoint] = f
            return f

        return decorator

    # --- hooks -------------------------------------------------------------------------------------
    @setupmethod
    def before_request(self, f: T_before_request) -> T_before_request:
        """Run `f()` before each view; a non-None return becomes the response."""
        self.before_request_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def after_request(self, f: T_after_request) -> T_after_request:
        """Run `f(response)` after each view; it must return a response."""
        self.after_request_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def teardown_request(self, f: T_teardown) -> T_teardown:
        """Run `f(exc_or_None)` when the request context is popped."""
        self.teardown_request_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def context_processor(self, f: T_template_context_processor) -> T_template_context_processor:
        """Register a function returning extra template variables."""
        self.template_context_processors[None].append(f)
        return f

    @setupmethod
    def url_value_preprocessor(self, f: T_url_value_preprocessor) -> T_url_value_preprocessor:
        """Run `f(endpoint, view_args)` after matching, before the before_request functions."""
        self.url_value_preprocessors[None].append(f)
        return f

    @setupmethod
    def url_defaults(self, f: T_url_defaults) -> T_url_defaults:
        """Run `f(endpoint, values)` when building URLs, to fill in values."""
        self.url_default_functions[None].append(f)
        return f

    # --- error handlers ----------------------------------------------------------------------------
    @setupmethod
    def errorhandler(self, code_or_exception: type[Exception] | int) -> t.Callable[[T_error_handler], T_error_handler]:
        """Decorator registering an error handler for a status code or exception class."""

        def decorator(f: T_error_handler) -> T_error_handler:
            self.register_error_handler(code_or_exception, f)
            return f

        return decorator

    @setupmethod
    def register_error_handler(self, code_or_exception: type[Exception] | int, f: ft.ErrorHandlerCallable) -> None:
        """Register `f` for a status code or exception class."""
        exc_class, code = self._get_exc_class_and_code(code_or_exception)
        self.error_handler_spec[None][code][exc_class] = f

    @staticmethod
    def _get_exc_class_and_code(exc_class_or_code: type[Exception] | int) -> tuple[type[Exception], int | None]:
        """(exception class, code or None) for a code or class; validates the argument."""
        exc_class: type[Exception]
        if isinstance(exc_class_or_code, int):
            try:
                exc_class = default_exceptions[exc_class_or_code]
            except KeyError:
                raise ValueError(
                    f"'{exc_class_or_code}' is not an HTTP error code werkzeug knows; register a handler"
                    " for an HTTPException subclass instead."
                ) from None
        else:
            exc_class = exc_class_or_code
        if isinstance(exc_class, Exception):
            raise TypeError(f"{exc_class!r} is an exception instance; register its class instead.")
        if not isinstance(exc_class, type):
            raise TypeError(f"{exc_class!r} is neither an exception class nor an HTTP status code.")
        if not issubclass(exc_class, Exception):
            raise ValueError(f"'{exc_class.__name__}' is not an Exception subclass; handlers need one.")
        if issubclass(exc_class, HTTPException):
            return exc_class, exc_class.code
        return exc_class, None
