"""framework.secrets: the random-looking-key rule, secret:// references (Secret Manager through its real
client against a local gRPC stand-in of SecretManagerService; production's API cannot run here), local
values from .env, and the startup refusal on Google's hosts (a real gunicorn that never boots)."""

from __future__ import annotations

import base64
import random
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.cloud.secretmanager_v1 import SecretManagerServiceClient
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)
from google.cloud.secretmanager_v1.types import AccessSecretVersionRequest, AccessSecretVersionResponse

from framework import App
from framework import secrets as fsecrets
from tests.support.procs import REPO_ROOT, free_port, stop_process, venv_tool, wait_for_http

STRONG = "Zq3v8Hn0_pW-4kTe9RbXs1LmYc7JdF2uGaQo6NiVwEh5KyBtMjUr"


# --- the rule ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [
    # issue 15.9: every one of these passed the old denylist
    "your-secret-key-here", "change-me-please", "0000000000000000", "dev-secret-key-change-me",
    None, "", "dev", "change-me", "short-but-random-Xk2p",
    "x" * 64, "ab" * 32, "0123456789abcdef0123456789abcdef", "abcdefghijklmnopqrstuvwxyz0123456789",
    "my-super-long-default-flask-key-for-production-use", "Kq8sPz1wKq8sPz1wKq8sPz1wKq8sPz1wKq8sPz1w",
    b"\x01" * 32, bytes(range(40)),
])
def test_weak_keys_are_refused(key: str | bytes | None) -> None:
    assert fsecrets.weak_key_reason(key) is not None


def test_random_keys_of_the_usual_generators_are_accepted() -> None:
    rng = random.Random(20261204)  # seeded: the same 4,000 keys every run
    for _ in range(1000):
        raw = rng.randbytes(48)
        assert fsecrets.weak_key_reason(base64.urlsafe_b64encode(raw).decode().rstrip("=")) is None  # token_urlsafe
        assert fsecrets.weak_key_reason(rng.randbytes(16).hex()) is None  # token_hex(16): 32 hex digits
        assert fsecrets.weak_key_reason(rng.randbytes(32).hex()) is None  # token_hex()
        assert fsecrets.weak_key_reason(rng.randbytes(32)) is None  # token_bytes()
    assert fsecrets.weak_key_reason(STRONG) is None


def test_refusal_says_how_to_generate_and_where_to_keep() -> None:
    message = fsecrets.refusal(fsecrets.weak_key_reason("change-me-please") or "")
    assert "'change-me-please'" in message and "placeholder" in message
    assert "secrets.token_urlsafe(48)" in message
    assert "Secret Manager" in message and "secret://projects/" in message and ".env" in message


# --- startup check on Google's hosts ------------------------------------------------------------------------
def _app(**config: object) -> App:
    app = App(__name__)
    app.config.update(config)
    return app


@pytest.mark.parametrize("env", [{"GAE_ENV": "standard"}, {"K_SERVICE": "fn", "FUNCTION_TARGET": "f"}])
def test_google_host_refuses_missing_or_weak_key(env: dict[str, str]) -> None:
    with pytest.raises(fsecrets.SecretKeyError, match="no SECRET_KEY is set.*SECRET_KEY_REQUIRED"):
        fsecrets.check_app(_app(), env)
    with pytest.raises(fsecrets.SecretKeyError, match="placeholder"):
        fsecrets.check_app(_app(SECRET_KEY="dev-secret-key-change-me"), env)
    with pytest.raises(fsecrets.SecretKeyError, match="FALLBACKS entry"):
        fsecrets.check_app(_app(SECRET_KEY=STRONG, SECRET_KEY_FALLBACKS=["0000000000000000"]), env)
    fsecrets.check_app(_app(SECRET_KEY=STRONG), env)
    fsecrets.check_app(_app(SECRET_KEY_REQUIRED=False), env)  # an app that never signs anything


def test_marked_secrets_must_be_set_on_google_hosts() -> None:
    env = {"GAE_ENV": "standard", "FRAMEWORK_SECRETS": "DB_PASSWORD, FRAMEWORK_API_TOKEN"}
    assert fsecrets.marked_keys(env) == ("SECRET_KEY", "DB_PASSWORD", "API_TOKEN")
    with pytest.raises(fsecrets.SecretKeyError, match="DB_PASSWORD is marked secret"):
        fsecrets.check_app(_app(SECRET_KEY=STRONG, API_TOKEN="t"), env)
    fsecrets.check_app(_app(SECRET_KEY=STRONG, API_TOKEN="t", DB_PASSWORD="p"), env)


def test_nothing_is_refused_locally() -> None:
    fsecrets.check_app(_app(), {})
    fsecrets.check_app(_app(SECRET_KEY="dev"), {"GAE_ENV": "localdev"})


