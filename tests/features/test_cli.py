"""The command line: discovery, dotenv, routes, shell, app and blueprint groups, the console script."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from framework import App, Blueprint, current_app
from framework.cli import (
    AppGroup,
    FrameworkGroup,
    NoAppException,
    ScriptInfo,
    load_dotenv,
    locate_app,
    prepare_import,
    with_appcontext,
)
from framework.testing import FrameworkCliRunner
from tests.support.procs import REPO_ROOT, VENV_BIN


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh working directory; sys.path and sys.modules changes are undone afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    sys.path.insert(0, str(tmp_path))
    for name in ("FRAMEWORK_RUN_FROM_CLI", "FRAMEWORK_SKIP_DOTENV"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path
    root = str(tmp_path.resolve())
    for name, module in list(sys.modules.items()):  # forget the modules written by the test
        if (getattr(module, "__file__", None) or "").startswith(root):
            del sys.modules[name]


def write_module(folder: Path, body: str, name: str | None = None) -> str:
    name = name or f"mod_{uuid.uuid4().hex[:10]}"
    (folder / f"{name}.py").write_text(textwrap.dedent(body))
    importlib.invalidate_caches()
    return name


APP_MODULE = """
from framework import App
app = App("{name}")
@app.route("/hello")
def hello():
    return "hi"
