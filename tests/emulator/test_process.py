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

from framework.emulator import pb, start
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
    cmd = [sys.executable, "-m", "framework.emulator", "--port", str(port), "--in-memory", "--project", "p1"]
    with run_server(cmd, port=port, tmp_path=tmp_path, ready_path=None) as server:
        _put(f"127.0.0.1:{port}", key("K", 1, project="p1"))
        os.kill(server.proc.pid, signal.SIGTERM)
        assert server.proc.wait(10) == 0
        log = server.log()
    assert f"export DATASTORE_EMULATOR_HOST=127.0.0.1:{port}" in log
    assert "export DATASTORE_PROJECT_ID=p1" in log and "export DATASTORE_DATASET=p1" in log
    assert f"export DATASTORE_HOST=http://127.0.0.1:{port}" in log
    assert "export DATASTORE_EMULATOR_ADMIN=http://127.0.0.1:" in log
    assert "stopped" in log


def test_port_zero_picks_a_free_port_and_ctrl_c_stops():
    proc = subprocess.Popen([sys.executable, "-m", "framework.emulator", "--port", "0"], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("export DATASTORE_EMULATOR_HOST=127.0.0.1:")
        assert int(first.strip().rsplit(":", 1)[1]) > 0
        while "running" not in proc.stdout.readline():
            pass
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def test_busy_port_is_a_clear_error():
    with start() as emu:
        result = subprocess.run([sys.executable, "-m", "framework.emulator", "--port", str(emu.port)],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "cannot listen" in result.stderr


def test_admin_endpoints_and_start_handle():
    with start(project="proj-x") as emu:
        assert emu.env["DATASTORE_PROJECT_ID"] == "proj-x" and emu.address == emu.env["DATASTORE_EMULATOR_HOST"]
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


def test_emulator_exits_when_its_parent_goes_away():
    emu = start()
    emu.proc.stdin.close()  # what the parent's death looks like to the child
    assert emu.proc.wait(10) == 0
    with pytest.raises(grpc.RpcError):
        _get(emu.address, key("K", 1))
    emu.stop()


def test_unusable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = subprocess.run([sys.executable, "-m", "framework.emulator", "--port", "0", "--data-dir", str(blocker)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "cannot open the data directory" in result.stderr and str(blocker) in result.stderr
    result = subprocess.run([sys.executable, "-m", "framework.emulator", "--in-memory", "--data-dir", "x"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "not allowed with" in result.stderr
