"""Apps that never use ndb never import google.cloud (or grpc); ndb contexts only when asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.procs import REPO_ROOT

# `google` and `google.cloud` namespace stubs may be preloaded by a .pth file: only new modules count.
SCRIPT = """
import json, sys
preloaded = set(sys.modules)
import framework
app = framework.App("coldapp")
app.config.update(json.loads(sys.argv[1]))

@app.get("/")
def index():
    ctx = sys.modules.get("google.cloud.ndb")
    active = ctx is not None and ctx.context.get_context(False) is not None
    return {"ndb_context": active}

body = app.test_client().get("/").get_json()
with app.app_context():
    pass
heavy = sorted(m for m in set(sys.modules) - preloaded if m.split(".")[0] in ("grpc", "google"))
print(json.dumps({"body": body, "heavy": heavy}))
"""


def run_app(config: dict[str, object], **env: str) -> dict[str, object]:
    """Run a tiny app in a fresh interpreter; report its answer and the google/grpc modules loaded."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATASTORE_", "NDB_", "REDIS_"))}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(config)], cwd=REPO_ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_app_without_ndb_imports_no_google_cloud() -> None:
    result = run_app({})
    assert result == {"body": {"ndb_context": False}, "heavy": []}


def test_opted_in_app_gets_a_context_and_loads_ndb() -> None:
    # The emulator address is never dialled: entering and leaving an empty context makes no RPC.
    result = run_app({"NDB_CONTEXT": True}, DATASTORE_EMULATOR_HOST="127.0.0.1:9", DATASTORE_PROJECT_ID="p")
    assert result["body"] == {"ndb_context": True}
    assert "google.cloud.ndb" in result["heavy"]
