"""In-host checks of mStock order updates, for ``mstock-openalgo verify``.

They run against a booted OpenAlgo that has this plugin, its order-update registration
and a broker session on the embedded sandbox, and talk to it the way a user's program
does: orders through ``POST /api/v1/placeorder``, events from OpenAlgo's WebSocket after
``{"action": "subscribe_orders"}``. The sandbox (same process as the checks) is the
oracle: its levers move the order and its records say when each change happened, so a
latency is "event arrival - the sandbox's change", on one wall clock.

* :func:`check_push`: a resting LIMIT order gives ``open`` then (filled by the sandbox)
  ``complete``, an order the exchange rejects gives ``rejected`` with its reason; each
  event within 1 s of the sandbox's change, none repeated.
* :func:`check_disconnect`: the sandbox drops every feed socket, then fills a resting order
  at once, while the adapter's socket is down: ``complete`` still arrives, once, from the
  order book read after reconnecting (or while down), within the polling interval.
* :func:`check_polling`: the sandbox keeps one feed socket per session and OpenAlgo logs
  in again (``InHost.relogin``): the new order-update adapter finds its socket (or a probe
  beside it) refused, gives the one socket to market data and delivers ``open`` and
  ``complete`` from the order book within its polling interval. Run it last: the adapter
  keeps polling for the rest of that session.

Each check takes an :class:`InHost` and returns a one-line summary, or raises
:class:`CheckFailed` saying what was expected and what came. Every address must be loopback.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

PUSH_LATENCY = 1.0  # seconds from the sandbox's change to the event on OpenAlgo's WebSocket
POLLING_SLACK = 1.5  # beyond the polling interval: one book read plus the relay


class CheckFailed(AssertionError):
    """An expectation did not hold; the message says what was expected and what came."""


def expect(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def _loopback(url: str) -> str:
    host = urlsplit(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise CheckFailed(f"refusing {host or url!r}: these checks talk to loopback addresses only")
    return url


@dataclass
class InHost:
    """A booted OpenAlgo with the plugin, and the sandbox it trades on."""

    sandbox: Any  # mstock_sandbox.SandboxServer
    base_url: str  # OpenAlgo's web/API origin, http://127.0.0.1:<port>
    ws_url: str  # OpenAlgo's WebSocket proxy, ws://127.0.0.1:<port>
    api_key: str = field(repr=False)
    # The equity traded: OpenAlgo symbol and exchange, the master's name and token, tick.
    symbol: str = "SBIN"
    exchange: str = "NSE"
    brsymbol: str = "SBIN-EQ"
    token: str = "3045"
    tick: float = 0.05
    # Log the OpenAlgo user out and in again, broker login included (a new mStock session).
    relogin: Callable[[], None] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Received:
    at: float  # wall clock (time.time()) when it arrived
    message: dict[str, Any]


class OpenAlgoSocket:
    """A client of OpenAlgo's WebSocket proxy that records every message with its arrival time."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0) -> None:
        import websocket

        self._ws = websocket.create_connection(_loopback(url), timeout=timeout, http_no_proxy=["127.0.0.1", "localhost"])
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="verify-order-updates", daemon=True)
        self._reader.start()
        self.send({"action": "authenticate", "api_key": api_key})
        reply = self.wait(lambda m: m.get("type") in ("auth", "error"), "authentication reply", timeout)
        expect(reply.message.get("status") == "success",
               f"OpenAlgo's WebSocket refused the API key: {reply.message.get('message') or reply.message}")

    def _read(self) -> None:
        import websocket

        while not self._closed:
            try:
                text = self._ws.recv()
            except (websocket.WebSocketException, OSError):
                return
            try:
                message = json.loads(text)
            except (TypeError, ValueError):
                continue
            if isinstance(message, dict):
                with self._lock:
                    self._received.append(Received(time.time(), message))

    def send(self, message: dict[str, Any]) -> None:
        self._ws.send(json.dumps(message))

    def messages(self, match: Callable[[dict[str, Any]], bool]) -> list[Received]:
        with self._lock:
            return [r for r in self._received if match(r.message)]

    def wait(self, match: Callable[[dict[str, Any]], bool], what: str, timeout: float) -> Received:
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages(match)
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                raise CheckFailed(f"no {what} on OpenAlgo's WebSocket within {timeout:g} s")
            time.sleep(0.01)

    def subscribe_orders(self) -> None:
        self.send({"action": "subscribe_orders"})
        reply = self.wait(lambda m: m.get("type") in ("subscribe_orders", "error"), "reply to subscribe_orders", 10)
        expect(reply.message.get("status") == "success", f"subscribe_orders refused: {reply.message}")

    def close(self) -> None:
        self._closed = True
        try:
            self._ws.close()
        except Exception:  # noqa: BLE001 - closing a socket the server may have dropped
            pass


