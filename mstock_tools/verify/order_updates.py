"""The order-update checks: OpenAlgo's WebSocket gets an ``order_update`` for every change.

They talk to OpenAlgo the way a user's program does: orders through
``POST /api/v1/placeorder``, events from OpenAlgo's WebSocket after
``{"action": "subscribe_orders"}``. The sandbox (in verify's own process) is the oracle: its
levers move the order and its records say when each change happened, so a latency is
"event arrival - the sandbox's change", on one wall clock.

* :func:`check_push`: a resting LIMIT order gives ``open`` then (filled by the sandbox)
  ``complete``, an order the exchange rejects gives ``rejected`` with its reason; each
  event within 1 s of the sandbox's change, none repeated.
* :func:`check_disconnect`: the sandbox drops every feed socket, then fills a resting order
  at once, while the order-update socket is down: ``complete`` still arrives, once, from the
  order book (read while the socket is down and after it reconnects), within the polling
  interval.
* :func:`check_polling`: the sandbox keeps one feed socket per session and OpenAlgo logs in
  again (``relogin``): the new order-update adapter finds its socket, or a probe beside it,
  refused, leaves the one socket to market data and delivers ``open`` and ``complete`` from
  the order book within its polling interval. Run it last of the three: the adapter keeps
  polling for the rest of that session.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .client import CheckFailed, expect
from .oracle import Instrument, on_tick
from .stack import loopback_url

if TYPE_CHECKING:
    from .checks import Context

PUSH_LATENCY = 1.0  # seconds from the sandbox's change to the event on OpenAlgo's WebSocket
POLL_INTERVAL = 5.0  # the adapter's default (OpenAlgo's ORDER_POLL_INTERVAL); verify sets none
POLLING_SLACK = 1.5  # beyond the polling interval: one book read plus the relay


@dataclass(frozen=True)
class Received:
    at: float  # wall clock (time.time()) when it arrived
    message: dict[str, Any]


class OrderSocket:
    """A client of OpenAlgo's WebSocket proxy that records every message with its arrival time."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0) -> None:
        import websocket

        self._ws = websocket.create_connection(loopback_url(url), timeout=timeout, http_no_proxy=["127.0.0.1", "localhost"])
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

    def update(self, orderid: str, status: str, timeout: float) -> Received:
        return self.wait(lambda m: m.get("type") == "order_update" and str(m.get("orderid")) == orderid
                         and m.get("order_status") == status, f"order_update {status} for order {orderid}", timeout)

    def statuses(self, orderid: str) -> list[str]:
        return [r.message.get("order_status") for r in self.messages(
            lambda m: m.get("type") == "order_update" and str(m.get("orderid")) == orderid)]

    def close(self) -> None:
        self._closed = True
        try:
            self._ws.close()
        except Exception:  # noqa: BLE001 - closing a socket the server may have dropped
            pass


def _open_socket(ctx: Context) -> OrderSocket:
    socket = OrderSocket(ctx.ws_url, ctx.web.api_key or "")
    try:
        socket.subscribe_orders()
    except BaseException:
        socket.close()
        raise
    return socket


def _resting_price(ctx: Context, inst: Instrument, below: float = 0.05) -> float:
    """A BUY limit ``below`` under the market (the LTP pinned to the previous close first)."""
    close = ctx.oracle.snapshot(inst).close
    ctx.oracle.set_ltp(inst, close)
    return on_tick(close * (1 - below), inst.tick)


def _place(ctx: Context, inst: Instrument, **fields: Any) -> str:
    body = {"strategy": "verify", "symbol": inst.symbol, "exchange": inst.exchange, "action": "BUY",
            "quantity": inst.lotsize, "pricetype": "LIMIT", "product": "MIS", "price": 0, "trigger_price": 0}
    body.update(fields)
    orderid = str(ctx.web.api("placeorder", **body).success(f"placeorder {fields}").get("orderid") or "")
    expect(orderid, f"placeorder {fields}: success without an order id")
    return orderid


def _changed_at(ctx: Context, orderid: str) -> float:
    order = ctx.oracle.order(orderid)
    expect(order is not None, f"OpenAlgo answered order id {orderid}, which the sandbox does not have")
    return order.updated.timestamp()


def within(label: str, received: Received, changed: float, limit: float) -> float:
    """The event's latency; :class:`CheckFailed` when it is over ``limit`` seconds."""
    latency = received.at - changed
    expect(latency <= limit, f"{label}: the event came {latency:.2f} s after the sandbox's change (limit {limit:g} s)")
    return latency


