"""Benchmark: what importing the plugin costs inside OpenAlgo, against the upstream plugin.

    <python> bench/bench_import.py [--rounds 4] [--settle 3] [--breakdown]

Hosted (the pinned OpenAlgo runs under this Python, see ``openalgo_host``): each round
starts one fresh process per plugin (this checkout's, then OpenAlgo's own ``broker/mstock``),
each in a freshly unpacked OpenAlgo, and in it:

0. byte-compiles the tree (as an installed OpenAlgo has it; bytecode kept out of this
   checkout);
1. ``import app``: OpenAlgo's whole start-up import, which statically imports the plugin's
   streaming adapter (contract 1.4), timed;
2. waits until OpenAlgo's start-up threads have imported nothing new for ``--settle``
   seconds (they import scipy and more in the background);
3. imports the faces OpenAlgo imports on demand (``api.auth_api``, ``api.order_api``,
   ``api.data``, ``api.funds``, ``api.margin_api``, ``mapping.order_data``,
   ``mapping.transform_data``, ``database.master_contract_db``): wall time and resident
   memory added, and which third-party packages that pulled in.

The target is ours <= upstream + 30 ms for step 3. ``--breakdown`` adds a ``-X importtime``
run of ours and lists the slowest modules step 3 imported.

Standalone (no OpenAlgo): the same imports of the faces in a bare interpreter, ours only.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FACES = ("api.auth_api", "api.order_api", "api.data", "api.funds", "api.margin_api", "mapping.order_data",
         "mapping.transform_data", "database.master_contract_db")
MARKER = "-- bench_import: faces --"


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _settle(quiet: float, cap: float = 60.0) -> None:
    """Wait until OpenAlgo's start-up threads stop importing: no new module for ``quiet`` seconds."""
    deadline = time.monotonic() + cap
    count, since = len(sys.modules), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.25)
        if len(sys.modules) != count:
            count, since = len(sys.modules), time.monotonic()


def child(hosted: bool, settle: float) -> dict:
    app_seconds = None
    if hosted:
        import openalgo_host

        openalgo_host.enter_tree()
        started = time.perf_counter()
        importlib.import_module("app")  # OpenAlgo's start-up, as gunicorn runs it
        app_seconds = time.perf_counter() - started
        _settle(settle)
    else:
        sys.path.insert(0, str(ROOT))
    before = set(sys.modules)
    rss = _rss_mb()
    print(MARKER, file=sys.stderr, flush=True)
    started = time.perf_counter()
    for name in FACES:
        __import__(f"broker.mstock.{name}")
    seconds = time.perf_counter() - started
    added = sorted(name for name in {m.split(".")[0] for m in set(sys.modules) - before}
                   if name != "broker" and not name.startswith("_") and name not in sys.stdlib_module_names)
    return {"app": app_seconds, "faces": seconds, "rss_mb": _rss_mb() - rss, "packages": added,
            "adapter_loaded": "broker.mstock.streaming.mstock_adapter" in before}


def _breakdown(stderr: str, top: int = 12) -> list[tuple[int, str]]:
    lines = stderr.split(MARKER, 1)[-1].splitlines()
    rows = []
    for line in lines:
        if not line.startswith("import time:") or "|" not in line:
            continue
        try:
            _, cumulative, name = line[len("import time:"):].split("|")
            rows.append((int(cumulative), name.rstrip()))
        except ValueError:
            continue
    return sorted(rows, reverse=True)[:top]


def _span(values: list[float], scale: float = 1000.0, unit: str = "ms") -> str:
    low, high = min(values) * scale, max(values) * scale
    return f"{low:.0f}-{high:.0f} {unit}" if round(low) != round(high) else f"{low:.0f} {unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--child", choices=("hosted", "standalone"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = child(args.child == "hosted", args.settle)
        print(json.dumps(out), flush=True)
        os._exit(0)  # OpenAlgo's start-up threads are not daemons everywhere

    import openalgo_host

    hosted, why = openalgo_host.hosted_status()
    here = Path(__file__).resolve()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; " + (f"hosted: {why}" if hosted else
                                                                       f"standalone ({why})"))
    if not hosted:
        runs = []
        for _ in range(args.rounds):
            done = subprocess.run([sys.executable, str(here), "--child", "standalone"], capture_output=True,
                                  text=True, check=True, cwd=ROOT)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"faces import: {_span([r['faces'] for r in runs])}, +{statistics.median(r['rss_mb'] for r in runs):.1f} MB; "
              f"third-party packages pulled in: {', '.join(runs[0]['packages'])}")
        return 0

    results: dict[str, list[dict]] = {"ours": [], "upstream": []}
    for _ in range(args.rounds):
        for plugin in results:
            results[plugin].append(openalgo_host.run_child(here, ["--child", "hosted", "--settle", str(args.settle)],
                                                           plugin=plugin, compiled=True))
    for plugin, runs in results.items():
        print(f"{plugin:<8} import app {_span([r['app'] for r in runs])} (adapter statically imported: "
              f"{runs[0]['adapter_loaded']}); faces after start-up {_span([r['faces'] for r in runs])} "
              f"(median {statistics.median(r['faces'] for r in runs) * 1000:.0f} ms), "
              f"+{statistics.median(r['rss_mb'] for r in runs):.1f} MB; new third-party packages: "
              f"{', '.join(runs[0]['packages']) or 'none'}")
    ours = statistics.median(r["faces"] for r in results["ours"])
    upstream = statistics.median(r["faces"] for r in results["upstream"])
    print(f"faces: ours - upstream = {(ours - upstream) * 1000:+.0f} ms (medians; target <= +30 ms); "
          f"import app: ours - upstream = "
          f"{(statistics.median(r['app'] for r in results['ours']) - statistics.median(r['app'] for r in results['upstream'])) * 1000:+.0f} ms")
    if args.breakdown:
        with openalgo_host.openalgo_tree("ours") as tree:
            env = openalgo_host.openalgo_env(tree)
            openalgo_host.write_dotenv(tree, env)
            openalgo_host.precompile(tree, env)
            done = subprocess.run([sys.executable, "-X", "importtime", str(here), "--child", "hosted", "--settle",
                                   str(args.settle)], cwd=tree, env=env, capture_output=True, text=True, timeout=600)
        print("slowest imports of ours after start-up (-X importtime, cumulative):")
        for micros, name in _breakdown(done.stderr):
            print(f"  {micros / 1000:7.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
