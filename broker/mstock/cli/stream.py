"""CLI: ``stream SYMBOL:EXCHANGE ... [--mode ltp|quote|depth]`` prints live ticks (spec 11).

It runs the same :class:`MstockWebSocketAdapter` OpenAlgo runs, outside OpenAlgo, with
the saved CLI session (``mstock-openalgo login``) as its token provider and the symbols
of ``mstock-openalgo contract download``. Ctrl-C stops it; ``--count``/``--seconds``
stop it on their own.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TextIO

from ..clock import IST
from ..errors import ValidationError
from ..streaming.protocol import MODE_BY_NAME
from .common import auth, lookup
from .instruments import parse_instrument_list

_WAIT_STEP = 0.25  # seconds; keeps Ctrl-C responsive while waiting


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stream", help="print live ticks from the mStock feed: SYMBOL:EXCHANGE ...")
    p.add_argument("instruments", nargs="+", metavar="SYMBOL:EXCHANGE", help="e.g. SBIN:NSE NIFTY:NSE_INDEX")
    p.add_argument("--mode", choices=("ltp", "quote", "depth"), default="quote")
    p.add_argument("--count", type=_limit(int), default=0, help="stop after this many ticks (default 0: no limit)")
    p.add_argument("--seconds", type=_limit(float), default=0.0, help="stop after this many seconds (default 0: no limit)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print each payload as one JSON line")
    p.set_defaults(func=run)


def _limit(kind: type) -> Callable[[str], Any]:
    """``--count``/``--seconds``: a number, 0 for no limit, never negative."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
        if not value >= 0:
            raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, not {text}")
        return value

    return parse


def parse_instruments(items: Sequence[str], lookup: Any = None) -> list[tuple[str, str]]:
    """``["SBIN:NSE", "nse_index:nifty", "RELIANCE", "NSE"]`` -> ``[("SBIN", "NSE"), ("NIFTY", "NSE_INDEX"), ("RELIANCE", "NSE")]``."""
    return [(item["symbol"], item["exchange"]) for item in parse_instrument_list(items, lookup)]


def format_tick(data: dict[str, Any]) -> str:
    """One line per tick (plus five depth lines in depth mode)."""
    stamp = datetime.fromtimestamp(data["timestamp"] / 1000, IST).strftime("%H:%M:%S")
    line = f"{stamp}  {data['exchange']}:{data['symbol']}  {data['ltp']:,.2f}"
    if data["mode"] >= 2:
        line += (
            f"  {data['change']:+,.2f} ({data['change_percent']:+.2f}%)"
            f"  O {data['open']:,.2f} H {data['high']:,.2f} L {data['low']:,.2f} C {data['close']:,.2f}"
            f"  V {data['volume']:,}"
        )
    if data["mode"] == 3:
        line += f"  OI {data['oi']:,}"
        rows = zip(data["depth"]["buy"], data["depth"]["sell"])
        for bid, ask in rows:
            line += (
                f"\n      {bid['orders']:>5} {bid['quantity']:>10,} {bid['price']:>12,.2f}"
                f" | {ask['price']:<12,.2f} {ask['quantity']:<10,} {ask['orders']}"
            )
    return line


def run(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    adapter_factory: Callable[[], Any] | None = None,
) -> int:
    from ..streaming.mstock_adapter import MstockWebSocketAdapter

    out = out or sys.stdout
    err = err or sys.stderr
    instruments = parse_instruments(args.instruments, lookup())
    as_json = bool(getattr(args, "json", False))
    mode = MODE_BY_NAME[args.mode]
    auth()  # fail now, with the login hint, rather than inside the feed thread

    done = threading.Event()
    failure: list[str] = []
    seen = 0
    lock = threading.Lock()

    def on_data(topic: str, data: dict[str, Any]) -> None:
        nonlocal seen
        with lock:
            if done.is_set():
                return
            out.write((json.dumps(data) if as_json else format_tick(data)) + "\n")
            out.flush()
            seen += 1
            if (args.count and seen >= args.count) or getattr(out, "reader_gone", False):
                done.set()  # enough ticks, or nobody reads them any more (`| head`)

    def on_state(state: str, reason: str) -> None:
        if state == "stood_down":
            failure.append(reason)
            done.set()
        elif state == "reconnecting":
            err.write(f"feed: {reason}\n")

    adapter = (adapter_factory or MstockWebSocketAdapter)()
    adapter.market_data_callback = on_data
    adapter.on_feed_state = on_state
    result = adapter.initialize("mstock", "cli", token_provider=auth)
    if result.get("status") != "success":
        err.write(f"error: {result.get('message')}\n")
        return 1
    try:
        subscribed, refused = 0, []
        for symbol, exchange in instruments:
            reply = adapter.subscribe(symbol, exchange, mode, 5)
            if reply.get("status") == "success":
                subscribed += 1
            else:
                refused.append(f"{exchange}:{symbol}: {reply.get('message')}")
        if not subscribed:
            raise ValidationError("nothing to stream: " + "; ".join(refused))
        for line in refused:
            err.write(line + "\n")
        adapter.connect()
        _wait(done, args.seconds)
    finally:
        adapter.disconnect()
    if failure:
        err.write(f"error: {failure[0]}\n")
        return 1
    return 0


def _wait(done: threading.Event, seconds: float) -> None:
    if seconds > 0:
        deadline = time.monotonic() + seconds
        while not done.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            done.wait(min(_WAIT_STEP, left))
        return
    while not done.wait(_WAIT_STEP):
        pass
