"""The `framework` command line, on click: the `run`, `routes` and `shell` commands, and app/blueprint groups.

Imported only when a CLI feature is used (`app.cli`, `app.run`, the console script), never by `import framework`.
"""

from __future__ import annotations

import code
import os
import platform
import sys
import traceback
import typing as t
from functools import update_wrapper
from importlib.metadata import PackageNotFoundError, entry_points, version
from operator import itemgetter

import click
from click.core import ParameterSource
from werkzeug.utils import import_string

from .debug import DebuggerRefused, check_debug_allowed

# Discovery lives in its own module; its public names stay reachable here, where Flask users look.
from .discovery import DEFAULT_APP_FILES as DEFAULT_APP_FILES
from .discovery import NoAppException as NoAppException
from .discovery import ScriptInfo as ScriptInfo
from .discovery import find_app_by_string as find_app_by_string
from .discovery import find_best_app as find_best_app
from .discovery import locate_app as locate_app
from .discovery import prepare_import as prepare_import
from .flags import env_flag
from .globals import _cv_app, current_app
from .helpers import get_debug_flag, get_load_dotenv

if t.TYPE_CHECKING:  # pragma: no cover
    from .app import App

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

#: Entry-point group of installed packages' extra commands (Flask's `flask.commands`).
PLUGIN_GROUP = "framework.commands"
#: The reloader polls the files of loaded modules: unlike watchdog (werkzeug's "auto" choice when it is
#: installed), it cannot lose changes to inotify queue overflows when sys.path holds large trees.
DEFAULT_RELOADER_TYPE = "stat"
#: Dotenv files loaded from the working directory (or a parent), lowest precedence first.
DOTENV_FILES = (".frameworkenv", ".env")


pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


def with_appcontext(f: F) -> F:
    """Run a click command inside the app's context (loading the app first if needed)."""

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if _cv_app.get(None) is None:
            app = ctx.ensure_object(ScriptInfo).load_app()
            ctx.with_resource(app.app_context())
        return ctx.invoke(f, *args, **kwargs)

    return update_wrapper(decorator, f)  # type: ignore[return-value]


class AppGroup(click.Group):
    """A click group whose commands run in the app context unless `with_appcontext=False`."""

    def command(self, *args: t.Any, **kwargs: t.Any) -> t.Callable[[t.Callable[..., t.Any]], click.Command]:  # type: ignore[override]
        """Like click's, wrapping the callback in `with_appcontext` unless told not to."""
        wrap = kwargs.pop("with_appcontext", True)

        def decorator(f: t.Callable[..., t.Any]) -> click.Command:
            if wrap:
                f = with_appcontext(f)
            return click.Group.command(self, *args, **kwargs)(f)

        return decorator

    def group(self, *args: t.Any, **kwargs: t.Any) -> t.Callable[[t.Callable[..., t.Any]], click.Group]:  # type: ignore[override]
        """Like click's, making an `AppGroup` by default."""
        kwargs.setdefault("cls", AppGroup)
        return click.Group.group(self, *args, **kwargs)


def load_dotenv(path: str | os.PathLike[str] | None = None, load_defaults: bool = True) -> bool:
    """Load variables from `path` and/or the default `.env` / `.frameworkenv` files, without overriding os.environ.

    Needs python-dotenv; without it a tip is printed when such a file exists. True if anything was read.
    """
    try:
        import dotenv  # optional: python-dotenv may not be installed
    except ImportError:
        if path or any(os.path.isfile(name) for name in DOTENV_FILES):
            click.secho(
                " * Tip: there are .env files present. Install python-dotenv to use them.", fg="yellow", err=True
            )
        return False
    values: dict[str, str | None] = {}
    if load_defaults:
        for name in DOTENV_FILES:
            found = dotenv.find_dotenv(name, usecwd=True)
            if found:
                values.update(dotenv.dotenv_values(found, encoding="utf-8"))
    if path is not None and os.path.isfile(path):
        values.update(dotenv.dotenv_values(path, encoding="utf-8"))
    for key, value in values.items():
        if key not in os.environ and value is not None:
            os.environ[key] = value
    return bool(values)


_load_default_dotenv = load_dotenv


def _env_file_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        import dotenv  # noqa: F401 - optional: python-dotenv may not be installed
    except ImportError:
        if value is not None:
            raise click.BadParameter("python-dotenv must be installed to load an env file.") from None
    load_defaults = ctx.ensure_object(ScriptInfo).load_dotenv_defaults
    if value is not None or load_defaults:  # without python-dotenv this prints the tip when .env files exist
        load_dotenv(value, load_defaults=load_defaults)
    return value


def _app_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        ctx.ensure_object(ScriptInfo).app_import_path = value
    return value


