"""Order vocabularies: OpenAlgo codes <-> mStock codes (spec 4.1, 4.7, 4.8; contract 14.1).

Every table is data. Forward tables (OpenAlgo -> mStock) are the source; the inverses are
derived from them and then widened with the extra spellings mStock's books use. Unknown
values are never mapped silently: request-side lookups raise, book-side lookups pass the
value through on purpose and log it once.
"""

from __future__ import annotations

import re
import threading
from types import MappingProxyType
from typing import Final

from ..host import get_logger

log = get_logger(__name__)

# --- exchanges ----------------------------------------------------------------------------------

# OpenAlgo exchanges whose instruments are derivatives (products NRML/MIS, never CNC).
DERIVATIVE_EXCHANGES: Final[frozenset[str]] = frozenset({"NFO", "BFO", "CDS", "BCD", "MCX"})

# --- products (spec 4.1) ---------------------------------------------------------------------

PRODUCT_TO_MSTOCK: Final = MappingProxyType({"CNC": "DELIVERY", "MIS": "INTRADAY", "NRML": "CARRYFORWARD"})

# Book spellings -> OpenAlgo. "MARGIN" is absent on purpose: it depends on the segment
# (see :func:`openalgo_product`).
PRODUCT_FROM_MSTOCK: Final = MappingProxyType(
    {
        **{broker: oa for oa, broker in PRODUCT_TO_MSTOCK.items()},
        # The trade book reports delivery as "CNC" (spec 4.10); OpenAlgo codes may echo back.
        "CNC": "CNC",
        "MIS": "MIS",
        "NRML": "NRML",
    }
)

# mStock's back office shows F&O orders with product "MARGIN" (spec 4.7 sample: NSE OPTSTK and
# FUTSTK rows). For derivatives that is the carry-forward product, i.e. NRML. For equity,
# "MARGIN" is margin delivery (MTF), which is held overnight like CNC. Upstream mapped it to
# MIS (D20), which made open F&O positions invisible to /openposition.
MARGIN_PRODUCT_BY_SEGMENT: Final = MappingProxyType({True: "NRML", False: "CNC"})

# --- order types and varieties (spec 4.1, D4) -------------------------------------------------

ORDER_TYPE_TO_MSTOCK: Final = MappingProxyType(
    {"MARKET": "MARKET", "LIMIT": "LIMIT", "SL": "STOPLOSS_LIMIT", "SL-M": "STOPLOSS_MARKET"}
)

VARIETY_FOR_PRICETYPE: Final = MappingProxyType(
    {"MARKET": "NORMAL", "LIMIT": "NORMAL", "SL": "STOPLOSS", "SL-M": "STOPLOSS"}
)
AMO_VARIETY: Final = "AMO"
VARIETIES: Final[frozenset[str]] = frozenset({"NORMAL", "STOPLOSS", AMO_VARIETY})

# Book "ordertype" -> OpenAlgo pricetype. The book reports SL orders as "SL" (spec 4.7);
# SL-M's book spelling is unknown (spec 16 item 6), so every plausible echo is listed.
PRICETYPE_FROM_MSTOCK: Final = MappingProxyType(
    {
        **{broker: oa for oa, broker in ORDER_TYPE_TO_MSTOCK.items()},
        "SL": "SL",
        "SL-L": "SL",
        "SL-LIMIT": "SL",
        "STOPLOSS": "SL",
        "STOP_LOSS": "SL",
        "STOP LOSS": "SL",
        "SL-M": "SL-M",
        "SLM": "SL-M",
        "SL_M": "SL-M",
        "SL-MKT": "SL-M",
        "STOP_LOSS_MARKET": "SL-M",
        "MKT": "MARKET",
        "LMT": "LIMIT",
    }
)

# --- transaction types ----------------------------------------------------------------------

ACTIONS: Final[frozenset[str]] = frozenset({"BUY", "SELL"})
# Books say "BUY"/"SELL"; the trade book says "Buy"/"Sell" (spec 4.10); keys are upper-cased.
ACTION_FROM_MSTOCK: Final = MappingProxyType({"BUY": "BUY", "SELL": "SELL", "B": "BUY", "S": "SELL"})
OPPOSITE_ACTION: Final = MappingProxyType({"BUY": "SELL", "SELL": "BUY"})

# --- order status (spec 4.8; contract 14.1) ---------------------------------------------------

OPEN, TRIGGER_PENDING, COMPLETE, REJECTED, CANCELLED = "open", "trigger pending", "complete", "rejected", "cancelled"
OPENALGO_STATUSES: Final[frozenset[str]] = frozenset({OPEN, TRIGGER_PENDING, COMPLETE, REJECTED, CANCELLED})
# Orders that can still be cancelled or modified (cancel-all selects these).
CANCELLABLE_STATUSES: Final[frozenset[str]] = frozenset({OPEN, TRIGGER_PENDING})
FINAL_STATUSES: Final[frozenset[str]] = frozenset({COMPLETE, REJECTED, CANCELLED})

