"""App: the WSGI application — registration, config, contexts, dispatch, errors and responses."""

from __future__ import annotations

import collections.abc as cabc
import os
import sys
import typing as t
import weakref
from datetime import timedelta
from functools import cached_property
from inspect import iscoroutinefunction
from itertools import chain

from werkzeug.datastructures import Headers, ImmutableDict
from werkzeug.exceptions import (
    Aborter,
    BadRequest,
    BadRequestKeyError,
    HTTPException,
    InternalServerError,
)
from werkzeug.routing import BuildError, MapAdapter, RequestRedirect, RoutingException
from werkzeug.wrappers import Response as BaseResponse

from . import typing as ft
from .adapters.events import EventsMixin
from .config import Config, ConfigAttribute
from .ctx import AppContext, RequestContext, _AppCtxGlobals, _default_template_ctx_processor, _send
from .globals import _cv_app, _cv_request
from .helpers import get_debug_flag
from .hosting import HostingMixin
from .json.provider import DefaultJSONProvider, JSONProvider
from .routing import Map, RouteCache, Rule
from .scaffold import Scaffold, _endpoint_from_view_func, find_package, setupmethod
from .wrappers import Request, Response

if t.TYPE_CHECKING:  # pragma: no cover
    import logging

    from .testing import FrameworkClient

T_shell = t.TypeVar("T_shell", bound=ft.ShellContextProcessorCallable)
T_teardown = t.TypeVar("T_teardown", bound=ft.TeardownCallable)
T_filter = t.TypeVar("T_filter", bound=ft.TemplateFilterCallable)
T_global = t.TypeVar("T_global", bound=ft.TemplateGlobalCallable)
T_test = t.TypeVar("T_test", bound=ft.TemplateTestCallable)

_sentinel = object()


def _make_timedelta(value: timedelta | int | None) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    return timedelta(seconds=value)


class _DefaultSessionInterface:
    """Class attribute resolving to one shared SecureCookieSessionInterface, created on first use."""

    _instance: t.Any = None

    def __get__(self, obj: t.Any, owner: t.Any = None) -> t.Any:
        if self._instance is None:
            from .sessions import SecureCookieSessionInterface

            _DefaultSessionInterface._instance = SecureCookieSessionInterface()
        return self._instance


# Methods whose overriding in a subclass disables the direct-response fast path.
_FAST_PATH_METHODS = (
    "full_dispatch_request", "preprocess_request", "dispatch_request", "make_response",
    "process_response", "finalize_request", "ensure_sync",
)
_HTML = "text/html; charset=utf-8"
_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"


