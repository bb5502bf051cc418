"""Quotes and multi-quotes from ``instruments/quote`` (spec 8.1; contract 9.2, 9.3).

Request: ``{"mode": ..., "exchangeTokens": {<brexchange>: [tokens]}}``. The keys are each
instrument's ``brexchange`` (NSE_INDEX rows say ``NSE``, BSE_INDEX rows ``BSE``), and one
body may carry several exchanges, so a multi-quote needs one call per
:data:`MAX_TOKENS_PER_QUOTE_CALL` instruments whatever their exchanges.

Mode: ``FULL`` is asked first because it is the richest mode mStock names (NODE-B), but its
layout is undocumented (spec 8.1 [UNKNOWN], 16.2). The parser reads the documented OHLC
fields plus, when present, the SmartAPI-style FULL fields (``tradeVolume``,
``opnInterest``, ``depth.buy/sell``...). If the server rejects ``FULL`` and the same
request then succeeds in ``OHLC`` mode, the process remembers that and asks ``OHLC`` from
then on. With ``OHLC`` answers, ``volume``, ``bid``, ``ask``, ``bid_qty``, ``ask_qty`` and
``oi`` are 0 (mStock's OHLC quote does not carry them).

Replies are joined to requests by ``(exchange, symbolToken)`` (their order is [UNKNOWN]),
never by position; ``unfetched`` entries become per-symbol errors.

Token cap: if mStock refuses a call because it names more tokens than a cap its message
states ("Maximum 50 tokens ..."), the batch is split to that cap, sent again (quotes are
reads) and the smaller cap is kept for the rest of the process. A refusal that states no
number is not guessed at.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import AuthError, BadResponse, ConfigError, InputRejected, MStockError, MStockRejected
from ..host import get_logger
from ..mapping.book_values import as_float, as_int, first_present
from ..mapping.symbols import require_instrument

if TYPE_CHECKING:
    from ..host import SymbolLookup
    from ..records import SymbolRecord
    from ..transport.client import MStockClient

log = get_logger(__name__)

# Tokens per instruments/quote call. mStock documents no cap (spec 2.1, 16.2); upstream
# sends 500 per call in production without complaint, so that is the ceiling used here.
MAX_TOKENS_PER_QUOTE_CALL = 500

FULL, OHLC = "FULL", "OHLC"

# What a new process asks first, and whether FULL rows are expected to carry depth (None:
# learnt from the first FULL reply). Both are followed at run time anyway (a refused FULL
# falls back to OHLC, a depth-less FULL row sends depth to the feed); setting them from
# what ``mstock-openalgo doctor --live`` observed saves the first wasted call.
FIRST_MODE = FULL
FULL_HAS_DEPTH: bool | None = None

# "Maximum 50 tokens are allowed per request." / "max 50 instruments" ... (no source shows
# mStock's real text, spec 16.2): a number next to a cap word and a token word.
_CAP_WORDS = r"(?:max(?:imum)?|up\s*to|at\s*most|limit(?:ed)?(?:\s*to)?|(?:not\s*)?more\s*than|only)"
_TOKEN_WORDS = r"(?:tokens?|instruments?|scrips?|symbols?|securities)"
_REFUSED_CAP = re.compile(
    rf"(?i)\b{_CAP_WORDS}\W+(?:of\s+)?(\d+)\s*{_TOKEN_WORDS}|\b{_TOKEN_WORDS}\D{{0,40}}?\b{_CAP_WORDS}\W+(\d+)\b"
)

# The quote dict of contract 9.2 (+ bid_qty/ask_qty, read by OpenAlgo's option chain).
QUOTE_KEYS: tuple[str, ...] = ("ltp", "open", "high", "low", "prev_close", "volume", "bid", "ask", "oi", "bid_qty", "ask_qty")


class QuoteUnavailable(MStockRejected):
    """mStock answered the quote call but listed this instrument as ``unfetched`` (or omitted it)."""


class TooManyTokens(InputRejected):
    """mStock refused a quote call for naming more tokens than ``cap``, the number its message states."""

    def __init__(self, message: str, *, cap: int, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.cap = cap


def refused_cap(exc: MStockError, sent: int) -> int | None:
    """The token cap a refusal of a ``sent``-token call states, if it states one below ``sent``."""
    if not isinstance(exc, InputRejected) or isinstance(exc, AuthError) or sent <= 1:
        return None
    match = _REFUSED_CAP.search(exc.message)
    if match is None:
        return None
    cap = int(match.group(1) or match.group(2))
    return cap if 1 <= cap < sent else None


class QuoteTarget:
    """One requested instrument: the OpenAlgo name, its symbol row, and the keys derived once.

    ``wire_key`` is how the reply names it: (``brexchange``, token). ``identity`` is what
    the caller asked for: (OpenAlgo exchange, token). A multi-quote makes hundreds of these,
    so this is a plain slotted class rather than a frozen dataclass.
    """

    __slots__ = ("symbol", "exchange", "record", "wire_key", "identity")

    def __init__(self, symbol: str, exchange: str, record: "SymbolRecord") -> None:
        token = str(record.token).strip()
        self.symbol = symbol
        self.exchange = exchange
        self.record = record
        self.wire_key = (record.brexchange.strip().upper(), token)
        self.identity = (exchange, token)

    def __repr__(self) -> str:
        return f"QuoteTarget({self.symbol!r}, {self.exchange!r}, token={self.identity[1]!r})"


# ------------------------------------------------------------------ mode memory


class _QuoteCapabilities:
    """What this process has learnt about the quote API (shared by every BrokerData)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mode = FIRST_MODE
        # None: not yet known whether FULL rows carry market depth.
        self.full_has_depth: bool | None = FULL_HAS_DEPTH
        self.token_cap = MAX_TOKENS_PER_QUOTE_CALL

    def downgrade(self) -> None:
        with self._lock:
            if self.mode != OHLC:
                log.info("mStock rejected quote mode FULL; using OHLC from now on")
            self.mode = OHLC

    def note_depth(self, present: bool) -> None:
        with self._lock:
            self.full_has_depth = present

    def lower_cap(self, cap: int) -> None:
        with self._lock:
            if cap < self.token_cap:
                log.warning("mStock allows at most %d instruments per quote call; using that from now on", cap)
                self.token_cap = cap