"""


def test_find_app_variants(workdir: Path) -> None:
    plain = write_module(workdir, "from framework import App\napplication = App('a')\n")
    assert locate_app(plain, None).name == "a"
    single = write_module(workdir, "from framework import App\nthe_one = App('single')\n")
    assert locate_app(single, None).name == "single"
    factory = write_module(
        workdir,
        """
        from framework import App
        def create_app(name='made', debug=False):
            app = App(name)
            app.config['ARG'] = debug
            return app
        """,
    )
    assert locate_app(factory, None).name == "made"
    assert locate_app(factory, "create_app('x', debug=True)").config["ARG"] is True
    make = write_module(workdir, "from framework import App\ndef make_app():\n    return App('mk')\n")
    assert locate_app(make, None).name == "mk"
    named = write_module(workdir, "from framework import App\nfirst = App('1')\nsecond = App('2')\n")
    assert locate_app(named, "second").name == "2"
    with pytest.raises(NoAppException, match="Several apps"):
        locate_app(named, None)


@pytest.mark.parametrize(
    ("body", "name", "message"),
    [
        ("x = 1\n", None, "No app was found"),
        ("x = 1\n", "missing", "no attribute"),
        ("x = 1\n", "x", "not an App"),
        ("from framework import App\napp = App('a')\n", "app(", "Could not parse"),
        ("def create_app():\n    return 1\n", None, "not an App"),
        ("def create_app(a):\n    return a\n", "create_app(1, 2)", "Could not call"),
        ("from framework import App\ndef f(x):\n    return App('a')\n", "f(open)", "literals"),
    ],
)
def test_discovery_errors(workdir: Path, body: str, name: str | None, message: str) -> None:
    module = write_module(workdir, body)
    with pytest.raises(NoAppException, match=message):
        locate_app(module, name)


def test_import_errors(workdir: Path) -> None:
    broken = write_module(workdir, "import does_not_exist_anywhere_xyz\n")
    with pytest.raises(NoAppException, match="ImportError"):
        locate_app(broken, None)
    with pytest.raises(NoAppException, match="Could not import"):
        locate_app("no_such_module_abc", None)
    assert locate_app("no_such_module_abc", None, raise_if_not_found=False) is None


def test_prepare_import_with_packages(workdir: Path) -> None:
    pkg = workdir / "outer" / "inner"
    pkg.mkdir(parents=True)
    (workdir / "outer" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("")
    assert prepare_import(str(pkg / "mod.py")) == "outer.inner.mod"
    assert sys.path[0] == str(workdir.resolve())
    assert prepare_import(str(pkg / "__init__.py")) == "outer.inner"


def test_script_info_import_path_and_defaults(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = write_module(workdir, APP_MODULE.format(name="by-path"))
    info = ScriptInfo(app_import_path=f"{name}.py:app")
    app = info.load_app()
    assert app.name == "by-path" and info.load_app() is app
    write_module(workdir, APP_MODULE.format(name="from-main"), name="main")
    assert ScriptInfo().load_app().name == "from-main"
    with pytest.raises(NoAppException, match="FRAMEWORK_APP"):
        os.remove(workdir / "main.py")
        sys.modules.pop("main", None)
        ScriptInfo().load_app()
    write_module(workdir, APP_MODULE.format(name="from-app-py"), name="app")
    assert ScriptInfo().load_app().name == "from-app-py"
    monkeypatch.setenv("FRAMEWORK_DEBUG", "1")
    assert ScriptInfo(create_app=lambda: App("f")).load_app().debug is True
    monkeypatch.delenv("FRAMEWORK_DEBUG")
    assert ScriptInfo(create_app=lambda: App("f"), set_debug_flag=False).load_app().debug is False


def test_group_app_option_and_envvar(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = write_module(workdir, APP_MODULE.format(name="grp"))
    cli = FrameworkGroup()
    runner = CliRunner()
    result = runner.invoke(cli, ["--app", name, "routes"])
    assert result.exit_code == 0, result.output
    assert "hello" in result.output and "/hello" in result.output
    monkeypatch.setenv("FRAMEWORK_APP", name)
    result = runner.invoke(FrameworkGroup(), ["routes"])
    assert result.exit_code == 0 and "/hello" in result.output
    result = runner.invoke(FrameworkGroup(), ["--app", "nowhere_module_q", "routes"])
    assert result.exit_code != 0
    assert "Could not import" in result.output


def test_app_commands_and_help_lists_them(workdir: Path) -> None:
    name = write_module(
        workdir,
        """
        import click
        from framework import App, current_app
        app = App("cmds")
        @app.cli.command("greet")
        @click.argument("who")
        def greet(who):
            click.echo(f"hello {who} from {current_app.name}")
        """,
    )
    runner = CliRunner()
    result = runner.invoke(FrameworkGroup(), ["--app", name, "greet", "bob"])
    assert result.exit_code == 0 and result.output == "hello bob from cmds\n"
    result = runner.invoke(FrameworkGroup(), ["--app", name, "--help"])
    assert "greet" in result.output and "routes" in result.output and "shell" in result.output
    result = runner.invoke(FrameworkGroup(), ["--app", name, "nope"])
    assert result.exit_code != 0 and "No such command" in result.output


def test_dotenv_loading(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / ".frameworkenv").write_text("FW_TEST_A=flaskenv\nFW_TEST_B=flaskenv\n")
    (workdir / ".env").write_text("FW_TEST_B=dotenv\nFW_TEST_C=dotenv\n")
    (workdir / "custom.env").write_text("FW_TEST_C=custom\n")
    monkeypatch.setenv("FW_TEST_C", "real")
    for key in ("FW_TEST_A", "FW_TEST_B"):
        monkeypatch.delenv(key, raising=False)
    sub = workdir / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)  # files are found by searching upwards
    assert load_dotenv() is True
    assert os.environ["FW_TEST_A"] == "flaskenv"
    assert os.environ["FW_TEST_B"] == "dotenv"
    assert os.environ["FW_TEST_C"] == "real"  # the real environment wins
    monkeypatch.delenv("FW_TEST_C")
    assert load_dotenv(workdir / "custom.env", load_defaults=False) is True
    assert os.environ["FW_TEST_C"] == "custom"
    for key in ("FW_TEST_A", "FW_TEST_B", "FW_TEST_C"):
        monkeypatch.delenv(key, raising=False)


def test_env_file_option_and_app_from_dotenv(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = write_module(workdir, APP_MODULE.format(name="dotenv-app"))
    (workdir / "vars.env").write_text(f"FRAMEWORK_APP={name}\n")
    monkeypatch.delenv("FRAMEWORK_APP", raising=False)
    result = CliRunner().invoke(FrameworkGroup(), ["-e", "vars.env", "routes"])
    monkeypatch.delenv("FRAMEWORK_APP", raising=False)
    assert result.exit_code == 0, result.output
    assert "/hello" in result.output
    result = CliRunner().invoke(FrameworkGroup(), ["-e", "missing.env", "routes"])
    assert result.exit_code == 2


def test_skip_dotenv(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_SKIP_DOTENV", "1")
    assert ScriptInfo().load_dotenv_defaults is False
    monkeypatch.setenv("FRAMEWORK_SKIP_DOTENV", "0")
    assert ScriptInfo().load_dotenv_defaults is True


@pytest.mark.parametrize("skip", ["1", "0"])
def test_the_cli_loads_default_dotenv_unless_skipped(workdir: Path, monkeypatch: pytest.MonkeyPatch, skip: str) -> None:
    (workdir / ".env").write_text("FW_TEST_FROM_DOTENV=yes\n")
    monkeypatch.delenv("FW_TEST_FROM_DOTENV", raising=False)
    monkeypatch.setenv("FRAMEWORK_SKIP_DOTENV", skip)
    result = CliRunner().invoke(FrameworkGroup(create_app=lambda: App("x")), ["routes"])
    assert result.exit_code == 0, result.output
    assert os.environ.pop("FW_TEST_FROM_DOTENV", None) == (None if skip == "1" else "yes")


def test_dotenv_files_without_python_dotenv(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulates python-dotenv not being installed (an optional package): a tip, or an error for -e."""
    monkeypatch.setitem(sys.modules, "dotenv", None)  # `import dotenv` now raises ImportError
    (workdir / ".env").write_text("FW_TEST_UNUSED=1\n")
    result = CliRunner().invoke(FrameworkGroup(create_app=lambda: App("x")), ["routes"])
    assert result.exit_code == 0 and "Install python-dotenv" in result.output
    assert "FW_TEST_UNUSED" not in os.environ
    result = CliRunner().invoke(FrameworkGroup(create_app=lambda: App("x")), ["-e", ".env", "routes"])
    assert result.exit_code == 2 and "python-dotenv must be installed" in result.output


