"""Rate limits under load, counted by arrival with network jitter (issue 11 item 1).

The sandbox counts the documented limits (spec 2.1) strictly by *arrival*: the data API's
second is a full 1.0 s, and every request first waits a random 0..J ms on a simulated
network before it is counted (``--jitter-ms``, default 40: tens of ms, as on a real
network). Against it, the plugin's real shared limiter:

1. **load**: 10 threads for ``--seconds`` (default 15): 7 call ``get_quotes`` back to back
   (20/s quote limit), 3 fetch three days of 1-minute history over and over (1/s data
   limit). Printed: calls and HTTP 429 answers per route;
2. **a year of 1-minute bars** (``get_history`` of one instrument): Data-API requests
   against the minimum the 1000-bar limit allows, 429 answers, elapsed seconds against
   the pacing floor ((requests - 1) x 1 s), and the percentage above it.

Both run twice: with the limiter as it was before issue 11 ("before": send times, a margin
on order windows only) and as it is now ("after"). The figures are only meaningful on the same machine
in the same run; the machine has 2 cores and is noisy.

The sandbox runs in a process of its own (``python -m mstock_sandbox``), as mStock runs on
its own machines: in-process, its handler threads would queue for this process's GIL
behind the ten client threads, and that wait would count as network delay on the server
side. ``--in-process`` runs it in this process anyway (harsher: expect the odd 429).

    .venv/bin/python bench/bench_rate_limits.py [--jitter-ms 40] [--seconds 15] [--days 365] [--only after] [--in-process]

If the sandbox has no strict arrival-counting mode (``SandboxConfig.strict_rate_limits``
and ``arrival_jitter_ms``), the bench says so and runs against its default counting.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QUOTE_THREADS = 7
HISTORY_THREADS = 3


class StatusCounter:
    """Counts HTTP answers per (path, status) through requests' response hook (retries included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, int]] = Counter()

    def __call__(self, response, *args, **kwargs):
        with self._lock:
            self.counts[(response.request.path_url.rsplit("/", 1)[-1], response.status_code)] += 1
        return response

    def take(self) -> Counter[tuple[str, int]]:
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return counts


def _has_strict_mode() -> bool:
    from mstock_sandbox import SandboxConfig

    return {"strict_rate_limits", "arrival_jitter_ms"} <= {f.name for f in dataclasses.fields(SandboxConfig)}


@contextmanager
def in_process_sandbox(args, data_dir: Path) -> Iterator[str]:
    """The sandbox in this process; yields its base URL once the environment points at it."""
    from mstock_sandbox import SandboxConfig, SandboxServer

    options = {"port": 0, "master_size": args.master_size, "always_open": False}
    if _has_strict_mode():
        options.update(strict_rate_limits=True, arrival_jitter_ms=args.jitter_ms)
    server = SandboxServer(SandboxConfig(**options)).start()
    try:
        os.environ.update(server.env(data_dir))
        yield server.base_url or ""
    finally:
        server.stop()


