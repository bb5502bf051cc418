"""The verify command's own parts, without OpenAlgo: .env writing, copying, loopback
guards, the check list's order, result handling and process clean-up."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pyotp
import pytest

from mstock_sandbox.clock import IST
from mstock_tools.verify import checks as checks_module
from mstock_tools.verify.checks import CHECKS, Check, Context, run_one, select
from mstock_tools.verify.client import Answer, CheckFailed
from mstock_tools.verify.oracle import STATUS, on_tick, openalgo_option_strike
from mstock_tools.verify.run import run_verify
from mstock_tools.verify.stack import (
    Process,
    Stack,
    StackError,
    _copy_ignore,
    find_interpreter,
    loopback_url,
    render_env,
    seconds_to_wait_for_midnight,
)

SAMPLE_ENV = """\
ENV_CONFIG_VERSION = '1.0.7'
BROKER_API_KEY = 'YOUR_BROKER_API_KEY'
# APP_KEY = 'commented'
APP_KEY = 'OPENALGO_PLACEHOLDER_APP_KEY_REGENERATE_BEFORE_USE'

API_KEY_PEPPER = 'OPENALGO_PLACEHOLDER_API_KEY_PEPPER_REGENERATE_BEFORE_USE'

# Per-install random salt
FERNET_SALT = 'OPENALGO_PLACEHOLDER_FERNET_SALT_REGENERATE_BEFORE_USE'
FLASK_PORT='5000'
"""


def test_env_sets_values_keeps_the_rest_and_puts_the_salt_after_the_pepper():
    text = render_env(SAMPLE_ENV, {"BROKER_API_KEY": "MA6800001", "APP_KEY": "a" * 64, "API_KEY_PEPPER": "b" * 64,
                                   "FERNET_SALT": "c" * 32, "FLASK_PORT": "40001", "MSTOCK_BASE_URL": "http://127.0.0.1:1"})
    lines = text.splitlines()
    assert lines[0] == "ENV_CONFIG_VERSION = '1.0.7'"
    assert "BROKER_API_KEY = 'MA6800001'" in lines
    assert "# APP_KEY = 'commented'" in lines
    assert "APP_KEY = '" + "a" * 64 + "'" in lines
    pepper = lines.index("API_KEY_PEPPER = '" + "b" * 64 + "'")
    assert lines[pepper + 1] == "FERNET_SALT = '" + "c" * 32 + "'"
    assert sum(line.startswith("FERNET_SALT") for line in lines) == 1
    assert "FLASK_PORT = '40001'" in lines
    assert lines[-1] == "MSTOCK_BASE_URL = 'http://127.0.0.1:1'"
    assert "PLACEHOLDER" not in text


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000/x", "ws://localhost:1", "http://[::1]:80", "http://127.8.0.1"])
def test_loopback_urls_pass(url):
    assert loopback_url(url) == url


@pytest.mark.parametrize("url", ["http://10.0.0.5:5000", "https://api.mstock.trade", "http://0.0.0.0:5000", "ws://192.168.1.2"])
def test_other_addresses_are_refused(url):
    with pytest.raises(StackError, match="loopback addresses only"):
        loopback_url(url)


def test_copy_takes_code_but_never_the_users_data_secrets_strategies_or_plugin(tmp_path):
    import shutil

    src = tmp_path / "openalgo"
    for rel in ("app.py", ".sample.env", "blueprints/auth.py", "broker/zerodha/plugin.json", "broker/mstock/plugin.json",
                "db/openalgo.db", "db/readme.txt", ".env", ".env.production", "prod.env", ".venv/bin/python",
                "venv/pyvenv.cfg", ".git/config", ".cloudflared/tunnel.json", "frontend/dist/index.html",
                "frontend/node_modules/x.js", "utils/__pycache__/a.pyc", "strategies/examples/ema.py",
                "strategies/scripts/mine.py", "strategies/strategy_configs.json", "workspace/notes/idea.md",
                "keys/strategy.key", "log/app.log", "data/stats.db", "data/qtyfreeze.csv"):
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    shutil.copytree(src, tmp_path / "copy", ignore=_copy_ignore(src))
    copied = sorted(str(p.relative_to(tmp_path / "copy")) for p in (tmp_path / "copy").rglob("*") if p.is_file())
    assert copied == [".sample.env", "app.py", "blueprints/auth.py", "broker/zerodha/plugin.json", "data/qtyfreeze.csv",
                      "frontend/dist/index.html", "strategies/examples/ema.py"]


def test_interpreter_is_the_checkouts_venv_unresolved(tmp_path):
    base = tmp_path / "base-python"
    base.write_text("")
    venv_python = tmp_path / "openalgo" / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(base)
    assert find_interpreter(tmp_path / "openalgo", None) == str(venv_python)


def test_no_interpreter_says_how_to_make_one(tmp_path):
    with pytest.raises(StackError, match=r"no virtualenv in .* pass --python"):
        find_interpreter(tmp_path, None)
    with pytest.raises(StackError, match="interpreter /nowhere/python not found"):
        find_interpreter(tmp_path, "/nowhere/python")


@pytest.mark.parametrize(("ist", "wait"), [
    ((23, 58, 0), 125.0),
    ((23, 55, 1), 304.0),
    ((23, 54, 59), 0.0),
    ((0, 0, 30), 0.0),
    ((12, 0, 0), 0.0),
])
def test_runs_never_straddle_midnight_ist(ist, wait):
    now = datetime(2026, 12, 5, *ist, tzinfo=IST)
    assert seconds_to_wait_for_midnight(now) == pytest.approx(wait)


@pytest.mark.parametrize("now", [1_796_494_900.0, 1_796_494_929.9, 1_796_494_930.0])
def test_wrong_totp_is_valid_in_no_window(now):
    secret = "MSTOCKSANDBOXTOTPSECRETAB2345672"
    code = checks_module._wrong_totp(secret, now)
    assert len(code) == 6 and code.isdigit()
    assert not pyotp.TOTP(secret).verify(code, for_time=now, valid_window=2)


def test_dashboard_amounts_as_openalgo_prints_them():
    assert "9.99L" in checks_module._indian_short(998703.65) or "9.98L" in checks_module._indian_short(998703.65)
    assert checks_module._indian_short(2355.73) >= {"2355.73"}
    assert "1.25Cr" in checks_module._indian_short(12_500_000)
    assert "-1.50L" in checks_module._indian_short(-150_000)


def test_option_symbols_and_ticks():
    assert openalgo_option_strike(24000.0) == "24000"
    assert openalgo_option_strike(292.5) == "292.5"
    assert on_tick(812.3549, 0.05) == 812.35
    assert STATUS["Trigger Pending"] == "trigger pending" and STATUS["O-Cancelled"] == "cancelled"


def test_check_names_are_unique_and_needs_come_earlier():
    names = [c.name for c in CHECKS]
    assert len(names) == len(set(names))
    for index, check in enumerate(CHECKS):
        assert set(check.needs) <= set(names[:index]), check.name


def test_browser_checks_only_with_browser():
    assert not any(c.browser for c in select(browser=False))
    assert [c.name for c in select(browser=True) if c.browser] == [
        "browser: order book page", "browser: trade book page", "browser: positions page",
        "browser: holdings page", "browser: dashboard page"]


def _ctx() -> Context:
    return Context(oracle=None, web=None, ws_url="ws://127.0.0.1:1", out_dir=Path("."))  # type: ignore[arg-type]


def test_a_check_whose_needs_did_not_pass_is_skipped():
    ran = []
    check = Check("b", lambda ctx: ran.append(1), needs=("a",))
    result = run_one(check, _ctx(), set(), str)
    assert (result.status, result.detail, ran) == ("skip", "needs: a", [])


def test_failures_are_reported_redacted_and_never_raised():
    passed: set[str] = set()

    def boom(ctx):
        raise RuntimeError("token SECRET123 leaked")

    result = run_one(Check("x", boom), _ctx(), passed, lambda text: text.replace("SECRET123", "***"))
    assert (result.status, result.detail, passed) == ("FAIL", "RuntimeError: token *** leaked", set())
    result = run_one(Check("y", lambda ctx: "fine"), _ctx(), passed, str)
    assert (result.status, result.detail, passed) == ("pass", "fine", {"y"})


def test_a_rejection_claimed_as_success_fails_and_an_error_is_a_refusal():
    rejected = Answer(200, {"status": "error", "message": "RMS: insufficient funds"}, "")
    assert rejected.refusal("place") == "RMS: insufficient funds"
    with pytest.raises(CheckFailed, match="expected success, got HTTP 200"):
        rejected.success("place")
    silent = Answer(400, {"status": "error"}, "")
    with pytest.raises(CheckFailed, match="carries no message"):
        silent.refusal("place")
    claimed = Answer(200, {"status": "success", "orderid": ""}, "")
    with pytest.raises(CheckFailed, match="expected an error"):
        claimed.refusal("cancel rejected")


def test_a_folder_that_is_not_openalgo_fails_the_first_row_and_starts_nothing(tmp_path):
    out = io.StringIO()
    code = run_verify(str(tmp_path), write=lambda line: out.write(line + "\n"))
    text = out.getvalue()
    assert code == 1
    assert re.search(r"^check the OpenAlgo checkout and its Python +FAIL +\d+\.\d$", text, re.M)
    assert f"{tmp_path} is not an OpenAlgo checkout" in text
    assert "0 passed, 1 failed, 0 skipped" in text


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_stopping_a_process_ends_its_whole_group(tmp_path):
    script = ("import subprocess, sys, time; "
              "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              "print(c.pid, flush=True); time.sleep(60)")
    popen = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stdout=subprocess.PIPE, text=True)
    try:
        grandchild = int(popen.stdout.readline())
        assert _alive(grandchild)
        Process("sleeper", popen, tmp_path / "log").stop(grace=5)
        assert popen.poll() is not None
        deadline = time.monotonic() + 5
        while _alive(grandchild) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(grandchild)
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
        popen.stdout.close()


def test_openalgos_processes_see_none_of_this_shell_and_write_no_bytecode(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///users-own.db")
    env = Stack(tmp_path)._process_env(tmp_path / "home")
    assert (env["PYTHONDONTWRITEBYTECODE"], env["HOME"], "DATABASE_URL" in env) == ("1", str(tmp_path / "home"), False)


def test_closing_twice_is_harmless(tmp_path):
    stack = Stack(tmp_path)
    stack.close()
    stack.close()
    assert stack.processes == []