capabilities = _QuoteCapabilities()


def reset_for_tests() -> None:
    """Forget the learnt quote mode (tests only)."""
    global capabilities
    capabilities = _QuoteCapabilities()


# ------------------------------------------------------------------ requests


def resolve_targets(
    items: Iterable[tuple[str, str]], lookup: "SymbolLookup"
) -> list[QuoteTarget | MStockError]:
    """Each (symbol, exchange) as a :class:`QuoteTarget`, or the error that prevents quoting it."""
    out: list[QuoteTarget | MStockError] = []
    for symbol, exchange in items:
        try:
            record = require_instrument(symbol, exchange, lookup)
        except MStockError as exc:
            out.append(exc)
            continue
        out.append(QuoteTarget(symbol, (exchange or "").strip().upper(), record))
    return out


def plan_quote_calls(targets: Sequence[QuoteTarget], cap: int = MAX_TOKENS_PER_QUOTE_CALL) -> list[list[QuoteTarget]]:
    """Distinct instruments split into as few calls as the token cap allows.

    Exchanges are mixed freely in one call. Two different instruments that the reply would
    name identically (same brexchange and token, e.g. a currency contract tagged ``NSE``
    whose token equals an equity token) never share a call, so the join stays exact.
    """
    calls: list[list[QuoteTarget]] = []
    keys_per_call: list[set[tuple[str, str]]] = []
    seen: set[tuple[str, str]] = set()
    for target in targets:
        if target.identity in seen:
            continue
        seen.add(target.identity)
        for members, keys in zip(calls, keys_per_call):
            if len(members) < cap and target.wire_key not in keys:
                members.append(target)
                keys.add(target.wire_key)
                break
        else:
            calls.append([target])
            keys_per_call.append({target.wire_key})
    return calls


def quote_body(mode: str, targets: Sequence[QuoteTarget]) -> dict[str, Any]:
    exchange_tokens: dict[str, list[str]] = {}
    for target in targets:
        exchange, token = target.wire_key
        exchange_tokens.setdefault(exchange, []).append(token)
    return {"mode": mode, "exchangeTokens": exchange_tokens}


def _send(client: "MStockClient", targets: Sequence[QuoteTarget]) -> tuple[list[dict], list[dict]]:
    """One quote call in the best mode this process knows; returns (fetched, unfetched)."""
    mode = capabilities.mode
    try:
        data = client.call("market.quote", json=quote_body(mode, targets))
    except MStockRejected as exc:
        cap = refused_cap(exc, len(targets))
        if cap is not None:
            raise TooManyTokens(
                exc.message, cap=cap, http_status=exc.http_status, code=exc.code, route=exc.route
            ) from exc
        if mode != FULL or isinstance(exc, AuthError):
            raise
        log.info("quote mode FULL rejected (%s); retrying in OHLC mode", exc)
        data = client.call("market.quote", json=quote_body(OHLC, targets))
        capabilities.downgrade()
    return _split_reply(data)


