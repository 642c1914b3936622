"""The emulator as a process: CLI output, admin endpoints, SIGTERM, start(), persistence and kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import grpc
import pytest

from framework.emulators.datastore import pb, start
from tests.support.procs import REPO_ROOT, free_port, run_server

from .conftest import Raw, entity, key

pytestmark = pytest.mark.slow


def _put(address, k, **props):
    raw = Raw(address)
    try:
        req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL, project_id=k.partition_id.project_id)
        req.mutations.add().upsert.CopyFrom(entity(k, **props))
        return raw("Commit", req)
    finally:
        raw.channel.close()


def _get(address, k):
    raw = Raw(address)
    try:
        return raw("Lookup", pb.LookupRequest(keys=[k], project_id=k.partition_id.project_id))
    finally:
        raw.channel.close()


def test_cli_prints_environment_and_stops_on_sigterm(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "framework.emulators.datastore", "--port", str(port), "--in-memory", "--project", "p1"]
    with run_server(cmd, port=port, tmp_path=tmp_path, ready_path=None) as server:
        _put(f"127.0.0.1:{port}", key("K", 1, project="p1"))
        os.kill(server.proc.pid, signal.SIGTERM)
        assert server.proc.wait(10) == 0
        log = server.log()
    assert f"export DATASTORE_EMULATOR_HOST=127.0.0.1:{port}" in log
    assert "export DATASTORE_PROJECT_ID=p1" in log and "export DATASTORE_DATASET=p1" in log
    assert f"export DATASTORE_HOST=http://127.0.0.1:{port}" in log
    assert f"export DATASTORE_EMULATOR_ADMIN=http://127.0.0.1:{port}" in log
    assert "stopped" in log


def test_port_zero_picks_a_free_port_and_ctrl_c_stops():
    proc = subprocess.Popen([sys.executable, "-m", "framework.emulators.datastore", "--port", "0"], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("export DATASTORE_EMULATOR_HOST=127.0.0.1:")
        assert int(first.strip().rsplit(":", 1)[1]) > 0
        assert any("running" in line for line in proc.stdout), "the emulator exited before it was ready"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def test_busy_port_is_a_clear_error():
    with start() as emu:
        result = subprocess.run([sys.executable, "-m", "framework.emulators.datastore", "--port", str(emu.port)],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "cannot listen" in result.stderr


@pytest.mark.parametrize("admin_port", [None, 0], ids=["same-port", "separate-port"])
def test_admin_endpoints_and_start_handle(admin_port):
    with start(project="proj-x", admin_port=admin_port) as emu:
        assert emu.env["DATASTORE_PROJECT_ID"] == "proj-x" and emu.address == emu.env["DATASTORE_EMULATOR_HOST"]
        assert (emu.admin_url == f"http://{emu.address}") == (admin_port is None)
        with urllib.request.urlopen(emu.admin_url + "/", timeout=5) as response:
            assert response.status == 200 and response.read() == b"Ok\n"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(emu.admin_url + "/nope", timeout=5)
        assert info.value.code == 404
        k = key("K", "a", project="proj-x")
        _put(emu.address, k)
        emu.reset()
        assert len(_get(emu.address, k).missing) == 1
        req = urllib.request.Request(emu.admin_url + "/shutdown", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=5) as response:
            assert response.status == 200
        assert emu.proc.wait(10) == 0
    assert emu.proc.poll() == 0


def test_single_port_serves_many_clients_and_http_side_by_side(tmp_path):
    with start() as emu:
        raws = [Raw(emu.address) for _ in range(5)]
        try:
            for i, raw in enumerate(raws):
                req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL, project_id="local-project")
                e = entity(key("Mux", i + 1), blob=b"x" * 200_000)
                e.properties["blob"].exclude_from_indexes = True
                req.mutations.add().upsert.CopyFrom(e)
                raw("Commit", req)
                with urllib.request.urlopen(f"http://{emu.address}/", timeout=5) as response:
                    assert response.read() == b"Ok\n"
            found = raws[0]("Lookup", pb.LookupRequest(keys=[key("Mux", i + 1) for i in range(5)])).found
            assert len(found) == 5 and all(len(f.entity.properties["blob"].blob_value) == 200_000 for f in found)
        finally:
            for raw in raws:
                raw.channel.close()


def test_data_survives_restart(tmp_path):
    with start(data_dir=tmp_path / "data") as emu:
        version = _put(emu.address, key("Keep", 1), v="kept").mutation_results[0].version
    with start(data_dir=tmp_path / "data") as emu:
        found = _get(emu.address, key("Keep", 1)).found
        assert found[0].entity.properties["v"].string_value == "kept" and found[0].version == version
        assert _put(emu.address, key("Keep", 2)).mutation_results[0].version > version


def test_acknowledged_commit_survives_kill_9(tmp_path):
    emu = start(data_dir=tmp_path / "data")
    try:
        for i in range(20):
            _put(emu.address, key("Durable", i + 1), v=i)
        os.kill(emu.pid, signal.SIGKILL)
        emu.proc.wait(10)
    finally:
        emu.stop()
    with start(data_dir=tmp_path / "data") as emu:
        res = _get(emu.address, key("Durable", 20))
        assert res.found[0].entity.properties["v"].integer_value == 19


def test_kill_9_during_a_stream_of_commits_loses_no_acknowledged_commit(tmp_path):
    """Four writers commit pairs of entities; the emulator is killed mid-stream. After a restart every
    acknowledged pair is there, and no pair is half-written."""
    import threading

    emu = start(data_dir=tmp_path / "data")
    acked: list[int] = []
    sent: list[int] = []
    lock = threading.Lock()
    enough = threading.Event()

    def writer(w: int) -> None:
        raw = Raw(emu.address)
        try:
            for i in range(w * 100_000 + 1, w * 100_000 + 100_000):
                req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL, project_id="local-project")
                req.mutations.add().upsert.CopyFrom(entity(key("A", i), v=i))
                req.mutations.add().upsert.CopyFrom(entity(key("B", i), v=i))
                with lock:
                    sent.append(i)
                try:
                    raw("Commit", req)
                except grpc.RpcError:
                    return  # the emulator is gone
                with lock:
                    acked.append(i)
                    if len(acked) >= 120:
                        enough.set()
        finally:
            raw.channel.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    try:
        for t in threads:
            t.start()
        assert enough.wait(60)
        os.kill(emu.pid, signal.SIGKILL)  # while the writers are still committing
        emu.proc.wait(10)
        for t in threads:
            t.join(30)
    finally:
        emu.stop()
    assert len(sent) > len(acked) >= 120  # commits were in flight when the process died
    with start(data_dir=tmp_path / "data") as emu:
        raw = Raw(emu.address)
        try:
            present = {}
            for kind in ("A", "B"):
                for chunk in range(0, len(sent), 1000):
                    ids = sent[chunk:chunk + 1000]
                    res = raw("Lookup", pb.LookupRequest(keys=[key(kind, i) for i in ids]))
                    present[kind] = present.get(kind, set()) | {f.entity.key.path[0].id for f in res.found}
        finally:
            raw.channel.close()
    assert set(acked) <= present["A"] and present["A"] == present["B"]


def test_emulator_exits_when_its_parent_goes_away():
    with start() as emu:
        emu.proc.stdin.close()  # what the parent's death looks like to the child
        assert emu.proc.wait(10) == 0
        with pytest.raises(grpc.RpcError):
            _get(emu.address, key("K", 1))


def test_unusable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = subprocess.run([sys.executable, "-m", "framework.emulators.datastore", "--port", "0", "--data-dir", str(blocker)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "cannot open the data directory" in result.stderr and str(blocker) in result.stderr
    result = subprocess.run([sys.executable, "-m", "framework.emulators.datastore", "--in-memory", "--data-dir", "x"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "not allowed with" in result.stderr


def test_rest_transport_protobuf_and_json(monkeypatch):
    import json

    from google.api_core import exceptions
    from google.cloud import datastore

    with start() as emu:
        monkeypatch.setenv("DATASTORE_EMULATOR_HOST", emu.address)
        client = datastore.Client(project="local-project", _use_grpc=False)
        e = datastore.Entity(client.key("Rest"))
        e.update({"n": 1, "s": "x"})
        client.put(e)
        assert client.get(e.key)["n"] == 1
        assert [x["s"] for x in client.query(kind="Rest").fetch()] == ["x"]
        with client.transaction():
            got = client.get(e.key)
            got["n"] = 2
            client.put(got)
        assert client.get(e.key)["n"] == 2
        bad = datastore.Entity(client.key("Rest", "long"))
        bad["s"] = "y" * 2000
        with pytest.raises(exceptions.BadRequest, match="longer than 1500"):
            client.put(bad)

        def post(method, body):
            req = urllib.request.Request(f"http://{emu.address}/v1/projects/local-project:{method}",
                                         data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as err:
                return err.code, json.loads(err.read())

        key_json = {"path": [{"kind": "Rest", "id": str(e.key.id)}]}
        status, body = post("lookup", {"keys": [key_json]})
        assert status == 200 and body["found"][0]["entity"]["properties"]["n"] == {"integerValue": "2"}
        status, body = post("commit", {"mode": "NON_TRANSACTIONAL", "mutations": [{"update": {
            "key": {"path": [{"kind": "Rest", "name": "absent"}]}, "properties": {}}}]})
        assert status == 404 and body["error"]["status"] == "NOT_FOUND"
        status, body = post("noSuchMethod", {})
        assert status == 404
        status, body = post("lookup", {"bogusField": 1})
        assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT"


def test_pytest_plugin_gives_every_test_an_empty_store(tmp_path):
    """A user's suite loading the plugin: the second test does not see what the first one wrote."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["framework.emulators.datastore.pytest_plugin"]\n')
    (tmp_path / "test_user.py").write_text(
        "from google.cloud import datastore\n\n"
        "def test_writes(clean_datastore):\n"
        "    client = datastore.Client()\n"
        "    e = datastore.Entity(client.key('Left', 1))\n"
        "    e['v'] = 1\n"
        "    client.put(e)\n"
        "    assert client.get(e.key)['v'] == 1\n\n"
        "def test_sees_nothing(clean_datastore):\n"
        "    client = datastore.Client()\n"
        "    assert client.project == clean_datastore.env['DATASTORE_PROJECT_ID']\n"
        "    assert list(client.query(kind='Left').fetch()) == []\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATASTORE_", "PYTEST_"))}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                             "-p", "no:randomly", str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr


def test_start_without_a_with_block_stops_when_the_caller_exits():
    script = "from framework.emulators.datastore import start\nemu = start()\nprint(emu.pid, flush=True)\n"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    pid = int(result.stdout.split()[0])
    with pytest.raises(ProcessLookupError):  # stop() at the caller's exit waited for (and reaped) it
        os.kill(pid, 0)
