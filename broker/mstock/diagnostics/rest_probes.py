"""Read-only REST probes of what mStock's documentation leaves open.

Each probe asks mStock something harmless with real instruments from the symbol table,
compares the answer with what the plugin assumes (read from the plugin's own constants,
so the report always describes the code it runs with) and adds one finding: confirmed,
contradicted (what was seen, and the one constant or table entry to change) or not
testable now. Quote calls stay within the quote limit and historical calls within the
Data API's 1 request/s through the client's shared limiter; only the opt-in rate-limit
probe sends one request over a limit, on purpose.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ..clock import IST, today_ist
from ..database.index_tokens import NSE_INDICES, index_key
from ..errors import AuthError, MStockError, MStockRejected, RateLimited
from ..mapping.book_values import as_int, lower_keys, text
from ..mapping.codes import STATUS_TO_OPENALGO, status_key
from ..mapping.exchanges import INTRADAY_EXCHANGE_CODE
from ..mapping.order_data import book_rows
from ..market import intervals, quotes
from ..market.candles import parse_instant
from ..market.history import refused_for_size
from ..orders.tags import is_our_tag
from ..records import SymbolRecord
from ..transport.client import parse_envelope
from ..transport.ratelimit import Unlimited
from .context import Context, ReadOnlyClient
from .report import CONFIRMED, CONTRADICTED, UNTESTABLE

# NSE index tokens are the exchange's own index numbers, 26000 upwards (NIFTY 50 = 26000).
INDEX_SCAN = range(26000, 26100)
HISTORY_PROBE_SESSIONS = 6  # one-minute bars of 6 sessions = 2250, well over the limit
HOURLY_PROBE_WEEKDAYS = 5  # the newest full session among them is read
# --probe-rate-limit: reads 0.1 s apart. The second is already over 1 request/s; a third
# still lands in one second with the first if mStock counts whole clock seconds.
PROBE_BURST = 3
_OHLC_FIELDS = frozenset({"exchange", "tradingSymbol", "symbolToken", "ltp", "open", "high", "low", "close"})
_VOLUME_KEYS = ("volume", "tradeVolume", "totalTradedVolume")
_OI_KEYS = ("oi", "opnInterest", "openInterest")
_STATED_BARS = re.compile(
    r"(\d{2,6})\s*(?:candles?|bars?|records?)|(?:candles?|bars?|records?)\D{0,30}?(\d{2,6})", re.I
)


# ---------------------------------------------------------------------- instruments


@dataclass
class Instruments:
    """The real instruments the probes use, one per segment, from the symbol table."""

    by_segment: dict[str, SymbolRecord] = field(default_factory=dict)  # "NSE", "NFO", "BSE", "BFO", "CDS", "NSE_INDEX"
    pool: list[SymbolRecord] = field(default_factory=list)  # many distinct instruments, for the token cap

    @property
    def equity(self) -> SymbolRecord | None:
        return self.by_segment.get("NSE")


_PREFERRED_EQUITY = ("SBIN", "RELIANCE", "INFY", "TCS", "HDFCBANK", "ICICIBANK", "ITC")
_PREFERRED_FUTURE = {"NFO": "NIFTY", "BFO": "SENSEX", "CDS": "USDINR"}


def _expiry(record: SymbolRecord) -> date:
    for fmt in ("%d-%b-%y", "%d-%b-%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(record.expiry, fmt).date()
        except ValueError:
            continue
    return date.max


def choose_instruments(lookup: Any, today: date) -> Instruments:
    """Liquid instruments where they exist (SBIN, the nearest NIFTY future...), else any."""
    records_of = getattr(lookup, "records", None)
    picks = Instruments()
    for exchange in ("NSE", "BSE"):
        for name in _PREFERRED_EQUITY:
            found = lookup.get_symbol_info(name, exchange)
            if found is not None:
                picks.by_segment[exchange] = found
                break
    index = lookup.get_symbol_info("NIFTY", "NSE_INDEX")
    if index is not None:
        picks.by_segment["NSE_INDEX"] = index
    if records_of is None:
        return picks
    for exchange in ("NSE", "BSE"):
        if exchange not in picks.by_segment and (rows := records_of(exchange)):
            picks.by_segment[exchange] = rows[0]
    for exchange, underlying in _PREFERRED_FUTURE.items():
        rows = records_of(exchange)
        futures = [r for r in rows if r.instrumenttype == "FUT" and _expiry(r) >= today]
        preferred = [r for r in futures if r.name == underlying] or futures or rows
        if preferred:
            picks.by_segment[exchange] = min(preferred, key=_expiry)
    seen: set[tuple[str, str]] = set()
    for exchange in ("NSE", "NFO", "BSE", "BFO", "CDS", "BCD", "MCX"):
        for record in records_of(exchange):
            key = wire_key(record)
            if key not in seen:
                seen.add(key)
                picks.pool.append(record)
    return picks


def _group(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for exchange, token in keys:
        grouped.setdefault(exchange, []).append(token)
    return grouped


def wire_key(record: SymbolRecord) -> tuple[str, str]:
    return (record.brexchange.strip().upper(), str(record.token).strip())


def _row_key(row: Mapping[str, Any]) -> tuple[str, str]:
    token = row.get("symbolToken", row.get("symboltoken", row.get("token")))
    return (str(row.get("exchange") or "").strip().upper(), str(token or "").strip())


def _quote(client: ReadOnlyClient, mode: str, keys: Sequence[tuple[str, str]]) -> tuple[list[dict], list[dict]]:
    data = client.call("market.quote", json={"mode": mode, "exchangeTokens": _group(keys)})
    data = data if isinstance(data, dict) else {}
    fetched = [r for r in (data.get("fetched") or []) if isinstance(r, dict)]
    unfetched = [r for r in (data.get("unfetched") or []) if isinstance(r, dict)]
    return fetched, unfetched


def _quote_within_cap(client: ReadOnlyClient, keys: Sequence[tuple[str, str]]) -> list[dict]:
    """LTP rows of ``keys``, split further if mStock states a smaller token cap."""
    try:
        fetched, _ = _quote(client, "LTP", keys)
    except MStockRejected as exc:
        cap = quotes.refused_cap(exc, len(keys))
        if cap is None or isinstance(exc, AuthError):
            raise
        return [
            row for start in range(0, len(keys), cap) for row in _quote_within_cap(client, keys[start : start + cap])
        ]
    return fetched


# ---------------------------------------------------------------------- quotes


@dataclass
class RestView:
    """REST quote rows of the probe instruments, keyed by (brexchange, token), for the feed probes."""

    rows: dict[tuple[str, str], dict] = field(default_factory=dict)
    mode: str = ""


def probe_full_layout(ctx: Context, client: ReadOnlyClient, picks: Instruments) -> RestView:
    assumption = (
        "a FULL quote adds volume, open interest and 5-level depth (depth.buy / depth.sell) to the "
        "OHLC fields" + ("" if quotes.FIRST_MODE == quotes.FULL else f"; the plugin asks {quotes.FIRST_MODE}")
    )
    view = RestView()
    keys = [wire_key(r) for r in picks.by_segment.values()]
    if not keys:
        ctx.probe(
            "quote_full_layout",
            UNTESTABLE,
            "no instruments in the symbol table",
            assumption=assumption,
            fix="mstock-openalgo contract download",
        )
        return view
    try:
        fetched, _ = _quote(client, quotes.FULL, keys)
        view.mode = quotes.FULL
        ctx.sample("market.quote", "live_full")
    except AuthError:
        raise
    except MStockRejected as exc:
        ctx.sample("market.quote", "live_full_refused")
        fetched, _ = _quote(client, quotes.OHLC, keys)
        view.mode = quotes.OHLC
        view.rows = {_row_key(r): r for r in fetched}
        ctx.probe(
            "quote_full_layout",
            CONTRADICTED,
            f"mStock refused mode FULL ({exc}); OHLC works",
            assumption=assumption,
            data={"refusal": exc.message},
            change="market/quotes.py FIRST_MODE = OHLC (until then each process loses one call finding it out)",
        )
        return view
    view.rows = {_row_key(r): r for r in fetched}
    index_tokens = {e.token for e in NSE_INDICES}
    rows = [r for r in fetched if _row_key(r)[1] not in index_tokens and r.get("exchange") is not None]
    tradable = [r for r in rows if not _is_index_row(r, picks)]
    if not tradable:
        ctx.probe(
            "quote_full_layout", UNTESTABLE, "no FULL row for a tradable instrument came back", assumption=assumption
        )
        return view
    fields = sorted({k for r in tradable for k in r})
    extra = [k for k in fields if k not in _OHLC_FIELDS]
    has_volume = all(any(k in r for k in _VOLUME_KEYS) for r in tradable)
    has_oi = all(any(k in r for k in _OI_KEYS) for r in tradable)
    depth_ok = all(_depth_levels(r) for r in tradable)
    data = {"fields": fields, "volume": has_volume, "oi": has_oi, "depth": depth_ok}
    shown = f"{len(fields)} fields; beyond OHLC: {', '.join(extra) or 'none'}"
    if has_volume and depth_ok:
        ctx.probe(
            "quote_full_layout",
            CONFIRMED,
            f"FULL rows carry volume{', OI' if has_oi else ''} and depth ({shown})",
            assumption=assumption,
            data=data,
        )
    elif has_volume:
        ctx.probe(
            "quote_full_layout",
            CONTRADICTED,
            f"FULL rows carry no depth ({shown})",
            assumption=assumption,
            data=data,
            change="market/quotes.py FULL_HAS_DEPTH = False (depth then comes from the feed at once; "
            "the plugin already learns it from the first FULL reply)",
        )
    elif depth_ok:
        ctx.probe(
            "quote_full_layout",
            CONTRADICTED,
            f"FULL rows have depth but no volume field ({shown})",
            assumption=assumption,
            data=data,
            change="market/quotes.py quote_from_row (volume field names)",
        )
    else:
        ctx.probe(
            "quote_full_layout",
            CONTRADICTED,
            f"FULL rows are OHLC rows: no volume, OI or depth ({shown})",
            assumption=assumption,
            data=data,
            change="market/quotes.py FULL_HAS_DEPTH = False (volume, bid/ask and OI of REST quotes then stay 0)",
        )
    return view


def _is_index_row(row: Mapping[str, Any], picks: Instruments) -> bool:
    index = picks.by_segment.get("NSE_INDEX")
    return index is not None and _row_key(row) == wire_key(index)


def _depth_levels(row: Mapping[str, Any]) -> bool:
    depth = row.get("depth")
    if not isinstance(depth, Mapping):
        return False
    sides = [depth.get("buy", depth.get("bids")), depth.get("sell", depth.get("asks"))]
    return all(
        isinstance(side, list)
        and side
        and all(isinstance(l, Mapping) and "price" in l and ("quantity" in l or "qty" in l) for l in side)
        for side in sides
    )


def probe_token_cap(ctx: Context, client: ReadOnlyClient, picks: Instruments) -> None:
    cap = quotes.MAX_TOKENS_PER_QUOTE_CALL
    assumption = f"one quote call may name {cap} tokens"
    keys = [wire_key(r) for r in picks.pool]
    if len(keys) < 2:
        ctx.probe("quote_token_cap", UNTESTABLE, "too few instruments in the symbol table", assumption=assumption)
        return
    calls: list[str] = []

    def accepted(n: int, offset: int = 0) -> MStockError | None:
        try:
            _quote(client, "LTP", keys[offset : offset + n])
        except AuthError:
            raise
        except MStockRejected as exc:
            calls.append(f"{n} refused")
            return exc
        calls.append(f"{n} accepted")
        return None

    n = min(cap, len(keys))
    refusal = accepted(n)
    if refusal is None:
        if n < cap:
            ctx.probe(
                "quote_token_cap",
                UNTESTABLE,
                f"only {n} instruments in the symbol table; a call with all {n} was accepted",
                assumption=assumption,
            )
        else:
            ctx.probe(
                "quote_token_cap",
                CONFIRMED,
                f"a call with {n} real tokens was accepted",
                assumption=assumption,
                data={"accepted": n},
            )
        return
    ctx.sample("market.quote", "live_cap_refused")
    stated = quotes.refused_cap(refusal, n)
    if stated is not None and accepted(stated) is None:
        found = stated
    else:
        if accepted(1) is not None:
            ctx.probe(
                "quote_token_cap",
                UNTESTABLE,
                f"even a one-token LTP quote was refused ({refusal})",
                assumption=assumption,
            )
            return
        low, high = 1, n  # low accepted, high refused
        while high - low > 1:
            middle = (low + high) // 2
            if accepted(middle) is None:
                low = middle
            else:
                high = middle
        found = low
    ctx.quote_cap = found
    followed = " (the plugin already follows a refusal that states the cap)" if stated == found else ""
    ctx.probe(
        "quote_token_cap",
        CONTRADICTED,
        f"mStock refused {n} tokens in one call ({refusal.message}); {found} are accepted",
        assumption=assumption,
        data={"cap": found, "calls": calls},
        change=f"market/quotes.py MAX_TOKENS_PER_QUOTE_CALL = {found}{followed}",
    )


# ---------------------------------------------------------------------- index tokens


def probe_nse_indices(ctx: Context, client: ReadOnlyClient) -> None:
    entries = [e for e in NSE_INDICES if e.token]
    assumption = "these quote under NSE: " + ", ".join(f"{e.symbol} {e.token}" for e in entries)
    fetched, unfetched = _quote(client, "LTP", [("NSE", str(e.token)) for e in entries])
    ctx.sample("market.quote", "live_index_nse")
    got = {_row_key(r)[1]: r for r in fetched}
    missing = [e for e in entries if e.token not in got]
    seen = ", ".join(
        f"{e.symbol} {e.token} ({got[e.token].get('tradingSymbol', '?')})" for e in entries if e.token in got
    )
    if not missing:
        ctx.probe("index_tokens_nse", CONFIRMED, f"all quote: {seen}", assumption=assumption)
        return
    reasons = {_row_key(r)[1]: text(r.get("message")) for r in unfetched}
    lost = ", ".join(
        f"{e.symbol} {e.token}" + (f" ({reasons[e.token]})" if reasons.get(e.token) else "") for e in missing
    )
    ctx.probe(
        "index_tokens_nse",
        CONTRADICTED,
        f"no quote for {lost}" + (f"; quoted: {seen}" if seen else ""),
        assumption=assumption,
        data={"missing": [e.symbol for e in missing]},
        change="database/index_tokens.py NSE_INDICES (the token of " + ", ".join(e.symbol for e in missing) + ")",
    )


def probe_more_indices(ctx: Context, client: ReadOnlyClient, lookup: Any) -> None:
    assumption = (
        f"no NSE index token besides the six is known; tokens {INDEX_SCAN.start}-{INDEX_SCAN.stop - 1} "
        "answer nothing else"
    )
    known = {e.token for e in NSE_INDICES}
    candidates = [
        str(t) for t in INDEX_SCAN if str(t) not in known and lookup.get_record_by_token(str(t), "NSE") is None
    ]
    cap = max(1, min(quotes.MAX_TOKENS_PER_QUOTE_CALL, ctx.quote_cap or quotes.MAX_TOKENS_PER_QUOTE_CALL))
    found: list[dict] = []
    for start in range(0, len(candidates), cap):
        found += _quote_within_cap(client, [("NSE", t) for t in candidates[start : start + cap]])
    if not found:
        ctx.probe(
            "index_tokens_more",
            CONFIRMED,
            f"none of {len(candidates)} other tokens in that range quotes under NSE",
            assumption=assumption,
        )
        return
    ctx.sample("market.quote", "live_index_scan")
    rows = sorted(((_row_key(r)[1], text(r.get("tradingSymbol") or r.get("tradingsymbol"))) for r in found))
    listing = ", ".join(f"{token} {name or '?'}" for token, name in rows)
    names = ", ".join(f"{index_key(name) or '?'} {token}" for token, name in rows)
    ctx.probe(
        "index_tokens_more",
        CONTRADICTED,
        f"{len(rows)} more tokens quote under NSE: {listing}",
        assumption=assumption,
        data={"tokens": dict(rows)},
        change=f"database/index_tokens.py NSE_INDICES: add {names} (after checking each name)",
    )


def probe_bse_indices(ctx: Context, client: ReadOnlyClient, lookup: Any) -> None:
    assumption = "BSE index rows of the master (SENSEX, BANKEX, SENSEX50...) quote with their master tokens"
    records_of = getattr(lookup, "records", None)
    records = records_of("BSE_INDEX") if records_of else []
    if not records:
        ctx.probe("index_tokens_bse", UNTESTABLE, "no BSE index rows in the symbol table", assumption=assumption)
        return
    fetched = _quote_within_cap(client, [wire_key(r) for r in records])
    got = {_row_key(r) for r in fetched}
    missing = [r for r in records if wire_key(r) not in got]
    quoted = ", ".join(f"{r.symbol} {r.token}" for r in records if wire_key(r) in got)
    if not missing:
        ctx.probe("index_tokens_bse", CONFIRMED, f"all quote: {quoted}", assumption=assumption)
        return
    ctx.probe(
        "index_tokens_bse",
        CONTRADICTED,
        "no quote for " + ", ".join(f"{r.symbol} {r.token} ({r.brsymbol})" for r in missing),
        assumption=assumption,
        data={"missing": [r.symbol for r in missing]},
        change="database/index_tokens.py BSE_INDICES (which master rows are taken as BSE indices)",
    )


# ---------------------------------------------------------------------- history


def past_weekdays(today: date, count: int) -> list[date]:
    """The ``count`` weekdays before ``today``, oldest first."""
    days: list[date] = []
    day = today
    while len(days) < count:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return sorted(days)


def _history_body(record: SymbolRecord, interval: str, first: date, last: date) -> dict[str, str]:
    return {
        "exchange": record.brexchange,
        "symboltoken": str(record.token),
        "interval": interval,
        "fromdate": f"{first.isoformat()} 00:00",
        "todate": f"{last.isoformat()} 23:59",
    }


def _bar_times(rows: Sequence[Any]) -> list[datetime]:
    out = []
    for row in rows:
        if isinstance(row, (list, tuple)) and row:
            try:
                out.append(datetime.fromtimestamp(parse_instant(row[0]), IST))
            except (TypeError, ValueError):
                continue
    return out


def probe_history_limit(ctx: Context, client: ReadOnlyClient, record: SymbolRecord) -> None:
    limit = intervals.HISTORY_BAR_LIMIT
    a_limit = f"one historical call returns at most {limit} bars"
    a_over = f"a longer range is cut to {limit} bars, not refused"
    days = past_weekdays(today_ist(ctx.now()), HISTORY_PROBE_SESSIONS)
    per_day = intervals.bars_per_session(intervals.interval_for("1m"), "NSE")
    body = _history_body(record, "ONE_MINUTE", days[0], days[-1])
    asked = f"1-minute bars of {record.symbol} for {days[0]}..{days[-1]} (up to {per_day * len(days)} bars)"
    try:
        reply = client.call("market.historical", json=body, full=True)
    except AuthError:
        raise
    except MStockRejected as exc:
        ctx.sample("market.historical", "live_over_limit_refused")
        if not refused_for_size(exc):
            reason = f"{asked} was refused: {exc}"
            ctx.probe("history_bar_limit", UNTESTABLE, reason, assumption=a_limit)
            ctx.probe("history_over_limit", UNTESTABLE, reason, assumption=a_over)
            return
        match = _STATED_BARS.search(exc.message)
        stated = int(match.group(1) or match.group(2)) if match else None
        if stated == limit:
            ctx.probe(
                "history_bar_limit",
                CONFIRMED,
                f"mStock states it: {exc.message}",
                assumption=a_limit,
                data={"limit": stated},
            )
        elif stated is not None:
            ctx.probe(
                "history_bar_limit",
                CONTRADICTED,
                f"mStock states a limit of {stated}: {exc.message}",
                assumption=a_limit,
                data={"limit": stated},
                change=f"market/intervals.py HISTORY_BAR_LIMIT = {stated}",
            )
        else:
            ctx.probe(
                "history_bar_limit", UNTESTABLE, f"refused without stating the limit: {exc.message}", assumption=a_limit
            )
        ctx.probe(
            "history_over_limit",
            CONTRADICTED,
            f"a range over the limit is refused, not cut: {exc.message}",
            assumption=a_over,
            change="nothing to change: market/history.py splits a chunk mStock refuses for its size",
        )
        return
    data = reply.data if isinstance(reply.data, dict) else {}
    rows = data.get("candles") if isinstance(data.get("candles"), list) else []
    ctx.sample("market.historical", "live_one_minute")
    times = _bar_times(rows)
    n = len(rows)
    if not times:
        reason = f"{asked}: no bars came back (holidays?)"
        ctx.probe("history_bar_limit", UNTESTABLE, reason, assumption=a_limit)
        ctx.probe("history_over_limit", UNTESTABLE, reason, assumption=a_over)
        return
    returned_days = sorted({t.date() for t in times})
    open_minute = 9 * 60 + 15
    first_partial = times[0].hour * 60 + times[0].minute > open_minute
    last_partial = times[-1].hour * 60 + times[-1].minute < open_minute + per_day - 1
    skipped_weekdays = len([d for d in days if d > returned_days[-1] or d < returned_days[0]])
    says = bool(re.search(r"(?i)\b(only|first|last|truncat\w*|limit\w*|maximum)\b", reply.message or ""))
    cut = says or first_partial or last_partial or skipped_weekdays >= 2
    kept = "the oldest" if (last_partial or days[-1] > returned_days[-1]) else "the newest"
    message = (
        f" (message: {reply.message!r})" if reply.message and reply.message.lower() not in ("success", "ok") else ""
    )
    data_out = {"bars": n, "days": [d.isoformat() for d in returned_days], "cut": cut}
    if cut:
        seen = f"{asked}: {n} bars came back, {kept} of the range{message}"
        if n == limit:
            ctx.probe("history_bar_limit", CONFIRMED, seen, assumption=a_limit, data=data_out)
        else:
            risk = (
                f"the plugin asks up to {limit - 1} bars per call and would lose the rest"
                if n < limit
                else f"{limit} is safe, a higher value saves calls"
            )
            ctx.probe(
                "history_bar_limit",
                CONTRADICTED,
                f"{seen}; {risk}",
                assumption=a_limit,
                data=data_out,
                change=f"market/intervals.py HISTORY_BAR_LIMIT = {n}",
            )
        ctx.probe(
            "history_over_limit",
            CONFIRMED,
            f"the range was cut to {n} bars ({kept} kept), not refused",
            assumption=a_over,
        )
        return
    if n > limit:
        ctx.probe(
            "history_bar_limit",
            CONTRADICTED,
            f"{asked}: all {n} bars came back in one call; the limit is higher",
            assumption=a_limit,
            data=data_out,
            change=f"market/intervals.py HISTORY_BAR_LIMIT (at least {n} works; {limit} is safe but makes more calls)",
        )
    else:
        ctx.probe(
            "history_bar_limit",
            UNTESTABLE,
            f"{asked}: {n} bars, too few to reach the limit (holidays?)",
            assumption=a_limit,
            data=data_out,
        )
    ctx.probe("history_over_limit", UNTESTABLE, "the limit was not reached", assumption=a_over)


def _grid(opens: int, minutes: int, session: int) -> tuple[list[str], list[str]]:
    starts = [opens + k * minutes for k in range(-(-session // minutes))]
    ends = [min(s + minutes, opens + session) for s in starts]

    def fmt(values: list[int]) -> list[str]:
        return [f"{v // 60:02d}:{v % 60:02d}" for v in values]

    return fmt(starts), fmt(ends)


def probe_hourly_labels(ctx: Context, client: ReadOnlyClient, record: SymbolRecord) -> None:
    assumed = intervals.HOURLY_LABELS
    open_time = intervals.session_open("NSE")
    opens = open_time.hour * 60 + open_time.minute
    starts, ends = _grid(opens, 60, intervals.SESSION_MINUTES["NSE"])
    assumption = (
        f"an hourly bar is labelled with its {assumed} ("
        + (f"{starts[0]} = {starts[0]}-{ends[0]}" if assumed == "start" else f"{ends[0]} = {starts[0]}-{ends[0]}")
        + ")"
    )
    days = past_weekdays(today_ist(ctx.now()), HOURLY_PROBE_WEEKDAYS)
    data = client.call("market.historical", json=_history_body(record, "ONE_HOUR", days[0], days[-1]))
    ctx.sample("market.historical", "live_one_hour")
    rows = data.get("candles") if isinstance(data, dict) and isinstance(data.get("candles"), list) else []
    by_day: dict[date, list[str]] = {}
    for moment in _bar_times(rows):
        by_day.setdefault(moment.date(), []).append(f"{moment:%H:%M}")
    full_days = [d for d, labels in by_day.items() if len(labels) >= len(starts) - 1]
    if not full_days:
        ctx.probe(
            "hourly_labels",
            UNTESTABLE,
            f"no full session of hourly bars for {record.symbol} in {days[0]}..{days[-1]}",
            assumption=assumption,
        )
        return
    day = max(full_days)
    labels = sorted(set(by_day[day]))
    shown = ", ".join(labels)
    meaning = "start" if labels == starts else "end" if labels == ends else None
    detail = f"{record.symbol} on {day}: {shown}"
    if meaning == assumed:
        ctx.probe(
            "hourly_labels", CONFIRMED, f"{detail} (bar {meaning}s)", assumption=assumption, data={"labels": labels}
        )
    elif meaning is not None:
        ctx.probe(
            "hourly_labels",
            CONTRADICTED,
            f"{detail}: labels are bar {meaning}s",
            assumption=assumption,
            data={"labels": labels},
            change=f'market/intervals.py HOURLY_LABELS = "{meaning}"',
        )
    else:
        ctx.probe(
            "hourly_labels",
            CONTRADICTED,
            f"{detail}: neither bar starts ({starts[0]}..{starts[-1]}) nor ends ({ends[0]}..{ends[-1]})",
            assumption=assumption,
            data={"labels": labels},
            change="market/intervals.py HOURLY_LABELS has no value for this grid: share this report",
        )


# ---------------------------------------------------------------------- order book


def probe_order_book(ctx: Context, client: ReadOnlyClient) -> None:
    a_tag = "order book rows carry the ordertag the plugin sent"
    a_status = "every order status mStock shows is in the plugin's status table"
    rows = [lower_keys(r) for r in book_rows(client.call("orders.list"))]
    ctx.sample("orders.list", "live")
    if not rows:
        reason = "no orders today (run again after placing one order through OpenAlgo or the CLI)"
        ctx.probe("ordertag_echo", UNTESTABLE, reason, assumption=a_tag)
        ctx.probe("order_statuses", UNTESTABLE, reason, assumption=a_status)
        return
    _probe_statuses(ctx, rows, a_status)
    keyed = [r for r in rows if "ordertag" in r]
    tagged = [r for r in keyed if text(r.get("ordertag"))]
    ours = [r for r in tagged if is_our_tag(r.get("ordertag"))]
    if tagged:
        example = text((ours or tagged)[0].get("ordertag"))
        ctx.probe(
            "ordertag_echo",
            CONFIRMED,
            f"{len(tagged)} of {len(rows)} rows carry a tag ({len(ours)} of ours, e.g. {example})",
            assumption=a_tag,
        )
        return
    details_tags = _details_tags(ctx, client, rows)
    in_details = [t for t in details_tags if t]
    if not keyed:
        also = f"; order details do show it ({in_details[0]})" if in_details else ""
        ctx.probe(
            "ordertag_echo",
            CONTRADICTED,
            f"none of {len(rows)} rows has an ordertag field{also}",
            assumption=a_tag,
            change="nothing to change: orders/reconcile.py looks orders up in order details when the book "
            "carries no tags",
        )
    elif in_details:
        ctx.probe(
            "ordertag_echo",
            CONTRADICTED,
            f"rows have an empty ordertag while order details show it ({in_details[0]})",
            assumption=a_tag,
            change="nothing to change: orders/book.py book_carries_tags counts only non-empty tags, so "
            "orders/reconcile.py falls back to order details",
        )
    else:
        ctx.probe(
            "ordertag_echo",
            UNTESTABLE,
            "no order of today carries a tag (none was placed through this plugin?)",
            assumption=a_tag,
        )


def _details_tags(ctx: Context, client: ReadOnlyClient, rows: list[dict]) -> list[str]:
    tags: list[str] = []
    for row in rows[:3]:
        orderid = text(row.get("orderid")).strip()
        if not orderid:
            continue
        try:
            details = book_rows(client.call("orders.details", json={"order_no": orderid}))
        except MStockRejected:
            continue
        ctx.sample("orders.details", "live")
        for detail in details:
            fields = lower_keys(detail)
            if "ordertag" in fields:
                tags.append(text(fields.get("ordertag")))
                break
    return tags


def _probe_statuses(ctx: Context, rows: list[dict], assumption: str) -> None:
    seen: dict[str, str] = {}
    unknown: dict[str, str] = {}
    partly = ""
    for row in rows:
        raw = text(row.get("status") or row.get("orderstatus"))
        quantity = as_int(row.get("quantity"))
        filled = as_int(row.get("filledshares"))
        if 0 < filled < quantity and not partly:
            partly = f"a partly filled order ({filled} of {quantity}) shows {raw!r}"
        key = status_key(raw)
        seen[raw] = STATUS_TO_OPENALGO.get(key, "?")
        if key not in STATUS_TO_OPENALGO:
            unknown[raw] = "open" if 0 < filled < quantity else "?"
    listing = ", ".join(f"{raw} -> {status}" for raw, status in sorted(seen.items()))
    if not unknown:
        ctx.probe("order_statuses", CONFIRMED, listing + (f"; {partly}" if partly else ""), assumption=assumption)
        return
    additions = ", ".join(
        f'"{status_key(raw)}": {"OPEN" if meaning == "open" else "<status>"}'
        for raw, meaning in sorted(unknown.items())
    )
    ctx.probe(
        "order_statuses",
        CONTRADICTED,
        f"unknown: {', '.join(repr(u) for u in sorted(unknown))}" + (f"; {partly}" if partly else "") + f" ({listing})",
        assumption=assumption,
        data={"unknown": sorted(unknown)},
        change=f"mapping/codes.py STATUS_TO_OPENALGO: add {additions}",
    )


# ---------------------------------------------------------------------- rate limit


def probe_rate_limit(ctx: Context, record: SymbolRecord | None) -> None:
    assumption = "a request over mStock's rate limit is refused with HTTP 429"
    if not ctx.probe_rate_limit:
        ctx.probe(
            "rate_limit_shape",
            UNTESTABLE,
            "not probed: --probe-rate-limit sends up to three intraday reads 0.1 s apart, past "
            "mStock's 1 request/s Data API limit, and stops at the first refusal",
            assumption=assumption,
        )
        return
    exchange = record.exchange if record is not None else ""
    if record is None or exchange not in INTRADAY_EXCHANGE_CODE:
        ctx.probe("rate_limit_shape", UNTESTABLE, "no NSE equity in the symbol table", assumption=assumption)
        return
    client = ctx.client(ctx.access_token, limiter=Unlimited())
    body = {"exchange": INTRADAY_EXCHANGE_CODE[exchange], "symboltoken": str(record.token), "interval": "ONE_DAY"}
    time.sleep(1.1)  # a fresh Data API second, so the first request is surely within the limit
    mark = ctx.recorder.mark()
    answers: list[MStockError | None] = []
    try:
        for _ in range(PROBE_BURST):
            try:
                client.call("market.intraday", json=body)
                answers.append(None)
            except AuthError:
                raise
            except MStockError as exc:
                answers.append(exc)
                break
            time.sleep(0.1)
    finally:
        client.close()
    exchanges = [e for e in ctx.recorder.since(mark) if e.route == "market.intraday"]
    if not answers or answers[0] is not None:
        ctx.probe(
            "rate_limit_shape",
            UNTESTABLE,
            f"the first request was refused ({answers[0] if answers else 'no answer'})",
            assumption=assumption,
        )
        return
    refused = next((e for e, a in zip(exchanges, answers) if a is not None), None)
    if refused is None:
        ctx.probe(
            "rate_limit_shape",
            UNTESTABLE,
            f"mStock answered all {len(answers)} requests sent 0.1 s apart",
            assumption=assumption,
        )
        return
    ctx.sample("market.intraday", "live_rate_limited", exchange=refused)
    try:
        parse_envelope(refused.http_status, refused.content_type, refused.body, route_name="market.intraday")
        read_as = "a success"
    except RateLimited:
        read_as = "a rate limit"
    except MStockError as exc:
        read_as = f"{type(exc).__name__} ({exc})"
    body_text = refused.body.decode("utf-8", "replace").strip()[:160]
    seen = f"HTTP {refused.http_status}: {body_text}; the plugin reads it as {read_as}"
    if refused.http_status == 429 and read_as == "a rate limit":
        ctx.probe("rate_limit_shape", CONFIRMED, seen, assumption=assumption)
    elif read_as == "a rate limit":
        ctx.probe(
            "rate_limit_shape",
            CONTRADICTED,
            seen,
            assumption=assumption,
            change="nothing to change: transport/error_codes.py ERROR_CODES already reads this answer as a rate limit",
        )
    else:
        code = re.search(r'"error(?:code|_type)"\s*:\s*"([^"]+)"', body_text)
        name = f"'{code.group(1)}'" if code else "its error code"
        ctx.probe(
            "rate_limit_shape",
            CONTRADICTED,
            seen,
            assumption=assumption,
            change=f"transport/error_codes.py ERROR_CODES: map {name} to RateLimited",
        )
