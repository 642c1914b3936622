"""`python -m deploy preflight [DIR]`: boot the staged upload as App Engine would, on loopback, before uploading.

1. Stages DIR (deploy.stage) and builds a fresh virtualenv from its requirements.txt as the buildpack does
   (gunicorn 22.0.0 added when there is no entrypoint and no gunicorn, §1.2), cached in
   `DIR/.local/venvs/preflight-<hash>` by the requirements' hash and the Python version (pip's cache helps
   the first build; only PyPI is needed).
2. Runs app.yaml's entrypoint in the staged copy with App Engine's variables (GAE_ENV=standard, GAE_*,
   GOOGLE_CLOUD_PROJECT, PORT, GAE_MEMORY_MB of the instance class) but kept local: it binds 127.0.0.1,
   Datastore goes to a throw-away in-memory emulator, FRAMEWORK_PREFLIGHT=1 makes secret:// references
   random stand-ins, the metadata server and every outbound proxy point at a closed loopback port and no
   user credentials are visible, so nothing reaches Google.
3. Probes /_ah/warmup and /, and reports the cold start (process start to the first answer), the peak
   memory of the server's processes against the instance class (§1.4), and import errors with the
   requirement to add.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import packages_distributions
from pathlib import Path

from deploy import stage as staging
from deploy.config.app_yaml import load_app_yaml
from deploy.config.problems import ConfigError
from deploy.config.requirements import requirement_names

INSTANCE_MEMORY_MB = {"F1": 384, "F2": 768, "F4": 1536, "F4_1G": 3072, "B1": 384, "B2": 768, "B4": 1536,
                      "B4_1G": 3072, "B8": 3072}
BUILDPACK_GUNICORN = "gunicorn==22.0.0"  # what the buildpack adds without an entrypoint (§1.2)
DEFAULT_ENTRYPOINT = "gunicorn -b 127.0.0.1:$PORT main:app"  # the platform's own flags are unconfirmed (§1.3)
PROJECT = "preflight-local"
PRUNE_AFTER_DAYS = 14  # a cached virtualenv unused this long is removed when another is built
FUNCTION_MEMORY_MB = 256  # gcloud's default --memory for new functions (§7.3)
FUNCTIONS_FRAMEWORK = "functions-framework"  # injected by the buildpack when requirements lack it (§7.2)
# Modules whose distribution has another name (the ModuleNotFoundError names the module).
_DISTRIBUTIONS = {"yaml": "PyYAML", "google.cloud.ndb": "google-cloud-ndb",
                  "google.cloud.datastore": "google-cloud-datastore", "google.cloud.secretmanager":
                  "google-cloud-secret-manager", "google.cloud.tasks": "google-cloud-tasks", "PIL": "Pillow",
                  "dotenv": "python-dotenv", "jwt": "PyJWT", "dateutil": "python-dateutil", "bs4": "beautifulsoup4",
                  "sklearn": "scikit-learn", "cv2": "opencv-python", "functions_framework": "functions-framework"}


class PreflightError(Exception):
    """The staged app could not be built or booted; the message says what and how to fix it."""


@dataclass
class Report:
    """What a preflight measured."""

    staged: Path
    venv: Path
    venv_reused: bool
    cold_start_s: float | None = None
    peak_rss_mb: float | None = None
    limit_mb: int = 384
    instance_class: str = "F1"
    probes: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        lines = [f"staged copy: {self.staged}",
                 f"virtualenv: {self.venv} ({'cached' if self.venv_reused else 'built now'})"]
        for path, status in self.probes.items():
            lines.append(f"GET {path}: {status}")
        if self.cold_start_s is not None:
            lines.append(f"cold start: {self.cold_start_s:.2f} s to the first answer")
        if self.peak_rss_mb is not None:
            share = 100 * self.peak_rss_mb / self.limit_mb
            lines.append(f"peak memory: {self.peak_rss_mb:.0f} MB of {self.limit_mb} MB ({self.instance_class}), "
                         f"{share:.0f}%")
        lines += [f"problem: {p}" for p in self.problems]
        lines.append("preflight: OK" if self.ok else "preflight: FAILED")
        return "\n".join(lines)


# --- the virtualenv -----------------------------------------------------------------------------------------
def buildpack_additions(requirements: Path, entrypoint: str | None, *, functions: bool = False) -> list[str]:
    """What the buildpack installs besides requirements.txt: for App Engine gunicorn when there is no
    entrypoint (§1.2), for functions functions-framework when requirements.txt lacks it (§7.2)."""
    names = requirement_names(requirements) if requirements.is_file() else set()
    if functions:
        return [] if FUNCTIONS_FRAMEWORK in names else [FUNCTIONS_FRAMEWORK]
    return [] if entrypoint or "gunicorn" in names else [BUILDPACK_GUNICORN]


def venv_key(requirements: Path, additions: Sequence[str]) -> str:
    """The cache key: the requirements file's bytes, the additions and the Python version."""
    digest = hashlib.sha256(b"preflight\0" + sys.version.encode() + b"\0" + "\n".join(additions).encode() + b"\0")
    digest.update(requirements.read_bytes() if requirements.is_file() else b"")
    return digest.hexdigest()[:16]