def test_weak_key_from_the_environment_stops_the_app_as_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAE_ENV", "standard")
    monkeypatch.setenv("FRAMEWORK_SECRET_KEY", "change-me-please")
    with pytest.raises(fsecrets.SecretKeyError, match="token_urlsafe"):
        App(__name__).config.from_prefixed_env()


GUNICORN_APP = """
from framework import App
app = App(__name__)
app.config.from_prefixed_env()
@app.get("/")
def index():
    return "served"
"""


@pytest.mark.parametrize(("key", "boots"), [(None, False), ("0123456789abcdef0123456789abcdef", False),
                                            (STRONG, True)])
def test_gunicorn_on_app_engine_refuses_to_boot_without_a_good_key(tmp_path: Path, key: str | None,
                                                                   boots: bool) -> None:
    (tmp_path / "keyed_app.py").write_text(GUNICORN_APP)
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "GAE_ENV": "standard", "GOOGLE_CLOUD_PROJECT": "p", "HOST": "127.0.0.1",
           "PORT": str(port), "WEB_CONCURRENCY": "1", "PYTHONPATH": str(REPO_ROOT)}
    if key:
        env["FRAMEWORK_SECRET_KEY"] = key
    cmd = [venv_tool("gunicorn"), "-c", str(REPO_ROOT / "gunicorn.conf.py"), "--chdir", str(tmp_path),
           "keyed_app:app"]
    out = _serves_or_exits(cmd, env, port, boots)
    if not boots:
        assert "Refusing to start on Google's hosts" in out and "token_urlsafe(48)" in out
        assert "Booting worker" in out  # it got as far as loading the app, then stopped before serving


