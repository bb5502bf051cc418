"""Install this ``broker/mstock`` into an OpenAlgo checkout, with a backup and a check.

``install`` refuses a folder that is not an OpenAlgo checkout, moves the existing
``broker/mstock`` aside (``.mstock-openalgo-backups/<timestamp>`` at the checkout root,
not under ``broker/``, whose every folder OpenAlgo treats as a plugin), copies ours in, and
verifies in the checkout's own Python (when one is found) that every module OpenAlgo
imports exists and exposes the names the core calls (contract sections 0 and 1.4).
A failed check rolls the copy back. ``uninstall`` restores the newest backup.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import broker.mstock

# What OpenAlgo reads from broker/mstock (contract section 0, Appendix A).
REQUIRED_NAMES: dict[str, tuple[str, ...]] = {
    "broker.mstock.api.auth_api": ("authenticate_broker", "authenticate_with_totp"),
    "broker.mstock.api.order_api": (
        "place_order_api",
        "place_smartorder_api",
        "modify_order",
        "cancel_order",
        "cancel_all_orders_api",
        "close_all_positions",
        "get_order_book",
        "get_trade_book",
        "get_positions",
        "get_holdings",
        "get_open_position",
    ),
    "broker.mstock.mapping.order_data": (
        "map_order_data",
        "calculate_order_statistics",
        "transform_order_data",
        "map_trade_data",
        "transform_tradebook_data",
        "map_position_data",
        "transform_positions_data",
        "map_portfolio_data",
        "calculate_portfolio_statistics",
        "transform_holdings_data",
    ),
    "broker.mstock.mapping.transform_data": (),
    "broker.mstock.api.funds": ("get_margin_data", "test_auth_token"),
    "broker.mstock.api.data": ("BrokerData",),
    "broker.mstock.api.margin_api": ("calculate_margin_api",),
    "broker.mstock.database.master_contract_db": ("master_contract_download",),
    "broker.mstock.streaming.mstock_adapter": ("MstockWebSocketAdapter",),
}
# OpenAlgo's test/test_smartorder_logic.py greps order_api.py for these (contract 15).
SMART_ORDER_MARKERS = (
    "_get_cached_positions",
    "_invalidate_position_cache",
    "_get_symbol_lock",
    "symbol_lock",
    "import threading",
    "import time",
)
ENV_LINES = (
    "BROKER_API_KEY=<your mStock client code, e.g. MA6812345>",
    "BROKER_API_SECRET=<your mStock Type B API key>",
    "REDIRECT_URL=http://127.0.0.1:5000/mstock/callback",
    "VALID_BROKERS=<keep your list and make sure it contains mstock>",
)
BACKUP_DIR = ".mstock-openalgo-backups"

_CHECK_SCRIPT = """
import importlib, inspect, json, sys
required = json.loads(sys.argv[1])
problems = []
for module, names in required.items():
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # report every import failure, whatever its type
        problems.append(f"{module}: import failed: {type(exc).__name__}: {exc}")
        continue
    for name in names:
        if not hasattr(mod, name):
            problems.append(f"{module}: missing {name}")
od = importlib.import_module("broker.mstock.mapping.order_data")
if "order_data" not in inspect.signature(od.map_order_data).parameters:
    problems.append("map_order_data must take a parameter named order_data")
if "trade_data" not in inspect.signature(od.map_trade_data).parameters:
    problems.append("map_trade_data must take a parameter named trade_data")
print(json.dumps(problems))
"""


def plugin_source() -> Path:
    return Path(broker.mstock.__file__).resolve().parent


def is_openalgo_checkout(root: Path) -> bool:
    return (root / "app.py").is_file() and (root / "broker").is_dir() and (root / "blueprints" / "brlogin.py").is_file()


def find_python(root: Path) -> str | None:
    for candidate in (".venv/bin/python", "venv/bin/python", ".venv/Scripts/python.exe", "venv/Scripts/python.exe"):
        path = root / candidate
        if path.exists():
            return str(path)
    return None


def verify(root: Path, python: str | None) -> list[str]:
    """Problems found in the installed copy (empty when it is complete)."""
    problems: list[str] = []
    order_api = root / "broker" / "mstock" / "api" / "order_api.py"
    text = order_api.read_text(encoding="utf-8") if order_api.exists() else ""
    problems += [f"order_api.py lacks {marker!r} (OpenAlgo's smart-order test)" for marker in SMART_ORDER_MARKERS if marker not in text]
    if not (root / "broker" / "mstock" / "plugin.json").is_file():
        problems.append("plugin.json missing")
    if (root / "broker" / "mstock" / "api" / "gtt_api.py").exists():
        problems.append("api/gtt_api.py must not exist (OpenAlgo test: only dhan and zerodha ship it)")
    if python is None:
        return problems
    result = subprocess.run(
        [python, "-c", _CHECK_SCRIPT, json.dumps(REQUIRED_NAMES)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        return problems + [f"import check could not run: {result.stderr.strip()[-500:]}"]
    return problems + json.loads(result.stdout.strip().splitlines()[-1])


def install(openalgo_path: str, *, python: str | None = None) -> int:
    root = Path(openalgo_path).expanduser().resolve()
    if not is_openalgo_checkout(root):
        print(f"error: {root} is not an OpenAlgo checkout (expected app.py, broker/ and blueprints/brlogin.py)", file=sys.stderr)
        return 2
    target = root / "broker" / "mstock"
    backup = None
    if target.exists():
        backup = root / BACKUP_DIR / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), str(backup))
        print(f"backed up the existing broker/mstock to {backup.relative_to(root)}")
    shutil.copytree(plugin_source(), target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    interpreter = python or find_python(root)
    problems = verify(root, interpreter)
    if problems:
        print("error: the installed plugin failed its checks:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        shutil.rmtree(target)
        if backup is not None:
            shutil.move(str(backup), str(target))
            print("restored the previous broker/mstock", file=sys.stderr)
        return 1
    checked = f"imports checked with {interpreter}" if interpreter else "no OpenAlgo python found: static checks only"
    print(f"installed mstock-openalgo into {target} ({checked})")
    print("\nSet these in OpenAlgo's .env:")
    for line in ENV_LINES:
        print(f"  {line}")
    print("\nThen restart OpenAlgo and log in with your mStock password and TOTP.")
    return 0


def uninstall(openalgo_path: str) -> int:
    root = Path(openalgo_path).expanduser().resolve()
    if not is_openalgo_checkout(root):
        print(f"error: {root} is not an OpenAlgo checkout", file=sys.stderr)
        return 2
    backups = sorted((root / BACKUP_DIR).glob("*")) if (root / BACKUP_DIR).is_dir() else []
    if not backups:
        print("error: no backup to restore (was mstock-openalgo installed with this tool?)", file=sys.stderr)
        return 1
    target = root / "broker" / "mstock"
    if target.exists():
        shutil.rmtree(target)
    shutil.move(str(backups[-1]), str(target))
    print(f"restored broker/mstock from {backups[-1].name}")
    return 0
