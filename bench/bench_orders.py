"""Order benchmark against the embedded sandbox on loopback (issue 5).

Prints, with the REAL shared rate limiter installed (documented limits, spec 2.1: 30 order
requests per second, 250 per minute):

* a 10-leg basket placed from 10 threads at once (OpenAlgo's basket service), wall time;
* ``close_all_positions`` flattening N positions (default 50): wall time, against the
  floor the documented order limit allows (ceil(N / 30) - 1 seconds of pacing; the bulk
  pacing of ``orders/bulk.py``, 25 per 1.2 s, makes it 1.2 s for 26-50) and against N
  sequential round trips measured on the same server;
* ``cancel_all_orders_api`` cancelling N open orders, same comparison.

    /work/venv/bin/python bench/bench_orders.py [--positions 50] [--latency 0.05]

``--latency`` adds that many seconds to every sandbox answer, like a real network; the
point of the bulk operations is that they overlap these waits instead of adding them up.
The whole run stays under the 250 orders/minute budget for N <= 50.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ORDER_RATE = 30  # per second (spec 2.1)


def _setup(latency: float):
    from mstock_sandbox import SandboxConfig, SandboxServer

    workdir = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    server = SandboxServer(SandboxConfig(port=0, start_feed=False, base_latency=latency)).start()
    os.environ.update(server.env())
    os.environ.update({
        "MSTOCK_HOST": "standalone",
        "DATABASE_URL": f"sqlite:///{workdir / 'symbols.db'}",
        "MSTOCK_SESSION_FILE": str(workdir / "session.json"),
    })
    from broker.mstock.database.master_contract_db import refresh_master
    from broker.mstock.transport import ratelimit

    ratelimit.set_default_limiter(ratelimit.RateLimiter())
    token = server.issue_session().access_token
    refresh_master(token)
    return server, token


def _equities(count: int) -> list[str]:
    from broker.mstock import host

    seen: list[str] = []
    for record in host.symbols().search("-EQ", "NSE", limit=5000):
        if record.instrumenttype in ("EQ", "") and record.lotsize == 1 and record.symbol not in seen:
            seen.append(record.symbol)
        if len(seen) == count:
            return seen
    raise SystemExit(f"the sandbox master has only {len(seen)} NSE equities")


def _order(symbol: str, action: str, **extra) -> dict:
    return {"symbol": symbol, "exchange": "NSE", "action": action, "quantity": 1, "pricetype": "MARKET",
            "product": "MIS", **extra}


def _timed(work) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def _floor(n: int) -> float:
    """Seconds of pacing the documented 30/s forces on n requests sent at once."""
    return max(0, math.ceil(n / ORDER_RATE) - 1)


def _sequential(n: int, round_trip: float) -> float:
    """One request after another: n round trips, and never faster than the limit."""
    return max(n * round_trip, _floor(n))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every sandbox answer")
    args = parser.parse_args()
    n = args.positions

    server, token = _setup(args.latency)
    from broker.mstock.api import order_api
    from broker.mstock.mapping import order_data

    try:
        symbols = _equities(n)

        # 1. basket: 10 legs from 10 threads
        results: list = []
        go = threading.Barrier(10)

        def leg(symbol: str) -> None:
            go.wait()
            results.append(order_api.place_order_api(_order(symbol, "BUY"), token))

        threads = [threading.Thread(target=leg, args=(s,)) for s in symbols[:10]]
        basket_seconds, _ = _timed(lambda: ([t.start() for t in threads], [t.join() for t in threads]))
        assert [r[0].status for r in results] == [200] * 10, results
        print(f"basket, 10 legs from 10 threads: {basket_seconds * 1000:.0f} ms "
              f"({len({r[2] for r in results})} distinct orders)")

        # 2. open the other positions one by one; their mean round trip is the sequential baseline
        # (setup, not measured: paced well below the limit so that no setup order is refused)
        setup = symbols[10:]
        started = time.perf_counter()
        for symbol in setup:
            order_api.place_order_api(_order(symbol, "BUY"), token)
            time.sleep(0.05)
        single = (time.perf_counter() - started) / len(setup) - 0.05

        # 3. close-all of the n positions
        time.sleep(2)  # let the per-second order window drain before measuring
        close_seconds, (body, status) = _timed(lambda: order_api.close_all_positions("bench", token))
        closed = len(body.get("orders", []))
        assert status == 200, body
        print(f"close_all_positions, {closed} positions: {close_seconds:.2f} s "
              f"(rate-limit floor {_floor(closed):.2f} s; {closed} sequential round trips ~{_sequential(closed, single):.2f} s)")

        # 4. cancel-all of n open orders (LTP pinned to the previous close, buy limits 3 % under it)
        time.sleep(2)
        for symbol in symbols:
            market, token_ = server.state.market, host_token(symbol)
            close = market.snapshot(token_, "NSE").close
            market.set_ltp(token_, close, "NSE")
            price = round(close * 0.97 / 0.05) * 0.05
            order_api.place_order_api(_order(symbol, "BUY", pricetype="LIMIT", price=round(price, 2)), token)
            time.sleep(0.05)
        time.sleep(2)
        cancel_seconds, (cancelled, failed) = _timed(lambda: order_api.cancel_all_orders_api({}, token))
        print(f"cancel_all_orders_api, {len(cancelled)} orders ({len(failed)} failed): {cancel_seconds:.2f} s "
              f"(rate-limit floor {_floor(len(cancelled)):.2f} s; sequential ~{_sequential(len(cancelled), single):.2f} s)")
        stats = order_data.calculate_order_statistics(order_data.map_order_data(order_data=order_api.get_order_book(token)))
        print(f"order book afterwards: {stats}")
    finally:
        server.stop()
    return 0


def host_token(symbol: str) -> str:
    from broker.mstock import host

    token = host.symbols().get_token(symbol, "NSE")
    assert token is not None, symbol
    return token


if __name__ == "__main__":
    raise SystemExit(main())
