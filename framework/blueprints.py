"""Blueprints: groups of routes, hooks and handlers recorded now and applied to an app at registration."""

from __future__ import annotations

import functools
import os
import typing as t
from collections import defaultdict

from .scaffold import Scaffold, setupmethod

if t.TYPE_CHECKING:
    from .app import App
    from .cli import AppGroup

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
DeferredSetupFunction = t.Callable[["BlueprintSetupState"], None]


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: t.Any = _Unset()

#: Registration dicts (`{scope: [funcs]}` or `{scope: {...}}`) copied into the app at registration.
_SCOPED_LISTS = (
    "before_request_funcs", "after_request_funcs", "teardown_request_funcs",
    "url_default_functions", "url_value_preprocessors", "template_context_processors",
)


def _join_prefix(outer: str | None, inner: str | None) -> str | None:
    if outer is None or inner is None:
        return inner if outer is None else outer
    return f"{outer.rstrip('/')}/{inner.lstrip('/')}"


def _join_subdomain(outer: str | None, inner: str | None) -> str | None:
    if outer is None or inner is None:
        return inner if outer is None else outer
    return f"{inner}.{outer}"


def _app_wide(method: str, attr: str, doc: str) -> t.Callable[[Blueprint, F], F]:
    """A setup method adding `f` to the app's unscoped `attr` list at the first registration."""

    def register(self: Blueprint, f: F) -> F:
        self._on_app(lambda app: getattr(app, attr).setdefault(None, []).append(f))
        return f

    register.__name__ = register.__qualname__ = method
    register.__doc__ = doc
    return setupmethod(register)


def _adding(add: t.Callable[..., None], name: str | None) -> t.Callable[[F], F]:
    """A decorator that passes the function it decorates to `add(f, name=name)`."""

    def decorator(f: F) -> F:
        add(f, name=name)
        return f

    return decorator


class BlueprintSetupState:
    """What a deferred blueprint function sees for one registration: app, options, name, prefix, defaults."""

    def __init__(self, blueprint: Blueprint, app: App, options: t.Any, first_registration: bool) -> None:
        self.app = app
        self.blueprint = blueprint
        self.options = options
        #: Whether this blueprint object is registered for the first time (on any app).
        self.first_registration = first_registration
        subdomain = options.get("subdomain")
        self.subdomain: str | None = blueprint.subdomain if subdomain is None else subdomain
        url_prefix = options.get("url_prefix")
        self.url_prefix: str | None = blueprint.url_prefix if url_prefix is None else url_prefix
        self.name: str = options.get("name", blueprint.name)
        self.name_prefix: str = options.get("name_prefix", "")
        self.url_defaults: dict[str, t.Any] = dict(blueprint.url_values_defaults)
        self.url_defaults.update(options.get("url_defaults") or {})

    def add_url_rule(
        self, rule: str, endpoint: str | None = None, view_func: t.Callable[..., t.Any] | None = None,
        **options: t.Any,
    ) -> None:
        """Register a route on the app with the blueprint's prefix, subdomain, defaults and dotted endpoint."""
        prefix = self.url_prefix
        if prefix is not None:
            rule = f"{prefix.rstrip('/')}/{rule.lstrip('/')}" if rule else prefix
        options.setdefault("subdomain", self.subdomain)
        if endpoint is None:
            assert view_func is not None, "add_url_rule needs an endpoint or a view function"
            endpoint = view_func.__name__
        defaults = self.url_defaults
        if "defaults" in options:
            defaults = {**defaults, **(options.pop("defaults") or {})}
        full_endpoint = f"{self.name_prefix}.{self.name}.{endpoint}".lstrip(".")
        self.app.add_url_rule(rule, full_endpoint, view_func, defaults=defaults, **options)