class App(Scaffold, HostingMixin, EventsMixin):
    """The application: register routes and hooks on it, then serve it as a WSGI callable."""

    request_class: type[Request] = Request
    response_class: type[Response] = Response
    aborter_class = Aborter
    jinja_environment: t.Any = None  # framework.templating.Environment when templating sets it
    app_ctx_globals_class = _AppCtxGlobals
    config_class = Config
    testing = ConfigAttribute[bool]("TESTING")
    secret_key = ConfigAttribute["str | bytes | None"]("SECRET_KEY")
    permanent_session_lifetime = ConfigAttribute[timedelta]("PERMANENT_SESSION_LIFETIME", _make_timedelta)
    json_provider_class: type[JSONProvider] = DefaultJSONProvider
    jinja_options: dict[str, t.Any] = {}
    url_rule_class = Rule
    url_map_class = Map
    test_client_class: type[FrameworkClient] | None = None
    test_cli_runner_class: type[t.Any] | None = None
    session_interface: t.Any = _DefaultSessionInterface()

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
        self.blueprints: dict[str, t.Any] = {}
        self.extensions: dict[str, t.Any] = {}
        self.context_hooks: list[t.Callable[[], t.ContextManager[t.Any]]] = []
        self.url_map = self.url_map_class(host_matching=host_matching)
        self.subdomain_matching = subdomain_matching
        self._got_first_request = False
        self._routes = RouteCache(self)
        cls = type(self)
        self._fast_path = all(getattr(cls, m) is getattr(App, m) for m in _FAST_PATH_METHODS)
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

        from . import datastore, hosting

        hosting.init_app(self)
        datastore.init_app(self)

    # --- setup state -------------------------------------------------------------------------------
    def _check_setup_finished(self, f_name: str) -> None:
        if self._got_first_request:
            raise AssertionError(
                f"The setup method '{f_name}' can no longer be called on the application: it has already"
                " handled its first request. Register everything (routes, hooks, blueprints) before the"
                " app starts serving."
            )

    @cached_property
    def name(self) -> str:
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
        from .logging import create_logger

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
        from .templating import create_environment

        return create_environment(self)

    def create_global_jinja_loader(self) -> t.Any:
        """The loader searching the app's then each blueprint's templates."""
        from .templating import DispatchingLoader

        return DispatchingLoader(self)

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        """Autoescape string templates and .html/.htm/.xml/.xhtml/.svg files."""
        if filename is None:
            return True
        return filename.endswith((".html", ".htm", ".xml", ".xhtml", ".svg"))

    def update_template_context(self, context: dict[str, t.Any]) -> None:
        """Add context processor values (explicit render values win)."""
        from .templating import update_template_context

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
    def cli(self) -> t.Any:
        """The click command group of this app (framework.cli.AppGroup)."""
        from .cli import AppGroup

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
        from .cli import run_app

        run_app(self, host, port, debug, load_dotenv, **options)

    def test_client(self, use_cookies: bool = True, **kwargs: t.Any) -> FrameworkClient:
        """A test client (werkzeug Client subclass) for this app."""
        cls = self.test_client_class
        if cls is None:
            from .testing import FrameworkClient as cls  # type: ignore[assignment]
        return cls(self, self.response_class, use_cookies=use_cookies, **kwargs)  # type: ignore[misc]

    def test_cli_runner(self, **kwargs: t.Any) -> t.Any:
        """A click CliRunner for this app's commands."""
        cls = self.test_cli_runner_class
        if cls is None:
            from .testing import FrameworkCliRunner as cls
        return cls(self, **kwargs)

    def make_shell_context(self) -> dict[str, t.Any]:
        """Names for the interactive shell: app, g, plus shell context processors."""
        from .globals import g

        rv: dict[str, t.Any] = {"app": self, "g": g}
        for processor in self.shell_context_processors:
            rv.update(processor())
        return rv

    # --- registration ------------------------------------------------------------------------------
    @setupmethod
    def register_blueprint(self, blueprint: t.Any, **options: t.Any) -> None:
        """Register a blueprint (calls `blueprint.register(app, options)`)."""
        blueprint.register(self, options)

    def iter_blueprints(self) -> t.ValuesView[t.Any]:
        """Registered blueprints in registration order."""
        return self.blueprints.values()

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
        from .testing import EnvironBuilder

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
        return self.url_map.bind(
            server_name,
            script_name=self.config["APPLICATION_ROOT"],
            url_scheme=self.config["PREFERRED_URL_SCHEME"],
        )

    # --- async ---------------------------------------------------------------------------------------
    def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """`func` itself, or a sync wrapper when it is a coroutine function."""
        if iscoroutinefunction(func):
            return self.async_to_sync(func)
        return func

    def async_to_sync(self, func: t.Callable[..., t.Coroutine[t.Any, t.Any, t.Any]]) -> t.Callable[..., t.Any]:
        """Run a coroutine function to completion from sync code (no asgiref needed)."""
        from ._async import run_sync

        return run_sync(func)

    # --- URLs ----------------------------------------------------------------------------------------
    def url_for(
        self,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: t.Any,
    ) -> str:
        """Build the URL of `endpoint`; unknown values become query args."""
        req_ctx = _cv_request.get(None)
        if req_ctx is not None:
            url_adapter = req_ctx.url_adapter
            if endpoint[:1] == ".":
                bp = req_ctx.request.blueprint
                endpoint = f"{bp}{endpoint}" if bp is not None else endpoint[1:]
            if _external is None:
                _external = _scheme is not None
        else:
            app_ctx = _cv_app.get(None)
            url_adapter = app_ctx.url_adapter if app_ctx is not None else self.create_url_adapter(None)
            if url_adapter is None:
                raise RuntimeError(
                    "Cannot build a URL outside a request without 'SERVER_NAME' in the config; set it"
                    " (and 'APPLICATION_ROOT' / 'PREFERRED_URL_SCHEME' if needed)."
                )
            if _external is None:
                _external = True
        if _scheme is not None and not _external:
            raise ValueError("'_scheme' needs '_external=True' (a scheme only appears in absolute URLs).")
        self.inject_url_defaults(endpoint, values)
        try:
            rv = url_adapter.build(  # type: ignore[union-attr]
                endpoint, values, method=_method, url_scheme=_scheme, force_external=_external
            )
        except BuildError as error:
            values.update(_anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external)
            return self.handle_url_build_error(error, endpoint, values)
        if _anchor is not None:
            from urllib.parse import quote

            rv = f"{rv}#{quote(_anchor, safe=_ANCHOR_SAFE)}"
        return rv

    def inject_url_defaults(self, endpoint: str, values: dict[str, t.Any]) -> None:
        """Run url_defaults functions: the app's, then each blueprint's from outer to inner."""
        funcs = self.url_default_functions
        if not funcs:
            return
        names: list[str | None] = [None]
        if "." in endpoint:
            bp = endpoint.rpartition(".")[0]
            parts = bp.split(".")
            names.extend(".".join(parts[: i + 1]) for i in range(len(parts)))
        for name in names:
            if name in funcs:
                for func in funcs[name]:
                    func(endpoint, values)

    def handle_url_build_error(self, error: BuildError, endpoint: str, values: dict[str, t.Any]) -> str:
        """Ask `url_build_error_handlers` for a URL; re-raise the BuildError if none gives one."""
        for handler in self.url_build_error_handlers:
            try:
                rv = handler(error, endpoint, values)
            except BuildError as e:
                error = e
            else:
                if rv is not None:
                    return rv
        if error is sys.exc_info()[1]:
            raise
        raise error

    def redirect(self, location: str, code: int = 302) -> BaseResponse:
        """A redirect response of `response_class`."""
        from werkzeug.utils import redirect as _wz_redirect

        return _wz_redirect(location, code=code, Response=self.response_class)

    # --- dispatch ------------------------------------------------------------------------------------
    def preprocess_request(self) -> ft.ResponseReturnValue | None:
        """url_value_preprocessors, then before_request functions (app first, then blueprints)."""
        req = _cv_request.get().request
        preprocessors = self.url_value_preprocessors
        befores = self.before_request_funcs
        if not preprocessors and not befores:
            return None
        names = (None, *reversed(req.blueprints))
        for name in names:
            if name in preprocessors:
                for url_func in preprocessors[name]:
                    url_func(req.endpoint, req.view_args)
        for name in names:
            if name in befores:
                for before_func in befores[name]:
                    rv = self.ensure_sync(before_func)()
                    if rv is not None:
                        return rv  # type: ignore[no-any-return]
        return None

    def raise_routing_exception(self, request: Request) -> t.NoReturn:
        """Re-raise the stored routing error (debug: refuse redirects that would drop a form body)."""
        exc = request.routing_exception
        assert exc is not None
        if (
            not self.debug
            or not isinstance(exc, RequestRedirect)
            or exc.code in {307, 308}
            or request.method in {"GET", "HEAD", "OPTIONS"}
        ):
            raise exc
        raise AssertionError(
            f"A request to {request.url!r} was redirected to {exc.new_url!r} with code {exc.code}; the"
            " browser would drop the form data. Fix the URL (e.g. the trailing slash) in the form."
        )

    def dispatch_request(self) -> ft.ResponseReturnValue:
        """Call the matched view with the URL values (or answer an automatic OPTIONS)."""
        req = _cv_request.get().request
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule = req.url_rule
        if req.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
            return self.make_default_options_response()
        view = self.view_functions[rule.endpoint]  # type: ignore[union-attr]
        return self.ensure_sync(view)(**req.view_args)  # type: ignore[no-any-return]

    def full_dispatch_request(self) -> Response:
        """Signals, preprocessing, the view, user-exception handling, then finalize."""
        self._got_first_request = True
        try:
            _send("request_started", self)
            rv = self.preprocess_request()
            if rv is None:
                rv = self.dispatch_request()
        except Exception as e:
            rv = self.handle_user_exception(e)
        return self.finalize_request(rv)

    def finalize_request(self, rv: ft.ResponseReturnValue | HTTPException, from_error_handler: bool = False) -> Response:
        """make_response → process_response → request_finished (errors only logged when handling one)."""
        response = self.make_response(rv)
        try:
            response = self.process_response(response)
            _send("request_finished", self, response=response)
        except Exception:
            if not from_error_handler:
                raise
            self.logger.exception("Request finalizing failed with an error while handling an error")
        return response

    def make_default_options_response(self) -> Response:
        """Empty 200 response whose Allow header lists the URL's methods."""
        ctx = _cv_request.get()
        adapter = ctx.url_adapter
        methods = adapter.allowed_methods(ctx.request.path)  # type: ignore[union-attr]
        rv = self.response_class()
        rv.allow.update(methods)
        return rv

    def process_response(self, response: Response) -> Response:
        """after_this_request functions, after_request functions (inner to outer, reversed), session save."""
        ctx = _cv_request.get()
        for func in ctx._after_request_functions:
            response = self.ensure_sync(func)(response)
        afters = self.after_request_funcs
        if afters:
            for name in chain(ctx.request.blueprints, (None,)):
                if name in afters:
                    for func in reversed(afters[name]):
                        response = self.ensure_sync(func)(response)
        self._save_session(ctx, response)
        return response

    def _save_session(self, ctx: RequestContext, response: Response) -> None:
        """Save the session if it was opened, or if the request carries the session cookie."""
        sess = ctx._session
        if sess is None:
            if "HTTP_COOKIE" not in ctx.request.environ:
                return
            interface = self.session_interface
            if interface.get_cookie_name(self) not in ctx.request.cookies:
                return
            sess = ctx._open_session()
        else:
            interface = self.session_interface
        if not interface.is_null_session(sess):
            interface.save_session(self, sess, response)

    def make_response(self, rv: ft.ResponseReturnValue | HTTPException) -> Response:
        """Convert a view's return value (str, bytes, dict, list, tuple, Response, WSGI app, iterator)."""
        status: t.Any = None
        headers: t.Any = None
        if isinstance(rv, tuple):
            n = len(rv)
            if n == 3:
                rv, status, headers = rv  # type: ignore[misc]
            elif n == 2:
                if isinstance(rv[1], (Headers, dict, tuple, list)):
                    rv, headers = rv  # type: ignore[assignment]
                else:
                    rv, status = rv  # type: ignore[assignment]
            else:
                raise TypeError(
                    "The view returned a tuple of the wrong size. Return (body, status, headers),"
                    " (body, status) or (body, headers)."
                )
        if rv is None:
            req_ctx = _cv_request.get(None)
            endpoint = req_ctx.request.endpoint if req_ctx is not None else None
            raise TypeError(
                f"The view function for {endpoint!r} returned None (or reached its end without a return"
                " statement); it must return a response."
            )
        if not isinstance(rv, self.response_class):
            if isinstance(rv, (str, bytes, bytearray, cabc.Iterator)):
                rv = self.response_class(rv, status=status, headers=headers)  # type: ignore[arg-type]
                status = headers = None
            elif isinstance(rv, (dict, list)):
                rv = self.json.response(rv)
            elif isinstance(rv, BaseResponse) or callable(rv):
                try:
                    rv = self.response_class.force_type(rv, _cv_request.get().request.environ)  # type: ignore[arg-type]
                except TypeError as e:
                    raise TypeError(
                        f"{e}\nThe view returned a {type(rv).__name__} that could not be used as a response:"
                        " return a string, dict, list, (body, status/headers) tuple, Response or WSGI"
                        " callable."
                    ).with_traceback(sys.exc_info()[2]) from None
            else:
                raise TypeError(
                    f"The view returned a {type(rv).__name__}, which is not a valid response: return a"
                    " string, dict, list, (body, status/headers) tuple, Response instance or WSGI callable."
                )
        response = t.cast(Response, rv)
        if status is not None:
            if isinstance(status, (str, bytes, bytearray)):
                response.status = status  # type: ignore[assignment]
            else:
                response.status_code = int(status)
        if headers:
            response.headers.update(headers)
        return response

    # --- errors --------------------------------------------------------------------------------------
    def _find_error_handler(self, e: Exception, blueprints: list[str]) -> ft.ErrorHandlerCallable | None:
        """Handler for `e`: code before class; innermost blueprint before the app; nearest class in MRO."""
        exc_class, code = self._get_exc_class_and_code(type(e))
        names = (*blueprints, None)
        spec = self.error_handler_spec
        for c in (code, None) if code is not None else (None,):
            for name in names:
                by_code = spec.get(name)
                if not by_code:
                    continue
                handler_map = by_code.get(c)
                if not handler_map:
                    continue
                for cls in exc_class.__mro__:
                    handler = handler_map.get(cls)
                    if handler is not None:
                        return handler
        return None

    def trap_http_exception(self, e: Exception) -> bool:
        """Whether an HTTPException is treated like an ordinary unhandled error (TRAP_* config)."""
        if self.config["TRAP_HTTP_EXCEPTIONS"]:
            return True
        trap_bad_request = self.config["TRAP_BAD_REQUEST_ERRORS"]
        if trap_bad_request is None and self.debug and isinstance(e, BadRequestKeyError):
            return True
        if trap_bad_request:
            return isinstance(e, BadRequest)
        return False

    def handle_http_exception(self, e: HTTPException) -> HTTPException | ft.ResponseReturnValue:
        """The registered handler's result, or the exception itself as the response."""
        if e.code is None:
            return e
        if isinstance(e, RoutingException):
            return e
        handler = self._find_error_handler(e, _cv_request.get().request.blueprints)
        if handler is None:
            return e
        return self.ensure_sync(handler)(e)  # type: ignore[no-any-return]

    def handle_user_exception(self, e: Exception) -> HTTPException | ft.ResponseReturnValue:
        """Route an exception from dispatch to its handler; re-raise when none applies."""
        if isinstance(e, BadRequestKeyError) and (self.debug or self.config["TRAP_BAD_REQUEST_ERRORS"]):
            e.show_exception = True
        if isinstance(e, HTTPException) and not self.trap_http_exception(e):
            return self.handle_http_exception(e)
        handler = self._find_error_handler(e, _cv_request.get().request.blueprints)
        if handler is None:
            raise
        return self.ensure_sync(handler)(e)  # type: ignore[no-any-return]

    def handle_exception(self, e: Exception) -> Response:
        """An unhandled exception: propagate (debug/testing) or log it and answer 500."""
        exc_info = sys.exc_info()
        _send("got_request_exception", self, exception=e)
        propagate = self.config["PROPAGATE_EXCEPTIONS"]
        if propagate is None:
            propagate = self.testing or self.debug
        if propagate:
            if exc_info[1] is e:
                raise
            raise e
        self.log_exception(exc_info)
        server_error: InternalServerError | ft.ResponseReturnValue = InternalServerError(original_exception=e)
        req_ctx = _cv_request.get(None)
        handler = self._find_error_handler(server_error, req_ctx.request.blueprints if req_ctx else [])  # type: ignore[arg-type]
        if handler is not None:
            server_error = self.ensure_sync(handler)(server_error)
        return self.finalize_request(server_error, from_error_handler=True)

    def log_exception(self, exc_info: t.Any) -> None:
        """Log an unhandled exception with the request path and method."""
        req_ctx = _cv_request.get(None)
        where = f" on {req_ctx.request.path} [{req_ctx.request.method}]" if req_ctx is not None else ""
        self.logger.error(f"Exception{where}", exc_info=exc_info)

    def should_ignore_error(self, error: BaseException | None) -> bool:
        """Return True to hide `error` from teardown functions (default: never)."""
        return False

    # --- teardown ------------------------------------------------------------------------------------
    def do_teardown_request(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        """teardown_request functions (innermost blueprint → app, each reversed), then the signal."""
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        funcs = self.teardown_request_funcs
        if funcs:
            for name in chain(_cv_request.get().request.blueprints, (None,)):
                if name in funcs:
                    for func in reversed(funcs[name]):
                        self.ensure_sync(func)(exc)
        _send("request_tearing_down", self, exc=exc)

    def do_teardown_appcontext(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        """teardown_appcontext functions in reverse, then the signal."""
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        for func in reversed(self.teardown_appcontext_funcs):
            self.ensure_sync(func)(exc)
        _send("appcontext_tearing_down", self, exc=exc)

    # --- WSGI ----------------------------------------------------------------------------------------
    def _direct_response(self, ctx: RequestContext, rv: t.Any, environ: dict[str, t.Any],
                         start_response: t.Any) -> list[bytes] | None:
        """Answer str/bytes/dict/list returns without building a Response, when nothing could observe it.

        Returns None (use the normal path) if there are after-request functions, a session in play,
        request_finished receivers, or a non-default response class / JSON provider.
        """
        cls = rv.__class__
        if cls is str:
            body = rv.encode()
            ctype = _HTML
        elif cls is bytes:
            body = rv
            ctype = _HTML
        elif cls is dict or cls is list:
            provider = self.json
            if type(provider) is not DefaultJSONProvider:
                return None
            body = provider._body(rv).encode()
            ctype = provider.mimetype
        else:
            return None
        if (
            ctx._after_request_functions
            or ctx._session is not None
            or "HTTP_COOKIE" in environ
            or self.response_class is not Response
            or any(self.after_request_funcs.values())
        ):
            return None
        signals = sys.modules.get("framework.signals")
        if signals is not None and signals.request_finished.receivers:  # type: ignore[attr-defined]
            return None
        start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        if environ["REQUEST_METHOD"] == "HEAD":
            return []
        return [body]

    def wsgi_app(self, environ: dict[str, t.Any], start_response: t.Any) -> cabc.Iterable[bytes]:
        """The WSGI application: push contexts, dispatch, respond, pop contexts (teardown)."""
        ctx = self.request_context(environ)
        error: BaseException | None = None
        try:
            try:
                ctx.push()
                if self._fast_path:
                    self._got_first_request = True
                    try:
                        _send("request_started", self)
                        rv = self.preprocess_request()
                        if rv is None:
                            rv = self.dispatch_request()
                    except Exception as e:
                        rv = self.handle_user_exception(e)
                    else:
                        direct = self._direct_response(ctx, rv, environ, start_response)
                        if direct is not None:
                            return direct
                    response = self.finalize_request(rv)
                else:
                    response = self.full_dispatch_request()
            except Exception as e:
                error = e
                response = self.handle_exception(e)
            except:  # BaseException passes through, but teardown must see it
                error = sys.exc_info()[1]
                raise
            return response(environ, start_response)
        finally:
            if "werkzeug.debug.preserve_context" in environ:
                environ["werkzeug.debug.preserve_context"](_cv_app.get())
                environ["werkzeug.debug.preserve_context"](_cv_request.get())
            if error is not None and self.should_ignore_error(error):
                error = None
            ctx.pop(error)

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> cabc.Iterable[bytes]:
        """WSGI entry point; delegates to `wsgi_app` (wrap that for middleware)."""
        return self.wsgi_app(environ, start_response)


Flask = App
