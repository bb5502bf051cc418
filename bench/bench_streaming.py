"""Streaming benchmarks: parser throughput and end-to-end tick latency (spec 11).

Run: ``/work/venv/bin/python bench/bench_streaming.py [--seconds 1.0] [--latency-rounds 300]``

1. Parser throughput on one core for bare 51/123/379-byte packets and for
   header-prefixed frames of many packets (target: >= 300,000 quote packets/s), plus
   parse + OpenAlgo payload building for quote packets.
2. End-to-end latency: the sandbox feed server publishes a new price, the
   ``MstockWebSocketAdapter`` (standalone, over loopback) parses it and calls its
   publish hook; measured from just before the server sends to the hook call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broker.mstock.streaming.feed import FeedOptions
from broker.mstock.streaming.parser import FeedParser
from broker.mstock.streaming.payload import build_payload

IST = timezone(timedelta(hours=5, minutes=30))


def _packet(mode: int, token: str) -> bytes:
    head = struct.pack("<BB25sqqq", mode, 1, token.encode().ljust(25, b"\0"), 1, 1_472_000_000, 81235)
    if mode == 1:
        return head
    quote = head + struct.pack("<qqqddqqqq", 15, 81045, 1234567, 150000.0, 175000.0, 80000, 82050, 79525, 80500)
    if mode == 2:
        return quote
    depth = b"".join(struct.pack("<hqqh", 1 if i < 5 else 0, 100 + i, 81230 + i * 5, 3) for i in range(10))
    return quote + struct.pack("<qqd", 1_472_000_000, 1_250_000, -2.75) + depth + struct.pack("<qqqq", 88550, 72450, 91200, 60010)


def _framed(mode: int, count: int) -> bytes:
    packets = [_packet(mode, str(10_000 + i)) for i in range(count)]
    return struct.pack("<HH", count, len(packets[0])) + b"".join(packets)


def _rate(label: str, frame: bytes, packets_per_frame: int, seconds: float, work=None) -> float:
    parser = FeedParser()
    parse = parser.parse
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            ticks = parse(frame)
            if work is not None:
                work(ticks)
        done += 200
    elapsed = time.perf_counter() - start
    rate = done * packets_per_frame / elapsed
    print(f"  {label:<44} {rate:>12,.0f} packets/s")
    return rate


def bench_parser(seconds: float) -> None:
    print("parser throughput (one core):")
    _rate("bare LTP packet (51 B)", _packet(1, "3045"), 1, seconds)
    quote = _rate("bare Quote packet (123 B)", _packet(2, "3045"), 1, seconds)
    _rate("bare Snap Quote packet (379 B)", _packet(3, "3045"), 1, seconds)
    _rate("header frame, 1 Quote (127 B)", _framed(2, 1), 1, seconds)
    _rate("header frame, 50 LTP", _framed(1, 50), 50, seconds)
    batched = _rate("header frame, 50 Quote", _framed(2, 50), 50, seconds)
    _rate("header frame, 20 Snap Quote", _framed(3, 20), 20, seconds)

    def to_payloads(ticks):
        for tick in ticks:
            build_payload(tick, "SBIN", "NSE", 2)

    _rate("header frame, 50 Quote + OpenAlgo payloads", _framed(2, 50), 50, seconds, to_payloads)
    target = 300_000
    verdict = "meets" if min(quote, batched) >= target else "MISSES"
    print(f"  -> quote packets: {min(quote, batched):,.0f}/s {verdict} the {target:,}/s target")


# ------------------------------------------------------------------ end to end


@dataclass
class _Snap:
    token: str
    exchange_type: int = 1
    ltp: float = 812.35
    open: float = 800.0
    high: float = 820.5
    low: float = 795.25
    close: float = 805.0
    volume: int = 1000
    last_qty: int = 1
    avg_price: float = 810.0
    total_buy_qty: float = 1000.0
    total_sell_qty: float = 1000.0
    oi: int = 0
    oi_change_pct: float = 0.0
    upper_circuit: float = 880.0
    lower_circuit: float = 720.0
    high_52w: float = 900.0
    low_52w: float = 600.0
    exchange_time: datetime = field(default_factory=lambda: datetime.now(IST))
    last_trade_time: datetime = field(default_factory=lambda: datetime.now(IST))
    bids: list = field(default_factory=lambda: [(812.3, 10, 1)] * 5)
    asks: list = field(default_factory=lambda: [(812.4, 10, 1)] * 5)


class _Market:
    def __init__(self, tokens: list[str]) -> None:
        self.lock = threading.Lock()
        self.snaps = {t: _Snap(t) for t in tokens}

    def snapshot(self, token: str, exchange=None):
        with self.lock:
            snap = self.snaps.get(token)
            return None if snap is None else replace(snap)

    def set_all(self, price: float) -> None:
        with self.lock:
            for snap in self.snaps.values():
                snap.ltp = price


class _Symbols:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = {f"SYM{t}": t for t in tokens}

    def get_token(self, symbol: str, exchange: str):
        return self.tokens.get(symbol)


class _BenchFeed:
    """A feed to measure against: ``server`` (a FeedServer), tokens, a price setter, credentials."""

    def __init__(self, fanout: int, real_sandbox: bool) -> None:
        from mstock_sandbox.feed import FeedServer

        self.sandbox = None
        if real_sandbox:
            from mstock_sandbox import SandboxConfig, SandboxServer

            self.sandbox = SandboxServer(SandboxConfig(port=0), feed_options={"publish_interval": None}).start()
            market = self.sandbox.state.market
            self.tokens = self._equities(fanout)
            self.server = self.sandbox.feed
            self.access_token = self.sandbox.issue_session().access_token
            self.api_key = self.sandbox.account.api_key
            self.set_price = lambda token, price: market.set_ltp(token, price, "NSE")
        else:
            self.tokens = [str(20_000 + i) for i in range(fanout)]
            market = _Market(self.tokens)
            self.server = FeedServer(market, publish_interval=None).start()
            self.access_token, self.api_key = "bench-token", "bench-api-key"
            self.set_price = lambda token, price: market.set_all(price)

    def _equities(self, count: int) -> list[str]:
        rows = self.sandbox.state.rows  # the sandbox's instrument master (spec 8.4 rows)
        return [r["token"] for r in rows if r["exch_seg"] == "NSE" and r["instrumenttype"] == "EQ"][:count]

    def stop(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
        else:
            self.server.stop()


def bench_latency(rounds: int, fanout: int, mode: int, real_sandbox: bool) -> None:
    from broker.mstock import host
    from broker.mstock.streaming.mstock_adapter import MstockWebSocketAdapter

    feed = _BenchFeed(fanout, real_sandbox)
    os.environ["BROKER_API_SECRET"] = feed.api_key
    os.environ["MSTOCK_HOST"] = "standalone"
    fanout = len(feed.tokens)
    if not fanout:
        print("  (no instruments to subscribe)")
        feed.stop()
        return
    host.symbols = lambda: _Symbols(feed.tokens)  # type: ignore[assignment]
    latencies: list[float] = []
    arrived = threading.Event()
    state = {"price": 0.0, "sent": 0.0, "seen": 0}

    def on_data(topic: str, data: dict) -> None:
        if data["ltp"] == state["price"]:
            state["seen"] += 1
            if state["seen"] == fanout:
                latencies.append(time.perf_counter() - state["sent"])
                arrived.set()

    adapter = MstockWebSocketAdapter()
    adapter.feed_url = feed.server.url
    adapter.feed_options = FeedOptions(batch_window=0.005)
    adapter.market_data_callback = on_data
    adapter.initialize("mstock", "bench", token_provider=lambda: feed.access_token)
    for token in feed.tokens:
        adapter.subscribe(f"SYM{token}", "NSE", mode)
    adapter.connect()
    deadline = time.monotonic() + 5
    while len(feed.server.subscriptions()) < fanout and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        for n in range(rounds):
            price = round(1000.0 + (n % 400) * 0.05 + (0.0 if n % 2 else 500.0), 2)  # on the 0.05 tick, always new
            for token in feed.tokens:
                feed.set_price(token, price)
            arrived.clear()
            state.update(price=price, seen=0, sent=time.perf_counter())
            feed.server.publish_now()
            if not arrived.wait(2):
                print(f"  round {n}: tick lost")
    finally:
        adapter.disconnect()
        feed.stop()
    if not latencies:
        return
    ms = sorted(x * 1000 for x in latencies)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    label = {1: "LTP", 2: "Quote", 3: "Snap Quote"}[mode]
    where = "sandbox market" if real_sandbox else "bench market"
    print(
        f"  {where:<14} {fanout:>4} token(s), {label:<10} p50 {statistics.median(ms):6.2f} ms  p90 {pick(0.9):6.2f} ms"
        f"  p99 {pick(0.99):6.2f} ms  max {ms[-1]:6.2f} ms  ({len(ms)} rounds)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per parser measurement")
    parser.add_argument("--latency-rounds", type=int, default=300)
    parser.add_argument("--no-sandbox", action="store_true", help="skip the runs against the full embedded sandbox")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, pid {os.getpid()}")
    bench_parser(args.seconds)
    print("end-to-end latency (sandbox feed -> adapter publish hook, loopback; every instrument of a round delivered):")
    bench_latency(args.latency_rounds, 1, 2, real_sandbox=False)
    bench_latency(args.latency_rounds, 1, 3, real_sandbox=False)
    bench_latency(max(20, args.latency_rounds // 5), 100, 2, real_sandbox=False)
    if not args.no_sandbox:
        bench_latency(args.latency_rounds, 1, 2, real_sandbox=True)
        bench_latency(args.latency_rounds, 1, 3, real_sandbox=True)
        bench_latency(max(20, args.latency_rounds // 5), 100, 2, real_sandbox=True)


if __name__ == "__main__":
    main()