def check_push(ctx: Context) -> str:
    """open -> complete, and a rejection, each on OpenAlgo's WebSocket within 1 s."""
    inst = ctx.instrument("equity")
    server = ctx.oracle.server
    socket = _open_socket(ctx)
    try:
        price = _resting_price(ctx, inst)
        orderid = _place(ctx, inst, price=price)
        opened = within("open", socket.update(orderid, "open", 5), _changed_at(ctx, orderid), PUSH_LATENCY)
        server.fill(orderid)
        filled_at = _changed_at(ctx, orderid)
        complete = socket.update(orderid, "complete", 5)
        done = within("complete", complete, filled_at, PUSH_LATENCY)
        event = complete.message
        expect((event.get("symbol"), event.get("exchange"), event.get("action"), event.get("pricetype"),
                event.get("product"), event.get("quantity"), event.get("filled_quantity"), event.get("pending_quantity"))
               == (inst.symbol, inst.exchange, "BUY", "LIMIT", "MIS", inst.lotsize, inst.lotsize, 0),
               f"the complete event does not describe the order: {event}")
        expect(abs(float(event.get("average_price", -1)) - price) < 0.011,
               f"average_price {event.get('average_price')}, the sandbox filled at {price}")

        quantity = 3 * inst.lotsize  # only this order matches the rule
        server.reject_orders("exchange", symbol=inst.brsymbol, quantity=quantity, times=1,
                             reason="EXCH:16388:Order price is out of the price band")
        rejected_id = _place(ctx, inst, price=price, quantity=quantity)
        rejected = socket.update(rejected_id, "rejected", 5)
        refused = within("rejected", rejected, _changed_at(ctx, rejected_id), PUSH_LATENCY)
        reason = str(rejected.message.get("rejection_reason") or "")
        expect("price band" in reason, f"the rejection event should carry mStock's reason, it says {reason!r}")

        time.sleep(PUSH_LATENCY)  # a repeated event (say, from the trade frame) would be here by now
        expect(socket.statuses(orderid) == ["open", "complete"],
               f"order {orderid}: expected open then complete once each, got {socket.statuses(orderid)}")
        expect(socket.statuses(rejected_id) == ["rejected"],
               f"order {rejected_id}: expected one rejected event, got {socket.statuses(rejected_id)}")
    finally:
        socket.close()
    return f"open {opened:.2f} s, complete {done:.2f} s, rejected {refused:.2f} s after the sandbox's change"


def check_disconnect(ctx: Context) -> str:
    """A fill while the order-update socket is down arrives once; nothing is repeated."""
    inst = ctx.instrument("equity")
    server = ctx.oracle.server
    socket = _open_socket(ctx)
    try:
        orderid = _place(ctx, inst, price=_resting_price(ctx, inst))
        socket.update(orderid, "open", 5)
        dropped = server.feed.drop_all_connections()
        expect(dropped >= 1, "the sandbox had no feed socket to drop (is the order-update adapter connected?)")
        server.fill(orderid)  # before any socket can be back: the order frame reaches no one
        filled_at = _changed_at(ctx, orderid)
        done = within("complete after a disconnect", socket.update(orderid, "complete", POLL_INTERVAL + 5), filled_at,
                      POLL_INTERVAL + POLLING_SLACK)
        time.sleep(PUSH_LATENCY)
        expect(socket.statuses(orderid) == ["open", "complete"],
               f"order {orderid}: expected open then complete once each, got {socket.statuses(orderid)}")
    finally:
        socket.close()
    return f"{dropped} feed socket(s) dropped; complete {done:.1f} s after the fill, once"


def check_polling(ctx: Context, relogin: Callable[[], None], *, timeout: float = 30.0) -> str:
    """A session on a feed that keeps one socket per session: the order book is followed,
    events arrive within its interval, and the one socket is market data's."""
    inst = ctx.instrument("equity")
    server = ctx.oracle.server
    feed = server.feed
    limit_before, policy_before = feed.max_sockets, feed.socket_policy
    socket: OrderSocket | None = None
    try:
        # The policy holds from the start of a session, as a real server's would: a new
        # login gives a new token, a new order-update adapter and a fresh socket count.
        feed.max_sockets, feed.socket_policy = 1, "refuse"
        refused_before = feed.refused_sockets
        relogin()
        socket = _open_socket(ctx)
        socket.send({"action": "subscribe", "mode": "LTP", "symbols": [{"symbol": inst.symbol, "exchange": inst.exchange}]})
        # Ticks through the only socket the sandbox keeps prove that the order-update
        # adapter gave it up.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ticking = socket.messages(lambda m: m.get("type") == "market_data" and m.get("symbol") == inst.symbol)
            if ticking and feed.connection_count == 1 and feed.subscriptions():
                break
            time.sleep(0.05)
        refused = feed.refused_sockets - refused_before
        expect(feed.connection_count == 1 and feed.subscriptions(),
               f"after {timeout:g} s the sandbox holds {feed.connection_count} feed sockets "
               f"(subscriptions {feed.subscriptions()}), expected market data's alone")
        expect(refused >= 1, "no feed socket was refused: does the sandbox keep one socket per session?")

        price = _resting_price(ctx, inst)
        orderid = _place(ctx, inst, price=price)
        opened = within("open (polling)", socket.update(orderid, "open", POLL_INTERVAL + 5), _changed_at(ctx, orderid),
                        POLL_INTERVAL + POLLING_SLACK)
        server.fill(orderid)
        filled_at = _changed_at(ctx, orderid)
        done = within("complete (polling)", socket.update(orderid, "complete", POLL_INTERVAL + 5), filled_at,
                      POLL_INTERVAL + POLLING_SLACK)
        expect(socket.statuses(orderid) == ["open", "complete"],
               f"order {orderid}: expected open then complete once each, got {socket.statuses(orderid)}")

        moved = ctx.oracle.set_ltp(inst, on_tick(price + 10 * inst.tick, inst.tick)).ltp
        socket.wait(lambda m: m.get("type") == "market_data"
                    and abs(float((m.get("data") or {}).get("ltp", 0)) - moved) < 0.001,
                    f"tick at the new price {moved} (market data after the fallback)", 10)
        expect(feed.connection_count == 1, f"the sandbox holds {feed.connection_count} feed sockets, expected market data's alone")
    finally:
        feed.max_sockets, feed.socket_policy = limit_before, policy_before
        if socket is not None:
            socket.close()
    return (f"{refused} refusal(s); open {opened:.1f} s and complete {done:.1f} s after the sandbox's change "
            f"(polling every {POLL_INTERVAL:g} s); market data alone on the one socket")
