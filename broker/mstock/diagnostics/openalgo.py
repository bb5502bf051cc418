"""Checks of an OpenAlgo checkout: is this plugin installed there, and will order updates flow?

Read from files only (nothing of OpenAlgo is imported or run):

* the installed ``broker/mstock`` against this plugin, file by file (a fingerprint of
  every ``.py`` and ``.json`` file), so a stale copy after an upgrade is caught;
* ``services/order_update_service.py``: OpenAlgo publishes order updates only for brokers
  listed in its ``_BROKER_FACTORIES`` table (or its ``_POLLING_BROKERS`` set); there is no
  discovery, so a missing entry means no order updates in OpenAlgo's UI and API.
"""

from __future__ import annotations

import ast
import hashlib
from importlib import metadata
from pathlib import Path

from .context import Context
from .report import FAIL, OK, WARN, Finding

PLUGIN_DIR = Path(__file__).resolve().parents[1]  # broker/mstock
ORDER_ADAPTER_MODULE = "broker.mstock.streaming.mstock_order_adapter"
ORDER_ADAPTER_FACTORY = "create_mstock_order_adapter"
SERVICE_FILE = Path("services") / "order_update_service.py"


def is_checkout(root: Path) -> bool:
    """An OpenAlgo checkout: ``app.py``, ``broker/`` and ``blueprints/brlogin.py``."""
    return (root / "app.py").is_file() and (root / "broker").is_dir() and (root / "blueprints" / "brlogin.py").is_file()


def find_checkout(given: str | Path | None) -> Path | None:
    """``given`` (as a path, checkout or not), else the checkout this plugin runs from or the
    current folder, if either is one."""
    if given:
        return Path(given).expanduser().resolve()
    for candidate in (PLUGIN_DIR.parents[1], Path.cwd()):
        if is_checkout(candidate):
            return candidate.resolve()
    return None


