"""Benchmark: from "download the master contract" to "OpenAlgo can use it", measured whole.

    <python> bench/bench_contract_ready.py [--size 150000] [--repeat 3] [--standalone]

The embedded sandbox (loopback HTTP, in this process) serves a synthetic master of
``--size`` rows. Hosted (the pinned OpenAlgo runs under this Python, see
``openalgo_host``), a fresh OpenAlgo with this plugin linked in stores the sandbox session in
its ``auth`` table and runs OpenAlgo's own ``utils.auth_utils.async_master_contract_download
("mstock")`` synchronously, the function its login thread runs (contract 10.1). The
milestones are stamped by thin wrappers around OpenAlgo's functions:

* ``plugin``: our ``master_contract_download()`` returned (download, parse, normalise,
  atomic replace);
* ``status``: OpenAlgo marked the download ``success`` (after ``normalize_derivative_underlyings``
  and the symbol count); the UI enables trading from here, lookups answer from the table;
* ``cache``: OpenAlgo's ``BrokerSymbolCache`` is loaded (the cache hook: a fixed 0.5 s wait,
  then ``load_all_symbols`` reading every row back through its ORM).

The floor of the part after ``plugin`` is OpenAlgo's own work and is reported as such; the
benchmark also times ``load_all_symbols`` alone and prints how many rows OpenAlgo's
normaliser had to rewrite (0 means our ``name`` column already matches it, so that pass
only reads).

Standalone: ``master_contract_download()`` into the project's SQLite store, whose in-memory
index is ready when it returns.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def hosted_child(repeat: int) -> dict:
    import openalgo_host

    openalgo_host.enter_tree()
    os.environ["MSTOCK_HOST"] = "openalgo"
    import database.master_contract_cache_hook as cache_hook
    import database.symbol as symbol_db
    import database.token_db_enhanced as token_db
    import utils.auth_utils as auth_utils
    from database import auth_db

    from extensions import socketio
    from flask import Flask

    socketio.init_app(Flask("bench"))  # as app.py does: the plugin and the cache hook emit events
    symbol_db.init_db()
    auth_db.init_db()
    importlib.import_module("database.sandbox_db").init_db()  # read by OpenAlgo's catch-up step
    importlib.import_module("database.master_contract_status_db")  # creates its table on import
    auth_db.upsert_auth("bench", os.environ["BENCH_ACCESS_TOKEN"], "mstock", feed_token=os.environ["BENCH_FEED_TOKEN"])

    stamps: dict[str, float] = {}
    normalised: list[int] = []

    def stamp(name, fn):
        def wrapper(*args, **kwargs):
            result = fn(*args, **kwargs)
            stamps[name] = time.perf_counter()
            return result
        return wrapper

    plugin = __import__("broker.mstock.database.master_contract_db", fromlist=["master_contract_download"])
    plugin.master_contract_download = stamp("plugin", plugin.master_contract_download)
    original_normalise = symbol_db.normalize_derivative_underlyings

    def normalise():
        changed = original_normalise()
        normalised.append(changed)
        return changed

    symbol_db.normalize_derivative_underlyings = normalise
    original_update = auth_utils.update_status

    def update_status(broker, status, *args, **kwargs):
        result = original_update(broker, status, *args, **kwargs)
        if status == "success":
            stamps["status"] = time.perf_counter()
        return result

    auth_utils.update_status = update_status
    cache_hook.load_symbols_to_cache = stamp("cache", cache_hook.load_symbols_to_cache)

    runs = []
    for _ in range(repeat):
        stamps.clear()
        started = time.perf_counter()
        outcome = auth_utils.async_master_contract_download("mstock")
        finished = time.perf_counter()
        if not isinstance(outcome, str):
            raise SystemExit(f"download failed: {outcome}")
        info = token_db.get_cache_stats()
        assert info["cache_loaded"] and info["total_symbols"] > 0, info
        runs.append({k: v - started for k, v in stamps.items()} | {"total": finished - started,
                                                                   "symbols": info["total_symbols"]})
    cache = token_db.get_cache()
    load = []
    for _ in range(repeat):
        started = time.perf_counter()
        cache.load_all_symbols("mstock")
        load.append(time.perf_counter() - started)
    return {"runs": runs, "load_all_symbols": load, "normalised": normalised}


def standalone(server, repeat: int) -> list[float]:
    from broker.mstock import host
    from broker.mstock.database.master_contract_db import master_contract_download

    workdir = Path(tempfile.mkdtemp(prefix="mstock-bench-"))
    os.environ.update({"MSTOCK_HOST": "standalone", "DATABASE_URL": f"sqlite:///{workdir / 'symbols.db'}",
                       "MSTOCK_SESSION_FILE": str(workdir / "session.json")})
    from broker.mstock.account.session import login_headless

    login_headless(force=True)
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        master_contract_download()
        host.symbols().get_token("SBIN", "NSE")
        seconds.append(time.perf_counter() - started)
    return seconds


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--standalone", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(hosted_child(args.repeat)))
        return 0

    import openalgo_host
    from mstock_sandbox import SandboxConfig, SandboxServer

    hosted, why = openalgo_host.hosted_status()
    started = time.perf_counter()
    server = SandboxServer(SandboxConfig(port=0, master_size=args.size, start_feed=False)).start()
    server.set_rate_limits(False)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; sandbox master of {args.size:,} rows "
          f"(built in {time.perf_counter() - started:.1f}s)")
    try:
        if hosted and not args.standalone:
            session = server.issue_session()
            out = openalgo_host.run_child(Path(__file__).resolve(), ["--child", "--repeat", str(args.repeat)],
                                          extra_env={**server.env(), "BENCH_ACCESS_TOKEN": session.access_token,
                                                     "BENCH_FEED_TOKEN": session.feed_token or ""})
            runs = out["runs"]
            print(f"hosted: {why}; {runs[0]['symbols']:,} symbols; {args.repeat} runs of OpenAlgo's "
                  "async_master_contract_download")
            for key, label in (("plugin", "plugin done (download + store)"),
                               ("status", "status 'success' (OpenAlgo normalise + count)"),
                               ("cache", "cache ready (OpenAlgo's hook)"), ("total", "returned")):
                print(f"  {label:<46} {_span([r[key] for r in runs])} s after the start")
            share = [(r["cache"] - r["status"]) / r["cache"] for r in runs]
            print(f"  OpenAlgo's part after the plugin: {_span([r['cache'] - r['plugin'] for r in runs])} s "
                  f"({min(share):.0%}-{max(share):.0%} of the whole is the cache hook)")
            print(f"  load_all_symbols alone: {_span(out['load_all_symbols'])} s; rows OpenAlgo's normaliser "
                  f"rewrote: {out['normalised']}")
            print(f"  download -> cache ready: median {statistics.median(r['cache'] for r in runs):.2f} s")
        else:
            os.environ.update(server.env())
            seconds = standalone(server, args.repeat)
            print(f"standalone{'' if hosted else f' ({why})'}: download -> lookups ready {_span(seconds)} s")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
