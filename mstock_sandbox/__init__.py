"""The embedded mStock Type B sandbox: a local, stateful stand-in for ``api.mstock.trade``.

It behaves like mStock as ``mstock-typeb-api.md`` describes it, quirks included (mixed
envelope styles, list-wrapped place responses, leading spaces in modified order ids,
ProblemDetails, RMS and exchange rejections, rate limits, order and trade frames on the
feed), so the client is proven against them. It is the demo's default broker and the
real server of the end-to-end tests, which reach it over loopback::

    server = SandboxServer(SandboxConfig(port=0)).start()
    server.base_url      # "http://127.0.0.1:<port>"  -> MSTOCK_BASE_URL
    server.ws_url        # "ws://127.0.0.1:<port2>"   -> MSTOCK_WS_URL (None without the feed)
    server.state         # market, OMS, portfolio, sessions
    server.faults.inject("orders.place", "drop_response")
    server.session_log() # what happened, one readable line per request
    server.stop()

``mstock-openalgo sandbox`` / ``python -m mstock_sandbox`` run it from the command line.

Every point the documentation leaves open is a :class:`SandboxConfig` knob whose default
is what the plugin assumes (quote cap and FULL layout, history bar limit and hourly
labels, feed framing, currency divisor, epoch zone, depth flags, ordertag echo,
rate-limit answer, index tokens, sockets per token...), so a test can run the sandbox
with exactly one assumption changed.

Read-only introspection (copies taken under the state lock; for ``verify`` and tests)::

    server.state.orders()          # [OrderView]: id, master symbol, side, type, product,
                                   #   quantity/filled/cancelled/pending, prices, status, text, tag
    server.state.order(orderid)    # one OrderView, or None
    server.state.trades()          # [TradeView]: every fill, oldest first
    server.state.positions()       # [PositionView]: per (instrument, product)
    server.state.holdings()        # [HoldingView]
    server.state.funds()           # {"available", "used", "unrealised"}
    server.state.ltp("3045", "NSE")    # last traded price (exchange: master name or feed type)
    server.state.quote("3045", "NSE")  # a MarketSnapshot copy (OHLC, depth, circuits, times)
    server.feed.last_published("3045", 1)  # SentTick: what the feed last sent for a token

Levers (deterministic state changes; each is announced on the feed like a real one)::

    server.state.market.set_ltp("3045", 801.5, "NSE")  # trade there: resting orders react
    server.fill(orderid)                     # fill an open order at its limit (or the LTP)
    server.fill(orderid, quantity=4)         # a partial fill
    server.trigger(orderid)                  # trigger a stop order whatever the LTP
    server.reject_orders("rms", symbol="SBIN-EQ", quantity=13)      # RMS: place answers
                                             #   status "false" with the RMS comma list
    server.reject_orders("exchange", ordertag="x1", times=1)      # place succeeds, the
                                             #   book shows Rejected with an EXCH: reason
    server.expire_sessions()                 # every session ends, as at midnight

Clock hooks for exact timing tests: every simulated delay (connection handshake, arrival
jitter, latency) goes through ``server.dispatcher.sleep``, and the rate limiter reads
``server.state.rate_limits.clock``; replace both with a fake clock to check which request
was counted when, without waiting.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import SANDBOX_ACCOUNT, RejectRule, SandboxAccount, SandboxConfig, parse_depth_side_flag
    from .sandbox import ROUTE_NAMES, SandboxServer
    from .server import PortInUse

__all__ = [
    "SANDBOX_ACCOUNT", "PortInUse", "RejectRule", "SandboxAccount", "SandboxConfig", "SandboxServer", "ROUTE_NAMES",
    "parse_depth_side_flag",
]

# Each public name, loaded from its module on first use: ``mstock-openalgo`` registers the
# ``sandbox`` command (``mstock_sandbox.cli``) on every start, and the server's modules
# (http.server, ssl, the market, the OMS) are wanted only once a sandbox really runs.
_HOMES = {
    "SANDBOX_ACCOUNT": "config", "RejectRule": "config", "SandboxAccount": "config", "SandboxConfig": "config",
    "parse_depth_side_flag": "config", "PortInUse": "server", "ROUTE_NAMES": "sandbox", "SandboxServer": "sandbox",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
