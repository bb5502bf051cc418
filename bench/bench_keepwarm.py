"""The first order after an idle gap, without and with the keep-warm (issue 11 item 11).

The sandbox closes a keep-alive connection that has been idle for ``--idle-timeout``
seconds (and says so in ``Keep-Alive: timeout=N``), and delays the first request of every
new connection by ``--connect-latency-ms`` (default 120: the TCP + TLS handshake to mStock
costs about 100-150 ms; loopback has none). The plugin logs in, sends one order on a warm
connection (the floor), then ``--orders`` times waits ``--idle`` seconds and times
``place_order_api``: once with the keep-warm off ("before") and once on ("after").

**Scaled down.** The issue's case is the first order after 5 minutes idle against a
server that drops idle connections well before that. Only the ratio idle gap / idle timeout
matters, so by default the server's idle timeout is 2 s and the gap 5 s (the whole bench
takes about a minute). ``--full`` runs the real thing: a 60 s idle timeout (a common
load-balancer default) and a 300 s gap, one order per mode (about 11 minutes).

    .venv/bin/python bench/bench_keepwarm.py [--idle 5] [--idle-timeout 2] [--connect-latency-ms 120] [--orders 3] [--full]

If the sandbox has no ``idle_timeout``/``connect_latency_ms`` knobs, the bench says so
and measures without them (there is then nothing for a keep-warm to save).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ORDER = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1, "pricetype": "MARKET", "product": "MIS"}


def _sandbox_config(args):
    from mstock_sandbox import SandboxConfig

    fields = {f.name for f in dataclasses.fields(SandboxConfig)}
    options = {"port": 0, "master_size": args.master_size}
    network = {"idle_timeout", "connect_latency_ms"} <= fields
    if network:
        options.update(idle_timeout=args.idle_timeout, connect_latency_ms=args.connect_latency_ms)
    return SandboxConfig(**options), network


def _timed_order(token: str) -> float:
    from broker.mstock.api.order_api import place_order_api

    started = time.perf_counter()
    res, body, orderid = place_order_api(dict(ORDER), token)
    elapsed = (time.perf_counter() - started) * 1000
    if res.status != 200:
        raise SystemExit(f"order failed: {body}")
    return elapsed


def run(which: str, args, workdir: Path) -> None:
    from broker.mstock.account.session import current_auth_token, login_headless
    from broker.mstock.database.master_contract_db import master_contract_download
    from broker.mstock.transport import keepwarm
    from broker.mstock.transport.client import get_client, reset_clients
    from mstock_sandbox import SandboxServer

    config, network = _sandbox_config(args)
    server = SandboxServer(config).start()
    try:
        os.environ.update(server.env(workdir / which))
        os.environ["MSTOCK_HOST"] = "standalone"
        keepwarm.set_enabled(which == "after")
        reset_clients()
        login_headless(force=True)
        master_contract_download()
        token = current_auth_token()
        client = get_client(token)
        client.call("user.funds")  # the session works: from here on the pool may be kept warm
        warm = [_timed_order(token) for _ in range(3)]
        gaps = []
        for _ in range(args.orders):
            time.sleep(args.idle)
            gaps.append(_timed_order(token))
        keep = client.keep_warm
        if network:
            setting = f"idle timeout {args.idle_timeout:g} s, connect latency {args.connect_latency_ms:g} ms"
        else:
            setting = "no idle timeout or connect latency knobs in this sandbox"
        print(f"{which}: keep-warm {'on' if which == 'after' else 'off'} ({setting})")
        print(f"  order on a warm connection: median {statistics.median(warm):.1f} ms")
        print(f"  first order after {args.idle:g} s idle: median {statistics.median(gaps):.1f} ms "
              f"(each: {', '.join(f'{g:.1f}' for g in gaps)} ms)")
        if keep is not None:
            print(f"  keep-warm: every {keep.interval:g} s while idle, {keep.pings} pings")
    finally:
        keepwarm.set_enabled(True)
        reset_clients()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds without traffic before each timed order")
    parser.add_argument("--idle-timeout", type=float, default=2.0, help="the sandbox closes idle connections after this")
    parser.add_argument("--connect-latency-ms", type=float, default=120.0, help="cost of a new connection")
    parser.add_argument("--orders", type=int, default=3, help="timed orders per mode")
    parser.add_argument("--master-size", type=int, default=2000)
    parser.add_argument("--full", action="store_true", help="5 minutes idle against a 60 s idle timeout, one order")
    args = parser.parse_args(argv)
    if args.full:
        args.idle, args.idle_timeout, args.orders = 300.0, 60.0, 1
    with tempfile.TemporaryDirectory(prefix="mstock-bench-") as workdir:
        for which in ("before", "after"):
            run(which, args, Path(workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