def _place(target: InHost, **fields: Any) -> str:
    import requests

    body = {"apikey": target.api_key, "strategy": "verify", "symbol": target.symbol, "exchange": target.exchange,
            "action": "BUY", "quantity": 1, "pricetype": "LIMIT", "product": "MIS", "price": 0, "trigger_price": 0}
    body.update(fields)
    session = requests.Session()
    session.trust_env = False  # loopback: no proxy
    try:
        response = session.post(_loopback(f"{target.base_url}/api/v1/placeorder"), json=body, timeout=30)
    finally:
        session.close()
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    orderid = str(answer.get("orderid") or "")
    expect(response.status_code == 200 and answer.get("status") == "success" and orderid,
           f"placeorder {fields}: expected success with an order id, got HTTP {response.status_code} {answer}")
    return orderid


def _resting_price(target: InHost, below: float = 0.05) -> float:
    """A BUY limit ``below`` under the market (the LTP pinned to the previous close first)."""
    market = target.sandbox.state.market
    close = market.snapshot(target.token, target.exchange).close
    market.set_ltp(target.token, close, target.exchange)
    return round(round(close * (1 - below) / target.tick) * target.tick, 2)


def _changed_at(target: InHost, orderid: str) -> float:
    order = target.sandbox.state.order(orderid)
    expect(order is not None, f"OpenAlgo answered order id {orderid}, which the sandbox does not have")
    return order.updated.timestamp()


def _update(socket: OpenAlgoSocket, orderid: str, status: str, timeout: float) -> Received:
    return socket.wait(lambda m: m.get("type") == "order_update" and str(m.get("orderid")) == orderid
                       and m.get("order_status") == status, f"order_update {status} for order {orderid}", timeout)


def _updates(socket: OpenAlgoSocket, orderid: str) -> list[dict[str, Any]]:
    return [r.message for r in socket.messages(lambda m: m.get("type") == "order_update"
                                               and str(m.get("orderid")) == orderid)]


def _within(label: str, received: Received, changed: float, limit: float) -> float:
    latency = received.at - changed
    expect(latency <= limit, f"{label}: the event came {latency:.2f} s after the sandbox's change (limit {limit:g} s)")
    return latency


def check_push(target: InHost) -> str:
    """open -> complete, and a rejection, each on OpenAlgo's WebSocket within 1 s."""
    socket = OpenAlgoSocket(target.ws_url, target.api_key)
    try:
        socket.subscribe_orders()
        price = _resting_price(target)
        orderid = _place(target, price=price)
        opened = _within("open", _update(socket, orderid, "open", 5), _changed_at(target, orderid), PUSH_LATENCY)
        target.sandbox.fill(orderid)
        filled_at = _changed_at(target, orderid)
        complete = _update(socket, orderid, "complete", 5)
        done = _within("complete", complete, filled_at, PUSH_LATENCY)
        event = complete.message
        expect((event.get("symbol"), event.get("exchange"), event.get("action"), event.get("pricetype"),
                event.get("product"), event.get("quantity"), event.get("filled_quantity"),
                event.get("pending_quantity")) == (target.symbol, target.exchange, "BUY", "LIMIT", "MIS", 1, 1, 0),
               f"the complete event does not describe the order: {event}")
        expect(abs(float(event.get("average_price", -1)) - price) < 0.011,
               f"average_price {event.get('average_price')}, the sandbox filled at {price}")

        quantity = 3  # only this order matches the rule
        target.sandbox.reject_orders("exchange", symbol=target.brsymbol, quantity=quantity, times=1,
                                     reason="EXCH:16388:Order price is out of the price band")
        rejected_id = _place(target, price=price, quantity=quantity)
        rejected = _update(socket, rejected_id, "rejected", 5)
        refused = _within("rejected", rejected, _changed_at(target, rejected_id), PUSH_LATENCY)
        reason = str(rejected.message.get("rejection_reason") or "")
        expect("price band" in reason, f"the rejection event should carry mStock's reason, it says {reason!r}")

        time.sleep(PUSH_LATENCY)  # a repeated event (say, from the trade frame) would be here by now
        statuses = [m.get("order_status") for m in _updates(socket, orderid)]
        expect(statuses == ["open", "complete"], f"order {orderid}: expected open then complete once each, got {statuses}")
        statuses = [m.get("order_status") for m in _updates(socket, rejected_id)]
        expect(statuses == ["rejected"], f"order {rejected_id}: expected one rejected event, got {statuses}")
    finally:
        socket.close()
    return f"open {opened:.2f} s, complete {done:.2f} s, rejected {refused:.2f} s after the sandbox's change"