@contextmanager
def separate_sandbox(args, data_dir: Path) -> Iterator[str]:
    """``python -m mstock_sandbox`` in a process of its own; its .env file points us at it."""
    env_file = data_dir / "sandbox.env"
    command = [sys.executable, "-m", "mstock_sandbox", "--port", "0", "--env-out", str(env_file),
               "--data-dir", str(data_dir / "data"), "--real-hours", "--quiet", "--tick", "0",
               "--master-size", str(args.master_size)]
    if _has_strict_mode():
        command += ["--strict-rate-limits", "--arrival-jitter-ms", f"{args.jitter_ms:g}"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists() or not env_file.read_text(encoding="utf-8").strip():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the sandbox did not start: {process.stderr.read().decode(errors='replace')[-500:]}")
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written in one go; give the last line a moment anyway
        values = dict(line.split("=", 1) for line in env_file.read_text(encoding="utf-8").splitlines() if "=" in line)
        os.environ.update(values)
        yield values.get("MSTOCK_BASE_URL", "")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _limiter(which: str):
    from broker.mstock.transport.ratelimit import DEFAULT_MARGINS, RateLimiter
    from broker.mstock.transport.routes import Category

    if which == "before":
        return _send_time_limiter_class()(margins={Category.ORDER: 0.1})
    return RateLimiter(margins=DEFAULT_MARGINS)


def _send_time_limiter_class():
    from broker.mstock.transport.ratelimit import RateLimiter

    class SendTimeLimiter(RateLimiter):
        """The limiter before issue 11: send times plus a margin on order windows only; answers change nothing."""

        def _settle(self, category, sent, bound) -> None:
            return

    return SendTimeLimiter



def load_phase(data, lookup, counter: StatusCounter, seconds: float) -> None:
    from broker.mstock.clock import today_ist
    from broker.mstock.errors import MStockError

    symbols = [r for r in lookup.search("A", "NSE", limit=200)] or [lookup.get_symbol_info("SBIN", "NSE")]
    end = today_ist() - timedelta(days=1)
    while end.weekday() >= 5:
        end -= timedelta(days=1)
    start = end - timedelta(days=4)  # about three sessions: 2 to 3 data calls per fetch
    stop_at = time.monotonic() + seconds
    errors: Counter[str] = Counter()
    errors_lock = threading.Lock()

    def quotes(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < stop_at:
            record = rng.choice(symbols)
            try:
                data.get_quotes(record.symbol, record.exchange)
            except MStockError as exc:
                with errors_lock:
                    errors[type(exc).__name__] += 1

    def history() -> None:
        while time.monotonic() < stop_at:
            try:
                data.get_history("SBIN", "NSE", "1m", start.isoformat(), end.isoformat())
            except MStockError as exc:
                with errors_lock:
                    errors[type(exc).__name__] += 1

    counter.take()
    threads = [threading.Thread(target=quotes, args=(i,)) for i in range(QUOTE_THREADS)]
    threads += [threading.Thread(target=history) for _ in range(HISTORY_THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    counts = counter.take()
    print(f"  load: {QUOTE_THREADS} quote threads + {HISTORY_THREADS} history threads for {elapsed:.1f} s")
    for path in ("quote", "historical"):
        calls = sum(n for (p, _), n in counts.items() if p == path)
        refused = counts.get((path, 429), 0)
        print(f"    {path:10s} calls {calls:4d}   HTTP 429: {refused:3d}   ({calls / elapsed:.1f} calls/s)")
    if errors:
        print(f"    errors raised to callers: {dict(errors)}")


def year_phase(data, counter: StatusCounter, days: int) -> None:
    from broker.mstock.clock import today_ist
    from broker.mstock.market.intervals import HISTORY_BAR_LIMIT, INTERVALS, bars_per_session

    end = today_ist() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    from broker.mstock.errors import MStockError

    counter.take()
    started = time.perf_counter()
    failed = None
    try:
        bars = len(data.get_history("SBIN", "NSE", "1m", start.isoformat(), end.isoformat()))
    except MStockError as exc:  # a chunk still refused after the client's retries
        bars, failed = 0, exc
    elapsed = time.perf_counter() - started
    counts = counter.take()
    requests = sum(n for (p, _), n in counts.items() if p == "historical")
    refused = counts.get(("historical", 429), 0)
    weekdays = sum(1 for i in range(days) if (start + timedelta(days=i)).weekday() < 5)
    minimum = math.ceil(weekdays * bars_per_session(INTERVALS["1m"], "NSE") / HISTORY_BAR_LIMIT)
    floor = max(0, minimum - 1) * 1.0
    if failed is not None:
        print(f"  a year of 1-minute bars: FAILED after {requests} Data-API requests ({refused} answered "
              f"HTTP 429) in {elapsed:.1f} s: {failed}")
        return
    print(f"  a year of 1-minute bars: {bars} bars in {requests} Data-API requests "
          f"(minimum {minimum}), HTTP 429: {refused}")
    print(f"    elapsed {elapsed:.2f} s; pacing floor {floor:.2f} s; above the floor: "
          f"{elapsed - floor:.2f} s = {(elapsed / floor - 1) * 100 if floor else 0:.1f} %")


def run(which: str, args, workdir: Path) -> None:
    from broker.mstock.account.session import current_auth_token, login_headless
    from broker.mstock.api.data import BrokerData
    from broker.mstock.database.master_contract_db import master_contract_download
    from broker.mstock import host
    from broker.mstock.transport import ratelimit
    from broker.mstock.transport.client import get_client, reset_clients

    strict = _has_strict_mode()
    sandbox = in_process_sandbox if args.in_process else separate_sandbox
    with sandbox(args, workdir / which) as base_url:
        os.environ["MSTOCK_HOST"] = "standalone"
        reset_clients()
        ratelimit.set_default_limiter(None)
        login_headless(force=True)
        master_contract_download()
        token = current_auth_token()
        ratelimit.set_default_limiter(_limiter(which))  # fresh windows for the measurement
        counter = StatusCounter()
        get_client(token)._session.hooks["response"].append(counter)
        data = BrokerData(token)
        mode = (f"strict arrival counting, {args.jitter_ms:g} ms jitter" if strict
                else "this sandbox has no strict arrival counting: default counting, no jitter")
        where = "in this process" if args.in_process else "own process"
        print(f"{which}: sandbox {base_url} ({where}, {mode}); margins {_margins_text(which)}")
        try:
            if not args.skip_load:
                load_phase(data, host.symbols(), counter, args.seconds)
            time.sleep(1.1)  # let the load's data calls leave every window
            year_phase(data, counter, args.days)
        finally:
            reset_clients()


def _margins_text(which: str) -> str:
    from broker.mstock.transport.ratelimit import DEFAULT_MARGINS

    if which == "before":
        return "order 0.1 s only, send times only"
    return ", ".join(f"{c.value} {m:g} s" for c, m in DEFAULT_MARGINS.items()) + ", bounds settled by each answer"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jitter-ms", type=float, default=40.0, help="simulated network jitter, 0..N ms (default 40)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the 10-thread load (default 15)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--master-size", type=int, default=4000)
    parser.add_argument("--only", choices=("before", "after"), help="run one limiter only")
    parser.add_argument("--skip-load", action="store_true", help="only the year of minute bars")
    parser.add_argument("--in-process", action="store_true", help="run the sandbox in this process")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mstock-bench-") as workdir:
        for which in ([args.only] if args.only else ["before", "after"]):
            run(which, args, Path(workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
