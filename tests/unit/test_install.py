"""``mstock-openalgo install`` into a fake OpenAlgo checkout, and ``--uninstall``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mstock_tools import install as installer


def _fake_openalgo(root: Path) -> Path:
    (root / "blueprints").mkdir(parents=True)
    (root / "blueprints" / "brlogin.py").write_text("# OpenAlgo login routes\n")
    (root / "app.py").write_text("# OpenAlgo app\n")
    old = root / "broker" / "mstock"
    old.mkdir(parents=True)
    (root / "broker" / "__init__.py").write_text("")
    (old / "UPSTREAM_MARKER").write_text("the upstream plugin\n")
    return root


def test_install_backs_up_copies_and_verifies(tmp_path, capsys):
    root = _fake_openalgo(tmp_path / "openalgo")
    assert installer.install(str(root), python=sys.executable) == 0
    installed = root / "broker" / "mstock"
    assert (installed / "api" / "order_api.py").is_file()
    assert (installed / "plugin.json").is_file()
    assert not (installed / "UPSTREAM_MARKER").exists()
    assert not list(installed.rglob("__pycache__"))
    backups = list((root / installer.BACKUP_DIR).iterdir())
    assert [(b / "UPSTREAM_MARKER").read_text() for b in backups] == ["the upstream plugin\n"]
    out = capsys.readouterr().out
    assert "REDIRECT_URL=http://127.0.0.1:5000/mstock/callback" in out
    assert f"imports checked with {sys.executable}" in out


def test_uninstall_restores_the_backup(tmp_path):
    root = _fake_openalgo(tmp_path / "openalgo")
    assert installer.install(str(root), python=sys.executable) == 0
    assert installer.uninstall(str(root)) == 0
    assert (root / "broker" / "mstock" / "UPSTREAM_MARKER").read_text() == "the upstream plugin\n"


def test_not_an_openalgo_checkout_is_refused(tmp_path, capsys):
    assert installer.install(str(tmp_path)) == 2
    assert "is not an OpenAlgo checkout" in capsys.readouterr().err


def test_failed_verification_rolls_back(tmp_path, monkeypatch):
    root = _fake_openalgo(tmp_path / "openalgo")
    monkeypatch.setattr(installer, "verify", lambda root, python: ["broker.mstock.api.data: missing BrokerData"])
    assert installer.install(str(root), python=sys.executable) == 1
    assert (root / "broker" / "mstock" / "UPSTREAM_MARKER").exists()


def test_uninstall_without_backup_fails_clearly(tmp_path, capsys):
    root = _fake_openalgo(tmp_path / "openalgo")
    assert installer.uninstall(str(root)) == 1
    assert "no backup to restore" in capsys.readouterr().err


@pytest.mark.parametrize("marker", installer.SMART_ORDER_MARKERS)
def test_smart_order_markers_are_checked(tmp_path, marker):
    root = _fake_openalgo(tmp_path / "openalgo")
    target = root / "broker" / "mstock"
    import shutil

    shutil.rmtree(target)
    shutil.copytree(installer.plugin_source(), target)
    order_api = target / "api" / "order_api.py"
    order_api.write_text(order_api.read_text().replace(marker, "removed_name"))
    assert any(marker in problem for problem in installer.verify(root, None))
