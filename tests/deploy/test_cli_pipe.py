"""`python -m deploy ... | head`: a reader that stops early ends the output quietly, with no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.procs import REPO_ROOT


def test_listing_into_a_closed_pipe_has_no_traceback(tmp_path: Path) -> None:
    app = tmp_path / "app"
    for folder in ("a", "b", "c"):
        (app / folder).mkdir(parents=True)
        for i in range(600):
            (app / folder / f"f{i}.txt").write_text("x")
    (app / "app.yaml").write_text("runtime: python312\n")
    (app / ".gcloudignore").write_text(".gcloudignore\n")
    proc = subprocess.Popen([sys.executable, "-m", "deploy", "stage", str(app), "--list", "--out", str(tmp_path / "out")],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert first.strip() and "Traceback" not in err and "BrokenPipe" not in err, err
