"""`make run`: serve main.py the way App Engine standard would, on this machine.

Checks app.yaml, sets App Engine's environment (GAE_ENV=localdev, never "standard", so the app knows it
is not deployed; the app then strips client-sent X-Appengine-* headers like the real front end), starts
local services (the Datastore emulator), runs app.yaml's `entrypoint` with PORT defaulting to 8080,
prints the URL once it answers, and stops everything on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
# App Engine's default when app.yaml has no entrypoint, bound to loopback unless HOST says otherwise.
DEFAULT_ENTRYPOINT = "gunicorn -b ${HOST:-127.0.0.1}:$PORT main:app"
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SCALING = ("automatic_scaling", "basic_scaling", "manual_scaling")


class AppYamlError(SystemExit):
    """app.yaml cannot be used; the message names the file, the line and the fix."""

    def __init__(self, path: Path, line: int, problem: str, fix: str) -> None:
        super().__init__(f"{path}:{line}: {problem}\n  fix: {fix}")


def _key_lines(node: Any) -> dict[str, int]:
    """1-based line of each key of a composed YAML mapping (top level only)."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def _child(node: Any, key: str) -> Any:
    """The value node under `key` of a composed YAML mapping, or None."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def read_app_yaml(path: Path) -> dict[str, Any]:
    """Load and check the parts of app.yaml the local runner uses; raise AppYamlError on problems."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise AppYamlError(path, 1, f"cannot read the file ({exc.strerror})",
                           "run from the app directory or pass --app-dir") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise AppYamlError(path, mark.line + 1 if mark else 1, f"not valid YAML: {problem}",
                           "correct the YAML syntax on that line (indentation, quotes, `key: value`)") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AppYamlError(path, 1, "the top level is not a mapping of app.yaml keys",
                           "start with `runtime: python312` and `entrypoint: ...` lines")
    lines = _key_lines(node)
    runtime = data.get("runtime")
    if not isinstance(runtime, str) or not re.fullmatch(r"python3\d+", runtime):
        raise AppYamlError(path, lines.get("runtime", 1), f"runtime is {runtime!r}, not a Python 3 runtime",
                           "set `runtime: python312` (or python311 ... python314)")
    entrypoint = data.get("entrypoint")
    if entrypoint is not None and (not isinstance(entrypoint, str) or not entrypoint.strip()):
        raise AppYamlError(path, lines["entrypoint"], "entrypoint must be a shell command string",
                           "write e.g. `entrypoint: gunicorn -c gunicorn.conf.py main:app`, or remove it")
    env_vars = data.get("env_variables") or {}
    if not isinstance(env_vars, dict):
        raise AppYamlError(path, lines["env_variables"], "env_variables must be a mapping",
                           "write one `NAME: value` per line, indented under env_variables")
    var_lines = _key_lines(_child(node, "env_variables"))
    for name, value in env_vars.items():
        line = var_lines.get(str(name), lines["env_variables"])
        if not isinstance(name, str) or not _ENV_KEY.fullmatch(name) or name.startswith("GAE"):
            raise AppYamlError(path, line, f"env_variables key {name!r} is not allowed",
                               "use letters, digits and _ (not starting with a digit or GAE)")
        if isinstance(value, (dict, list)) or value is None:
            raise AppYamlError(path, line, f"env_variables[{name!r}] is not a plain value",
                               "give it a string value, quoted if needed")
    blocks = [key for key in _SCALING if key in data]
    if len(blocks) > 1:
        raise AppYamlError(path, lines[blocks[1]], f"more than one scaling block ({', '.join(blocks)})",
                           "keep only one of automatic_scaling, basic_scaling, manual_scaling")
    return data


def local_environment(base: dict[str, str], app_config: dict[str, Any] | None = None) -> dict[str, str]:
    """App Engine's runtime variables with local values, plus app.yaml's env_variables; anything already set wins."""
    config = app_config or {}
    env = dict(base)
    for name, value in (config.get("env_variables") or {}).items():
        env.setdefault(name, str(value))
    if not env.get("PORT"):
        env["PORT"] = "8080"
    env["GAE_ENV"] = "localdev"
    env.setdefault("GAE_SERVICE", str(config.get("service") or "default"))
    env.setdefault("GAE_VERSION", "local")
    env.setdefault("GAE_RUNTIME", str(config.get("runtime") or "python312"))
    env.setdefault("GOOGLE_CLOUD_PROJECT", "local-project")
    env.setdefault("GAE_APPLICATION", "dev~" + env["GOOGLE_CLOUD_PROJECT"])
    env.setdefault("GAE_INSTANCE", "local-" + os.urandom(8).hex())
    env.setdefault("PYTHONUNBUFFERED", "1")
    # The entrypoint names gunicorn etc. bare, as on App Engine: find them next to this interpreter first.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    return env