def _prune(cache_root: Path, max_age_days: float = PRUNE_AFTER_DAYS) -> None:
    """Remove this tool's virtualenvs not used for `max_age_days` (old requirements leave them behind)."""
    limit = time.time() - max_age_days * 86400
    for old in cache_root.glob("preflight-*"):
        stamp = old / ".complete"
        try:
            if not stamp.exists() or stamp.stat().st_mtime < limit:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


def ensure_venv(cache_root: Path, requirements: Path, additions: Sequence[str], log: Path) -> tuple[Path, bool]:
    """(venv folder, reused?) for `requirements`; builds it with `python -m venv` and pip when not cached."""
    venv = cache_root / f"preflight-{venv_key(requirements, additions)}"
    done = venv / ".complete"
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(cache_root / ".preflight.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two preflights of one app build the venv once
        if done.exists():
            done.touch()  # last used: what pruning goes by
            return venv, True
        _prune(cache_root)
        if venv.exists():
            shutil.rmtree(venv)  # a build that was interrupted
        # A venv without pip of its own, filled by this interpreter's pip (`--python`): the same packages,
        # without seconds of ensurepip per build. The app never needs pip at run time.
        steps = [[sys.executable, "-m", "venv", "--without-pip", str(venv)]]
        install = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                   "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
        if requirements.is_file():
            steps.append([*install, "-r", str(requirements), *additions])
        elif additions:
            steps.append([*install, *additions])
        with open(log, "ab") as out:
            for step in steps:
                if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False).returncode:
                    tail = log.read_text(errors="replace").strip().splitlines()[-15:]
                    raise PreflightError("installing requirements.txt failed (the build on Google would too):\n"
                                         + "\n".join("  " + line for line in tail))
        done.write_text(requirements.read_text() if requirements.is_file() else "")
        return venv, False


# --- the boot ------------------------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 free now (the kernel's pick; the runner's services and preflight's boot use it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loopback_entrypoint(entrypoint: str) -> str:
    """The entrypoint with any all-interfaces bind (`-b :$PORT`, `0.0.0.0:$PORT`) turned into 127.0.0.1."""
    text = re.sub(r"(^|[\s=])(?:0\.0\.0\.0|\[::\])?:(\$\{?PORT\}?|\d+)", r"\g<1>127.0.0.1:\g<2>", entrypoint)
    return text