def plugin_version() -> str:
    try:
        return metadata.version("mstock-openalgo")
    except metadata.PackageNotFoundError:
        pass
    from .. import __version__  # a bare copy of broker/mstock, without the project installed

    return __version__


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every ``.py`` and ``.json`` file under ``folder`` (no caches), by relative path."""
    hashes: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".json"):
            hashes[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def fingerprint(hashes: dict[str, str]) -> str:
    joined = "".join(f"{name}:{digest}\n" for name, digest in sorted(hashes.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def check_openalgo(ctx: Context) -> list[Finding]:
    """The checkout finding first, then (for a checkout) the plugin and order-update findings."""
    root = ctx.openalgo
    title = "OpenAlgo checkout"
    if root is None:
        return [Finding("openalgo", title, OK, "none found here (pass --openalgo PATH to check one)")]
    if not is_checkout(root):
        return [
            Finding(
                "openalgo",
                title,
                FAIL,
                f"{root} is not an OpenAlgo checkout (no app.py, broker/ and blueprints/brlogin.py)",
                fix="pass the folder that holds OpenAlgo's app.py",
            )
        ]
    expected_env = root / ".env"
    if ctx.env_file is not None and ctx.env_file.resolve() != expected_env.resolve():
        main = Finding(
            "openalgo",
            title,
            WARN,
            f"{root}; OpenAlgo reads {expected_env}, this run read {ctx.env_file}",
            fix=f"run again with --env-file {expected_env} to check OpenAlgo's settings",
        )
    else:
        main = Finding("openalgo", title, OK, f"{root}")
    return [main, _installed_plugin(root), _order_updates(root)]


def _installed_plugin(root: Path) -> Finding:
    title = "installed plugin"
    installed_dir = root / "broker" / "mstock"
    fix = f"mstock-openalgo install {root}"
    if not installed_dir.is_dir():
        return Finding("openalgo_plugin", title, FAIL, f"{installed_dir} does not exist", fix=fix)
    ours = file_hashes(PLUGIN_DIR)
    if installed_dir.resolve() == PLUGIN_DIR:
        return Finding("openalgo_plugin", title, OK, f"this is the installed copy (fingerprint {fingerprint(ours)})")
    theirs = file_hashes(installed_dir)
    if theirs == ours:
        return Finding("openalgo_plugin", title, OK, f"broker/mstock is this version (fingerprint {fingerprint(ours)})")
    changed = sorted(name for name in ours.keys() & theirs.keys() if ours[name] != theirs[name])
    missing = sorted(ours.keys() - theirs.keys())
    extra = sorted(theirs.keys() - ours.keys())
    parts = []
    for label, names in (("differ", changed), ("missing", missing), ("not in this version", extra)):
        if names:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            parts.append(f"{len(names)} {label} ({shown})")
    return Finding(
        "openalgo_plugin",
        title,
        FAIL,
        f"broker/mstock is another version (fingerprint {fingerprint(theirs)}, this is "
        f"{fingerprint(ours)}): " + "; ".join(parts),
        fix=fix,
        data={"changed": changed, "missing": missing, "extra": extra},
    )


def _literal_assignments(tree: ast.AST, names: set[str]) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in names:
                try:
                    found[target.id] = ast.literal_eval(value)
                except ValueError:
                    found[target.id] = None
    return found


def _order_updates(root: Path) -> Finding:
    title = "order updates"
    service = root / SERVICE_FILE
    ships_adapter = (PLUGIN_DIR / "streaming" / "mstock_order_adapter.py").is_file()
    entry = f'"mstock": ("{ORDER_ADAPTER_MODULE}", "{ORDER_ADAPTER_FACTORY}"),'
    if ships_adapter:
        fix = (
            f"mstock-openalgo install {root} adds it (or add {entry} to _BROKER_FACTORIES in "
            f"{SERVICE_FILE.as_posix()} by hand), then restart OpenAlgo"
        )
    else:
        fix = f'add "mstock" to _POLLING_BROKERS in {SERVICE_FILE.as_posix()} (OpenAlgo then polls the order book)'
    if not service.is_file():
        return Finding(
            "openalgo_order_updates",
            title,
            WARN,
            f"{SERVICE_FILE.as_posix()} not found: this OpenAlgo publishes no order updates",
            fix="update OpenAlgo to a version with order-update adapters",
        )
    try:
        tree = ast.parse(service.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError) as exc:
        return Finding("openalgo_order_updates", title, WARN, f"cannot read {SERVICE_FILE.as_posix()}: {exc}", fix=fix)
    found = _literal_assignments(tree, {"_BROKER_FACTORIES", "_POLLING_BROKERS"})
    factories = found.get("_BROKER_FACTORIES")
    polling = found.get("_POLLING_BROKERS")
    registered = factories.get("mstock") if isinstance(factories, dict) else None
    if registered is not None:
        module, factory = (tuple(registered) + ("", ""))[:2] if isinstance(registered, (tuple, list)) else ("", "")
        target = root / Path(*str(module).split(".")).with_suffix(".py")
        if not target.is_file():
            return Finding(
                "openalgo_order_updates",
                title,
                FAIL,
                f"_BROKER_FACTORIES names {module}, which the installed plugin does not have",
                fix=f"mstock-openalgo install {root}, or remove the entry",
            )
        if f"def {factory}" not in target.read_text(encoding="utf-8"):
            return Finding(
                "openalgo_order_updates",
                title,
                FAIL,
                f"{module} has no function {factory}",
                fix=f"mstock-openalgo install {root}",
            )
        return Finding("openalgo_order_updates", title, OK, f"_BROKER_FACTORIES registers {module}.{factory}")
    if isinstance(polling, (set, frozenset, list, tuple)) and "mstock" in polling:
        return Finding(
            "openalgo_order_updates", title, OK, "mstock is in _POLLING_BROKERS (OpenAlgo polls the order book)"
        )
    return Finding(
        "openalgo_order_updates",
        title,
        WARN,
        f"no mstock entry in {SERVICE_FILE.as_posix()}: OpenAlgo will not publish mStock order updates",
        fix=fix,
    )
