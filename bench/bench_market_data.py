"""Market-data benchmark against the embedded sandbox on loopback (issue 6).

Prints:

* multi-quotes for N symbols (default 200, option-chain-like): quote calls made against
  the minimum the per-call token cap allows, and wall time per multi-quote;
* one year of 1-minute history for one instrument: Data-API requests made against the
  minimum the 1000-bar limit allows (whole-day chunks, and the absolute floor if a chunk
  could end mid-session), elapsed seconds, the pacing floor ((requests - 1) x 1 s at the
  documented 1 request/s), and the seconds per request beyond that floor.

The REAL shared rate limiter is installed (documented limits, spec 2.1), so the pacing is
honest. The sandbox runs Mon-Fri sessions only (``always_open=False``), like NSE.

    /work/venv/bin/python bench/bench_market_data.py [--symbols 200] [--days 365] [--repeat 5]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _environment(server, workdir: Path) -> None:
    os.environ.update(server.env())
    os.environ.update(
        {
            "MSTOCK_HOST": "standalone",
            "DATABASE_URL": f"sqlite:///{workdir / 'symbols.db'}",
            "MSTOCK_SESSION_FILE": str(workdir / "session.json"),
        }
    )


class RequestCounter:
    """Counts HTTP requests per path (retries included) via requests' response hook."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, response, *args, **kwargs):
        self.counts[response.request.path_url.rsplit("/", 1)[-1]] += 1
        return response

    def take(self) -> Counter[str]:
        counts, self.counts = self.counts, Counter()
        return counts


def pick_symbols(lookup, count: int) -> list[dict[str, str]]:
    """An option-chain-like set: mostly NIFTY contracts, plus the underlying and other segments,
    so one multi-quote mixes several ``exchangeTokens`` keys."""
    picked: dict[tuple[str, str], None] = {("NIFTY", "NSE_INDEX"): None, ("SENSEX", "BSE_INDEX"): None}
    shares = (("NIFTY", "NFO", 0.7), ("SENSEX", "BFO", 0.1), ("USDINR", "CDS", 0.05), ("A", "NSE", 0.1), ("A", "BSE", 0.05))
    for query, exchange, share in shares:
        wanted = len(picked) + max(1, int(count * share))
        for record in lookup.search(query, exchange, limit=count * 2):
            if len(picked) >= min(wanted, count):
                break
            picked.setdefault((record.symbol, record.exchange), None)
    for record in lookup.search("A", "NSE", limit=count * 4):  # top up if a segment was short
        if len(picked) >= count:
            break
        picked.setdefault((record.symbol, record.exchange), None)
    return [{"symbol": s, "exchange": e} for s, e in picked][:count]


def bench_quotes(data, counter: RequestCounter, lookup, count: int, repeat: int) -> None:
    from broker.mstock.market.quotes import MAX_TOKENS_PER_QUOTE_CALL

    symbols = pick_symbols(lookup, count)
    by_exchange = Counter(s["exchange"] for s in symbols)
    timings, calls = [], []
    for _ in range(repeat):
        counter.take()
        started = time.perf_counter()
        results = data.get_multiquotes(symbols)
        timings.append(time.perf_counter() - started)
        calls.append(sum(counter.take().values()))
    ok = sum(1 for r in results if "data" in r)
    print(f"multi-quotes: {len(symbols)} symbols ({', '.join(f'{e} {n}' for e, n in sorted(by_exchange.items()))})")
    print(f"  quote calls per multi-quote: {calls[0]} (minimum at {MAX_TOKENS_PER_QUOTE_CALL} instruments/call: "
          f"{math.ceil(len(symbols) / MAX_TOKENS_PER_QUOTE_CALL)})")
    print(f"  quotes returned: {ok}/{len(symbols)}")
    print(f"  wall time: median {statistics.median(timings) * 1000:.1f} ms, best {min(timings) * 1000:.1f} ms "
          f"over {repeat} runs")


def bench_history(data, counter: RequestCounter, days: int) -> None:
    from broker.mstock.market.history import plan_history, today_ist
    from broker.mstock.market.intervals import HISTORY_BAR_LIMIT, INTERVALS, bars_per_session

    end = today_ist() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    counter.take()
    started = time.perf_counter()
    frame = data.get_history("SBIN", "NSE", "1m", start.isoformat(), end.isoformat())
    elapsed = time.perf_counter() - started
    requests = sum(counter.take().values())
    weekdays = sum(1 for i in range(days) if (start + timedelta(days=i)).weekday() < 5)
    per_day = bars_per_session(INTERVALS["1m"], "NSE")
    absolute_minimum = math.ceil(weekdays * per_day / HISTORY_BAR_LIMIT)
    floor = max(0, requests - 1) * 1.0
    print(f"history: SBIN NSE 1m {start}..{end} ({weekdays} weekday sessions, {len(frame)} bars)")
    planned = len(plan_history(start, end, INTERVALS["1m"], "NSE"))
    print(f"  Data-API requests: {requests} (planned {planned}; minimum at {HISTORY_BAR_LIMIT} bars/request "
          f"{absolute_minimum})")
    print(f"  elapsed: {elapsed:.2f} s; pacing floor at 1 request/s: {floor:.2f} s; "
          f"beyond the floor: {elapsed - floor:.2f} s = {(elapsed - floor) / max(requests, 1) * 1000:.1f} ms per request")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--master-size", type=int, default=4000)
    args = parser.parse_args(argv)

    from broker.mstock import host
    from broker.mstock.account.session import current_auth_token, login_headless
    from broker.mstock.api.data import BrokerData
    from broker.mstock.database.master_contract_db import master_contract_download
    from broker.mstock.transport import ratelimit
    from broker.mstock.transport.client import get_client
    from mstock_sandbox import SandboxConfig, SandboxServer

    with tempfile.TemporaryDirectory(prefix="mstock-bench-") as workdir:
        server = SandboxServer(SandboxConfig(port=0, master_size=args.master_size, always_open=False)).start()
        try:
            _environment(server, Path(workdir))
            ratelimit.set_default_limiter(ratelimit.RateLimiter())  # the documented limits, fresh windows
            login_headless(force=True)
            master_contract_download()
            token = current_auth_token()
            counter = RequestCounter()
            get_client(token)._session.hooks["response"].append(counter)
            data = BrokerData(token)
            print(f"sandbox {server.base_url}; master {host.symbols().count()} symbols")
            bench_quotes(data, counter, host.symbols(), args.symbols, args.repeat)
            bench_history(data, counter, args.days)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