def _debug_callback(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    source = ctx.get_parameter_source(param.name)
    if source is not None and source not in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
        os.environ["FRAMEWORK_DEBUG"] = "1" if value else "0"
    return value


def _version_callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    def of(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "unknown"

    click.echo(
        f"Python {platform.python_version()}\nFramework {of('gae-framework')}\nWerkzeug {of('werkzeug')}",
        color=ctx.color,
    )
    ctx.exit()


_env_file_option = click.Option(
    ["-e", "--env-file"], type=click.Path(exists=True, dir_okay=False), is_eager=True, expose_value=False,
    callback=_env_file_callback, help="Load environment variables from this file (needs python-dotenv).",
)
_app_option = click.Option(
    ["-A", "--app"], metavar="IMPORT", is_eager=True, expose_value=False, callback=_app_callback,
    help="The app to load: 'module:name', 'module:factory(args)' or a file path. Default: main.py, wsgi.py or app.py.",
)
_debug_option = click.Option(
    ["--debug/--no-debug"], expose_value=False, callback=_debug_callback,
    help="Debug mode (sets FRAMEWORK_DEBUG).",
)
_version_option = click.Option(
    ["--version"], is_flag=True, is_eager=True, expose_value=False, callback=_version_callback,
    help="Show the Python, framework and Werkzeug versions.",
)


class FrameworkGroup(AppGroup):
    """The root command: `--app`, `--env-file`, `--debug`, the built-in commands, then the app's own commands."""

    def __init__(
        self, add_default_commands: bool = True, create_app: t.Callable[..., t.Any] | None = None,
        add_version_option: bool = True, load_dotenv: bool = True, set_debug_flag: bool = True,
        **extra: t.Any,
    ) -> None:
        params = list(extra.pop("params", None) or ())
        params.extend((_env_file_option, _app_option, _debug_option))
        if add_version_option:
            params.append(_version_option)
        extra.setdefault("context_settings", {}).setdefault("auto_envvar_prefix", "FRAMEWORK")
        super().__init__(params=params, **extra)
        self.create_app = create_app
        self.load_dotenv = load_dotenv
        self.set_debug_flag = set_debug_flag
        self._loaded_plugin_commands = False
        if add_default_commands:
            self.add_command(run_command)
            self.add_command(shell_command)
            self.add_command(routes_command)

    def _load_plugin_commands(self) -> None:
        """Add the commands that installed packages declare in the `framework.commands` entry-point group."""
        if self._loaded_plugin_commands:
            return
        for entry_point in entry_points(group=PLUGIN_GROUP):
            self.add_command(entry_point.load(), entry_point.name)
        self._loaded_plugin_commands = True

    def _load_app(self, ctx: click.Context) -> t.Any:
        app = ctx.ensure_object(ScriptInfo).load_app()
        if _cv_app.get(None) is None or _cv_app.get().app is not app:
            ctx.with_resource(app.app_context())
        return app

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """A built-in or plugin command, else one of the app's (loading the app and pushing its context)."""
        self._load_plugin_commands()
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        try:
            app = self._load_app(ctx)
        except NoAppException as exc:
            click.secho(f"Error: {exc.format_message()}\n", err=True, fg="red")
            return None
        return app.cli.get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Built-in and plugin commands plus the app's, reporting (not raising) app loading errors."""
        self._load_plugin_commands()
        names = set(super().list_commands(ctx))
        try:
            names.update(ctx.ensure_object(ScriptInfo).load_app().cli.list_commands(ctx))
        except NoAppException as exc:
            click.secho(f"Error: {exc.format_message()}\n", err=True, fg="red")
        except Exception:
            click.secho(f"{traceback.format_exc()}\n", err=True, fg="red")
        return sorted(names)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: t.Any
    ) -> click.Context:
        """Create the context with a `ScriptInfo` object for this group's settings."""
        os.environ["FRAMEWORK_RUN_FROM_CLI"] = "true"
        if "obj" not in extra and "obj" not in (self.context_settings or {}):
            extra["obj"] = ScriptInfo(
                create_app=self.create_app, set_debug_flag=self.set_debug_flag,
                load_dotenv_defaults=self.load_dotenv,
            )
        return super().make_context(info_name, args, parent=parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """For bare `--help`, read the env file and `--app` first so the app's commands are listed."""
        if (not args and self.no_args_is_help) or (len(args) == 1 and args[0] in self.get_help_option_names(ctx)):
            _env_file_option.handle_parse_result(ctx, {}, [])
            _app_option.handle_parse_result(ctx, {}, [])
        return super().parse_args(ctx, args)


#: Flask's name for the root group class.
FlaskGroup = FrameworkGroup


def run_app(
    app: App, host: str | None = None, port: int | None = None, debug: bool | None = None,
    load_dotenv: bool = True, **options: t.Any,
) -> None:
    """Serve `app` with werkzeug's development server (what `App.run` does); not for production."""
    from werkzeug.serving import is_running_from_reloader, run_simple  # cold start: dev server

    if env_flag("FRAMEWORK_RUN_FROM_CLI"):
        if not is_running_from_reloader():
            click.secho(
                " * Ignoring a call to 'app.run()' that would block the current 'framework' CLI command.\n"
                "   Only call 'app.run()' in an 'if __name__ == \"__main__\"' guard.",
                fg="red",
            )
        return
    if get_load_dotenv(load_dotenv):
        _load_default_dotenv()
        if "FRAMEWORK_DEBUG" in os.environ:
            app.debug = get_debug_flag()
    if debug is not None:
        app.debug = bool(debug)
    server_host, _, server_port = (app.config.get("SERVER_NAME") or "").partition(":")
    host = host or server_host or "127.0.0.1"
    if port is None:
        port = int(server_port) if server_port else 5000
    options.setdefault("use_reloader", bool(app.debug))
    options.setdefault("use_debugger", bool(app.debug))
    options.setdefault("threaded", True)
    options.setdefault("reloader_type", DEFAULT_RELOADER_TYPE)
    check_debug_allowed(options["use_debugger"], options["use_reloader"])
    show_server_banner(bool(app.debug), app.name)
    try:
        run_simple(t.cast(str, host), port, app, **options)
    finally:
        if hasattr(app, "_got_first_request"):
            app._got_first_request = False


def show_server_banner(debug: bool, app_import_path: str | None) -> None:
    """Print which app is served and whether debug mode is on (not again in the reloader's child)."""
    from werkzeug.serving import is_running_from_reloader  # cold start: dev server

    if is_running_from_reloader():
        return
    if app_import_path is not None:
        click.echo(f" * Serving Framework app '{app_import_path}'")
    click.echo(f" * Debug mode: {'on' if debug else 'off'}")


def _refuse_debug(use_debugger: bool, use_reloader: bool) -> None:
    try:
        check_debug_allowed(use_debugger, use_reloader)
    except DebuggerRefused as exc:
        raise click.UsageError(str(exc)) from None


class CertParamType(click.ParamType):
    """`--cert`: a certificate file, `adhoc`, or the import path of an `ssl.SSLContext`."""

    name = "path"

    def convert(self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None) -> t.Any:
        import ssl  # cold start: only for --cert

        try:
            return click.Path(exists=True, dir_okay=False, resolve_path=True).convert(value, param, ctx)
        except click.BadParameter:
            text = str(value)
            if text.lower() == "adhoc":
                try:
                    import cryptography  # noqa: F401 - optional: needed only for ad-hoc certificates
                except ImportError:
                    raise click.BadParameter(
                        "An ad-hoc certificate needs the 'cryptography' package.", ctx, param
                    ) from None
                return "adhoc"
            obj = import_string(text, silent=True)
            if isinstance(obj, ssl.SSLContext):
                return obj
            raise


def _validate_key(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    import ssl  # cold start: only for --cert

    cert = ctx.params.get("cert")
    special = cert == "adhoc" or isinstance(cert, ssl.SSLContext)
    if value is not None:
        if special:
            raise click.BadParameter("'--key' is not used when '--cert' is 'adhoc' or an SSLContext.", ctx, param)
        if not cert:
            raise click.BadParameter("'--cert' must be given too.", ctx, param)
        ctx.params["cert"] = (cert, value)
    elif cert and not special:
        raise click.BadParameter("Required when '--cert' is a certificate file.", ctx, param)
    return value


class SeparatedPathType(click.Path):
    """Several paths in one value, separated by os.pathsep (':' on Unix)."""

    def convert(self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None) -> t.Any:
        items = self.split_envvar_value(value) if isinstance(value, str) else value
        return [super(SeparatedPathType, self).convert(item, param, ctx) for item in items]


@click.command("run", short_help="Run the development server.")
@click.option("--host", "-h", default="127.0.0.1", help="The interface to bind to.")
@click.option("--port", "-p", default=5000, help="The port to bind to.")
@click.option("--cert", type=CertParamType(), is_eager=True, help="Serve HTTPS with this certificate file.")
@click.option("--key", type=click.Path(exists=True, dir_okay=False, resolve_path=True), callback=_validate_key,
              expose_value=False, help="The key file for --cert.")
@click.option("--reload/--no-reload", default=None, help="Restart on code changes (default: with --debug).")
@click.option("--debugger/--no-debugger", default=None, help="Interactive debugger on errors (default: with --debug).")
@click.option("--with-threads/--without-threads", default=True, help="Handle each request in a thread.")
@click.option("--extra-files", default=None, type=SeparatedPathType(),
              help=f"Extra files that trigger a reload, separated by {os.pathsep!r}.")
@click.option("--exclude-patterns", default=None, type=SeparatedPathType(),
              help=f"fnmatch patterns the reloader ignores, separated by {os.pathsep!r}.")
@click.option("--reloader-type", type=click.Choice(("stat", "watchdog", "auto")), default=DEFAULT_RELOADER_TYPE,
              show_default=True, help="How the reloader notices changes: polling file times, or watchdog events.")
@click.option("--debug/--no-debug", expose_value=False, callback=_debug_callback, help="Debug mode.")
@pass_script_info
def run_command(
    info: ScriptInfo, host: str, port: int, reload: bool | None, debugger: bool | None, with_threads: bool,
    cert: t.Any, extra_files: list[str] | None, exclude_patterns: list[str] | None, reloader_type: str,
) -> None:
    """Run werkzeug's development server (reloader and debugger with --debug). Not for production."""
    from werkzeug.serving import is_running_from_reloader, run_simple  # cold start: dev server

    debug = get_debug_flag()
    reload = debug if reload is None else reload
    debugger = debug if debugger is None else debugger
    _refuse_debug(debugger, reload)
    try:
        app: t.Any = info.load_app()
    except Exception as exc:
        if not is_running_from_reloader():
            raise
        # In the reloader's child, keep serving so a fixed file brings the app back.
        traceback.print_exc()
        failure = exc

        def app(environ: t.Any, start_response: t.Any) -> t.Any:
            raise failure from None

    show_server_banner(debug, info.app_import_path)
    run_simple(
        host, port, app, use_reloader=reload, use_debugger=debugger, threaded=with_threads, ssl_context=cert,
        extra_files=extra_files, exclude_patterns=exclude_patterns, reloader_type=reloader_type,
    )


@click.command("shell", short_help="Run a Python shell in the app context.")
@with_appcontext
def shell_command() -> None:
    """An interactive Python shell with `app`, `g` and the shell context processors' names preloaded."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    banner = f"Python {sys.version} on {sys.platform}\nApp: {app.import_name}\nInstance: {app.instance_path}"
    namespace: dict[str, t.Any] = {}
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup):
        with open(startup, encoding="utf-8") as f:
            exec(compile(f.read(), startup, "exec"), namespace)
    namespace.update(app.make_shell_context())
    hook = getattr(sys, "__interactivehook__", None)
    if hook is not None:
        try:
            import readline  # optional: not on every platform
            from rlcompleter import Completer  # optional: with readline
        except ImportError:
            pass
        else:
            readline.set_completer(Completer(namespace).complete)
        hook()
    code.interact(banner=banner, local=namespace)


@click.command("routes", short_help="Show the app's routes.")
@click.option("--sort", "-s", type=click.Choice(("endpoint", "methods", "domain", "rule", "match")),
              default="endpoint", help="Sort by this column; 'match' is the order used to match requests.")
@click.option("--all-methods", is_flag=True, help="Also show HEAD and OPTIONS.")
@with_appcontext
def routes_command(sort: str, all_methods: bool) -> None:
    """List every route: endpoint, methods and rule."""
    url_map = current_app.url_map
    rules = list(url_map.iter_rules())
    if not rules:
        click.echo("No routes were registered.")
        return
    hidden = set() if all_methods else {"HEAD", "OPTIONS"}
    by_host = url_map.host_matching
    domains = [(rule.host if by_host else rule.subdomain) or "" for rule in rules]
    headers = ["Endpoint", "Methods", *((["Host" if by_host else "Subdomain"]) if any(domains) else []), "Rule"]
    rows = []
    for rule, domain in zip(rules, domains, strict=True):
        row = [rule.endpoint, ", ".join(sorted((rule.methods or set()) - hidden))]
        if any(domains):
            row.append(domain)
        rows.append([*row, rule.rule])
    column = {"endpoint": 0, "methods": 1, "rule": len(headers) - 1, "domain": 2 if any(domains) else None}
    if sort != "match" and column.get(sort) is not None:
        rows.sort(key=itemgetter(column[sort]))
    widths = [max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(headers)]
    line = "  ".join(f"{{{i}:<{width}}}" for i, width in enumerate(widths))
    click.echo(line.format(*headers).rstrip())
    click.echo(line.format(*("-" * width for width in widths)).rstrip())
    for row in rows:
        click.echo(line.format(*row).rstrip())


def _main_cli() -> FrameworkGroup:
    return FrameworkGroup(
        name="framework",
        help="The framework command line: run the development server, list routes, open a shell, and run "
        "the app's own commands. Choose the app with --app or FRAMEWORK_APP (default: main.py, wsgi.py or app.py).",
    )


cli = _main_cli()


def main() -> None:
    """Entry point of the `framework` console script and `python -m framework`."""
    cli.main()
