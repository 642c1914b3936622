"""`make run`: serve main.py the way App Engine standard would, on this machine.

Reads the `entrypoint` of app.yaml, sets the App Engine environment (GAE_ENV=localdev, never
"standard", so the app knows it is not deployed) and runs the entrypoint with PORT defaulting to 8080.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def read_entrypoint(app_yaml: Path) -> str:
    """The app.yaml entrypoint, or App Engine's default gunicorn command when there is none."""
    try:
        with app_yaml.open() as fh:
            data = yaml.safe_load(fh) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{app_yaml}:{mark.line + 1}" if mark else str(app_yaml)
        raise SystemExit(f"{where}: not valid YAML ({exc}); fix the syntax and run again") from None
    if not isinstance(data, dict):
        raise SystemExit(f"{app_yaml}:1: expected a mapping of app.yaml keys at the top level")
    entrypoint = data.get("entrypoint") or "gunicorn -b :$PORT main:app"
    if not isinstance(entrypoint, str):
        raise SystemExit(f"{app_yaml}: `entrypoint` must be a shell command string")
    return entrypoint


def local_environment(base: dict[str, str]) -> dict[str, str]:
    """App Engine's runtime variables with local values; anything already set wins."""
    env = dict(base)
    env.setdefault("PORT", "8080")
    env["GAE_ENV"] = "localdev"
    env.setdefault("GAE_SERVICE", "default")
    env.setdefault("GAE_VERSION", "local")
    env.setdefault("GAE_RUNTIME", "python312")
    env.setdefault("GOOGLE_CLOUD_PROJECT", "local-project")
    env.setdefault("GAE_APPLICATION", "dev~" + env["GOOGLE_CLOUD_PROJECT"])
    return env


def main() -> None:
    env = local_environment(dict(os.environ))
    entrypoint = read_entrypoint(ROOT / "app.yaml")
    argv = shlex.split(os.path.expandvars(entrypoint.replace("$PORT", env["PORT"])))
    if argv and argv[0] == "gunicorn":
        argv[0] = str(Path(sys.executable).parent / "gunicorn")
    print(f"Serving main:app on http://127.0.0.1:{env['PORT']}/  (Ctrl-C to stop)", flush=True)
    os.chdir(ROOT)
    os.execvpe(argv[0], argv, env)


if __name__ == "__main__":
    main()
