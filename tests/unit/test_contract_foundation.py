"""The names, parameters and tuple shapes OpenAlgo's core relies on (contract 0, 1, 2, 7)."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import ACCESS_TOKEN, add_route

ROOT = Path(__file__).resolve().parents[2]


def _params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_auth_api_exports_what_brlogin_imports():
    auth_api = importlib.import_module("broker.mstock.api.auth_api")
    assert _params(auth_api.authenticate_with_totp) == ["password", "totp"]
    assert callable(auth_api.authenticate_broker)


def test_funds_exports_and_shapes(mock_api):
    funds = importlib.import_module("broker.mstock.api.funds")
    assert _params(funds.get_margin_data) == ["auth"]
    assert _params(funds.test_auth_token) == ["auth"]
    add_route(mock_api, "user.funds", case="ok")
    add_route(mock_api, "portfolio.positions", case="null")
    result = funds.get_margin_data(ACCESS_TOKEN)
    assert sorted(result) == ["availablecash", "collateral", "m2mrealized", "m2munrealized", "utiliseddebits"]
    assert all(isinstance(v, str) and v.count(".") == 1 and len(v.split(".")[1]) == 2 for v in result.values())


def test_login_failure_is_a_three_tuple_with_a_message(mock_api):
    from broker.mstock.api.auth_api import authenticate_with_totp

    add_route(mock_api, "auth.login", case="wrong_password")
    token, feed, error = authenticate_with_totp("bad", "123456")
    assert token is None and feed is None
    assert error


def test_plugin_json_declares_supported_exchanges():
    plugin = json.loads((ROOT / "broker" / "mstock" / "plugin.json").read_text())
    assert plugin["broker_type"] == "IN_stock"
    assert plugin["leverage_config"] is False
    assert plugin["supported_exchanges"] == ["NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX", "NSE_INDEX", "BSE_INDEX"]


def test_plugin_json_declares_every_exchange_the_plugin_serves():
    from broker.mstock.mapping.exchanges import OA_EXCHANGES_SUPPORTED

    declared = json.loads((ROOT / "broker" / "mstock" / "plugin.json").read_text())["supported_exchanges"]
    assert len(declared) == len(set(declared))
    assert set(declared) == set(OA_EXCHANGES_SUPPORTED)


def test_no_gtt_module():
    # OpenAlgo's test_pending_order_execution_service asserts only dhan and zerodha ship it.
    assert not (ROOT / "broker" / "mstock" / "api" / "gtt_api.py").exists()


def test_baseurl_gives_openalgos_keep_warm_no_origin(monkeypatch):
    # OpenAlgo's keep-warm HEAD-pings ROOT_URL through its own HTTP client, a pool this plugin
    # never uses: the plugin warms its own (transport/keepwarm.py), so nothing is advertised.
    monkeypatch.setenv("MSTOCK_BASE_URL", "http://127.0.0.1:18765")
    baseurl = importlib.import_module("broker.mstock.api.baseurl")
    assert getattr(baseurl, "ROOT_URL", None) is None
    assert getattr(baseurl, "BASE_URL", None) is None


MODULES = [
    "broker.mstock",
    "broker.mstock.api.auth_api",
    "broker.mstock.api.funds",
    "broker.mstock.transport.client",
    "broker.mstock.host",
    "broker.mstock.config",
]


def test_importing_does_no_work_and_needs_no_environment(tmp_path):
    """Contract 1.4: modules import with no login, no network and no environment."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise AssertionError('network used at import time')\n"
        "socket.socket.connect = refuse\n"
        f"import importlib\nfor m in {MODULES!r}: importlib.import_module(m)\n"
        "print('imported')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"
    assert list(tmp_path.iterdir()) == []  # no database, session or log file created


@pytest.mark.parametrize("module", ["broker/mstock"])
def test_plugin_imports_only_itself_stdlib_and_declared_dependencies(module):
    allowed = {
        "requests", "urllib3", "pyotp", "dotenv", "pydantic", "pandas", "numpy", "websocket",
        "broker",
    }
    # The CLI extra's libraries (OpenAlgo also ships them): used when present, never
    # required, so only imported inside functions that fall back without them.
    optional = {"platformdirs", "rich", "argcomplete", "colorama"}
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for path in (ROOT / module).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in optional and id(node) not in top_level:
                    continue
                if top not in stdlib and top not in allowed and top != "__future__":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {top}")
    assert offenders == []
