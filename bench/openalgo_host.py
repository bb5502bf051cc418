"""Run benchmark code inside the pinned OpenAlgo ("hosted" figures), when it is available.

The pinned OpenAlgo source is a tarball in ``shared/openalgo/`` beside the checkouts (or
the file named by ``OPENALGO_TARBALL``). Each hosted child process gets a fresh unpacked
copy in a temporary folder, with its own SQLite database, and either this checkout's
``broker/mstock`` linked in place of OpenAlgo's (``plugin="ours"``) or OpenAlgo's own
plugin left as shipped (``plugin="upstream"``). Nothing is copied from OpenAlgo into this
repository, and no unpacked tree is reused between runs.

Hosted children need OpenAlgo's Python environment (Python >= 3.12 with its
``requirements.txt``): run the benchmark with that interpreter, e.g.

    /work/oa-bench/venv/bin/python bench/bench_master_contract.py

Without it (or without the tarball) the benchmarks fall back to standalone figures and
say so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "broker" / "mstock"
# What OpenAlgo's database, cache and service modules import (a subset of its requirements).
_OPENALGO_IMPORTS = ("flask", "flask_socketio", "sqlalchemy", "pytz", "cachetools", "httpx", "cryptography",
                     "argon2", "dotenv", "pandas")


def find_tarball() -> Path | None:
    explicit = os.environ.get("OPENALGO_TARBALL")
    if explicit:
        path = Path(explicit)
        return path if path.is_file() else None
    for parent in ROOT.parents:
        found = sorted((parent / "shared" / "openalgo").glob("openalgo-*.tar.gz"))
        if found:
            return found[-1]
    return None


def hosted_status() -> tuple[bool, str]:
    """(available, why): whether this interpreter can host OpenAlgo's code for a benchmark."""
    tarball = find_tarball()
    if tarball is None:
        return False, "no pinned OpenAlgo tarball (shared/openalgo/openalgo-*.tar.gz or OPENALGO_TARBALL)"
    if sys.version_info < (3, 12):
        return False, f"this Python is {sys.version.split()[0]}; OpenAlgo needs >= 3.12 with its requirements"
    missing = [name for name in _OPENALGO_IMPORTS if importlib.util.find_spec(name) is None]
    if missing:
        return False, f"this Python lacks OpenAlgo's requirements ({', '.join(missing)})"
    return True, f"OpenAlgo {tarball.name} under Python {sys.version.split()[0]}"


@contextmanager
def openalgo_tree(plugin: str = "ours") -> Iterator[Path]:
    """A fresh unpacked OpenAlgo (its folder), removed afterwards."""
    if plugin not in ("ours", "upstream"):
        raise ValueError(plugin)
    tarball = find_tarball()
    if tarball is None:
        raise RuntimeError("no pinned OpenAlgo tarball")
    workdir = Path(tempfile.mkdtemp(prefix=f"oa-bench-{plugin}-"))
    try:
        with tarfile.open(tarball) as archive:
            archive.extractall(workdir, filter="data")
        tree = workdir / "openalgo"
        (tree / "db").mkdir(exist_ok=True)
        if plugin == "ours":
            shutil.rmtree(tree / "broker" / "mstock")
            (tree / "broker" / "mstock").symlink_to(PLUGIN_DIR, target_is_directory=True)
        yield tree
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def openalgo_env(tree: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a hosted child: fresh secrets, databases inside ``tree``, quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSTOCK_", "BROKER_", "OPENALGO_"))}
    db = tree / "db"
    env.update({
        "DATABASE_URL": f"sqlite:///{db / 'openalgo.db'}",
        "LATENCY_DATABASE_URL": f"sqlite:///{db / 'latency.db'}",
        "LOGS_DATABASE_URL": f"sqlite:///{db / 'logs.db'}",
        "HEALTH_DATABASE_URL": f"sqlite:///{db / 'health.db'}",
        "SANDBOX_DATABASE_URL": f"sqlite:///{db / 'sandbox.db'}",
        "HISTORIFY_DATABASE_URL": str(db / "historify.duckdb"),
        "APP_KEY": secrets.token_hex(32),
        "API_KEY_PEPPER": secrets.token_hex(32),
        "FERNET_SALT": secrets.token_hex(32),
        "LOG_LEVEL": "WARNING",
        "LOG_TO_FILE": "False",
        "LOG_COLORS": "False",
        "VALID_BROKERS": "mstock",
        "REDIRECT_URL": "http://127.0.0.1:5000/mstock/callback",
        "NGROK_ALLOW": "FALSE",
        # Bytecode goes beside the tree (removed with it), never into this checkout.
        "PYTHONPYCACHEPREFIX": str(tree.parent / "pycache"),
    })
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra or {})
    return env


def write_dotenv(tree: Path, env: Mapping[str, str]) -> None:
    """Write ``tree/.env`` from its ``.sample.env`` with every key ``env`` sets replaced.

    OpenAlgo's start-up check (``utils/env_check.py``) insists on the file and loads it over
    the process environment, so the child's values must be in it.
    """
    lines = []
    for line in (tree / ".sample.env").read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and key in env:
            line = f"{key} = '{env[key]}'"
        lines.append(line)
    (tree / ".env").write_text("\n".join(lines) + "\n")


def enter_tree() -> Path:
    """In a hosted child (cwd = the tree): make OpenAlgo's packages win over this checkout's."""
    tree = Path.cwd()
    if not (tree / "database" / "symbol.py").is_file():
        raise SystemExit(f"{tree} is not an unpacked OpenAlgo")
    sys.path.insert(0, str(tree))
    return tree


def precompile(tree: Path, env: Mapping[str, str]) -> None:
    """Compile the tree's Python (and the plugin behind its link) as an installed OpenAlgo would have it."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", "-x", r"frontend|node_modules|\.git",
                    str(tree), str(tree / "broker" / "mstock")], env=dict(env), check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_child(script: Path, args: list[str], *, plugin: str = "ours", extra_env: Mapping[str, str] | None = None,
              timeout: float = 1800, compiled: bool = False) -> dict:
    """Run ``script --child ...`` inside a fresh OpenAlgo; return the JSON of its last stdout line.

    ``compiled``: byte-compile the tree first, so that imports are timed as they run in an
    installed OpenAlgo (for both plugins alike).
    """
    with openalgo_tree(plugin) as tree:
        env = openalgo_env(tree, extra_env)
        write_dotenv(tree, env)
        if compiled:
            precompile(tree, env)
        done = subprocess.run(
            [sys.executable, str(script), *args],
            cwd=tree, env=env, stdout=subprocess.PIPE, text=True, timeout=timeout,
            # BENCH_VERBOSE=1 shows the child's log lines and warnings as they happen.
            stderr=None if os.environ.get("BENCH_VERBOSE") else subprocess.PIPE,
        )
    if done.returncode != 0:
        raise RuntimeError(f"hosted child {script.name} {' '.join(args)} failed:\n{(done.stderr or '')[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
