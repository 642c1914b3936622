"""App: the application object — construction, config, registration, contexts and the delegates to
templating / CLI / testing. The per-request cycle lives in framework.dispatch, URL building in
framework.url_building."""

from __future__ import annotations

import collections.abc as cabc
import os
import sys
import typing as t
import weakref
from datetime import timedelta
from functools import cached_property
from inspect import CO_COROUTINE, iscoroutinefunction
from types import FunctionType

from werkzeug.datastructures import ImmutableDict
from werkzeug.exceptions import Aborter
from werkzeug.routing import MapAdapter
from werkzeug.utils import redirect as _wz_redirect
from werkzeug.wrappers import Response as BaseResponse

from . import fast_path, lifecycle, ndb
from .config import Config, ConfigAttribute
from .ctx import AppContext, RequestContext, _AppCtxGlobals, _default_template_ctx_processor
from .dispatch import RequestCycle
from .events import EventsMixin
from .globals import _cv_request, g
from .helpers import get_debug_flag
from .json.provider import DefaultJSONProvider, JSONProvider
from .lifecycle import HostingMixin
from .logging import create_logger
from .routing import Map, RouteCache, Rule
from .scaffold import _endpoint_from_view_func, find_package, setupmethod
from .url_building import UrlBuildingMixin
from .wrappers import Request, Response

if t.TYPE_CHECKING:  # pragma: no cover
    import logging

    from . import typing as ft
    from .blueprints import Blueprint
    from .cli import AppGroup
    from .dispatch import ExcInfo
    from .sessions import SessionInterface
    from .testing import FrameworkClient
    from .testing.cli import FrameworkCliRunner

    # Only the type checker reads these (see framework.scaffold).
    T_shell = t.TypeVar("T_shell", bound="ft.ShellContextProcessorCallable")
    T_teardown = t.TypeVar("T_teardown", bound="ft.TeardownCallable")
    T_filter = t.TypeVar("T_filter", bound="ft.TemplateFilterCallable")
    T_global = t.TypeVar("T_global", bound="ft.TemplateGlobalCallable")
    T_test = t.TypeVar("T_test", bound="ft.TemplateTestCallable")


def _make_timedelta(value: timedelta | int | None) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    return timedelta(seconds=value)


_TEARDOWN_METHODS = ("do_teardown_request", "do_teardown_appcontext")


class _DefaultSessionInterface:
    """Class attribute resolving to one shared SecureCookieSessionInterface, created on first use; the
    class holding this descriptor then holds the instance itself (a plain attribute read per request)."""

    _instance: t.Any = None

    def __get__(self, obj: t.Any, owner: t.Any = None) -> t.Any:
        if self._instance is None:
            from .sessions import SecureCookieSessionInterface  # cold start: itsdangerous

            _DefaultSessionInterface._instance = SecureCookieSessionInterface()
        for klass in (owner or type(obj)).__mro__:
            if klass.__dict__.get("session_interface") is self:
                type.__setattr__(klass, "session_interface", self._instance)
                break
        return self._instance


class _DefaultJinjaEnvironment:
    """Class attribute resolving to framework.templating.Environment (jinja2 imported on first use)."""

    def __get__(self, obj: t.Any, owner: t.Any = None) -> t.Any:
        from .templating import Environment  # cold start: jinja2

        return Environment