class Blueprint(Scaffold):
    """A reusable set of routes and hooks, registered on an app (possibly several times) under a name."""

    _got_registered_once = False

    def __init__(
        self,
        name: str,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        url_prefix: str | None = None,
        subdomain: str | None = None,
        url_defaults: dict[str, t.Any] | None = None,
        root_path: str | None = None,
        cli_group: str | None = _UNSET,
    ) -> None:
        super().__init__(
            import_name=import_name, static_folder=static_folder, static_url_path=static_url_path,
            template_folder=template_folder, root_path=root_path,
        )
        if not name:
            raise ValueError("a blueprint needs a non-empty name")
        if "." in name:
            raise ValueError(f"blueprint name {name!r} may not contain a dot '.'")
        self.name = name
        self.url_prefix = url_prefix
        self.subdomain = subdomain
        self.url_values_defaults: dict[str, t.Any] = dict(url_defaults or {})
        self.cli_group = cli_group
        self.deferred_functions: list[DeferredSetupFunction] = []
        self._blueprints: list[tuple[Blueprint, dict[str, t.Any]]] = []

    @functools.cached_property
    def cli(self) -> AppGroup:
        """Click group for this blueprint's commands (click is imported on first use)."""
        from .cli import AppGroup  # cold start: click

        return AppGroup(self.name)

    def open_resource(self, resource: str, mode: str = "rb", encoding: str | None = "utf-8") -> t.IO[t.AnyStr]:
        """Open a file relative to the blueprint's `root_path` for reading (text as UTF-8 by default)."""
        return super().open_resource(resource, mode, encoding)

    def _check_setup_finished(self, f_name: str) -> None:
        if self._got_registered_once:
            raise AssertionError(
                f"The setup method {f_name!r} can no longer be called on the blueprint {self.name!r}: it has "
                "already been registered, so later changes would not be applied. Make all changes before "
                "registering it."
            )

    @setupmethod
    def record(self, func: DeferredSetupFunction) -> None:
        """Run `func(state)` each time the blueprint is registered."""
        self.deferred_functions.append(func)

    @setupmethod
    def record_once(self, func: DeferredSetupFunction) -> None:
        """Run `func(state)` only when the blueprint is registered for the first time."""

        def once(state: BlueprintSetupState) -> None:
            if state.first_registration:
                func(state)

        self.record(functools.update_wrapper(once, func))

    def make_setup_state(self, app: App, options: dict[str, t.Any], first_registration: bool = False) -> BlueprintSetupState:
        """The state object passed to deferred functions."""
        return BlueprintSetupState(self, app, options, first_registration)

    @setupmethod
    def register_blueprint(self, blueprint: Blueprint, **options: t.Any) -> None:
        """Nest `blueprint` in this one: its name, URL prefix and subdomain are joined to this one's."""
        if blueprint is self:
            raise ValueError("a blueprint cannot be registered on itself")
        self._blueprints.append((blueprint, options))

    @setupmethod
    def add_url_rule(
        self, rule: str, endpoint: str | None = None, view_func: t.Callable[..., t.Any] | None = None,
        provide_automatic_options: bool | None = None, **options: t.Any,
    ) -> None:
        """Record a route; its endpoint becomes `<blueprint name>.<endpoint>` at registration."""
        if endpoint and "." in endpoint:
            raise ValueError(f"blueprint endpoint {endpoint!r} may not contain a dot '.'")
        if view_func is not None and "." in getattr(view_func, "__name__", ""):
            raise ValueError(f"view function name {view_func.__name__!r} may not contain a dot '.'")
        self.record(
            lambda state: state.add_url_rule(
                rule, endpoint, view_func, provide_automatic_options=provide_automatic_options, **options
            )
        )

    def register(self, app: App, options: dict[str, t.Any]) -> None:
        """Apply everything recorded on this blueprint to `app` (called by `app.register_blueprint`)."""
        own_name = options.get("name", self.name)
        name = f"{options.get('name_prefix', '')}.{own_name}".lstrip(".")
        if name in app.blueprints:
            which = "this" if app.blueprints[name] is self else "a different"
            raise ValueError(
                f"The name {name!r} is already registered for {which} blueprint. Use 'name=' to give this "
                "registration a unique name."
            )
        first_for_object = not any(bp is self for bp in app.blueprints.values())
        app.blueprints[name] = self
        self._got_registered_once = True
        state = self.make_setup_state(app, options, first_for_object)
        if self.has_static_folder:
            state.add_url_rule(
                f"{self.static_url_path}/<path:filename>", view_func=self.send_static_file, endpoint="static"
            )
        self._merge_into(app, name)
        for deferred in self.deferred_functions:
            deferred(state)
        self._register_cli(app, name, options)
        for child, child_options in self._blueprints:
            nested = dict(child_options)
            nested["url_prefix"] = _join_prefix(
                state.url_prefix, child.url_prefix if nested.get("url_prefix") is None else nested["url_prefix"]
            )
            nested["subdomain"] = _join_subdomain(
                state.subdomain, child.subdomain if nested.get("subdomain") is None else nested["subdomain"]
            )
            nested["name_prefix"] = name
            child.register(app, nested)

    def _merge_into(self, app: App, name: str) -> None:
        def scoped(key: str | None) -> str:
            return name if key is None else f"{name}.{key}"

        # Functions given with `@bp.endpoint(name)` keep their name as written (so it must be dotted).
        app.view_functions.update(self.view_functions)
        for attr in _SCOPED_LISTS:
            target = getattr(app, attr)
            for key, funcs in getattr(self, attr).items():
                target.setdefault(scoped(key), []).extend(funcs)
        for key, by_code in self.error_handler_spec.items():
            target_codes = app.error_handler_spec.setdefault(scoped(key), defaultdict(dict))
            for code, handlers in by_code.items():
                target_codes.setdefault(code, {}).update(handlers)

    def _register_cli(self, app: App, name: str, options: dict[str, t.Any]) -> None:
        if "cli" not in self.__dict__ or not self.cli.commands:
            return
        group = options.get("cli_group", self.cli_group)
        if group is None:
            app.cli.commands.update(self.cli.commands)
            return
        self.cli.name = name if group is _UNSET else group
        app.cli.add_command(self.cli)

    # --- app-wide registrations --------------------------------------------------------------------
    def _on_app(self, register: t.Callable[[t.Any], None]) -> None:
        self.record_once(lambda state: register(state.app))

    before_app_request = _app_wide(
        "before_app_request",
        "before_request_funcs",
        "Run `f` before every request of the app, not only this blueprint's.",
    )
    after_app_request = _app_wide(
        "after_app_request", "after_request_funcs", "Run `f(response)` after every request of the app."
    )
    teardown_app_request = _app_wide(
        "teardown_app_request", "teardown_request_funcs", "Run `f(exc)` when any request of the app ends."
    )
    app_context_processor = _app_wide(
        "app_context_processor",
        "template_context_processors",
        "Add `f()`'s dict to the context of every template the app renders.",
    )
    app_url_value_preprocessor = _app_wide(
        "app_url_value_preprocessor",
        "url_value_preprocessors",
        "Run `f(endpoint, values)` for every matched request of the app.",
    )
    app_url_defaults = _app_wide(
        "app_url_defaults",
        "url_default_functions",
        "Run `f(endpoint, values)` whenever the app builds a URL.",
    )

    @setupmethod
    def app_errorhandler(self, code: type[Exception] | int) -> t.Callable[[F], F]:
        """Handle `code` (status or exception class) for every request of the app."""

        def decorator(f: F) -> F:
            self._on_app(lambda app: app.register_error_handler(code, f))
            return f

        return decorator

    @setupmethod
    def cron(self, schedule: str, **options: t.Any) -> t.Callable[[F], F]:
        """Declare a cron job under this blueprint's url prefix (see framework.cron.declare)."""
        from .cron import declare_on_blueprint  # cold start: loaded only for blueprints with cron jobs

        return declare_on_blueprint(self, schedule, **options)

    @setupmethod
    def add_app_template_filter(self, f: t.Callable[..., t.Any], name: str | None = None) -> None:
        """Add a jinja filter to the app's environment."""
        self._on_app(lambda app: app.add_template_filter(f, name=name))

    @setupmethod
    def add_app_template_test(self, f: t.Callable[..., bool], name: str | None = None) -> None:
        """Add a jinja test to the app's environment."""
        self._on_app(lambda app: app.add_template_test(f, name=name))

    @setupmethod
    def add_app_template_global(self, f: t.Callable[..., t.Any], name: str | None = None) -> None:
        """Add a jinja global to the app's environment."""
        self._on_app(lambda app: app.add_template_global(f, name=name))

    def app_template_filter(self, name: str | None = None) -> t.Callable[[F], F]:
        """Decorator form of `add_app_template_filter`."""
        return _adding(self.add_app_template_filter, name)

    def app_template_test(self, name: str | None = None) -> t.Callable[[F], F]:
        """Decorator form of `add_app_template_test`."""
        return _adding(self.add_app_template_test, name)

    def app_template_global(self, name: str | None = None) -> t.Callable[[F], F]:
        """Decorator form of `add_app_template_global`."""
        return _adding(self.add_app_template_global, name)

    # jinja has one environment per app, so a blueprint's filters, tests and globals are app-wide too.
    template_filter = app_template_filter
    template_test = app_template_test
    template_global = app_template_global
    add_template_filter = add_app_template_filter
    add_template_test = add_app_template_test
    add_template_global = add_app_template_global
