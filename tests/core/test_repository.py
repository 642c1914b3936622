"""The repository's fixed layout and its set-up promises (issue 2): files, dependency ranges, app.yaml,
Make targets, CI entry point, README order, and the core benchmark's apps and targets."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
import yaml

from tests.support.procs import REPO_ROOT

LAYOUT = ["app.yaml", "main.py", "framework/__init__.py", "requirements.txt", "requirements-dev.txt", "tests",
          "deploy/README.md", "Makefile", "README.md", "pyproject.toml", ".ci/run", ".gitignore", "gunicorn.conf.py"]


@pytest.mark.parametrize("path", LAYOUT)
def test_layout(path: str) -> None:
    assert (REPO_ROOT / path).exists(), path


def test_runtime_requirements_have_version_ranges() -> None:
    lines = [line.split("#")[0].strip() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()]
    reqs = {re.split(r"[<>=!~\[ ]", line, maxsplit=1)[0].lower(): line for line in lines if line}
    for name in ("werkzeug", "jinja2", "itsdangerous", "click", "blinker", "gunicorn", "google-cloud-ndb",
                 "functions-framework"):
        assert name in reqs, name
        assert ">=" in reqs[name] and "<" in reqs[name], reqs[name]
    assert "flask" not in reqs  # Flask is a bench-only (dev) dependency
    assert re.search(r"^flask\b", (REPO_ROOT / "requirements-dev.txt").read_text(), re.M)


def test_app_yaml_and_gunicorn_config_bind_port() -> None:
    config = yaml.safe_load((REPO_ROOT / "app.yaml").read_text())
    assert config["runtime"] == "python312"
    assert config["entrypoint"].split() == ["python", "-m", "framework.server", "main:app"]
    served = subprocess.run(  # the entrypoint's server on Google's hosts binds $PORT too
        [sys.executable, "-m", "framework.server", "--print-settings", "main:app"], cwd=REPO_ROOT,
        env={"PORT": "8123", "GAE_ENV": "standard", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60,
    )
    assert "port=8123" in served.stdout, served.stderr
    out = subprocess.run(
        [sys.executable, "-c", "import runpy; print(runpy.run_path('gunicorn.conf.py')['bind'])"],
        cwd=REPO_ROOT, env={"PORT": "8123", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60,
    )
    assert "8123" in out.stdout, out.stderr


def test_make_targets_and_ci() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    targets = dict(re.findall(r"^([a-z]+):[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M))
    assert "deploy.local_server" in targets["run"]
    assert "pytest" in targets["test"] and "ruff" in targets["test"]
    assert "-m bench" in targets["bench"]
    assert "ruff" in targets["lint"]
    for name in ("run", "test", "bench", "lint"):  # each creates .venv and installs first
        assert re.search(rf"^{name}: \$\(STAMP\)", makefile, re.M), name
    ci = (REPO_ROOT / ".ci/run").read_text()
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == ["exec make test"]


def test_readme_shows_make_run_and_test_first_then_quickstart_and_tour() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    first_block = text.split("```")[1]
    assert first_block.index("make run") < first_block.index("make test")
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[:2] == ["Quickstart", "Tour of the API"], headings
    assert text.index("make run") < text.index("## Quickstart") < text.index("## Tour of the API")
    assert "http://127.0.0.1:8080/" in text  # what `make run` prints by default


def test_core_benchmark_apps_and_targets() -> None:
    """The same three apps under both frameworks answer the same way (speed itself is `make bench`)."""
    from bench import core

    assert set(core.APPS) == {"hello", "json", "routes1000"}
    assert set(core.FRAMEWORKS) == {"framework", "flask"}
    assert core.TARGETS == {"throughput": 3.0, "routes_vs_small": 0.8, "cold_start": 0.6, "peak_rss": 0.75}
    for name, (_, path) in core.APPS.items():
        answers = []
        for fw in core.FRAMEWORKS:
            app = core._build(name, fw)
            status: list[str] = []
            body = b"".join(app(dict(core._environ(path), **{"wsgi.input": io.BytesIO()}),
                                lambda s, h, e=None, status=status: status.append(s)))
            answers.append((status[0], body.strip()))
        assert answers[0] == answers[1], (name, answers)
    assert core.verdict("throughput", 3.2) == "ok" and core.verdict("throughput", 2.9) == "MISSED"
    assert core.verdict("cold_start", 0.55) == "ok" and core.verdict("cold_start", 0.65) == "MISSED"
    assert core.verdict("peak_rss", 0.7) == "ok" and core.verdict("peak_rss", 0.8) == "MISSED"


def test_sample_app_takes_its_secret_key_from_app_yaml_env_variables() -> None:
    # app.yaml's env_variables reach the app as FRAMEWORK_* variables; main.py must turn them into config.
    env_vars = yaml.safe_load((REPO_ROOT / "app.yaml").read_text())["env_variables"]
    assert "FRAMEWORK_SECRET_KEY" in env_vars
    probe = "import main; print(repr(main.app.secret_key))"
    env = {"PATH": "/usr/bin:/bin", "FRAMEWORK_SECRET_KEY": "from-the-environment-0123456789"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "'from-the-environment-0123456789'"