class App(RequestCycle, UrlBuildingMixin, HostingMixin, EventsMixin):
    """The application: register routes and hooks on it, then serve it as a WSGI callable."""

    request_class: type[Request] = Request
    response_class: type[Response] = Response
    aborter_class = Aborter
    jinja_environment: t.Any = _DefaultJinjaEnvironment()
    app_ctx_globals_class = _AppCtxGlobals
    config_class = Config
    # Typed by annotation, not by subscripting at run time (`ConfigAttribute[bool](...)` builds a generic alias
    # and compiles string arguments at import).
    testing: ConfigAttribute[bool] = ConfigAttribute("TESTING")
    secret_key: ConfigAttribute[str | bytes | None] = ConfigAttribute("SECRET_KEY")
    permanent_session_lifetime: ConfigAttribute[timedelta | None] = ConfigAttribute(
        "PERMANENT_SESSION_LIFETIME", _make_timedelta
    )
    json_provider_class: type[JSONProvider] = DefaultJSONProvider
    jinja_options: dict[str, t.Any] = {}
    url_rule_class = Rule
    url_map_class = Map
    test_client_class: type[FrameworkClient] | None = None
    test_cli_runner_class: type[FrameworkCliRunner] | None = None
    session_interface: SessionInterface = _DefaultSessionInterface()  # type: ignore[assignment]  # a descriptor

    default_config = ImmutableDict(
        {
            "DEBUG": None,
            "TESTING": False,
            "PROPAGATE_EXCEPTIONS": None,
            "SECRET_KEY": None,
            "SECRET_KEY_FALLBACKS": None,
            "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
            "USE_X_SENDFILE": False,
            "TRUSTED_HOSTS": None,
            "SERVER_NAME": None,
            "APPLICATION_ROOT": "/",
            "SESSION_COOKIE_NAME": "session",
            "SESSION_COOKIE_DOMAIN": None,
            "SESSION_COOKIE_PATH": None,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SECURE": False,
            "SESSION_COOKIE_PARTITIONED": False,
            "SESSION_COOKIE_SAMESITE": None,
            "SESSION_REFRESH_EACH_REQUEST": True,
            "MAX_CONTENT_LENGTH": None,
            "MAX_FORM_MEMORY_SIZE": 500_000,
            "MAX_FORM_PARTS": 1_000,
            "SEND_FILE_MAX_AGE_DEFAULT": None,
            "TRAP_BAD_REQUEST_ERRORS": None,
            "TRAP_HTTP_EXCEPTIONS": False,
            "EXPLAIN_TEMPLATE_LOADING": False,
            "PREFERRED_URL_SCHEME": "http",
            "TEMPLATES_AUTO_RELOAD": None,
            "MAX_COOKIE_SIZE": 4093,
            "PROVIDE_AUTOMATIC_OPTIONS": True,
        }
    )

    def __init__(
        self,
        import_name: str,
        static_url_path: str | None = None,
        static_folder: str | os.PathLike[str] | None = "static",
        static_host: str | None = None,
        host_matching: bool = False,
        subdomain_matching: bool = False,
        template_folder: str | os.PathLike[str] | None = "templates",
        instance_path: str | None = None,
        instance_relative_config: bool = False,
        root_path: str | None = None,
    ) -> None:
        super().__init__(
            import_name=import_name,
            static_folder=static_folder,
            static_url_path=static_url_path,
            template_folder=template_folder,
            root_path=root_path,
        )
        if instance_path is not None and not os.path.isabs(instance_path):
            raise ValueError("'instance_path' must be an absolute path.")
        self._instance_path = instance_path
        self.config = self.make_config(instance_relative_config)
        self.aborter = self.make_aborter()
        self.json: JSONProvider = self.json_provider_class(self)
        self.url_build_error_handlers: list[t.Callable[[Exception, str, dict[str, t.Any]], str]] = []
        self.teardown_appcontext_funcs: list[ft.TeardownCallable] = []
        self.shell_context_processors: list[ft.ShellContextProcessorCallable] = []
        self.blueprints: dict[str, Blueprint] = {}
        self.extensions: dict[str, t.Any] = {}
        self.context_hooks: list[t.Callable[[], t.ContextManager[t.Any]]] = []
        # The host's front-end step (framework.lifecycle), run on each environ first thing in wsgi_app.
        self.front_end: t.Callable[[dict[str, t.Any]], None] | None = None
        self.url_map = self.url_map_class(host_matching=host_matching)
        self.subdomain_matching = subdomain_matching
        self._got_first_request = False
        self._routes = RouteCache(self)
        self._fast_path = fast_path.methods_untouched(self)
        # Contexts skip calling an App teardown method that would find nothing to run (none replaced).
        self._plain_teardown = all(getattr(type(self), n) is getattr(App, n) for n in _TEARDOWN_METHODS)
        self._own_url_adapter = type(self).create_url_adapter is App.create_url_adapter
        self.template_context_processors[None].append(_default_template_ctx_processor)

        if self.has_static_folder:
            assert bool(static_host) == host_matching, (
                "'static_host' must be set exactly when 'host_matching' is True and a static folder is used."
            )
            self_ref = weakref.ref(self)
            self.add_url_rule(
                f"{self.static_url_path}/<path:filename>",
                endpoint="static",
                host=static_host,
                view_func=lambda **kw: self_ref().send_static_file(**kw),  # type: ignore[union-attr]
            )

        lifecycle.init_app(self)
        ndb.init_app(self)

    # --- setup state -------------------------------------------------------------------------------
    def _check_setup_finished(self, f_name: str) -> None:
        if self._got_first_request:
            raise AssertionError(
                f"The setup method '{f_name}' can no longer be called on the application: it has already"
                " handled its first request. Register everything (routes, hooks, blueprints) before the"
                " app starts serving."
            )

    @cached_property
    def name(self) -> str:  # type: ignore[override]  # Scaffold's plain attribute, computed here once
        """The app's name: `import_name`, or the script's stem when run as `__main__`."""
        if self.import_name == "__main__":
            fn = getattr(sys.modules["__main__"], "__file__", None)
            if fn is None:
                return "__main__"
            return os.path.splitext(os.path.basename(fn))[0]
        return self.import_name

    @property
    def instance_path(self) -> str:
        """Folder for instance files (config, databases); computed on first use unless given."""
        if self._instance_path is None:
            self._instance_path = self.auto_find_instance_path()
        return self._instance_path

    @instance_path.setter
    def instance_path(self, value: str) -> None:
        self._instance_path = value

    @cached_property
    def logger(self) -> logging.Logger:
        """The `logging` logger named after the app (see framework.logging)."""
        return create_logger(self)

    @property
    def debug(self) -> bool:
        """Debug mode (`config["DEBUG"]`)."""
        return bool(self.config["DEBUG"])

    @debug.setter
    def debug(self, value: bool) -> None:
        self.config["DEBUG"] = value
        if self.config["TEMPLATES_AUTO_RELOAD"] is None and "jinja_env" in self.__dict__:
            self.jinja_env.auto_reload = value

    def make_config(self, instance_relative: bool = False) -> Config:
        """The Config, seeded from `default_config` with DEBUG from `FRAMEWORK_DEBUG`."""
        root_path = self.instance_path if instance_relative else self.root_path
        defaults = dict(self.default_config)
        defaults["DEBUG"] = get_debug_flag()
        return self.config_class(root_path, defaults)

    def make_aborter(self) -> Aborter:
        """The object `abort` raises through."""
        return self.aborter_class()

    def auto_find_instance_path(self) -> str:
        """`<project>/instance`, or `<prefix>/var/<name>-instance` for installed packages."""
        prefix, package_path = find_package(self.import_name)
        if prefix is None:
            return os.path.join(package_path, "instance")
        return os.path.join(prefix, "var", f"{self.name}-instance")

    def open_instance_resource(self, resource: str, mode: str = "rb", encoding: str | None = "utf-8") -> t.IO[t.Any]:
        """Open a file relative to the instance folder (any mode)."""
        path = os.path.join(self.instance_path, resource)
        if "b" in mode:
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    # --- templating and CLI (delegated; their modules import jinja2 / click on first use) ----------
    @cached_property
    def jinja_env(self) -> t.Any:
        """The jinja2 Environment, created on first access."""
        return self.create_jinja_environment()

    def create_jinja_environment(self) -> t.Any:
        """Build the jinja2 Environment (framework.templating)."""
        from .templating import create_environment  # cold start: jinja2

        return create_environment(self)

    def create_global_jinja_loader(self) -> t.Any:
        """The loader searching the app's then each blueprint's templates."""
        from .templating import DispatchingLoader  # cold start: jinja2

        return DispatchingLoader(self)

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        """Autoescape string templates and .html/.htm/.xml/.xhtml/.svg files."""
        if filename is None:
            return True
        return filename.endswith((".html", ".htm", ".xml", ".xhtml", ".svg"))

    def update_template_context(self, context: dict[str, t.Any]) -> None:
        """Add context processor values (explicit render values win)."""
        from .templating import update_template_context  # cold start: jinja2

        update_template_context(self, context)

    @setupmethod
    def template_filter(self, name: str | None = None) -> t.Callable[[T_filter], T_filter]:
        """Decorator registering a jinja filter (call it: `@app.template_filter()`)."""

        def decorator(f: T_filter) -> T_filter:
            self.add_template_filter(f, name=name)
            return f

        return decorator

    @setupmethod
    def add_template_filter(self, f: ft.TemplateFilterCallable, name: str | None = None) -> None:
        """Register a jinja filter."""
        self.jinja_env.filters[name or f.__name__] = f

    @setupmethod
    def template_test(self, name: str | None = None) -> t.Callable[[T_test], T_test]:
        """Decorator registering a jinja test."""

        def decorator(f: T_test) -> T_test:
            self.add_template_test(f, name=name)
            return f

        return decorator

    @setupmethod
    def add_template_test(self, f: ft.TemplateTestCallable, name: str | None = None) -> None:
        """Register a jinja test."""
        self.jinja_env.tests[name or f.__name__] = f

    @setupmethod
    def template_global(self, name: str | None = None) -> t.Callable[[T_global], T_global]:
        """Decorator registering a jinja global."""

        def decorator(f: T_global) -> T_global:
            self.add_template_global(f, name=name)
            return f

        return decorator

    @setupmethod
    def add_template_global(self, f: ft.TemplateGlobalCallable, name: str | None = None) -> None:
        """Register a jinja global."""
        self.jinja_env.globals[name or f.__name__] = f

    @cached_property
    def cli(self) -> AppGroup:
        """The click command group of this app (framework.cli.AppGroup)."""
        from .cli import AppGroup  # cold start: click

        return AppGroup(self.name)

    def run(
        self,
        host: str | None = None,
        port: int | None = None,
        debug: bool | None = None,
        load_dotenv: bool = True,
        **options: t.Any,
    ) -> None:
        """Serve with the development server (framework.cli.run_app)."""
        from .cli import run_app  # cold start: click

        run_app(self, host, port, debug, load_dotenv, **options)

    def test_client(self, use_cookies: bool = True, **kwargs: t.Any) -> FrameworkClient:
        """A test client (werkzeug Client subclass) for this app."""
        cls = self.test_client_class
        if cls is None:
            from .testing import FrameworkClient  # cold start: werkzeug.test loads only for tests

            cls = FrameworkClient
        return cls(self, self.response_class, use_cookies=use_cookies, **kwargs)

    def test_cli_runner(self, **kwargs: t.Any) -> FrameworkCliRunner:
        """A click CliRunner for this app's commands."""
        cls = self.test_cli_runner_class
        if cls is None:
            from .testing.cli import FrameworkCliRunner  # cold start: click loads only for CLI tests

            cls = FrameworkCliRunner
        return cls(self, **kwargs)

    def make_shell_context(self) -> dict[str, t.Any]:
        """Names for the interactive shell: app, g, plus shell context processors."""
        rv: dict[str, t.Any] = {"app": self, "g": g}
        for processor in self.shell_context_processors:
            rv.update(processor())
        return rv

    # --- registration ------------------------------------------------------------------------------
    @setupmethod
    def register_blueprint(self, blueprint: Blueprint, **options: t.Any) -> None:
        """Register a blueprint (calls `blueprint.register(app, options)`)."""
        blueprint.register(self, options)

    def iter_blueprints(self) -> t.ValuesView[Blueprint]:
        """Registered blueprints in registration order."""
        return self.blueprints.values()

    @setupmethod
    def cron(self, schedule: str, **options: t.Any) -> t.Callable[[t.Callable[..., t.Any]], t.Callable[..., t.Any]]:
        """Declare a cron job: a `cron_only` GET route run on `schedule` (see framework.cron.declare)."""
        from .cron import declare  # cold start: the schedule grammar loads only for apps with cron jobs

        return declare(self, schedule, **options)

    @property
    def cron_jobs(self) -> list[t.Any]:
        """The `@app.cron` declarations (framework.cron.CronJobSpec), in order."""
        return self.extensions.get("framework.cron", [])

    def task(self, func: t.Callable[..., t.Any] | None = None, **options: t.Any) -> t.Any:
        """Declare a task function (`@app.task`, `@app.task(queue=...)`); see framework.tasks.declare."""
        from .tasks import declare  # cold start: Cloud Tasks support loads only for apps with tasks

        return declare(self, func, **options)

    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | None = None,
        provide_automatic_options: bool | None = None,
        **options: t.Any,
    ) -> None:
        """Register `rule` → `endpoint` (→ `view_func`); methods default to GET (+HEAD, +OPTIONS)."""
        if endpoint is None:
            endpoint = _endpoint_from_view_func(view_func)
        options["endpoint"] = endpoint
        methods = options.pop("methods", None)
        if methods is None:
            methods = getattr(view_func, "methods", None) or ("GET",)
        if isinstance(methods, str):
            raise TypeError('"methods" must be a list of method names, e.g. methods=["POST"], not a string.')
        methods = {item.upper() for item in methods}
        required = set(getattr(view_func, "required_methods", ()))
        if provide_automatic_options is None:
            provide_automatic_options = getattr(view_func, "provide_automatic_options", None)
        if provide_automatic_options is None:
            if "OPTIONS" not in methods and self.config["PROVIDE_AUTOMATIC_OPTIONS"]:
                provide_automatic_options = True
                required.add("OPTIONS")
            else:
                provide_automatic_options = False
        methods |= required
        rule_obj = self.url_rule_class(rule, methods=methods, **options)
        rule_obj.provide_automatic_options = provide_automatic_options  # type: ignore[attr-defined]
        self.url_map.add(rule_obj)
        if view_func is not None:
            old = self.view_functions.get(endpoint)
            if old is not None and old != view_func:
                raise AssertionError(
                    f"Endpoint {endpoint!r} is already bound to another view function; give this view a"
                    " different endpoint name."
                )
            self.view_functions[endpoint] = view_func

    @setupmethod
    def teardown_appcontext(self, f: T_teardown) -> T_teardown:
        """Run `f(exc_or_None)` when the app context is popped."""
        self.teardown_appcontext_funcs.append(f)
        return f

    @setupmethod
    def shell_context_processor(self, f: T_shell) -> T_shell:
        """Register a function adding names to the shell."""
        self.shell_context_processors.append(f)
        return f

    # --- contexts ----------------------------------------------------------------------------------
    def app_context(self) -> AppContext:
        """A new application context (`with app.app_context(): ...`)."""
        return AppContext(self)

    def request_context(self, environ: dict[str, t.Any]) -> RequestContext:
        """A new request context for a WSGI environ."""
        return RequestContext(self, environ)

    def test_request_context(self, *args: t.Any, **kwargs: t.Any) -> RequestContext:
        """A request context for an environ built from EnvironBuilder arguments (no hooks run)."""
        from .testing import EnvironBuilder  # cold start: werkzeug.test

        builder = EnvironBuilder(self, *args, **kwargs)
        try:
            return self.request_context(builder.get_environ())
        finally:
            builder.close()

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """The URL adapter for a request (host checked against TRUSTED_HOSTS), or for building
        URLs outside one (needs SERVER_NAME; else None)."""
        if request is not None:
            trusted = self.config["TRUSTED_HOSTS"]
            if trusted is not None:
                request.trusted_hosts = trusted
                request.host  # noqa: B018 - validates the Host header (SecurityError → 400)
            return self._routes.bind(request.environ)
        server_name = self.config["SERVER_NAME"]
        if server_name is None:
            return None
        return self._routes.bind_server(
            server_name, self.config["APPLICATION_ROOT"], self.config["PREFERRED_URL_SCHEME"]
        )

    # --- async ---------------------------------------------------------------------------------------
    def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """`func` itself, or a sync wrapper when it is a coroutine function."""
        if type(func) is FunctionType:  # the common case, without inspect's unwrapping
            if func.__code__.co_flags & CO_COROUTINE:
                return self.async_to_sync(func)
            return func
        if iscoroutinefunction(func):
            return self.async_to_sync(func)
        return func

    def async_to_sync(self, func: t.Callable[..., t.Coroutine[t.Any, t.Any, t.Any]]) -> t.Callable[..., t.Any]:
        """Run a coroutine function to completion from sync code (no asgiref needed)."""
        from ._async import run_sync  # cold start: asyncio loads with the first async view

        return run_sync(func)

    def redirect(self, location: str, code: int = 302) -> BaseResponse:
        """A redirect response of `response_class`."""
        return _wz_redirect(location, code=code, Response=self.response_class)

    def __setattr__(self, name: str, value: t.Any) -> None:
        # Replacing a dispatch method on the instance (as some extensions do) turns the fast path off.
        if name in fast_path.REPLACED_METHODS:
            object.__setattr__(self, "_fast_path", False)
        if name in _TEARDOWN_METHODS:
            object.__setattr__(self, "_plain_teardown", False)
        if name == "create_url_adapter":
            object.__setattr__(self, "_own_url_adapter", False)
        super().__setattr__(name, value)

    def log_exception(self, exc_info: ExcInfo) -> None:
        """Log an unhandled exception with the request path and method (records show "in app")."""
        req_ctx = _cv_request.get(None)
        where = f" on {req_ctx.request.path} [{req_ctx.request.method}]" if req_ctx is not None else ""
        self.logger.error(f"Exception{where}", exc_info=exc_info)

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> cabc.Iterable[bytes]:
        """WSGI entry point; delegates to `wsgi_app` (wrap that for middleware)."""
        return self.wsgi_app(environ, start_response)


Flask = App