def test_routes_command() -> None:
    app = App(__name__)
    app.add_url_rule("/b", "zeta", lambda: "", methods=["POST"])
    app.add_url_rule("/a", "alpha", lambda: "")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["routes"], cli=FrameworkGroup(create_app=lambda: app))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["Endpoint", "Methods", "Rule"]
    endpoints = [line.split()[0] for line in lines[2:]]
    assert [e for e in endpoints if not e.startswith("_ah")] == ["alpha", "static", "zeta"]
    assert "OPTIONS" not in result.output and "HEAD" not in result.output
    rule_sorted = runner.invoke(args=["routes", "--sort", "rule"], cli=FrameworkGroup(create_app=lambda: app))
    rules = [line.split()[-1] for line in rule_sorted.output.splitlines()[2:]]
    assert [r for r in rules if not r.startswith("/_ah")] == ["/a", "/b", "/static/<path:filename>"]
    assert rules == sorted(rules)
    by_methods = runner.invoke(args=["routes", "-s", "methods", "--all-methods"], cli=FrameworkGroup(create_app=lambda: app))
    assert "GET, HEAD, OPTIONS" in by_methods.output
    methods = [line.split(None, 1)[1].rsplit(None, 1)[0] for line in by_methods.output.splitlines()[2:]]
    assert methods == sorted(methods) and "POST" in methods[-1]


def test_routes_with_subdomains_and_empty() -> None:
    app = App(__name__, static_folder=None, subdomain_matching=True)
    app.url_map = app.url_map_class()  # drop every route, including the host's built-in ones
    cli = FrameworkGroup(create_app=lambda: app)
    assert "No routes" in app.test_cli_runner().invoke(cli, ["routes"]).output
    app2 = App(__name__, static_folder=None, subdomain_matching=True)
    app2.add_url_rule("/", "api", lambda: "", subdomain="api")
    result = app2.test_cli_runner().invoke(FrameworkGroup(create_app=lambda: app2), ["routes"])
    assert result.output.splitlines()[0].split() == ["Endpoint", "Methods", "Subdomain", "Rule"]
    assert any(line.split()[:3] == ["api", "GET", "api"] for line in result.output.splitlines())


def test_test_cli_runner_and_app_groups() -> None:
    app = App("cliapp")

    @app.cli.command()
    def plain() -> None:
        click.echo(f"in context of {current_app.name}")

    @app.cli.command(with_appcontext=False)
    def nocontext() -> None:
        from framework.globals import _cv_app

        click.echo(str(_cv_app.get(None) is None))

    users = AppGroup("user")

    @users.command("create")
    @click.argument("name")
    def create(name: str) -> None:
        click.echo(f"created {name} in {current_app.name}")

    sub = users.group("admin")
    assert isinstance(sub(lambda: None), AppGroup)

    app.cli.add_command(users)
    runner = app.test_cli_runner()
    assert isinstance(runner, FrameworkCliRunner)
    assert runner.invoke(args=["plain"]).output == "in context of cliapp\n"
    assert runner.invoke(args=["nocontext"]).output == "True\n"
    assert runner.invoke(args=["user", "create", "ann"]).output == "created ann in cliapp\n"
    assert app.cli.name == "cliapp"


def test_with_appcontext_and_custom_script() -> None:
    app = App("custom")

    @click.group(cls=FrameworkGroup, create_app=lambda: app)
    def manage() -> None:
        """Custom management script."""

    @manage.command()
    @with_appcontext
    def which() -> None:
        click.echo(current_app.name)

    result = CliRunner().invoke(manage, ["which"])
    assert result.output == "custom\n"


