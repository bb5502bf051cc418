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

    <python> bench/bench_market_data.py [--symbols 200] [--days 365] [--repeat 5] [--standalone]

Hosted (when the pinned OpenAlgo can run under this Python, see ``openalgo_host``), the
multi-quote is also measured inside OpenAlgo, through its own
``services.quotes_service.get_multiquotes_with_auth``, for this plugin and for the upstream
plugin shipped with OpenAlgo, on the same sandbox and the same ``symtoken`` rows and cache:
wall time of the service call and of the plugin's ``get_multiquotes`` alone (alternating
child processes, ranges over ``--rounds``), and symbol lookups made by the plugin per
symbol (calls into OpenAlgo's symbol cache, minus the service's own validation). The
upstream plugin's fixed ``https://api.mstock.trade`` URLs are redirected to the sandbox by
the benchmark's transport; both plugins ask OpenAlgo's symbol cache, not the database.
"""

from __future__ import annotations

import argparse
import json
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


# ----------------------------------------------------------------------------- hosted multi-quote

# Exchanges both plugins quote the same way on the sandbox (upstream sends CDS/BCD/MCX keys the
# master does not use, which would turn its currency rows into errors and skew the comparison).
_COMPARABLE = ("NSE_INDEX", "BSE_INDEX", "NSE", "BSE", "NFO", "BFO")
# records.SYMTOKEN_COLUMNS, spelt out: the upstream child cannot import this checkout's package.
_SYMTOKEN_COLUMNS = ("symbol", "brsymbol", "name", "exchange", "brexchange", "token", "expiry", "strike", "lotsize",
                     "instrumenttype", "tick_size")


def pick_from_rows(rows: list[list], count: int) -> list[dict[str, str]]:
    """An option-chain-like set from symtoken rows: index spots, NIFTY and SENSEX options, equities."""
    by = {e: [r for r in rows if r[3] == e] for e in _COMPARABLE}
    picked: list[tuple[str, str]] = []
    picked += [(r[0], r[3]) for r in by["NSE_INDEX"] + by["BSE_INDEX"] if r[0] in ("NIFTY", "SENSEX")]
    nfo = sorted((r for r in by["NFO"] if r[0].startswith("NIFTY") and r[9] in ("CE", "PE")), key=lambda r: r[0])
    bfo = sorted((r for r in by["BFO"] if r[0].startswith("SENSEX") and r[9] in ("CE", "PE")), key=lambda r: r[0])
    picked += [(r[0], "NFO") for r in nfo[: int(count * 0.7)]]
    picked += [(r[0], "BFO") for r in bfo[: int(count * 0.1)]]
    picked += [(r[0], "NSE") for r in sorted(by["NSE"], key=lambda r: r[0])[: int(count * 0.1)]]
    picked += [(r[0], "BSE") for r in sorted(by["BSE"], key=lambda r: r[0])[: count - len(picked)]]
    return [{"symbol": s, "exchange": e} for s, e in picked[:count]]


def _redirect_openalgo_httpx(base_url: str) -> None:
    """Send OpenAlgo's shared httpx client (the upstream plugin's transport) to the sandbox."""
    from urllib.parse import urlsplit

    import httpx
    from utils.httpx_client import get_httpx_client

    target = urlsplit(base_url)
    client = get_httpx_client()
    inner = client._transport  # noqa: SLF001 - benchmark plumbing only

    class ToSandbox(httpx.BaseTransport):
        def handle_request(self, request):
            if request.url.host == "api.mstock.trade":
                request.url = request.url.copy_with(scheme=target.scheme, host=target.hostname, port=target.port)
            return inner.handle_request(request)

    client._transport = ToSandbox()  # noqa: SLF001


def hosted_quotes_child(plugin: str, rows_file: str, symbols_file: str, repeat: int) -> dict:
    import openalgo_host

    openalgo_host.enter_tree()
    os.environ["MSTOCK_HOST"] = "openalgo"
    import database.symbol as symbol_db
    import database.token_db_enhanced as token_db
    from services import quotes_service


    symbol_db.init_db()
    rows = [tuple(r) for r in json.loads(Path(rows_file).read_text())]
    symbols = json.loads(Path(symbols_file).read_text())
    with symbol_db.engine.begin() as connection:
        connection.exec_driver_sql(
            f"INSERT INTO symtoken ({', '.join(_SYMTOKEN_COLUMNS)}) VALUES ({', '.join('?' * len(_SYMTOKEN_COLUMNS))})",
            rows)
    assert token_db.load_cache_for_broker("mstock")
    _redirect_openalgo_httpx(os.environ["MSTOCK_BASE_URL"])
    token, feed = os.environ["BENCH_ACCESS_TOKEN"], os.environ["BENCH_FEED_TOKEN"] or None

    calls: Counter[str] = Counter()
    cache_cls = token_db.BrokerSymbolCache
    for name in ("get_token", "get_symbol", "get_br_symbol", "get_oa_symbol", "get_brexchange", "get_symbol_info",
                 "get_symbol_data", "get_tokens_bulk", "get_symbols_bulk"):
        def counted(self, *args, _name=name, _fn=getattr(cache_cls, name), **kwargs):
            calls[_name] += 1
            return _fn(self, *args, **kwargs)
        setattr(cache_cls, name, counted)
    for name in ("get_token_dbquery", "get_symbol_dbquery", "get_br_symbol_dbquery", "get_symbol_info_dbquery"):
        def counted_db(*args, _name=name, _fn=getattr(token_db, name), **kwargs):
            calls[_name] += 1
            return _fn(*args, **kwargs)
        setattr(token_db, name, counted_db)

    module = quotes_service.import_broker_module("mstock")
    handler = module.BrokerData(token)
    handler.get_multiquotes(symbols)  # warm: imports, connection, learnt quote mode
    quotes_service.get_multiquotes_with_auth(token, feed, "mstock", symbols)

    calls.clear()
    quotes_service.validate_symbols_bulk(symbols)
    validation = sum(calls.values())
    calls.clear()
    ok, body, status = quotes_service.get_multiquotes_with_auth(token, feed, "mstock", symbols)
    lookups = dict(calls)
    returned = sum(1 for r in body.get("results", []) if r.get("data"))

    cpu: dict[str, list[float]] = {}

    def timed(fn, mode: str | None = None) -> float:
        time.sleep(0.06)  # stay under the documented 20 quote calls/s, for both plugins
        started, started_cpu = time.perf_counter(), time.thread_time()
        result = fn()
        seconds = time.perf_counter() - started
        if mode is not None:
            cpu.setdefault(mode, []).append(time.thread_time() - started_cpu)
        quotes = result[1].get("results", []) if isinstance(result, tuple) else result
        assert sum(1 for r in quotes if r.get("data")) == returned, quotes[:3]
        return seconds

    # Ours asks mode FULL (bid/ask, volume and OI, which OpenAlgo's option chain shows); the
    # upstream plugin asks OHLC. "ohlc" runs ours in upstream's mode for a like-for-like figure.
    modes = ["default", "ohlc"] if plugin == "ours" else ["default"]
    service: dict[str, list[float]] = {m: [] for m in modes}
    plugin_only: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(repeat):
        for mode in modes:
            if plugin == "ours":
                from broker.mstock.market import quotes

                quotes.capabilities.mode = quotes.OHLC if mode == "ohlc" else quotes.FULL
            service[mode].append(timed(lambda: quotes_service.get_multiquotes_with_auth(token, feed, "mstock", symbols)))
            plugin_only[mode].append(timed(lambda: module.BrokerData(token).get_multiquotes(symbols), mode))
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        profile = cProfile.Profile(time.thread_time)
        for _ in range(10):
            time.sleep(0.06)
            profile.enable()
            module.BrokerData(token).get_multiquotes(symbols)
            profile.disable()
        pstats.Stats(profile, stream=sys.stderr).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime")).print_stats(45)
    return {"status": status, "returned": returned, "validation_lookups": validation,
            "lookups": lookups, "service": service, "plugin": plugin_only, "cpu": cpu}


def run_hosted_quotes(server, token: str, feed: str | None, count: int, repeat: int, rounds: int) -> None:
    import openalgo_host
    from broker.mstock.database import master_contract_db as mc

    rows: list[tuple] = []
    mc.process_master(mc.download_master(token), store=lambda r: (rows.extend(r), len(r))[1])
    symbols = pick_from_rows([list(r) for r in rows], count)
    with tempfile.TemporaryDirectory(prefix="mstock-bench-quotes-") as workdir:
        rows_file, symbols_file = Path(workdir) / "rows.json", Path(workdir) / "symbols.json"
        rows_file.write_text(json.dumps([list(r) for r in rows]))
        symbols_file.write_text(json.dumps(symbols))
        env = {**server.env(), "BENCH_ACCESS_TOKEN": token, "BENCH_FEED_TOKEN": feed or ""}
        results: dict[str, list[dict]] = {"ours": [], "upstream": []}
        for _ in range(rounds):
            for plugin in ("ours", "upstream"):
                results[plugin].append(openalgo_host.run_child(
                    Path(__file__).resolve(),
                    ["--hosted-quotes", plugin, str(rows_file), str(symbols_file), "--repeat", str(repeat)],
                    plugin=plugin, extra_env=env))
    by_exchange = Counter(s["exchange"] for s in symbols)
    print(f"hosted multi-quote, {len(symbols)} symbols ({', '.join(f'{e} {n}' for e, n in sorted(by_exchange.items()))}), "
          f"{len(rows):,} symtoken rows, OpenAlgo's symbol cache loaded; {rounds} rounds x {repeat} calls; "
          "medians per round")
    medians: dict[str, list[float]] = {}
    cpu_medians: dict[str, list[float]] = {}
    for plugin, outs in results.items():
        first = outs[0]
        plugin_lookups = sum(first["lookups"].values()) - first["validation_lookups"]
        print(f"  {plugin:<8} quotes {first['returned']}/{len(symbols)}; plugin lookups {plugin_lookups} "
              f"({plugin_lookups / len(symbols):.2f} per symbol: {first['lookups']}, minus the service's "
              f"{first['validation_lookups']})")
        for mode in first["service"]:
            label = {"default": "FULL" if plugin == "ours" else "OHLC", "ohlc": "OHLC"}[mode]
            service = [statistics.median(o["service"][mode]) for o in outs]
            own = [statistics.median(o["plugin"][mode]) for o in outs]
            cpu = [statistics.median(o["cpu"][mode]) for o in outs]
            medians[f"{plugin}-{label}"] = service
            cpu_medians[f"{plugin}-{label}"] = cpu
            print(f"    mode {label}: service call {_ms(service)} ms; plugin's get_multiquotes alone {_ms(own)} ms, "
                  f"of which CPU in the calling thread {_ms(cpu)} ms")
    for ours in ("ours-OHLC", "ours-FULL"):
        ratios = [o / u for o, u in zip(medians[ours], medians["upstream-OHLC"])]
        cpu_ratios = [o / u for o, u in zip(cpu_medians[ours], cpu_medians["upstream-OHLC"])]
        print(f"  {ours} / upstream-OHLC: service call {', '.join(f'{r:.2f}' for r in ratios)}; plugin CPU "
              f"{', '.join(f'{r:.2f}' for r in cpu_ratios)}")


def _ms(values: list[float]) -> str:
    low, high = min(values) * 1000, max(values) * 1000
    return f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--master-size", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=2, help="hosted: alternating child processes per plugin")
    parser.add_argument("--standalone", action="store_true", help="skip the hosted comparison")
    parser.add_argument("--hosted-quotes", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.hosted_quotes:
        print(json.dumps(hosted_quotes_child(*args.hosted_quotes, args.repeat)))
        return 0
    import openalgo_host

    hosted, why = openalgo_host.hosted_status()

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
            if hosted and not args.standalone:
                server.set_rate_limits(False)  # the upstream plugin does not pace itself
                run_hosted_quotes(server, token, None, args.symbols, max(args.repeat, 20), args.rounds)
            else:
                print(f"(no hosted comparison: {'--standalone' if hosted else why})")
            server.set_rate_limits(True)
            bench_history(data, counter, args.days)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
