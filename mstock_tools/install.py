"""Install this ``broker/mstock`` into an OpenAlgo checkout, with a backup and a check.

``install`` refuses a folder that is not an OpenAlgo checkout, keeps the ``broker/mstock``
it finds there (OpenAlgo's own plugin) in ``.mstock-openalgo-backups/original`` at the
checkout root (not under ``broker/``, whose every folder OpenAlgo treats as a plugin),
copies ours in, registers the order-update adapter in OpenAlgo's
``services/order_update_service.py`` (one line; ``--no-core-edit`` skips it), and verifies
in the checkout's own Python (when one is found) that every module OpenAlgo imports exists
and exposes the names the core calls (contract sections 0, 1.4 and 12). A failed check
rolls everything back.

Installing again replaces our copy and keeps the original backup, so ``uninstall`` always
restores OpenAlgo's own plugin, removes the registration line byte for byte, and leaves no
backup folder behind. The checks never write bytecode into the checkout and run from a
temporary directory, so nothing else is left behind either.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
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
STATE_FILE = "install.json"
ORIGINAL = "original"  # the broker/mstock found at the first install

# OpenAlgo lists its order-update adapters in a static table (contract 12).
ORDER_UPDATE_SERVICE = "services/order_update_service.py"
ORDER_UPDATE_TABLE = "_BROKER_FACTORIES"
ORDER_ADAPTER_MODULE = "broker.mstock.streaming.mstock_order_adapter"
ORDER_ADAPTER_FACTORY = "create_mstock_order_adapter"
ORDER_ADAPTER_FILE = Path("streaming") / "mstock_order_adapter.py"
REGISTRATION_LINE = f'    "mstock": ("{ORDER_ADAPTER_MODULE}", "{ORDER_ADAPTER_FACTORY}"),'
CHECK_TIMEOUT = 180  # seconds for the import check in OpenAlgo's Python (a cold pandas import is slow)

_CHECK_SCRIPT = """
import importlib, inspect, json, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
required = json.loads(sys.argv[2])
registration = json.loads(sys.argv[3])
problems = []
loaded = {}
for module, names in required.items():
    try:
        loaded[module] = mod = importlib.import_module(module)
    except Exception as exc:  # report every import failure, whatever its type
        problems.append(f"{module}: import failed: {type(exc).__name__}: {exc}")
        continue
    for name in names:
        if not hasattr(mod, name):
            problems.append(f"{module}: missing {name}")
od = loaded.get("broker.mstock.mapping.order_data")
for func, keyword in (("map_order_data", "order_data"), ("map_trade_data", "trade_data")):
    if od is not None and hasattr(od, func) and keyword not in inspect.signature(getattr(od, func)).parameters:
        problems.append(f"{func} must take a parameter named {keyword}")
if registration:
    service, table, key, module, factory = registration
    try:
        entry = getattr(importlib.import_module(service), table).get(key)
        if tuple(entry or ()) != (module, factory):
            problems.append(f"{service}.{table}[{key!r}] is {entry!r}, expected {(module, factory)!r}")
        # The adapter module is imported cold: like every plugin module it does no work at
        # import time (it reaches OpenAlgo's base class only when an adapter is built), so
        # this check needs neither OpenAlgo's .env nor its WebSocket proxy.
        elif not callable(getattr(importlib.import_module(module), factory, None)):
            problems.append(f"{module}: missing {factory}")
    except Exception as exc:
        problems.append(f"order-update registration: import failed: {type(exc).__name__}: {exc}")
print(json.dumps(problems))
"""


class CoreEditError(Exception):
    """OpenAlgo's file does not have the shape the one-line registration expects."""


@dataclass
class InstallState:
    """What ``uninstall`` must undo; kept in ``.mstock-openalgo-backups/install.json``."""

    had_original: bool
    installed_at: str
    registration: bool = False  # we added the order-update line
    service_sha256_before: str | None = None


# ---------------------------------------------------------------- checkout


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


