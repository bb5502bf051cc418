"""Where the standalone symbol store and the CLI session live, on every platform.

Each platform's convention (Windows ``%LOCALAPPDATA%``, macOS ``Application Support``,
XDG elsewhere), and a separate folder per mStock server so that a sandbox never shares
files with the live account.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

import pytest

from broker.mstock import config
from broker.mstock.local import session_file as session_store

HOME = Path("/home/trader")


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", {}, HOME / ".local/share/mstock-openalgo"),
        ("linux", {"XDG_DATA_HOME": "/data/xdg"}, Path("/data/xdg/mstock-openalgo")),
        ("linux", {"XDG_DATA_HOME": "relative/ignored"}, HOME / ".local/share/mstock-openalgo"),
        ("freebsd13", {}, HOME / ".local/share/mstock-openalgo"),
        ("darwin", {"XDG_DATA_HOME": "/data/xdg"}, HOME / "Library/Application Support/mstock-openalgo"),
        ("win32", {"LOCALAPPDATA": "/c/Users/trader/AppData/Local"}, Path("/c/Users/trader/AppData/Local/mstock-openalgo")),
        ("win32", {}, HOME / "AppData/Local/mstock-openalgo"),
    ],
)
def test_each_platform_keeps_data_where_its_convention_says(platform, environ, expected):
    assert config.conventional_data_dir(platform, environ, HOME) == expected


def test_platformdirs_and_the_fallback_agree_on_this_platform(monkeypatch, tmp_path):
    platformdirs = pytest.importorskip("platformdirs")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    import sys

    expected = Path(platformdirs.user_data_dir("mstock-openalgo", appauthor=False, roaming=False))
    assert config.data_dir() == expected
    assert config.conventional_data_dir(sys.platform, os.environ, Path.home()) == expected


def test_without_platformdirs_the_stdlib_fallback_is_used(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_platformdirs(name, *args, **kwargs):
        if name == "platformdirs":
            raise ImportError("not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_platformdirs)
    monkeypatch.setattr(config.sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert config.data_dir() == tmp_path / "xdg" / "mstock-openalgo"


def test_live_and_sandbox_never_share_the_symbol_table_or_the_session(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("MSTOCK_SESSION_FILE")
    monkeypatch.setattr(config, "data_dir", lambda: tmp_path / "data")
    monkeypatch.delenv("MSTOCK_BASE_URL")
    live = config.settings()
    monkeypatch.setenv("MSTOCK_BASE_URL", "http://127.0.0.1:18900")
    sandbox = config.settings()
    monkeypatch.setenv("MSTOCK_BASE_URL", "http://localhost:18902/")
    other_sandbox = config.settings()
    assert live.database_url == f"sqlite:///{(tmp_path / 'data' / 'mstock.db').as_posix()}"
    assert live.session_file == tmp_path / "data" / "session.json"
    assert sandbox.session_file == tmp_path / "data" / "servers" / "sandbox-127.0.0.1-18900" / "session.json"
    assert sandbox.database_url.endswith("/servers/sandbox-127.0.0.1-18900/mstock.db")
    assert other_sandbox.session_file.parent.name == "sandbox-localhost-18902"
    assert len({live.database_url, sandbox.database_url, other_sandbox.database_url}) == 3


@pytest.mark.parametrize(
    ("url", "folder"),
    [
        ("https://api.mstock.trade", None),
        ("https://api.mstock.trade:443/", None),
        ("https://uat.mstock.trade", "servers/server-uat.mstock.trade"),
        ("http://[::1]:9000", "servers/sandbox-1-9000"),
    ],
)
def test_server_folders(url, folder):
    root = PurePosixPath("/d")
    assert config.server_data_dir(url, Path("/d")) == Path(root / folder if folder else root)


def test_explicit_paths_win(monkeypatch, tmp_path):
    monkeypatch.setenv("MSTOCK_BASE_URL", "http://127.0.0.1:18900")
    assert config.settings().session_file == tmp_path / "session.json"
    assert config.settings().database_url == f"sqlite:///{tmp_path / 'symbols.db'}"


def test_session_file_on_windows_without_fchmod(monkeypatch, tmp_path):
    """Python before 3.13 has no os.fchmod on Windows: saving must still work."""
    monkeypatch.delattr(os, "fchmod", raising=False)
    monkeypatch.setattr(session_store.os, "name", "nt")
    saved = session_store.new_session("tok-windows-0123456789", "feed-0123456789", client_code="MA1", base_url="https://x")
    path = tmp_path / "AppData" / "Local" / "mstock-openalgo" / "session.json"
    session_store.save(path, saved)
    assert json.loads(path.read_text())["client_code"] == "MA1"
    assert session_store.load(path, client_code="MA1", base_url="https://x") == saved
    assert [p.name for p in path.parent.iterdir()] == ["session.json"]  # no temporary file left


def test_session_file_is_owner_only_on_posix(tmp_path):
    if os.name == "nt":
        pytest.skip("POSIX modes")
    import stat

    path = tmp_path / "new" / "session.json"
    session_store.save(path, session_store.new_session("tok-0123456789", None, client_code="MA1", base_url="https://x"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