def _split_reply(data: Any) -> tuple[list[dict], list[dict]]:
    if isinstance(data, list):  # tolerate a bare list of fetched rows
        return [r for r in data if isinstance(r, dict)], []
    if not isinstance(data, dict) or "fetched" not in data and "unfetched" not in data:
        raise BadResponse("market.quote: reply has neither 'fetched' nor 'unfetched'", route="market.quote")
    fetched = [r for r in (data.get("fetched") or []) if isinstance(r, dict)]
    unfetched = [r for r in (data.get("unfetched") or []) if isinstance(r, dict)]
    return fetched, unfetched


def _row_key(row: Mapping[str, Any]) -> tuple[str, str]:
    token = first_present(row, "symbolToken", "symboltoken", "token")
    return (str(row.get("exchange") or "").strip().upper(), "" if token is None else str(token).strip())


def fetch_rows(
    client: "MStockClient", targets: Sequence[QuoteTarget]
) -> dict[tuple[str, str], dict | MStockError]:
    """Quotes for ``targets`` (at most one per wire key); result keyed by identity.

    One call, unless mStock refuses it for naming too many tokens: then the targets go in
    calls of the cap it stated, which is remembered (:meth:`_QuoteCapabilities.lower_cap`).
    Each value is the broker's row, or a :class:`QuoteUnavailable` for instruments listed
    as ``unfetched`` or missing from the reply.
    """
    try:
        return _fetch_once(client, targets)
    except TooManyTokens as exc:
        capabilities.lower_cap(exc.cap)
        out: dict[tuple[str, str], dict | MStockError] = {}
        for part in plan_quote_calls(targets, exc.cap):
            out.update(fetch_rows(client, part))
        return out


def _fetch_once(
    client: "MStockClient", targets: Sequence[QuoteTarget]
) -> dict[tuple[str, str], dict | MStockError]:
    fetched, unfetched = _send(client, targets)
    by_key = {_row_key(r): r for r in fetched}
    failed = {_row_key(r): r for r in unfetched}
    by_token: _TokenFallback | None = None

    out: dict[tuple[str, str], dict | MStockError] = {}
    for target in targets:
        key = target.wire_key
        row = by_key.get(key)
        miss = failed.get(key) if row is None else None
        if row is None and miss is None:
            # The reply may spell the exchange differently (e.g. a segment name); the token
            # alone is still unambiguous within this call.
            by_token = by_token or _TokenFallback(targets, by_key, failed)
            row, miss = by_token.lookup(key[1])
        if row is not None:
            out[target.identity] = row
        elif miss is not None:
            reason = str(miss.get("message") or miss.get("errorCode") or "unfetched").strip()
            out[target.identity] = QuoteUnavailable(
                f"no quote for {target.symbol} on {target.exchange}: {reason}", code=miss.get("errorCode") or None,
                route="market.quote",
            )
        else:
            out[target.identity] = QuoteUnavailable(
                f"no quote for {target.symbol} on {target.exchange}: not in mStock's reply", route="market.quote"
            )
    return out


class _TokenFallback:
    """Reply rows by token alone, for tokens requested once in the call (built only when needed)."""

    def __init__(self, targets: Sequence[QuoteTarget], by_key: dict, failed: dict) -> None:
        counts: dict[str, int] = {}
        for target in targets:
            counts[target.wire_key[1]] = counts.get(target.wire_key[1], 0) + 1
        self.unique = {token for token, n in counts.items() if n == 1}
        self.rows: dict[str, dict] = {}
        for key, row in by_key.items():
            self.rows.setdefault(key[1], row)
        self.failed = {key[1]: row for key, row in failed.items()}

    def lookup(self, token: str) -> tuple[dict | None, dict | None]:
        if token not in self.unique:
            return None, None
        return self.rows.get(token), self.failed.get(token)


# ------------------------------------------------------------------ parsing


def _depth_side(row: Mapping[str, Any], side: str) -> list[Mapping[str, Any]]:
    depth = row.get("depth")
    if not isinstance(depth, Mapping):
        return []
    levels = depth.get(side) or depth.get({"buy": "bids", "sell": "asks"}[side]) or []
    return [lvl for lvl in levels if isinstance(lvl, Mapping)] if isinstance(levels, list) else []


