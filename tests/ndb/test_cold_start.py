"""Apps that never use ndb never import google.cloud (or grpc); ndb contexts only when asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

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


# An app that never touches ndb pays nothing per request for it: the hook is only added once ndb is imported or
# NDB_CONTEXT is written, however late either happens.
LATE = """
import json, sys
import framework
app = framework.App("lateapp")
how = sys.argv[1]

@app.get("/")
def index():
    if how == "import in a view":
        import google.cloud.ndb  # noqa: F401
    ctx = sys.modules.get("google.cloud.ndb")
    return {"active": ctx is not None and ctx.context.get_context(False) is not None}

client = app.test_client()
seen = {"hooks at start": len(app.context_hooks), "first": client.get("/").get_json()["active"]}
if how == "setitem":
    app.config["NDB_CONTEXT"] = True
elif how == "update":
    app.config.update(NDB_CONTEXT=True)
elif how == "ior":
    app.config |= {"NDB_CONTEXT": True}
elif how == "from_mapping":
    app.config.from_mapping(NDB_CONTEXT=True)
elif how == "setdefault":
    app.config.setdefault("NDB_CONTEXT", True)
elif how == "import outside":
    import google.cloud.ndb  # noqa: F401
elif how == "get_client first":  # imports ndb for the first time while holding framework.ndb's client lock
    from framework import ndb as framework_ndb
    framework_ndb.get_client(app.config)
seen["hooks after"] = len(app.context_hooks)
seen["second"] = client.get("/").get_json()["active"]
print(json.dumps(seen))
"""


@pytest.mark.parametrize("how", ["setitem", "update", "ior", "from_mapping", "setdefault", "import outside",
                                 "import in a view", "get_client first"])
def test_the_ndb_hook_is_added_once_needed_however_late(how: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATASTORE_", "NDB_", "REDIS_"))}
    env = {**clean, "DATASTORE_EMULATOR_HOST": "127.0.0.1:9", "DATASTORE_PROJECT_ID": "p"}
    proc = subprocess.run([sys.executable, "-c", LATE, how], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    # The view that imports ndb runs after its app context was pushed: its own request has no context yet.
    assert seen == {"hooks at start": 0, "first": False, "hooks after": 1, "second": True}, seen


def test_an_app_that_never_uses_ndb_has_no_hook() -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATASTORE_", "NDB_", "REDIS_"))}
    proc = subprocess.run([sys.executable, "-c", LATE, "never"], cwd=REPO_ROOT, env=clean, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"hooks at start": 0, "first": False, "hooks after": 0, "second": False}, seen
