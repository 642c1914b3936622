"""Starting and stopping: bad config stops the runner first, a port in use is one error, every process
the runner started is stopped on Ctrl-C / SIGTERM (and even when the runner is killed)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.local.conftest import NO_EMULATORS, RUNNER, copy_app, start_runner
from tests.support.procs import REPO_ROOT, free_port


def run_once(app_dir: Path, *files: str, env: dict[str, str] | None = None,
             port: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUNNER, "--app-dir", str(app_dir), "--port", str(port or free_port()), *files],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, **NO_EMULATORS, **(env or {})},
    )


def listening(address: str) -> bool:
    host, _, port = address.replace("http://", "").rpartition(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


def wait_closed(addresses: list[str], timeout: float = 20.0) -> list[str]:
    """The addresses still accepting connections after `timeout` (polled)."""
    deadline = time.monotonic() + timeout
    while True:
        still = [a for a in addresses if listening(a)]
        if not still or time.monotonic() > deadline:
            return still
        time.sleep(0.1)


def test_bad_app_yaml_stops_the_runner_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("runtime: python312\nhandlers:\n- url: /x\n  static_dir: s\n  bogus: 1\n")
    (tmp_path / "main.py").write_text("app = None\n")
    result = run_once(tmp_path)
    assert result.returncode == 1
    assert f"{tmp_path / 'app.yaml'}:5: " in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "[datastore]" not in result.stdout and "Serving" not in result.stdout


def test_bad_dispatch_yaml_stops_the_runner(tmp_path: Path) -> None:
    app_dir = copy_app("two", tmp_path)
    (app_dir / "dispatch.yaml").write_text('dispatch:\n- url: "*/api/*"\n  service: api\n- url: "a*b/x"\n  service: api\n')
    result = run_once(app_dir, "default/app.yaml", "api/app.yaml", "dispatch.yaml")
    assert result.returncode == 1
    assert f"{app_dir / 'dispatch.yaml'}:4: " in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_app_yaml_is_one_clear_error(tmp_path: Path) -> None:
    result = run_once(tmp_path)
    assert result.returncode == 1 and f"{tmp_path / 'app.yaml'}:1: " in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    app_dir = copy_app("plain", tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_once(app_dir, port=port)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout and "Serving" not in result.stdout
    assert result.stdout == ""  # nothing was started, so nothing else is said


@pytest.mark.slow
def test_entrypoint_not_found_names_the_line_and_stops_what_started(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("runtime: python312\n# comment\nentrypoint: no-such-server-xyz --port $PORT\n")
    result = run_once(tmp_path, env={"DATASTORE_EMULATOR_HOST": "", "FRAMEWORK_DATASTORE_DIR": str(tmp_path / "ds")})
    assert result.returncode == 1
    assert f"{tmp_path / 'app.yaml'}:3: the entrypoint program 'no-such-server-xyz'" in result.stderr
    assert "# Datastore emulator stopped." in result.stdout  # started, then stopped again
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_stops_every_process_it_started(tmp_path: Path, signum: int) -> None:
    app_dir = copy_app("plain", tmp_path)
    env = {"DATASTORE_EMULATOR_HOST": "", "CLOUD_TASKS_EMULATOR_HOST": "", "FRAMEWORK_DATASTORE_DIR": str(tmp_path / "ds")}
    with start_runner(app_dir, tmp_path, env=env) as running:
        state = running.state
        addresses = [str(state["datastore"]), *state["instances"].values(), *state["services"].values()]  # type: ignore[union-attr]
        if state.get("tasks"):
            addresses.append(str(state["tasks"]))
        assert all(listening(a) for a in addresses)
        running.server.proc.send_signal(signum)  # the runner alone, as Ctrl-C in its terminal does
        assert running.server.proc.wait(timeout=60) == 0
        assert wait_closed(addresses) == []
        assert not (app_dir / ".local" / "runner.json").exists()
        assert "[runner] stopped" in running.log()


@pytest.mark.slow
def test_a_killed_runner_leaves_no_server_behind(tmp_path: Path) -> None:
    app_dir = copy_app("plain", tmp_path)
    with start_runner(app_dir, tmp_path, env=NO_EMULATORS) as running:
        instance = str(running.state["instances"]["default"])  # type: ignore[index]
        running.server.proc.send_signal(signal.SIGKILL)
        running.server.proc.wait(timeout=30)
        # The parent-death signal reaches the service's process group (Linux).
        if sys.platform.startswith("linux"):
            assert wait_closed([instance]) == []


@pytest.mark.slow
def test_failing_warmup_is_logged_and_traffic_still_flows(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("runtime: python312\ninbound_services: [warmup]\n")
    (tmp_path / "main.py").write_text(
        "def app(environ, start_response):\n"
        "    failing = environ['PATH_INFO'] == '/_ah/warmup'\n"
        "    start_response('500 Internal Server Error' if failing else '200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'warmup broke' if failing else b'ok']\n"
    )
    with start_runner(tmp_path, tmp_path, env=NO_EMULATORS) as running:
        assert running.request("GET", "/")[2] == b"ok"
        log = running.log()
        assert "GET /_ah/warmup 500" in log and "warmup request failed with 500" in log


@pytest.mark.slow
@pytest.mark.parametrize(("scaling", "first_seen_at"), [
    ("manual_scaling:\n  instances: 1\n", "start"),  # sent at instance start, before any traffic
    ("basic_scaling:\n  max_instances: 1\n", "first request"),  # sent before the first request
])
def test_start_request_before_traffic_on_basic_and_manual_scaling(tmp_path: Path, scaling: str,
                                                                  first_seen_at: str) -> None:
    (tmp_path / "app.yaml").write_text(f"runtime: python312\ninstance_class: B1\ninbound_services: [warmup]\n{scaling}")
    (tmp_path / "main.py").write_text(
        "SEEN = []\n"
        "def app(environ, start_response):\n"
        "    SEEN.append(environ['PATH_INFO'])\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [' '.join(SEEN).encode()]\n"
    )
    with start_runner(tmp_path, tmp_path, env=NO_EMULATORS) as running:
        if first_seen_at == "start":
            running.wait_for_log("GET /_ah/start 200")
        assert running.request("GET", "/first")[2] == b"/_ah/start /first"  # never /_ah/warmup on B classes
        assert running.request("GET", "/second")[2] == b"/_ah/start /first /second"
        running.server.proc.send_signal(signal.SIGTERM)
        assert running.server.proc.wait(timeout=60) == 0
        assert "GET /_ah/stop 200" in running.log()  # basic and manual instances are told they stop


@pytest.mark.slow
def test_requirements_that_do_not_install_stop_the_runner(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("runtime: python312\nentrypoint: python -m http.server $PORT\n")
    (tmp_path / "requirements.txt").write_text("--no-index\nno-such-package-xyz==1.0\n")
    result = run_once(tmp_path)
    assert result.returncode == 1
    assert f"{tmp_path / 'requirements.txt'}:1: installing these requirements failed" in result.stderr
    assert "no-such-package-xyz" in result.stdout  # pip's own words, prefixed by the service
    assert not list((tmp_path / ".local" / "venvs").glob("*/.complete"))  # nothing half-built is reused


@pytest.mark.slow
def test_an_instance_that_exits_is_replaced_on_the_next_request(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("runtime: python312\ninbound_services: [warmup]\n")
    (tmp_path / "main.py").write_text(
        "import os, signal\n"
        "SEEN = []\n"
        "def app(environ, start_response):\n"
        "    SEEN.append(environ['PATH_INFO'])\n"
        "    if environ['PATH_INFO'] == '/die':\n"
        "        os.kill(os.getppid(), signal.SIGTERM)  # the whole instance (gunicorn's master) goes\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [' '.join(SEEN).encode()]\n"
    )
    with start_runner(tmp_path, tmp_path, env=NO_EMULATORS) as running:
        assert running.request("GET", "/one")[2] == b"/_ah/warmup /one"
        running.request("GET", "/die")
        running.wait_for_log("the instance exited with status")
        # A new process: warmed up again before it gets the request.
        assert running.request("GET", "/two")[2] == b"/_ah/warmup /two"
        assert "starting a new instance" in running.log()


@pytest.mark.slow
def test_traffic_sent_during_startup_waits_for_the_warmed_up_instance(tmp_path: Path) -> None:
    from tests.local.conftest import RUNNER as runner_cmd
    from tests.support.procs import run_server

    (tmp_path / "app.yaml").write_text("runtime: python312\ninbound_services: [warmup]\n")
    (tmp_path / "main.py").write_text(
        "import time\n"
        "SEEN = []\n"
        "time.sleep(1)  # a slow import: the front end is listening long before the app\n"
        "def app(environ, start_response):\n"
        "    SEEN.append(environ['PATH_INFO'])\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [' '.join(SEEN).encode()]\n"
    )
    port = free_port()
    cmd = [*runner_cmd, "--app-dir", str(tmp_path), "--port", str(port)]
    # ready_path=None: go as soon as the front end's port accepts connections (it is bound first).
    with run_server(cmd, port=port, tmp_path=tmp_path, env=NO_EMULATORS, ready_path=None, timeout=60):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/early", timeout=60) as response:
            assert response.read() == b"/_ah/warmup /early"


@pytest.mark.slow
def test_changed_code_gets_a_new_instance(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("runtime: python312\n")
    main = tmp_path / "main.py"
    source = ("def app(environ, start_response):\n"
              "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
              "    return [b'VERSION']\n")
    main.write_text(source.replace("VERSION", "one"))
    with start_runner(tmp_path, tmp_path, env=NO_EMULATORS) as running:
        assert running.request("GET", "/")[2] == b"one"
        main.write_text(source.replace("VERSION", "two"))
        stat = main.stat()
        os.utime(main, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))  # a surely different mtime
        running.wait_for_log("main.py changed: starting a new instance")
        assert running.request("GET", "/")[2] == b"two"  # waits for the new instance
        (tmp_path / "app.yaml").write_text("runtime: python312\n# edited\n")
        running.wait_for_log("app.yaml changed: restart the runner to apply it")
        assert "the instance exited" not in running.log()  # a planned restart is not reported as a crash


@pytest.mark.slow
def test_ctrl_c_while_a_virtualenv_is_built_stops_pip_and_keeps_nothing_half_built(tmp_path: Path) -> None:
    from tests.support.procs import run_server

    with socket.socket() as silent_index:  # accepts pip's connection, never answers: pip waits
        silent_index.bind(("127.0.0.1", 0))
        silent_index.listen(8)
        index = f"http://127.0.0.1:{silent_index.getsockname()[1]}/simple"
        (tmp_path / "app.yaml").write_text("runtime: python312\nentrypoint: python -m http.server $PORT\n")
        (tmp_path / "requirements.txt").write_text(f"--index-url {index}\nsome-package-xyz==1.0\n")
        port = free_port()
        cmd = [*RUNNER, "--app-dir", str(tmp_path), "--port", str(port)]
        with run_server(cmd, port=port, tmp_path=tmp_path, env=NO_EMULATORS, ready_path=None, timeout=60) as server:
            deadline = time.monotonic() + 60
            while not (pip := subprocess.run(["pgrep", "-f", f"pip --python {tmp_path}"], capture_output=True,
                                             text=True).stdout.split()):  # pip waiting on the silent index
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.05)
            server.proc.send_signal(signal.SIGINT)
            assert server.proc.wait(timeout=60) == 0
            assert "stopping while starting up" in server.log() and "Traceback" not in server.log()
        for pid in pip:  # the pip the runner started is gone (not merely orphaned)
            assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
        assert not list((tmp_path / ".local" / "venvs").glob("*/bin"))


@pytest.mark.slow
def test_ctrl_c_while_the_emulators_start_stops_them_before_the_runner_ends(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("runtime: python312\nentrypoint: python -m http.server $PORT\n")
    env = {**os.environ, "DATASTORE_EMULATOR_HOST": "", "CLOUD_TASKS_EMULATOR_HOST": "",
           "FRAMEWORK_DATASTORE_DIR": str(tmp_path / "ds")}
    proc = subprocess.Popen([*RUNNER, "--app-dir", str(tmp_path), "--port", str(free_port())], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert proc.stdout is not None
        seen = ""
        for line in proc.stdout:  # the Datastore emulator is up; the runner may still wait for the tasks one
            seen += line
            if "export DATASTORE_EMULATOR_HOST" in line:
                proc.send_signal(signal.SIGINT)
                break
        seen += proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, seen
    # Stopped by the runner itself (its last words are in the output), not left to die after it.
    assert seen.index("# Datastore emulator stopped.") < seen.index("[runner] stopped"), seen
    left = subprocess.run(["pgrep", "-f", f"data-dir {tmp_path}"], capture_output=True, text=True).stdout
    assert left == ""


@pytest.mark.slow
def test_a_second_ctrl_c_kills_at_once_instead_of_waiting_for_a_slow_stop_handler(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("runtime: python312\ninstance_class: B1\nmanual_scaling:\n  instances: 1\n")
    (tmp_path / "main.py").write_text(
        "import sys, time\n"
        "def app(environ, start_response):\n"
        "    if environ['PATH_INFO'] == '/_ah/stop':\n"
        "        print('stop handler is taking its time', flush=True)\n"
        "        time.sleep(600)  # App Engine would give it 30 s; the runner waits as long\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n"
    )
    with start_runner(tmp_path, tmp_path, env=NO_EMULATORS) as running:
        instance = str(running.state["instances"]["default"])  # type: ignore[index]
        running.server.proc.send_signal(signal.SIGINT)
        running.wait_for_log("stop handler is taking its time", timeout=30)
        running.server.proc.send_signal(signal.SIGINT)
        # Well before the 30 s the /_ah/stop handler would otherwise be given.
        assert running.server.proc.wait(timeout=20) == 0
        assert "stopping now: killing every process it started" in running.log()
        assert wait_closed([instance], timeout=5) == []