# Field spellings per mode and SDK generation, first match wins (book_values.first_present).
_LTP = ("ltp", "lastPrice", "last_price")
_CLOSE = ("close", "prevClose", "previousClose")
_VOLUME = ("volume", "tradeVolume", "totalTradedVolume")
_BID = ("bid", "bestBidPrice")
_ASK = ("ask", "bestAskPrice")
_OI = ("oi", "opnInterest", "openInterest")
_BID_QTY = ("bid_qty", "bestBidQty")
_ASK_QTY = ("ask_qty", "bestAskQty")
_NO_LEVEL: Mapping[str, Any] = {}
# Every field only FULL mode carries: an OHLC row has none of them, and its six are zeros.
_FULL_ONLY = frozenset({"depth", *_VOLUME, *_BID, *_ASK, *_OI, *_BID_QTY, *_ASK_QTY})
_OHLC_ZEROS: Mapping[str, float | int] = {"volume": 0, "bid": 0.0, "ask": 0.0, "oi": 0, "bid_qty": 0, "ask_qty": 0}


def quote_from_row(row: Mapping[str, Any]) -> dict[str, float | int]:
    """The OpenAlgo quote dict (contract 9.2) of one ``fetched`` row, plain numbers only.

    ``close`` is the previous session's close (spec 8.1), hence ``prev_close``. Fields the
    row does not carry (all of volume/bid/ask/oi in OHLC mode) are 0.
    """
    quote: dict[str, float | int] = {
        "ltp": as_float(first_present(row, *_LTP)),
        "open": as_float(row.get("open")),
        "high": as_float(row.get("high")),
        "low": as_float(row.get("low")),
        "prev_close": as_float(first_present(row, *_CLOSE)),
    }
    if _FULL_ONLY.isdisjoint(row.keys()):
        quote.update(_OHLC_ZEROS)
        return quote
    bids, asks = _depth_side(row, "buy"), _depth_side(row, "sell")
    best_bid = bids[0] if bids else _NO_LEVEL
    best_ask = asks[0] if asks else _NO_LEVEL
    quote.update(
        volume=as_int(first_present(row, *_VOLUME)),
        bid=as_float(first_present(row, *_BID) or best_bid.get("price")),
        ask=as_float(first_present(row, *_ASK) or best_ask.get("price")),
        oi=as_int(first_present(row, *_OI)),
        bid_qty=as_int(first_present(row, *_BID_QTY) or best_bid.get("quantity")),
        ask_qty=as_int(first_present(row, *_ASK_QTY) or best_ask.get("quantity")),
    )
    return quote


# ------------------------------------------------------------------ OpenAlgo-shaped results


def get_quote(client: "MStockClient", lookup: "SymbolLookup", symbol: str, exchange: str) -> dict[str, float | int]:
    """The quote of one instrument; raises (UnknownSymbol, QuoteUnavailable, transport errors)."""
    (target,) = resolve_targets([(symbol, exchange)], lookup)
    if isinstance(target, MStockError):
        raise target
    result = fetch_rows(client, [target])[target.identity]
    if isinstance(result, MStockError):
        raise result
    return quote_from_row(result)


def get_multiquotes(
    client: "MStockClient",
    lookup: "SymbolLookup",
    items: Sequence[Mapping[str, Any]],
    *,
    cap: int = MAX_TOKENS_PER_QUOTE_CALL,
    on_call: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Contract 9.3: one result per input, in input order, echoing ``symbol`` and ``exchange``.

    Unknown symbols and ``unfetched`` instruments get a per-item ``error``. A failed call
    turns its own instruments into errors while other calls' results are kept; when every
    call fails (or the session is invalid) the error is raised instead, so OpenAlgo reports
    the cause rather than N copies of it.
    """
    echoed = [(item.get("symbol"), item.get("exchange")) for item in items]
    resolved = resolve_targets(((str(s or ""), str(e or "")) for s, e in echoed), lookup)
    targets = [t for t in resolved if isinstance(t, QuoteTarget)]
    results: dict[tuple[str, str], dict | MStockError] = {}
    failures: list[MStockError] = []
    calls = plan_quote_calls(targets, min(cap, capabilities.token_cap))
    for batch in calls:
        if on_call is not None:
            on_call(len(batch))
        try:
            results.update(fetch_rows(client, batch))
        except (AuthError, ConfigError):
            raise
        except MStockError as exc:
            failures.append(exc)
            for target in batch:
                results[target.identity] = exc
    if calls and len(failures) == len(calls):
        raise failures[0]

    out: list[dict[str, Any]] = []
    for (symbol, exchange), target in zip(echoed, resolved):
        item: dict[str, Any] = {"symbol": symbol, "exchange": exchange}
        outcome: Any = target if isinstance(target, MStockError) else results.get(target.identity)
        if isinstance(outcome, MStockError):
            item["error"] = str(outcome)
        elif outcome is None:
            item["error"] = f"no quote for {symbol} on {exchange}"
        else:
            item["data"] = quote_from_row(outcome)
        out.append(item)
    return out