# Keys are normalised by :func:`status_key` (lower case, "_" and runs of blanks -> one blank,
# blanks around "-" removed), so "O-Pending", "o - pending", "TRIGGER_PENDING" all match.
STATUS_TO_OPENALGO: Final = MappingProxyType(
    {
        # accepted by the OMS, not yet confirmed by the exchange (SDK-B-repo mock)
        "transit": OPEN,
        "pending": OPEN,
        "o-pending": OPEN,
        "open": OPEN,
        "o-modified": OPEN,
        "modified": OPEN,
        # a partly filled order is still working at the exchange [INFERRED spelling]
        "partially traded": OPEN,
        "part traded": OPEN,
        "trigger pending": TRIGGER_PENDING,
        "o-trigger pending": TRIGGER_PENDING,
        "traded": COMPLETE,
        "trade confirmed": COMPLETE,
        "complete": COMPLETE,
        "completed": COMPLETE,
        "executed": COMPLETE,
        "rejected": REJECTED,
        "o-rejected": REJECTED,
        "cancelled": CANCELLED,
        "canceled": CANCELLED,
        "o-cancelled": CANCELLED,
        "o-canceled": CANCELLED,
    }
)

_BLANKS = re.compile(r"[\s_]+")
_DASH = re.compile(r"\s*-\s*")
_reported_lock = threading.Lock()
_reported: set[tuple[str, str]] = set()


def status_key(raw: object) -> str:
    """The lookup key of a broker status: case, underscores and spacing normalised."""
    text = _BLANKS.sub(" ", str(raw or "")).strip().lower()
    return _DASH.sub("-", text)


def log_unknown_once(table: str, value: object) -> None:
    """Log an unmapped broker value the first time it is seen in this process."""
    key = (table, str(value))
    with _reported_lock:
        if key in _reported:
            return
        _reported.add(key)
    log.warning("unmapped mStock %s %r passed through unchanged", table, value)


def reset_unknown_log_for_tests() -> None:
    with _reported_lock:
        _reported.clear()


def openalgo_status(raw: str | None) -> str:
    """OpenAlgo's order status for an mStock status (spec 4.8).

    Unknown statuses are passed through lower-cased (and logged once per value), never
    folded into a known one: an unexpected state must stay visible.
    """
    key = status_key(raw)
    status = STATUS_TO_OPENALGO.get(key)
    if status is not None:
        return status
    log_unknown_once("order status", raw)
    return key


def openalgo_product(raw: str | None, *, derivative: bool) -> str:
    """OpenAlgo's product for a book product code (D20: never left as CARRYFORWARD)."""
    key = (raw or "").strip().upper()
    if key == "MARGIN":
        return MARGIN_PRODUCT_BY_SEGMENT[derivative]
    product = PRODUCT_FROM_MSTOCK.get(key)
    if product is not None:
        return product
    if not key:
        # No product in the row (holdings send null, spec 5.3): the segment's default.
        return "NRML" if derivative else "CNC"
    log_unknown_once("product", raw)
    return key


def openalgo_pricetype(raw: str | None) -> str:
    """OpenAlgo's price type for a book order type; always a string (contract 5.2)."""
    key = (raw or "").strip().upper()
    pricetype = PRICETYPE_FROM_MSTOCK.get(key)
    if pricetype is not None:
        return pricetype
    log_unknown_once("order type", raw)
    return key


def openalgo_action(raw: str | None) -> str:
    """``BUY``/``SELL`` for a book transaction type (any case, or ``B``/``S``)."""
    key = (raw or "").strip().upper()
    action = ACTION_FROM_MSTOCK.get(key)
    if action is not None:
        return action
    log_unknown_once("transaction type", raw)
    return key


def variety_of_book_order(variety: str | None, ordertype: str | None) -> str:
    """The variety an order was placed with, as cancel and modify must repeat it (D22).

    The book reports ``variety: null`` (spec 4.7), so when it is missing the order type
    decides: stop orders were placed as ``STOPLOSS``, everything else as ``NORMAL``.
    (An AMO order cannot be recognised from a book row without a variety; see
    ``transform_data`` for when this plugin places AMO orders at all.)
    """
    named = (variety or "").strip().upper()
    if named in VARIETIES:
        return named
    pricetype = PRICETYPE_FROM_MSTOCK.get((ordertype or "").strip().upper())
    return VARIETY_FOR_PRICETYPE.get(pricetype or "", "NORMAL")
