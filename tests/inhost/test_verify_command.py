"""The command itself: a signal in the middle stops everything it started."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import openalgo_dir


def _processes_inside(folder: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == str(folder) or cwd.startswith(f"{folder}/"):
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find left-over processes")
def test_sigterm_mid_run_stops_openalgo_and_the_proxy() -> None:
    checkout = openalgo_dir()
    argv = [sys.executable, "-m", "mstock_tools", "verify", str(checkout), "--keep"]
    if os.environ.get("OPENALGO_PYTHON"):
        argv += ["--python", os.environ["OPENALGO_PYTHON"]]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 240
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("login: OpenAlgo user") or time.monotonic() > deadline:
                break
        assert any(line.startswith("start OpenAlgo's WebSocket proxy") and " pass " in line for line in lines), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "".join(lines) + rest
    assert proc.returncode == 1, output
    assert "interrupted: stopping everything verify started" in output
    kept = re.search(r"logs in (\S+)", output)
    assert kept, output
    run_dir = Path(kept.group(1))
    try:
        assert _processes_inside(run_dir) == []
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
