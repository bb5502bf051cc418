"""``mstock-openalgo install`` into a fake OpenAlgo checkout, and ``--uninstall``."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

from mstock_tools import install as installer

ROOT = Path(__file__).resolve().parents[2]

# A stand-in for OpenAlgo's services/order_update_service.py: the same table layout
# (contract 12), written here, with CRLF-free lines and a trailing entry.
SERVICE_TEXT = '''"""Order-update adapter lifecycle service (test stand-in)."""

_BROKER_FACTORIES: dict[str, tuple[str, str]] = {
    "dhan": ("broker.dhan.streaming.dhan_order_adapter", "create_dhan_order_adapter"),
    "zerodha": (
        "broker.zerodha.streaming.zerodha_order_adapter",
        "create_zerodha_order_adapter",
    ),
}

_POLLING_BROKERS = {"groww"}
'''
ADAPTER_STUB = '''"""Test stand-in for the order-update adapter module."""


def create_mstock_order_adapter(user_id):
    return None
'''


def _fake_openalgo(root: Path, *, service: str | None = SERVICE_TEXT) -> Path:
    (root / "blueprints").mkdir(parents=True)
    (root / "blueprints" / "brlogin.py").write_text("# OpenAlgo login routes\n")
    (root / "app.py").write_text("# OpenAlgo app\n")
    old = root / "broker" / "mstock"
    old.mkdir(parents=True)
    (root / "broker" / "__init__.py").write_text("")
    (old / "UPSTREAM_MARKER").write_text("the upstream plugin\n")
    if service is not None:
        (root / "services").mkdir()
        (root / "services" / "__init__.py").write_text("")
        (root / "services" / "order_update_service.py").write_bytes(service.encode())
    return root


# Tests about the file edits run the static checks only (python=None); the import check in
# a real interpreter is covered by the tests that keep python=sys.executable.


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content hash (folders too, as empty markers)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
    return out


@pytest.fixture
def plugin_with_adapter(tmp_path) -> Path:
    """This plugin plus an order-update adapter module (written by another part of the project)."""
    source = tmp_path / "plugin" / "mstock"
    shutil.copytree(installer.plugin_source(), source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / installer.ORDER_ADAPTER_FILE).write_text(ADAPTER_STUB)
    return source


@pytest.fixture
def writes_bytecode(monkeypatch):
    """A user's shell: bytecode writing on (the suite's own shell may turn it off)."""
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)


def test_install_backs_up_copies_and_verifies(tmp_path, capsys, writes_bytecode):
    root = _fake_openalgo(tmp_path / "openalgo")
    assert installer.install(str(root), python=sys.executable) == 0
    installed = root / "broker" / "mstock"
    assert (installed / "api" / "order_api.py").is_file()
    assert (installed / "plugin.json").is_file()
    assert not (installed / "UPSTREAM_MARKER").exists()
    assert list(root.rglob("__pycache__")) == []
    assert list(root.rglob("*.pyc")) == []
    assert not (root / "log").exists()
    original = root / installer.BACKUP_DIR / installer.ORIGINAL
    assert (original / "UPSTREAM_MARKER").read_text() == "the upstream plugin\n"
    out = capsys.readouterr().out
    assert "REDIRECT_URL=http://127.0.0.1:5000/mstock/callback" in out
    assert f"imports checked with {sys.executable}" in out


def test_uninstall_restores_the_original_and_leaves_nothing_behind(tmp_path, writes_bytecode):
    root = _fake_openalgo(tmp_path / "openalgo")
    before = _tree(root)
    assert installer.install(str(root), python=sys.executable) == 0
    assert installer.uninstall(str(root)) == 0
    assert (root / "broker" / "mstock" / "UPSTREAM_MARKER").read_text() == "the upstream plugin\n"
    assert not (root / installer.BACKUP_DIR).exists()
    assert _tree(root) == before


def test_install_twice_then_uninstall_once_restores_openalgos_original(tmp_path, capsys):
    root = _fake_openalgo(tmp_path / "openalgo")
    before = _tree(root)
    assert installer.install(str(root), python=sys.executable) == 0
    assert installer.install(str(root), python=sys.executable) == 0
    assert sorted(p.name for p in (root / installer.BACKUP_DIR).iterdir()) == sorted([installer.ORIGINAL, installer.STATE_FILE])
    assert installer.uninstall(str(root)) == 0
    assert _tree(root) == before
    assert "restored OpenAlgo's own broker/mstock" in capsys.readouterr().out


def test_install_where_openalgo_had_no_mstock_then_uninstall(tmp_path):
    root = _fake_openalgo(tmp_path / "openalgo")
    shutil.rmtree(root / "broker" / "mstock")
    before = _tree(root)
    assert installer.install(str(root), python=None) == 0
    assert installer.uninstall(str(root)) == 0
    assert _tree(root) == before


def test_not_an_openalgo_checkout_is_refused(tmp_path, capsys):
    assert installer.install(str(tmp_path)) == 2
    assert "is not an OpenAlgo checkout" in capsys.readouterr().err


def test_failed_verification_rolls_back(tmp_path, monkeypatch):
    root = _fake_openalgo(tmp_path / "openalgo")
    before = _tree(root)
    monkeypatch.setattr(installer, "verify", lambda root, python, registration=False: ["broker.mstock.api.data: missing BrokerData"])
    assert installer.install(str(root), python=sys.executable) == 1
    assert _tree(root) == before


@pytest.mark.parametrize("python", ["missing-python", "hanging-python"])
def test_an_import_check_that_cannot_run_rolls_back(tmp_path, monkeypatch, capsys, python):
    root = _fake_openalgo(tmp_path / "openalgo")
    before = _tree(root)
    if python == "missing-python":
        interpreter = str(tmp_path / "no-such-python")
    else:
        interpreter = sys.executable

        def hangs(*args, **kwargs):
            raise installer.subprocess.TimeoutExpired(args[0], kwargs.get("timeout", 0))

        monkeypatch.setattr(installer.subprocess, "run", hangs)
    assert installer.install(str(root), python=interpreter) == 1
    assert "import check could not run" in capsys.readouterr().err
    assert _tree(root) == before


def test_failed_reinstall_keeps_the_first_install(tmp_path, monkeypatch):
    root = _fake_openalgo(tmp_path / "openalgo")
    assert installer.install(str(root), python=None) == 0
    installed = _tree(root)
    monkeypatch.setattr(installer, "verify", lambda root, python, registration=False: ["broken"])
    assert installer.install(str(root), python=None) == 1
    assert _tree(root) == installed


def test_uninstall_without_an_install_fails_clearly(tmp_path, capsys):
    root = _fake_openalgo(tmp_path / "openalgo")
    assert installer.uninstall(str(root)) == 1
    assert "nothing to uninstall" in capsys.readouterr().err


@pytest.mark.parametrize("marker", installer.SMART_ORDER_MARKERS)
def test_smart_order_markers_are_checked(tmp_path, marker):
    root = _fake_openalgo(tmp_path / "openalgo")
    target = root / "broker" / "mstock"
    shutil.rmtree(target)
    shutil.copytree(installer.plugin_source(), target)
    order_api = target / "api" / "order_api.py"
    order_api.write_text(order_api.read_text().replace(marker, "removed_name"))
    assert any(marker in problem for problem in installer.verify(root, None))


# ---------------------------------------------------------------- order-update registration


def test_registration_line_is_added_checked_by_import_and_removed_byte_for_byte(
    tmp_path, capsys, plugin_with_adapter, writes_bytecode
):
    root = _fake_openalgo(tmp_path / "openalgo")
    service = root / installer.ORDER_UPDATE_SERVICE
    original = service.read_bytes()
    before = _tree(root)
    assert installer.install(str(root), python=sys.executable, source=plugin_with_adapter) == 0
    edited = service.read_text()
    assert edited.count(installer.REGISTRATION_LINE) == 1
    assert edited.replace(installer.REGISTRATION_LINE + "\n", "") == original.decode()
    assert "registered mStock order updates: added one line to _BROKER_FACTORIES" in capsys.readouterr().out
    assert list(root.rglob("__pycache__")) == []
    assert installer.uninstall(str(root)) == 0
    assert service.read_bytes() == original
    assert "the file is as before" in capsys.readouterr().out
    assert _tree(root) == before


def test_registration_keeps_crlf_line_endings(tmp_path, plugin_with_adapter):
    root = _fake_openalgo(tmp_path / "openalgo", service=SERVICE_TEXT.replace("\n", "\r\n"))
    service = root / installer.ORDER_UPDATE_SERVICE
    original = service.read_bytes()
    assert installer.install(str(root), python=None, source=plugin_with_adapter) == 0
    assert (installer.REGISTRATION_LINE + "\r\n").encode() in service.read_bytes()
    assert installer.uninstall(str(root)) == 0
    assert service.read_bytes() == original


def test_no_core_edit_leaves_openalgos_table_alone(tmp_path, capsys, plugin_with_adapter):
    root = _fake_openalgo(tmp_path / "openalgo")
    service = root / installer.ORDER_UPDATE_SERVICE
    original = service.read_bytes()
    assert installer.install(str(root), python=None, core_edit=False, source=plugin_with_adapter) == 0
    assert service.read_bytes() == original
    out = capsys.readouterr().out
    assert "not registered (--no-core-edit)" in out
    assert installer.REGISTRATION_LINE.strip() in out  # the line to add by hand


def test_registration_is_skipped_while_the_plugin_has_no_order_adapter(tmp_path, capsys):
    root = _fake_openalgo(tmp_path / "openalgo")
    service = root / installer.ORDER_UPDATE_SERVICE
    original = service.read_bytes()
    source = tmp_path / "plugin" / "mstock"
    shutil.copytree(installer.plugin_source(), source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / installer.ORDER_ADAPTER_FILE).unlink(missing_ok=True)
    assert installer.install(str(root), python=None, source=source) == 0
    assert service.read_bytes() == original
    assert "this plugin has no order-update adapter yet, so OpenAlgo's table was not changed" in capsys.readouterr().out


def test_install_twice_registers_once_and_uninstall_restores_the_file(tmp_path, plugin_with_adapter):
    root = _fake_openalgo(tmp_path / "openalgo")
    service = root / installer.ORDER_UPDATE_SERVICE
    original = service.read_bytes()
    assert installer.install(str(root), python=None, source=plugin_with_adapter) == 0
    assert installer.install(str(root), python=None, source=plugin_with_adapter) == 0
    assert service.read_text().count(installer.REGISTRATION_LINE) == 1
    assert installer.uninstall(str(root)) == 0
    assert service.read_bytes() == original


def test_a_broken_adapter_fails_the_import_check_and_rolls_everything_back(tmp_path, capsys, plugin_with_adapter):
    root = _fake_openalgo(tmp_path / "openalgo")
    before = _tree(root)
    (plugin_with_adapter / installer.ORDER_ADAPTER_FILE).write_text("def something_else():\n    pass\n")
    assert installer.install(str(root), python=sys.executable, source=plugin_with_adapter) == 1
    err = capsys.readouterr().err
    assert f"{installer.ORDER_ADAPTER_MODULE}: missing {installer.ORDER_ADAPTER_FACTORY}" in err
    assert f"restored {installer.ORDER_UPDATE_SERVICE}" in err
    assert _tree(root) == before


def test_an_unfamiliar_table_layout_changes_nothing(tmp_path, capsys, plugin_with_adapter):
    root = _fake_openalgo(tmp_path / "openalgo", service='_BROKER_FACTORIES = {"dhan": ("a", "b")}\n')
    before = _tree(root)
    assert installer.install(str(root), python=None, source=plugin_with_adapter) == 1
    assert "unfamiliar layout" in capsys.readouterr().err
    assert _tree(root) == before


def test_an_existing_mstock_entry_is_left_alone(tmp_path, capsys, plugin_with_adapter):
    text = SERVICE_TEXT.replace("}\n\n_POLLING", '    "mstock": ("their.module", "their_factory"),\n}\n\n_POLLING')
    root = _fake_openalgo(tmp_path / "openalgo", service=text)
    service = root / installer.ORDER_UPDATE_SERVICE
    assert installer.install(str(root), python=None, source=plugin_with_adapter) == 0
    assert service.read_text() == text
    assert "already lists mstock; left unchanged" in capsys.readouterr().out
    assert installer.uninstall(str(root)) == 0
    assert service.read_text() == text


def test_add_and_remove_registration_are_exact_inverses():
    edited = installer.add_registration(SERVICE_TEXT)
    assert edited.splitlines()[-4] == installer.REGISTRATION_LINE
    assert "mstock" in installer.registered_brokers(edited)
    assert installer.remove_registration(edited) == SERVICE_TEXT


# ---------------------------------------------------------------- the real OpenAlgo file


def _pinned_openalgo() -> Path | None:
    for parent in ROOT.parents:
        candidates = sorted((parent / "shared" / "openalgo").glob("openalgo-*.tar.gz"))
        if candidates:
            return candidates[0]
    return None


@pytest.fixture
def real_openalgo(tmp_path) -> Path:
    """The files of the pinned OpenAlgo release the installer touches, unpacked afresh."""
    tarball = _pinned_openalgo()
    if tarball is None:
        pytest.skip("the pinned OpenAlgo tarball is not on this machine")
    wanted = ("openalgo/app.py", "openalgo/blueprints/brlogin.py", "openalgo/broker/__init__.py",
              "openalgo/services/order_update_service.py")
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers()
                   if m.name in wanted or m.name.startswith("openalgo/broker/mstock/")]
        # The "data" filter (refuse links and paths leaving the folder) exists from Python
        # 3.11.4; Debian's 3.11.2 lacks it, and these members are plain files we chose.
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(tmp_path, members=members, **safe)
    return tmp_path / "openalgo"


def test_registration_against_openalgos_real_table(real_openalgo, plugin_with_adapter, capsys):
    service = real_openalgo / installer.ORDER_UPDATE_SERVICE
    original = service.read_bytes()
    plugin_before = _tree(real_openalgo / "broker" / "mstock")
    assert "mstock" not in installer.registered_brokers(original.decode())
    # No OpenAlgo environment here: the static checks (the table parses and lists mstock).
    assert installer.install(str(real_openalgo), python=None, source=plugin_with_adapter) == 0
    edited = service.read_text()
    assert installer.registered_brokers(edited) - installer.registered_brokers(original.decode()) == {"mstock"}
    assert len(edited.splitlines()) == len(original.decode().splitlines()) + 1
    assert installer.uninstall(str(real_openalgo)) == 0
    assert service.read_bytes() == original
    assert _tree(real_openalgo / "broker" / "mstock") == plugin_before


def test_the_import_check_writes_no_bytecode_even_when_python_would(tmp_path, writes_bytecode):
    """The check runs its interpreter with -B and PYTHONDONTWRITEBYTECODE, from a temp dir."""
    root = _fake_openalgo(tmp_path / "openalgo")
    shutil.rmtree(root / "broker" / "mstock")
    shutil.copytree(installer.plugin_source(), root / "broker" / "mstock", ignore=shutil.ignore_patterns("__pycache__"))
    assert "PYTHONDONTWRITEBYTECODE" not in os.environ
    assert installer.verify(root, sys.executable) == []
    assert list(root.rglob("__pycache__")) == []