def _local_only_env(home: Path, port: int, datastore: str | None) -> dict[str, str]:
    """What every boot gets: loopback, no credentials, no metadata server, no way out to Google."""
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there: any outbound call fails at once
    env = {
        # The virtualenv's real bin folder: `python` finds its pyvenv.cfg beside the folder it was started
        # from, so through the home/bin link it would run as the bare base interpreter (no requirements).
        "PATH": os.pathsep.join([str((home / "bin").resolve()), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8", "HOME": str(home), "TMPDIR": str(home),
        "GOOGLE_CLOUD_PROJECT": PROJECT, "PORT": str(port), "HOST": "127.0.0.1", "FRAMEWORK_PREFLIGHT": "1",
        "CLOUDSDK_CONFIG": str(home / "gcloud"), "NO_GCE_CHECK": "True",
        "GCE_METADATA_HOST": closed, "GCE_METADATA_IP": closed,
        "http_proxy": f"http://{closed}", "https_proxy": f"http://{closed}", "HTTP_PROXY": f"http://{closed}",
        "HTTPS_PROXY": f"http://{closed}", "grpc_proxy": f"http://{closed}",
        "no_proxy": "127.0.0.1,localhost,::1", "NO_PROXY": "127.0.0.1,localhost,::1",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
    }
    if datastore:
        env["DATASTORE_EMULATOR_HOST"] = datastore
        env["DATASTORE_PROJECT_ID"] = PROJECT
    return env


def production_env(app_yaml: object, port: int, datastore: str | None, home: Path) -> dict[str, str]:
    """App Engine standard's variables for the boot (§2), with everything that could reach Google kept local."""
    instance_class = getattr(app_yaml, "instance_class", "F1")
    platform = {
        "GAE_ENV": "standard", "GAE_SERVICE": getattr(app_yaml, "service", "default"), "GAE_VERSION": "preflight",
        "GAE_INSTANCE": "preflight-" + os.urandom(8).hex(), "GAE_RUNTIME": getattr(app_yaml, "runtime", ""),
        "GAE_MEMORY_MB": str(INSTANCE_MEMORY_MB.get(instance_class, 384)), "GAE_APPLICATION": f"s~{PROJECT}",
        "GAE_DEPLOYMENT_ID": "0",
    }
    return {**dict(getattr(app_yaml, "env_variables", {}) or {}), **platform,
            **_local_only_env(home, port, datastore)}


def function_env(name: str, target: str, signature: str, variables: dict[str, str], port: int,
                 datastore: str | None, home: Path) -> dict[str, str]:
    """Cloud Run functions' variables (§7.4) for the boot of one entry point, kept local the same way."""
    platform = {"K_SERVICE": name, "K_REVISION": f"{name}-00001-pre", "K_CONFIGURATION": name,
                "FUNCTION_TARGET": target, "FUNCTION_SIGNATURE_TYPE": signature}
    return {**variables, **platform, **_local_only_env(home, port, datastore)}


def _tree_peak_rss_kb(session: int) -> int:
    """Sum of the peak resident memory (VmHWM) of every live process in `session` (Linux /proc)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) != session:
                continue
            status = Path(f"/proc/{entry}/status").read_text()
        except (OSError, ProcessLookupError):
            continue
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        total += int(match.group(1)) if match else 0
    return total


def _get(url: str) -> int:
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def _wait_for_answer(url: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            _get(url)
            return True
        except (OSError, urllib.error.URLError):
            time.sleep(0.05)
    return False


def import_hints(log: str) -> list[str]:
    """A requirement to add for each `No module named X` in the boot's log."""
    hints = []
    for module in dict.fromkeys(re.findall(r"No module named '([\w.]+)'", log)):
        dist = next((d for m, d in _DISTRIBUTIONS.items() if module == m or module.startswith(m + ".")), None)
        if dist is None:
            try:
                found = packages_distributions().get(module.split(".")[0]) or []
                dist = found[0] if found else None
            except Exception:
                dist = None
        dist = dist or module.split(".")[0]
        hints.append(f"the app imports {module!r}, which is not installed: add {dist} (with a version range) "
                     "to requirements.txt")
    return hints


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)


def _start_datastore(home: Path) -> tuple[subprocess.Popen[bytes] | None, str | None]:
    """A throw-away in-memory Datastore emulator from the kit (not part of the upload), or (None, None)."""
    proc = subprocess.Popen([sys.executable, "-m", "framework.emulators.datastore", "--port", "0", "--in-memory",
                             "--project", PROJECT], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True, cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode(errors="replace")
        if line.startswith("export DATASTORE_EMULATOR_HOST="):
            host = line.split("=", 1)[1].strip()
            if _wait_for_answer(f"http://{host}/", proc, 30):
                return proc, host
            break
    _stop(proc)
    return None, None


@dataclass(frozen=True)
class Target:
    """One boot: the shell command, its environment builder's result, the paths to probe, the memory limit."""

    command: str
    probes: tuple[str, ...]
    limit_mb: int
    label: str
    warmup_required: bool = False


def _boot(staged: Path, venv: Path, target: Target, make_env: Callable[[int, str | None, Path], dict[str, str]],
          timeout: float) -> Report:
    """Run `target.command` in `staged` with `venv` first on PATH; wait for it, probe it, measure it, stop it."""
    report = Report(staged, venv, True, instance_class=target.label, limit_mb=target.limit_mb)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="preflight-home-") as tmp:
        home = Path(tmp)
        (home / "bin").symlink_to(venv / "bin")
        datastore_proc, datastore = _start_datastore(home)
        log_path = home / "server.log"
        env = make_env(port, datastore, home)
        started = time.monotonic()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(["/bin/sh", "-c", "exec " + target.command], cwd=staged, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            answered = _wait_for_answer(f"http://127.0.0.1:{port}{target.probes[0]}", proc, timeout)
            if answered:
                report.cold_start_s = time.monotonic() - started
                for path in target.probes:
                    report.probes[path] = _get(f"http://127.0.0.1:{port}{path}")
                report.peak_rss_mb = _tree_peak_rss_kb(proc.pid) / 1024
        finally:
            _stop(proc)
            if datastore_proc is not None:
                _stop(datastore_proc)
        log_text = log_path.read_text(errors="replace")
    if not answered:
        tail = "\n".join("  " + line for line in log_text.strip().splitlines()[-20:])
        what = "exited" if proc.returncode is not None else f"did not answer within {timeout:.0f} s"
        report.problems.append(f"the app {what} ({target.command}):\n{tail}")
        report.problems += import_hints(log_text)
        return report
    for path, status in report.probes.items():
        # App Engine sends /_ah/warmup only with `inbound_services: [warmup]`; then it must succeed.
        if status >= 500 or (path == "/_ah/warmup" and target.warmup_required and status != 200):
            report.problems.append(f"GET {path} answered {status}")
    if report.peak_rss_mb is not None and report.peak_rss_mb > report.limit_mb:
        report.problems.append(f"the app needs {report.peak_rss_mb:.0f} MB at start, over the {report.limit_mb} MB "
                               f"of {target.label}: the platform would stop the instance; give it more memory "
                               "or import less at start")
    return report


def boot(staged: Path, venv: Path, app_yaml: object, timeout: float = 60.0) -> Report:
    """Run the entrypoint of `staged` in `venv` as App Engine would; probe /_ah/warmup and /; measure it."""
    instance_class = getattr(app_yaml, "instance_class", "F1")
    target = Target(loopback_entrypoint(getattr(app_yaml, "entrypoint", None) or DEFAULT_ENTRYPOINT),
                    ("/_ah/warmup", "/"), INSTANCE_MEMORY_MB.get(instance_class, 384), instance_class,
                    "warmup" in (getattr(app_yaml, "inbound_services", None) or ()))
    return _boot(staged, venv, target, lambda port, ds, home: production_env(app_yaml, port, ds, home), timeout)


def boot_function(staged: Path, venv: Path, name: str, entry_point: str, signature: str,
                  variables: dict[str, str] | None = None, memory_mb: int = FUNCTION_MEMORY_MB,
                  timeout: float = 60.0) -> Report:
    """Run one entry point with functions-framework as Cloud Run functions would (§7.5); probe / and measure.

    An HTTP function must answer GET / below 500; a CloudEvent function only takes POST, so any answer
    below 500 (405) shows it loaded.
    """
    command = (f"functions-framework --target {shlex.quote(entry_point)} --signature-type {signature} "
               "--source main.py --host 127.0.0.1 --port $PORT")
    target = Target(command, ("/",), memory_mb, f"function {name}")
    return _boot(staged, venv, target, lambda port, ds, home: function_env(
        name, entry_point, signature, dict(variables or {}), port, ds, home), timeout)


def preflight(app_dir: Path | str, *, staged: Path | None = None, timeout: float = 60.0,
              cache_root: Path | None = None, service_yaml: Path | str | None = None) -> Report:
    """Stage `app_dir` (unless `staged` is given), build or reuse its virtualenv, boot it and probe it.

    `service_yaml` (default `app_dir/app.yaml`) picks the service: it boots from its own folder of the
    staged copy, with that folder's requirements.txt, as App Engine builds each service from its folder.
    Virtualenvs are cached in `cache_root` (default: `app_dir/.local/venvs`).
    """
    root = Path(app_dir).resolve()
    yaml_path = (root / service_yaml).resolve() if service_yaml is not None else root / "app.yaml"
    app_yaml = load_app_yaml(yaml_path)
    own_copy = staged is None
    if staged is None:
        _, staged = staging.stage(root, services=staging.service_folders(root, [yaml_path]))
    try:
        service_dir = staged / yaml_path.parent.relative_to(root)
        requirements = service_dir / "requirements.txt"
        additions = buildpack_additions(requirements, app_yaml.entrypoint)
        log = root / ".local" / "preflight-pip.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        venv, reused = ensure_venv(cache_root or root / ".local" / "venvs", requirements, additions, log)
        report = boot(service_dir, venv, app_yaml, timeout)
        report.venv_reused = reused
        return report
    finally:
        if own_copy:
            shutil.rmtree(staged, ignore_errors=True)


def preflight_functions(app_dir: Path | str, entry_points: Sequence[tuple[str, str, str]], staged: Path, *,
                        variables: dict[str, str] | None = None, timeout: float = 60.0,
                        cache_root: Path | None = None) -> list[Report]:
    """Boot each (function name, entry point, signature type) of the staged copy with functions-framework."""
    root = Path(app_dir).resolve()
    requirements = staged / "requirements.txt"
    additions = buildpack_additions(requirements, None, functions=True)
    log = root / ".local" / "preflight-pip.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    venv, reused = ensure_venv(cache_root or root / ".local" / "venvs", requirements, additions, log)
    reports = []
    for name, entry_point, signature in entry_points:
        report = boot_function(staged, venv, name, entry_point, signature, variables, timeout=timeout)
        report.venv_reused = reused
        reports.append(report)
    return reports


def command(args: argparse.Namespace) -> int:
    """Run `preflight` with parsed arguments: 0 when the app booted and answered, else 1."""
    try:
        if args.functions:
            reports = _functions_preflight(Path(args.app_dir), Path(args.staged) if args.staged else None,
                                           args.timeout)
        else:
            reports = [preflight(args.app_dir, staged=Path(args.staged) if args.staged else None,
                                 timeout=args.timeout)]
    except (staging.StageError, PreflightError, ConfigError) as exc:
        print(f"preflight: FAILED\n{exc}", file=sys.stderr)
        return 1
    print("\n\n".join(report.text() for report in reports))
    return 0 if all(report.ok for report in reports) else 1


def _functions_preflight(app_dir: Path, staged: Path | None, timeout: float) -> list[Report]:
    from deploy.functions_cmd import (  # cycle: it imports preflight
        FunctionsError,
        discover,
        preflight_targets,
    )

    root = app_dir.resolve()
    try:
        targets = preflight_targets(discover(root))
    except FunctionsError as exc:
        raise PreflightError(str(exc)) from exc
    own_copy = staged is None
    if staged is None:
        _, staged = staging.stage(root, None, staging.FUNCTIONS)
    try:
        return preflight_functions(root, targets, staged, variables=_env_variables(root), timeout=timeout)
    finally:
        if own_copy:
            shutil.rmtree(staged, ignore_errors=True)


def _env_variables(root: Path) -> dict[str, str]:
    """app.yaml's env_variables (what `functions` deploys with --env-vars-file), {} without an app.yaml."""
    return dict(load_app_yaml(root / "app.yaml").env_variables) if (root / "app.yaml").is_file() else {}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `preflight` command's arguments."""
    parser.add_argument("app_dir", nargs="?", default=".", help="the app folder (default: .)")
    parser.add_argument("--staged", help="an existing staging folder (from `stage --out`) instead of staging now")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the first answer")
    parser.add_argument("--functions", action="store_true",
                        help="boot main.py's http()/cloud_event() entry points with functions-framework instead")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `preflight` on `python -m deploy`."""
    parser = subparsers.add_parser("preflight", help="boot the staged app as App Engine would, on loopback",
                                   description=(__doc__ or "").splitlines()[0])
    add_arguments(parser)
    parser.set_defaults(func=command)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m deploy.preflight`: the same as `python -m deploy preflight`."""
    parser = argparse.ArgumentParser(prog="python -m deploy preflight")
    add_arguments(parser)
    return command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

