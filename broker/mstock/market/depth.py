"""Market depth for ``BrokerData.get_depth`` (contract 9.4).

mStock's REST quote documents no depth (spec 8.1: OHLC/LTP layouts only; FULL is
[UNKNOWN]). So depth comes from the first ``FULL`` quote row that carries
``depth.buy/sell`` levels, and otherwise from one Snap Quote packet of the market-data feed
(spec 11.3, mode 3) taken by ``streaming.snapshot.depth_snapshot``, which waits a bounded
time and always closes its socket (upstream-review D26). Once a FULL reply has shown no
depth, or FULL is not accepted at all, later calls go straight to the feed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import AuthError, ConfigError, MStockError
from ..host import get_logger
from ..mapping.book_values import as_float, as_int, first_present
from . import quotes

if TYPE_CHECKING:
    from ..host import SymbolLookup
    from ..transport.client import MStockClient

log = get_logger(__name__)

DEPTH_LEVELS = 5
SNAPSHOT_TIMEOUT_SECONDS = 5.0

Snapshot = Callable[..., Mapping[str, Any]]


def pad_levels(levels: Sequence[Mapping[str, Any]] | None) -> list[dict[str, float | int]]:
    """Exactly five ``{"price": float, "quantity": int}`` levels, best first, zero-padded."""
    out = [
        {"price": as_float(level.get("price")), "quantity": as_int(first_present(level, "quantity", "qty"))}
        for level in (levels or [])[:DEPTH_LEVELS]
        if isinstance(level, Mapping)
    ]
    out.extend({"price": 0.0, "quantity": 0} for _ in range(DEPTH_LEVELS - len(out)))
    return out


def depth_from_snapshot(snap: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAlgo depth dict from a parsed Snap Quote packet (rupee floats already)."""
    return {
        "bids": pad_levels(snap.get("bids")),
        "asks": pad_levels(snap.get("asks")),
        "ltp": as_float(snap.get("ltp")),
        "ltq": as_int(snap.get("last_qty")),
        "open": as_float(snap.get("open")),
        "high": as_float(snap.get("high")),
        "low": as_float(snap.get("low")),
        "prev_close": as_float(snap.get("close")),
        "volume": as_int(snap.get("volume")),
        "oi": as_int(snap.get("oi")),
        "totalbuyqty": as_int(snap.get("total_buy_qty")),
        "totalsellqty": as_int(snap.get("total_sell_qty")),
    }


def depth_from_quote_row(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The depth dict from a FULL quote row, or ``None`` when the row has no depth levels."""
    depth = row.get("depth")
    if not isinstance(depth, Mapping):
        return None
    bids = depth.get("buy") or depth.get("bids")
    asks = depth.get("sell") or depth.get("asks")
    if not isinstance(bids, list) and not isinstance(asks, list):
        return None
    quote = quotes.quote_from_row(row)
    return {
        "bids": pad_levels(bids if isinstance(bids, list) else []),
        "asks": pad_levels(asks if isinstance(asks, list) else []),
        "ltp": quote["ltp"],
        "ltq": as_int(first_present(row, "lastTradeQty", "ltq", "last_qty")),
        "open": quote["open"],
        "high": quote["high"],
        "low": quote["low"],
        "prev_close": quote["prev_close"],
        "volume": quote["volume"],
        "oi": quote["oi"],
        "totalbuyqty": as_int(first_present(row, "totBuyQuan", "totalBuyQty", "total_buy_qty")),
        "totalsellqty": as_int(first_present(row, "totSellQuan", "totalSellQty", "total_sell_qty")),
    }


def _default_snapshot() -> Snapshot:
    # Imported on first use: the feed client (websocket-client) is only needed for depth.
    from ..streaming.snapshot import depth_snapshot

    return depth_snapshot


def get_depth(
    client: "MStockClient",
    lookup: "SymbolLookup",
    auth_token: str,
    symbol: str,
    exchange: str,
    *,
    snapshot: Snapshot | None = None,
    timeout: float = SNAPSHOT_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Five bid and ask levels plus the day's figures for one instrument (contract 9.4)."""
    (target,) = quotes.resolve_targets([(symbol, exchange)], lookup)
    if isinstance(target, MStockError):
        raise target
    caps = quotes.capabilities
    if caps.mode == quotes.FULL and caps.full_has_depth is not False:
        from_rest = _depth_via_rest(client, target)
        if from_rest is not None:
            return from_rest
    take = snapshot or _default_snapshot()
    snap = take(auth_token, target.exchange, target.record.token, timeout=timeout)
    return depth_from_snapshot(snap)


def _depth_via_rest(client: "MStockClient", target: quotes.QuoteTarget) -> dict[str, Any] | None:
    try:
        row = quotes.fetch_rows(client, [target])[target.identity]
    except (AuthError, ConfigError):
        raise
    except MStockError as exc:
        log.info("depth via REST quote failed for %s %s (%s); using the feed", target.symbol, target.exchange, exc)
        return None
    if isinstance(row, MStockError) or quotes.capabilities.mode != quotes.FULL:
        return None
    depth = depth_from_quote_row(row)
    quotes.capabilities.note_depth(depth is not None)
    return depth