def _serves_or_exits(cmd: list[str], env: dict[str, str], port: int, serves: bool) -> str:
    """Start `cmd`: when `serves`, wait until it answers HTTP on `port`; else wait for it to exit non-zero and
    return its output. The process is stopped either way."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        if serves:
            wait_for_http(f"http://127.0.0.1:{port}/", proc)  # type: ignore[arg-type]
            return ""
        out, _ = proc.communicate(timeout=60)
    finally:
        stop_process(proc)  # type: ignore[arg-type]
    assert proc.returncode != 0, out
    return out


# --- references -------------------------------------------------------------------------------------------
def test_reference_forms() -> None:
    full = fsecrets.parse_reference("secret://projects/p1/secrets/key/versions/3")
    assert full.name == "projects/p1/secrets/key/versions/3"
    assert full == fsecrets.SecretReference("p1", "key", "3") and len({full, fsecrets.SecretReference("p1", "key", "3")}) == 1
    assert full != fsecrets.SecretReference("p1", "key") and repr(full) == (
        "SecretReference(project='p1', secret='key', version='3')")
    with pytest.raises(AttributeError, match="immutable"):
        full.version = "4"  # type: ignore[misc]
    assert fsecrets.parse_reference("secret://projects/p1/secrets/key").version == "latest"
    assert fsecrets.parse_reference("secret://key", "p2").name == "projects/p2/secrets/key/versions/latest"
    assert fsecrets.parse_reference("secret://projects/p1/secrets/key/versions/prod-alias").version == "prod-alias"
    for bad in ("secret://", "secret://a/b", "secret://projects/p/secrets/k/versions/", "plain",
                "secret://projects/p/secrets/k/versions/x y", "secret://projects/p/secrets/my key",
                "secret://projects/p q/secrets/k", "secret://projects/p/secrets/k.v1"):
        with pytest.raises(fsecrets.SecretError, match="secret://projects/PROJECT"):
            fsecrets.parse_reference(bad, "p")
    with pytest.raises(fsecrets.SecretError, match="GOOGLE_CLOUD_PROJECT"):
        fsecrets.parse_reference("secret://key")


class _SecretManagerStandIn:
    """AccessSecretVersion over real gRPC, answering from a dict and recording the names asked for."""

    def __init__(self, values: dict[str, bytes]) -> None:
        self.values = values
        self.asked: list[str] = []

    def access(self, request: AccessSecretVersionRequest, context: grpc.ServicerContext) -> AccessSecretVersionResponse:
        self.asked.append(request.name)
        if request.name not in self.values:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Secret [{request.name}] not found or has no versions.")
        return AccessSecretVersionResponse(name=request.name, payload={"data": self.values[request.name]})


@pytest.fixture
def secret_manager() -> Iterator[tuple[_SecretManagerStandIn, SecretManagerServiceClient]]:
    stand_in = _SecretManagerStandIn({
        "projects/proj/secrets/framework-secret-key/versions/latest": (STRONG + "\n").encode(),
        "projects/proj/secrets/weak/versions/latest": b"change-me-please",
        "projects/other/secrets/db/versions/2": b"hunter2-db-password",
    })
    handler = grpc.method_handlers_generic_handler("google.cloud.secretmanager.v1.SecretManagerService", {
        "AccessSecretVersion": grpc.unary_unary_rpc_method_handler(
            stand_in.access, request_deserializer=AccessSecretVersionRequest.deserialize,
            response_serializer=AccessSecretVersionResponse.serialize),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    client = SecretManagerServiceClient(transport=SecretManagerServiceGrpcTransport(channel=channel))
    fsecrets._fetched.clear()
    try:
        yield stand_in, client
    finally:
        fsecrets._fetched.clear()
        channel.close()
        server.stop(None)


def test_google_host_resolves_references_through_secret_manager(secret_manager, tmp_path: Path) -> None:
    stand_in, client = secret_manager
    env = {"GAE_ENV": "standard", "GOOGLE_CLOUD_PROJECT": "proj"}
    config = {"SECRET_KEY": "secret://framework-secret-key", "DB": "secret://projects/other/secrets/db/versions/2",
              "PLAIN": "kept"}
    assert fsecrets.resolve_config(config, tmp_path, environ=env, client=client) == ["SECRET_KEY", "DB"]
    assert config == {"SECRET_KEY": STRONG, "DB": "hunter2-db-password", "PLAIN": "kept"}  # one newline dropped
    assert stand_in.asked == ["projects/proj/secrets/framework-secret-key/versions/latest",
                              "projects/other/secrets/db/versions/2"]
    fsecrets.resolve_config({"SECRET_KEY": "secret://framework-secret-key"}, tmp_path, environ=env, client=client)
    assert len(stand_in.asked) == 2  # fetched once per process


def test_google_host_refuses_a_weak_or_missing_secret(secret_manager, tmp_path: Path) -> None:
    _, client = secret_manager
    env = {"K_SERVICE": "svc", "GOOGLE_CLOUD_PROJECT": "proj"}
    with pytest.raises(fsecrets.SecretKeyError, match="placeholder"):
        fsecrets.resolve_config({"SECRET_KEY": "secret://weak"}, tmp_path, environ=env, client=client)
    with pytest.raises(fsecrets.SecretError, match="secretAccessor") as info:
        fsecrets.resolve_config({"SECRET_KEY": "secret://absent"}, tmp_path, environ=env, client=client)
    assert "NOT_FOUND" in str(info.value) or "not found" in str(info.value)


def test_locally_references_come_from_dotenv_or_a_kept_development_key(tmp_path: Path) -> None:
    config = {"SECRET_KEY": "secret://framework-secret-key"}
    assert fsecrets.resolve_config(config, tmp_path, environ={}) == ["SECRET_KEY"]
    dev_key = config["SECRET_KEY"]
    assert fsecrets.weak_key_reason(dev_key) is None
    assert (tmp_path / ".local" / "dev-secret-key").read_text().strip() == dev_key
    again = {"SECRET_KEY": "secret://framework-secret-key"}
    fsecrets.resolve_config(again, tmp_path, environ={})
    assert again["SECRET_KEY"] == dev_key  # sessions survive a restart and span workers

    (tmp_path / ".env").write_text("FRAMEWORK_SECRET_KEY=from-dotenv\nFRAMEWORK_DB=db-from-dotenv\n")
    config = {"SECRET_KEY": "secret://framework-secret-key", "DB": "secret://db"}
    fsecrets.resolve_config(config, tmp_path, environ={})
    assert config == {"SECRET_KEY": "from-dotenv", "DB": "db-from-dotenv"}
    with pytest.raises(fsecrets.SecretError, match=r"FRAMEWORK_OTHER=<value> in .*\.env"):
        fsecrets.resolve_config({"OTHER": "secret://other"}, tmp_path, environ={})


def test_sample_app_yaml_holds_a_reference_and_boots_locally(tmp_path: Path) -> None:
    import yaml

    value = yaml.safe_load((REPO_ROOT / "app.yaml").read_text())["env_variables"]["FRAMEWORK_SECRET_KEY"]
    assert fsecrets.is_reference(value)
    (tmp_path / "probe_app.py").write_text(GUNICORN_APP)
    probe = f"import probe_app; print(probe_app.app.secret_key != {value!r} and len(probe_app.app.secret_key))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "FRAMEWORK_SECRET_KEY": value, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 32 and "development key" in done.stderr


# --- `check` refuses a key written into app.yaml ------------------------------------------------------------
def _check(tmp_path: Path, env_lines: str) -> tuple[int, str]:
    from deploy.check import run_check

    (tmp_path / "main.py").write_text("app = None\n")
    (tmp_path / "app.yaml").write_text("runtime: python312\nenv_variables:\n" + env_lines)
    return run_check([str(tmp_path)], cwd=tmp_path)


@pytest.mark.parametrize("value", ["change-me", "your-secret-key-here", "0000000000000000", ""])
def test_check_refuses_a_placeholder_key_in_app_yaml(tmp_path: Path, value: str) -> None:
    status, report = _check(tmp_path, f"  OTHER: x\n  FRAMEWORK_SECRET_KEY: \"{value}\"\n")
    assert status == 1
    assert "app.yaml:4: FRAMEWORK_SECRET_KEY holds a weak key" in report
    assert "fix: keep the value in Secret Manager" in report and "token_urlsafe(48)" in report


def test_check_accepts_references_and_warns_on_a_literal_random_key(tmp_path: Path) -> None:
    status, report = _check(tmp_path, "  FRAMEWORK_SECRET_KEY: \"secret://projects/p/secrets/k/versions/2\"\n")
    assert status == 0 and "FRAMEWORK_SECRET_KEY" not in report
    status, report = _check(tmp_path, f"  FRAMEWORK_SECRET_KEY: \"{STRONG}\"\n")
    assert status == 0 and "app.yaml:3: warning: FRAMEWORK_SECRET_KEY holds the secret itself" in report
    status, report = _check(tmp_path, "  FRAMEWORK_SECRET_KEY: \"secret://a/b\"\n")
    assert status == 1 and "app.yaml:3: FRAMEWORK_SECRET_KEY: 'secret://a/b' is not a secret reference" in report


def test_check_applies_the_marker_to_other_keys(tmp_path: Path) -> None:
    status, report = _check(tmp_path, "  FRAMEWORK_SECRETS: DB_PASSWORD\n  FRAMEWORK_DB_PASSWORD: \"\"\n"
                            "  FRAMEWORK_SECRET_KEY: \"secret://k\"\n")
    assert status == 1 and "app.yaml:4: FRAMEWORK_DB_PASSWORD is marked secret" in report
    status, report = _check(tmp_path, "  FRAMEWORK_SECRETS: DB_PASSWORD\n  FRAMEWORK_DB_PASSWORD: hunter2\n")
    assert status == 0 and "app.yaml:4: warning: FRAMEWORK_DB_PASSWORD holds the secret itself" in report


def test_functions_without_a_project_variable_ask_the_metadata_server(secret_manager, tmp_path: Path) -> None:
    # Cloud Run functions set no GOOGLE_CLOUD_PROJECT: the project of a short reference comes from the
    # metadata server (here a local stand-in at $GCE_METADATA_HOST; the real one exists only on Google's hosts).
    import http.server
    import threading

    class Metadata(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/computeMetadata/v1/project/project-id" and self.headers["Metadata-Flavor"] == "Google"
            body = b"proj" if ok else b""
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metadata)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        stand_in, client = secret_manager
        env = {"K_SERVICE": "fn", "FUNCTION_TARGET": "f", "GCE_METADATA_HOST": f"127.0.0.1:{server.server_port}"}
        config = {"SECRET_KEY": "secret://framework-secret-key"}
        fsecrets.resolve_config(config, tmp_path, environ=env, client=client)
        assert config["SECRET_KEY"] == STRONG
        assert stand_in.asked == ["projects/proj/secrets/framework-secret-key/versions/latest"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_check_refuses_the_preflight_flag_in_app_yaml(tmp_path: Path) -> None:
    status, report = _check(tmp_path, "  FRAMEWORK_SECRET_KEY: \"secret://k\"\n  FRAMEWORK_PREFLIGHT: \"1\"\n")
    assert status == 1 and "app.yaml:4: FRAMEWORK_PREFLIGHT replaces every secret" in report


FUNCTION_APP = """
from framework import App
from framework.adapters.cloud_functions import http
app = App(__name__)
app.config.from_prefixed_env()
@app.get("/")
def index():
    return "served"
entry = http(app)
"""


@pytest.mark.parametrize(("key", "boots"), [(None, False), (STRONG, True)])
def test_functions_framework_on_google_refuses_to_load_without_a_good_key(tmp_path: Path, key: str | None,
                                                                          boots: bool) -> None:
    (tmp_path / "main.py").write_text(FUNCTION_APP)
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "K_SERVICE": "entry", "FUNCTION_TARGET": "entry", "GOOGLE_CLOUD_PROJECT": "p",
           "PYTHONPATH": str(REPO_ROOT)}
    if key:
        env["FRAMEWORK_SECRET_KEY"] = key
    cmd = [venv_tool("functions-framework"), "--target", "entry", "--source", str(tmp_path / "main.py"),
           "--host", "127.0.0.1", "--port", str(port)]
    out = _serves_or_exits(cmd, env, port, boots)
    if not boots:
        assert "Refusing to start on Google's hosts: no SECRET_KEY is set" in out and "token_urlsafe(48)" in out