def _read_state(root: Path) -> InstallState | None:
    path = root / BACKUP_DIR / STATE_FILE
    try:
        return InstallState(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise CoreEditError(f"{path.relative_to(root)} is unreadable ({exc}); restore by hand from {BACKUP_DIR}/") from None


def _write_state(root: Path, state: InstallState) -> None:
    path = root / BACKUP_DIR / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- the core edit


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _factory_table(text: str) -> ast.Dict:
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise CoreEditError(f"{ORDER_UPDATE_SERVICE} does not parse: {exc}") from None
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == ORDER_UPDATE_TABLE and isinstance(node.value, ast.Dict):
            return node.value
    raise CoreEditError(f"{ORDER_UPDATE_SERVICE} has no {ORDER_UPDATE_TABLE} table")


def registered_brokers(text: str) -> set[str]:
    """The keys of OpenAlgo's order-update table."""
    return {k.value for k in _factory_table(text).keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def add_registration(text: str) -> str:
    """``text`` with the mstock line added as the table's last entry (nothing else changes)."""
    table = _factory_table(text)
    if "mstock" in registered_brokers(text):
        raise CoreEditError(f"{ORDER_UPDATE_TABLE} already has an mstock entry")
    lines = text.splitlines(keepends=True)
    closing = lines[table.end_lineno - 1]
    if table.lineno == table.end_lineno or closing.strip() != "}":
        raise CoreEditError(f"{ORDER_UPDATE_TABLE} has an unfamiliar layout (its closing brace is not on a line of its own)")
    newline = "\r\n" if closing.endswith("\r\n") else "\n"
    lines.insert(table.end_lineno - 1, REGISTRATION_LINE + newline)
    return "".join(lines)


def remove_registration(text: str) -> str:
    """``text`` without the line :func:`add_registration` added (unchanged if absent)."""
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if line.rstrip("\r\n") != REGISTRATION_LINE]
    return "".join(kept)


def _write_atomically(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------- checks


def verify(root: Path, python: str | None, *, registration: bool = False) -> list[str]:
    """Problems found in the installed copy (empty when it is complete).

    The import check runs in ``python`` with bytecode writing off and a temporary working
    directory, so it leaves nothing in the checkout (OpenAlgo's logging creates ``log/``
    in the working directory on import).
    """
    problems: list[str] = []
    order_api = root / "broker" / "mstock" / "api" / "order_api.py"
    text = order_api.read_text(encoding="utf-8") if order_api.exists() else ""
    problems += [f"order_api.py lacks {marker!r} (OpenAlgo's smart-order test)" for marker in SMART_ORDER_MARKERS if marker not in text]
    if not (root / "broker" / "mstock" / "plugin.json").is_file():
        problems.append("plugin.json missing")
    if (root / "broker" / "mstock" / "api" / "gtt_api.py").exists():
        problems.append("api/gtt_api.py must not exist (OpenAlgo test: only dhan and zerodha ship it)")
    if registration:
        service_text = (root / ORDER_UPDATE_SERVICE).read_text(encoding="utf-8")
        if "mstock" not in registered_brokers(service_text):
            problems.append(f"{ORDER_UPDATE_SERVICE}: no mstock entry in {ORDER_UPDATE_TABLE}")
    if python is None:
        return problems
    check = [
        "services.order_update_service", ORDER_UPDATE_TABLE, "mstock", ORDER_ADAPTER_MODULE, ORDER_ADAPTER_FACTORY,
    ] if registration else []
    with tempfile.TemporaryDirectory(prefix="mstock-openalgo-check-") as workdir:
        try:
            result = subprocess.run(
                [python, "-B", "-c", _CHECK_SCRIPT, str(root), json.dumps(REQUIRED_NAMES), json.dumps(check)],
                cwd=workdir,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                capture_output=True,
                text=True,
                timeout=CHECK_TIMEOUT,
                check=False,
            )
        except OSError as exc:  # the interpreter is missing or not executable: roll back, say why
            return problems + [f"import check could not run {python}: {exc.strerror or exc}"]
        except subprocess.TimeoutExpired:
            return problems + [f"import check could not run: {python} gave no answer within {CHECK_TIMEOUT} s"]
    if result.returncode != 0:
        return problems + [f"import check could not run: {result.stderr.strip()[-500:]}"]
    try:
        return problems + json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return problems + [f"import check gave no answer: {result.stdout.strip()[-300:]} {result.stderr.strip()[-300:]}"]


# ---------------------------------------------------------------- install / uninstall


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _registration_plan(root: Path, source: Path, state: InstallState | None, core_edit: bool) -> tuple[bool, str | None]:
    """``(add the line now, note for the user)``."""
    service = root / ORDER_UPDATE_SERVICE
    manual = f"add it by hand to {ORDER_UPDATE_TABLE} in {ORDER_UPDATE_SERVICE}:\n      {REGISTRATION_LINE.strip()}"
    if state is not None and state.registration:
        return False, None  # the line from the earlier install is still there; --uninstall removes it
    if not (source / ORDER_ADAPTER_FILE).is_file():
        return False, "order updates: this plugin has no order-update adapter yet, so OpenAlgo's table was not changed"
    if not core_edit:
        return False, f"order updates: not registered (--no-core-edit); to get live order updates, {manual}"
    if not service.is_file():
        return False, f"order updates: this OpenAlgo has no {ORDER_UPDATE_SERVICE}; nothing to register"
    text = service.read_bytes().decode("utf-8")
    if "mstock" in registered_brokers(text):
        return False, f"order updates: {ORDER_UPDATE_SERVICE} already lists mstock; left unchanged"
    add_registration(text)  # raises CoreEditError on an unfamiliar layout, before anything moves
    return True, None


def install(openalgo_path: str, *, python: str | None = None, core_edit: bool = True, source: Path | None = None) -> int:
    root = Path(openalgo_path).expanduser().resolve()
    if not is_openalgo_checkout(root):
        _error(f"{root} is not an OpenAlgo checkout (expected app.py, broker/ and blueprints/brlogin.py)")
        return 2
    source = source or plugin_source()
    target = root / "broker" / "mstock"
    backups = root / BACKUP_DIR
    try:
        state = _read_state(root)
        add_line, note = _registration_plan(root, source, state, core_edit)
    except CoreEditError as exc:
        _error(f"{exc}; nothing was changed (use --no-core-edit to install without order updates)")
        return 1
    first_install = state is None
    previous = None  # our copy from an earlier install, kept until this one is checked
    if first_install:
        state = InstallState(had_original=target.exists(), installed_at="")
        if target.exists():
            backups.mkdir(parents=True, exist_ok=True)
            shutil.move(str(target), str(backups / ORIGINAL))
            print(f"backed up OpenAlgo's broker/mstock to {BACKUP_DIR}/{ORIGINAL}")
    elif target.exists():
        previous = backups / f"previous-{os.getpid()}"
        shutil.move(str(target), str(previous))
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    service = root / ORDER_UPDATE_SERVICE
    before = service.read_bytes() if add_line else b""
    if add_line:
        _write_atomically(service, add_registration(before.decode("utf-8")).encode("utf-8"))
        state.registration, state.service_sha256_before = True, _sha256(before)

    interpreter = python or find_python(root)
    problems = verify(root, interpreter, registration=state.registration)
    if problems:
        _error("the installed plugin failed its checks:")
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        _roll_back(root, first_install=first_install, previous=previous, service_before=before if add_line else None)
        return 1
    if previous is not None:
        shutil.rmtree(previous)
    state.installed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    _write_state(root, state)

    checked = f"imports checked with {interpreter}" if interpreter else "no OpenAlgo python found: static checks only"
    print(f"installed mstock-openalgo into {target} ({checked})")
    if add_line:
        print(f"registered mStock order updates: added one line to {ORDER_UPDATE_TABLE} in {ORDER_UPDATE_SERVICE}"
              " (--uninstall removes it)")
    if note:
        print(note)
    print("\nSet these in OpenAlgo's .env:")
    for line in ENV_LINES:
        print(f"  {line}")
    print("\nThen restart OpenAlgo and log in with your mStock password and TOTP.")
    return 0


def _roll_back(root: Path, *, first_install: bool, previous: Path | None, service_before: bytes | None) -> None:
    target = root / "broker" / "mstock"
    backups = root / BACKUP_DIR
    shutil.rmtree(target)
    if service_before is not None:
        _write_atomically(root / ORDER_UPDATE_SERVICE, service_before)
    if previous is not None:
        shutil.move(str(previous), str(target))
        print("kept the previously installed broker/mstock", file=sys.stderr)
    elif first_install and (backups / ORIGINAL).exists():
        shutil.move(str(backups / ORIGINAL), str(target))
        print("restored OpenAlgo's broker/mstock", file=sys.stderr)
    if first_install:
        _remove_if_empty(backups)
    if service_before is not None:
        print(f"restored {ORDER_UPDATE_SERVICE}", file=sys.stderr)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # missing, or it holds something we did not put there


def uninstall(openalgo_path: str) -> int:
    root = Path(openalgo_path).expanduser().resolve()
    if not is_openalgo_checkout(root):
        _error(f"{root} is not an OpenAlgo checkout")
        return 2
    try:
        state = _read_state(root)
    except CoreEditError as exc:
        _error(str(exc))
        return 1
    if state is None:
        _error("nothing to uninstall: mstock-openalgo was not installed here with this tool")
        return 1
    backups = root / BACKUP_DIR
    target = root / "broker" / "mstock"
    if state.registration:
        service = root / ORDER_UPDATE_SERVICE
        if service.is_file():
            data = service.read_bytes()
            restored = remove_registration(data.decode("utf-8")).encode("utf-8")
            if restored != data:
                _write_atomically(service, restored)
            if _sha256(restored) == state.service_sha256_before:
                print(f"removed the mStock order-update line from {ORDER_UPDATE_SERVICE} (the file is as before)")
            else:
                print(f"removed the mStock order-update line from {ORDER_UPDATE_SERVICE}; "
                      "the file has other changes made since the install, which were kept")
    if target.exists():
        shutil.rmtree(target)
    if state.had_original and (backups / ORIGINAL).exists():
        shutil.move(str(backups / ORIGINAL), str(target))
        print("restored OpenAlgo's own broker/mstock")
    elif state.had_original:
        _error(f"removed our broker/mstock, but the backup {BACKUP_DIR}/{ORIGINAL} of OpenAlgo's own is missing")
        return 1
    else:
        print("removed broker/mstock (there was none before the install)")
    (backups / STATE_FILE).unlink()
    _remove_if_empty(backups)
    return 0