def test_blueprint_cli_groups() -> None:
    app = App("bpcli")
    default = Blueprint("reports", __name__)
    merged = Blueprint("merged", __name__, cli_group=None)
    named = Blueprint("named", __name__, cli_group="tools")
    for bp in (default, merged, named):

        @bp.cli.command(f"{bp.name}-cmd")
        def cmd(_bp=bp) -> None:
            click.echo(f"{_bp.name} {current_app.name}")

    app.register_blueprint(default)
    app.register_blueprint(merged)
    app.register_blueprint(named)
    override = Blueprint("over", __name__)
    override.cli.command("x")(lambda: click.echo("over"))
    app.register_blueprint(override, cli_group="custom")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["reports", "reports-cmd"]).output == "reports bpcli\n"
    assert runner.invoke(args=["merged-cmd"]).output == "merged bpcli\n"
    assert runner.invoke(args=["tools", "named-cmd"]).output == "named bpcli\n"
    assert runner.invoke(args=["custom", "x"]).output == "over\n"
    assert "over" not in app.cli.commands


def test_shell_command_namespace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    app = App("shellapp")
    app.shell_context_processor(lambda: {"answer": 42})
    startup = tmp_path / "startup.py"
    startup.write_text("from_startup = 'yes'\n")
    monkeypatch.setenv("PYTHONSTARTUP", str(startup))
    script = "print(app.name, g is not None, answer, from_startup)\n"
    result = app.test_cli_runner().invoke(FrameworkGroup(create_app=lambda: app), ["shell"], input=script)
    assert result.exit_code == 0, result.output
    assert "App: shellapp" in result.output
    assert "shellapp True 42 yes" in result.output


def test_version_option() -> None:
    result = CliRunner().invoke(FrameworkGroup(), ["--version"])
    assert result.exit_code == 0
    assert "Python" in result.output and "Framework" in result.output and "Werkzeug" in result.output


def test_app_run_inside_cli_is_ignored(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FRAMEWORK_RUN_FROM_CLI", "true")
    App("x").run()  # returns at once instead of blocking
    assert "Ignoring" in capsys.readouterr().out


def test_module_entry_point_finds_main_py_in_repo_root(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FRAMEWORK_APP", "GAE_ENV", "K_SERVICE")}
    env.update(FRAMEWORK_SKIP_DOTENV="1", PYTHONPATH=str(REPO_ROOT))
    cmd = [sys.executable, "-m", "framework", "routes"]
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "index" in done.stdout and "Rule" in done.stdout
    bad = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "Could not locate an app" in bad.stderr


def test_console_script_entry_point() -> None:
    import tomllib

    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attr = scripts["framework"].partition(":")
    assert getattr(importlib.import_module(module), attr) is __import__("framework.cli").cli.main
    script = VENV_BIN / "framework"
    assert script.exists(), "the console script is installed by `make install` (pip install -e .)"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Werkzeug" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--key", "pyproject.toml"], "'--cert' must be given too"),
        (["run", "--cert", "pyproject.toml"], "Required when '--cert' is a certificate file"),
        (["run", "--cert", "adhoc", "--key", "pyproject.toml"], "'--key' is not used"),
        (["run", "--cert", "no/such/file.pem"], "does not exist"),
        (["run", "--port", "notaport"], "not a valid integer"),
        (["run", "--reloader-type", "magic"], "magic"),
    ],
)
def test_run_option_validation(args: list[str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    app = App("never-served")
    result = CliRunner().invoke(FrameworkGroup(create_app=lambda: app), args)
    assert result.exit_code == 2
    assert message in result.output


def test_extra_files_are_split_on_pathsep() -> None:
    from framework.cli import SeparatedPathType

    value = SeparatedPathType().convert(f"a.txt{os.pathsep}b.txt", None, None)
    assert value == ["a.txt", "b.txt"]


def test_plugin_commands_from_entry_points(workdir: Path) -> None:
    dist = workdir / "fwplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fwplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[framework.commands]\nhello-plugin = fwplugin_mod:cmd\n")
    write_module(workdir, "import click\n@click.command()\ndef cmd():\n    click.echo('from plugin')\n", "fwplugin_mod")
    group = FrameworkGroup(create_app=lambda: App("p"))
    result = CliRunner().invoke(group, ["hello-plugin"])
    assert result.exit_code == 0 and result.output == "from plugin\n"
    assert "hello-plugin" in CliRunner().invoke(group, ["--help"]).output


def test_run_options_read_framework_run_envvars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_RUN_PORT", "not-a-port")
    result = CliRunner().invoke(FrameworkGroup(create_app=lambda: App("env")), ["run"])
    assert result.exit_code == 2 and "not-a-port" in result.output
