"""Order frames and order-book rows as OpenAlgo order-update events, and the ledger that
publishes each order state once (contract 12; spec 4.7, 11.4).

One conversion serves both sources: an order or trade frame's ``orderData`` is an
order-book row (spec 11.4), so both go through :func:`..mapping.order_data.order_row`,
which already speaks OpenAlgo's vocabulary (lowercase statuses from the one status table,
OpenAlgo symbols, NFO/BFO/CDS/BCD for derivatives that mStock books under NSE/BSE, plain
numbers, a readable rejection reason). The event keeps exactly :data:`EVENT_FIELDS`:
OpenAlgo builds its ``OrderUpdateEvent`` from them, and an unknown key makes that fail.

An order's *state* (:class:`OrderState`) is what a user acts on: its status, filled
quantity, and what a modification can change (quantity, price, trigger price, price
type). A partly filled order is ``open`` with its ``filled_quantity``. A trade frame
carries the same row as the order frame before it, so it adds an event only when it
shows something that frame did not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from ..mapping.book_values import TIMESTAMP_FORMAT, lower_keys
from ..mapping.codes import FINAL_STATUSES
from ..mapping.order_data import order_row
from .protocol import TextMessage

if TYPE_CHECKING:
    from ..host import SymbolLookup

# The keyword arguments of OpenAlgo's OrderUpdateEvent that a broker supplies (contract 12);
# the base class adds mode, broker, request_data and api_type.
EVENT_FIELDS: tuple[str, ...] = (
    "orderid",
    "symbol",
    "exchange",
    "action",
    "quantity",
    "price",
    "trigger_price",
    "pricetype",
    "product",
    "order_status",
    "filled_quantity",
    "pending_quantity",
    "average_price",
    "rejection_reason",
)


class OrderState(NamedTuple):
    status: str
    filled: int
    quantity: int
    price: float
    trigger_price: float
    pricetype: str

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> OrderState:
        return cls(
            fields["order_status"],
            fields["filled_quantity"],
            fields["quantity"],
            fields["price"],
            fields["trigger_price"],
            fields["pricetype"],
        )


@dataclass(frozen=True)
class Observation:
    """One order as a frame or a book row showed it: the event's fields and the row's time."""

    fields: Mapping[str, Any]
    updated: datetime | None = None

    @property
    def orderid(self) -> str:
        return self.fields["orderid"]

    @property
    def state(self) -> OrderState:
        return OrderState.of(self.fields)


def observe_row(row: Any, lookup: SymbolLookup) -> Observation | None:
    """An order-book row (or a frame's ``orderData``) as an observation; ``None`` without an order id."""
    if not isinstance(row, Mapping):
        return None
    mapped = order_row(lower_keys(row), lookup)
    if not mapped["orderid"]:
        return None
    return Observation({name: mapped[name] for name in EVENT_FIELDS}, _parse_time(mapped.get("timestamp")))


def observe_frame(message: TextMessage, lookup: SymbolLookup) -> Observation | None:
    """An order or trade frame (either shape of spec 11.4, see ``protocol.classify_text``)."""
    if message.kind not in ("order", "trade"):
        return None
    return observe_row(message.data, lookup)


def _parse_time(text: Any) -> datetime | None:
    try:
        return datetime.strptime(str(text), TIMESTAMP_FORMAT)
    except ValueError:
        return None


def is_news(previous: OrderState | None, new: OrderState) -> bool:
    """Whether ``new`` is a state OpenAlgo has not been told after ``previous``.

    A final state (complete, rejected, cancelled) is never followed by another, and fills
    never go back: a view that says otherwise is older than what was published.
    """
    if previous is None:
        return True
    if new == previous or previous.status in FINAL_STATUSES:
        return False
    return new.filled >= previous.filled


@dataclass
class _Entry:
    state: OrderState
    updated: datetime | None
    push_seq: int = 0  # the last push frame about this order (0: none)


Publish = Callable[[dict[str, Any]], None]


@dataclass
class OrderLedger:
    """What was last published per order; decides, under one lock, what is new and publishes it.

    Push frames arrive in order on one socket; book reads take time. ``mark()`` before a
    book read and pass its value to :meth:`book`: an order that a push frame spoke about
    after the mark is skipped, because the frame is newer than the book. The first book
    read only records the orders it finds (OpenAlgo heard about them before this adapter
    started, or never needs to); every later read publishes what changed.
    """

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seq: int = 0
    _orders: dict[str, _Entry] = field(default_factory=dict)
    seeded: bool = False

    def mark(self) -> int:
        with self._lock:
            return self._seq

    def push(self, observation: Observation, publish: Publish) -> bool:
        """A frame's view of an order; published (and ``True``) if it is news."""
        with self._lock:
            self._seq += 1
            return self._offer(observation, publish, push_seq=self._seq)

    def book(self, observations: Iterable[Observation], since: int, publish: Publish) -> int:
        """A book read begun at ``mark() == since``; returns how many events it published."""
        published = 0
        with self._lock:
            seeding = not self.seeded
            for observation in observations:
                entry = self._orders.get(observation.orderid)
                if entry is not None and entry.push_seq > since:
                    continue
                if seeding and entry is None:
                    self._orders[observation.orderid] = _Entry(observation.state, observation.updated)
                    continue
                published += self._offer(observation, publish, push_seq=None)
            self.seeded = True
        return published

    def state(self, orderid: str) -> OrderState | None:
        with self._lock:
            entry = self._orders.get(orderid)
            return None if entry is None else entry.state

    def _offer(self, observation: Observation, publish: Publish, *, push_seq: int | None) -> bool:
        entry = self._orders.get(observation.orderid)
        if entry is not None and push_seq is not None:
            entry.push_seq = push_seq
        new = observation.state
        if entry is not None:
            if not is_news(entry.state, new):
                return False
            if entry.updated is not None and observation.updated is not None and observation.updated < entry.updated:
                return False  # a view from before the one published (a lagging book)
        self._orders[observation.orderid] = _Entry(
            new,
            observation.updated or (entry.updated if entry is not None else None),
            push_seq if push_seq is not None else (entry.push_seq if entry is not None else 0),
        )
        publish(dict(observation.fields))
        return True