def check_disconnect(target: InHost, *, poll_interval: float = 5.0) -> str:
    """A fill while the order socket is down arrives once; nothing is repeated."""
    feed = target.sandbox.feed
    socket = OpenAlgoSocket(target.ws_url, target.api_key)
    try:
        socket.subscribe_orders()
        orderid = _place(target, price=_resting_price(target))
        _update(socket, orderid, "open", 5)
        dropped = feed.drop_all_connections()
        expect(dropped >= 1, "the sandbox had no feed socket to drop (is the order-update adapter connected?)")
        target.sandbox.fill(orderid)  # before any socket can be back: the frame goes nowhere
        filled_at = _changed_at(target, orderid)
        done = _within("complete after a disconnect", _update(socket, orderid, "complete", poll_interval + 5),
                       filled_at, poll_interval + POLLING_SLACK)
        time.sleep(PUSH_LATENCY)
        statuses = [m.get("order_status") for m in _updates(socket, orderid)]
        expect(statuses == ["open", "complete"], f"order {orderid}: expected open then complete once each, got {statuses}")
    finally:
        socket.close()
    return f"{dropped} socket(s) dropped; complete {done:.1f} s after the fill, once"


def check_polling(target: InHost, *, poll_interval: float = 5.0, timeout: float = 30.0) -> str:
    """A session on a feed that keeps one socket per session: the order book is followed,
    events arrive within its interval, and the one socket is market data's."""
    expect(target.relogin is not None, "this check needs InHost.relogin (log out and in again through OpenAlgo)")
    assert target.relogin is not None
    feed = target.sandbox.feed
    limit_before, policy_before = feed.max_sockets, feed.socket_policy
    socket: OpenAlgoSocket | None = None
    try:
        # The policy holds from the start of the session, as a real server's would: a new
        # login gives a new token, a new order-update adapter, and a fresh socket count.
        feed.max_sockets, feed.socket_policy = 1, "refuse"
        refused_before = feed.refused_sockets
        target.relogin()
        socket = OpenAlgoSocket(target.ws_url, target.api_key, timeout=timeout)
        socket.subscribe_orders()
        socket.send({"action": "subscribe", "mode": "LTP", "symbols": [{"symbol": target.symbol, "exchange": target.exchange}]})
        # Ticks flowing through the only socket the sandbox keeps prove that the order-update
        # adapter gave it up (its socket, or a probe beside it, was refused).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ticking = socket.messages(lambda m: m.get("type") == "market_data" and m.get("symbol") == target.symbol)
            if ticking and feed.connection_count == 1 and feed.subscriptions():
                break
            time.sleep(0.05)
        refused = feed.refused_sockets - refused_before
        expect(feed.connection_count == 1 and feed.subscriptions(),
               f"after {timeout:g} s the sandbox holds {feed.connection_count} feed sockets "
               f"(subscriptions {feed.subscriptions()}), expected market data's alone")
        expect(refused >= 1, "no socket was refused: is the sandbox keeping one socket per session?")

        price = _resting_price(target)
        orderid = _place(target, price=price)
        opened = _within("open (polling)", _update(socket, orderid, "open", poll_interval + 5),
                         _changed_at(target, orderid), poll_interval + POLLING_SLACK)
        target.sandbox.fill(orderid)
        filled_at = _changed_at(target, orderid)
        done = _within("complete (polling)", _update(socket, orderid, "complete", poll_interval + 5), filled_at,
                       poll_interval + POLLING_SLACK)
        statuses = [m.get("order_status") for m in _updates(socket, orderid)]
        expect(statuses == ["open", "complete"], f"order {orderid}: expected open then complete once each, got {statuses}")

        moved = target.sandbox.state.market.set_ltp(target.token, price + 10 * target.tick, target.exchange).ltp
        socket.wait(lambda m: m.get("type") == "market_data" and abs(float((m.get("data") or {}).get("ltp", 0)) - moved) < 0.001,
                    f"tick at the new price {moved} (market data after the fallback)", 10)
        expect(feed.connection_count == 1, f"the sandbox holds {feed.connection_count} feed sockets, expected market data's alone")
    finally:
        feed.max_sockets, feed.socket_policy = limit_before, policy_before
        if socket is not None:
            socket.close()
    return (f"{refused} refusal(s); open {opened:.1f} s and complete {done:.1f} s after the sandbox's change "
            f"(polling every {poll_interval:g} s); market data flowing on the one socket")


# (name, function) in the order to run them: polling last, it ends push for the session.
# Names fit verify's 50-character column.
CHECKS: tuple[tuple[str, Callable[[InHost], str]], ...] = (
    ("order updates: open, complete, rejected within 1 s", check_push),
    ("order updates: a disconnect loses/repeats nothing", check_disconnect),
    ("order updates: polling, second socket refused", check_polling),
)