# --- embedded Datastore emulator (datastore owner, issue 5) -------------------------------------
def embed_datastore(env: dict[str, str]) -> None:
    """Start the local Datastore emulator as the app's default store, unless DATASTORE_EMULATOR_HOST is set.

    Data is kept in FRAMEWORK_DATASTORE_DIR (default: the git-ignored .datastore/ at the repo root) on
    port FRAMEWORK_DATASTORE_PORT (default: a free one). A forked watchdog owns the emulator and stops
    it once this runner process is gone, however it ended (even `kill -9`).
    """
    if env.get("DATASTORE_EMULATOR_HOST"):
        print(f"Datastore: using the emulator at {env['DATASTORE_EMULATOR_HOST']}", flush=True)
        return
    project = env.get("DATASTORE_PROJECT_ID") or env["GOOGLE_CLOUD_PROJECT"]
    data_dir = Path(env.get("FRAMEWORK_DATASTORE_DIR") or ROOT / ".datastore").resolve()
    port = port_setting(env, "FRAMEWORK_DATASTORE_PORT") or _free_port()
    cmd = [sys.executable, "-m", "framework.emulators.datastore", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir), "--project", project]
    _wait_for_emulator(port, _spawn_watchdog(cmd, env))
    env.update(DATASTORE_EMULATOR_HOST=f"127.0.0.1:{port}", DATASTORE_PROJECT_ID=project,
               DATASTORE_DATASET=project)
    print(f"Datastore: emulator on 127.0.0.1:{port}, project {project}, data in {data_dir}", flush=True)


def port_setting(env: dict[str, str], name: str) -> int | None:
    """The TCP port in variable `name` (None when unset); a clear exit when it is not a port number."""
    value = env.get(name)
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and 0 < int(value) < 65536):
        raise SystemExit(f"{name} is {value!r}; set it to a free TCP port number such as 8080")
    return int(value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn_watchdog(cmd: list[str], env: dict[str, str]) -> int:
    """Fork a process that runs the emulator and stops it once our process is gone; return its pid."""
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        # Ctrl-C and `kill` of the group reach the emulator directly; the watchdog outlives them to
        # clean up. Python handlers (not SIG_IGN) so the emulator gets default dispositions back.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda *_: None)
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)
        while proc.poll() is None and os.getppid() == parent:
            time.sleep(0.2)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        code = proc.returncode or 0
    finally:
        os._exit(code)


def _wait_for_emulator(port: int, watchdog: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitpid(watchdog, os.WNOHANG)[0]:
            raise SystemExit("the local Datastore emulator exited before it was ready (see its output above)")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"the local Datastore emulator did not listen on port {port} within {timeout:.0f}s")


# --- the app server ------------------------------------------------------------------------------
def _wait_until_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    """True once 127.0.0.1:port accepts connections; False if the server exited or never listened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def serve(entrypoint: str, env: dict[str, str], app_dir: Path) -> int:
    """Run the entrypoint through the shell (as App Engine does) until it exits; return its exit status.

    SIGTERM and Ctrl-C are passed on to the server as SIGTERM, so gunicorn shuts down gracefully.
    """
    proc = subprocess.Popen(["/bin/sh", "-c", f"exec {entrypoint}"], cwd=app_dir, env=env)

    def stop(signum: int, frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if _wait_until_listening(int(env["PORT"]), proc):
            print(f"Serving {app_dir / 'main.py'} on http://127.0.0.1:{env['PORT']}/  (Ctrl-C to stop)",
                  flush=True)
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m deploy.local_server [--app-dir DIR]`."""
    parser = argparse.ArgumentParser(prog="python -m deploy.local_server", description=__doc__.splitlines()[0])
    parser.add_argument("--app-dir", type=Path, default=ROOT, help="directory holding app.yaml and main.py")
    args = parser.parse_args(argv)
    app_dir = args.app_dir.resolve()
    config = read_app_yaml(app_dir / "app.yaml")
    env = local_environment(dict(os.environ), config)
    port_setting(env, "PORT")
    # Local services the app expects, started before the app server:
    embed_datastore(env)
    entrypoint = config.get("entrypoint") or DEFAULT_ENTRYPOINT
    status = serve(entrypoint, env, app_dir)
    if status == 127:  # the shell could not find the entrypoint's program
        app_yaml = app_dir / "app.yaml"
        line = _key_lines(yaml.compose(app_yaml.read_text(), Loader=yaml.SafeLoader)).get("entrypoint", 1)
        print(f"{app_yaml}:{line}: the entrypoint program {entrypoint.split()[0]!r} was not found\n"
              "  fix: add it to requirements.txt and run `make install`, or correct `entrypoint`",
              file=sys.stderr)
    # gunicorn exits 0 after SIGTERM; a negative status means the server died from a signal.
    return 0 if status < 0 and -status in (signal.SIGTERM, signal.SIGINT) else status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before the server started
        sys.exit(130)
