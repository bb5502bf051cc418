"""The checks, as data: one ordered list of named checks that both ``verify`` and pytest run.

Each :class:`Check` has a name (the table's first column), the names of checks it needs
(skipped, not failed, when one of those did not pass) and a function of the shared
:class:`Context` that raises :class:`~.client.CheckFailed` with what was expected and what
came back. Every answer OpenAlgo gives is compared with the sandbox's own state through
:class:`~.oracle.Oracle`: an order said to be placed must be in the sandbox's book with
the same instrument, side, type, product, quantity and prices; a rejection must come back
as an error; a position must have the quantity the sandbox holds.

To add a check, append a :class:`Check` to :data:`CHECKS` at the point in the story where
its preconditions hold. The order-update checks (``order_update`` events on OpenAlgo's
WebSocket) live in :mod:`.order_updates`.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp

from . import order_updates
from .client import CheckFailed, OpenAlgoFeed, OpenAlgoWeb, expect
from .oracle import OPEN_STATES, PRICE_TYPE, PRODUCT, PRODUCT_BACK, STATUS, Instrument, Oracle, on_tick


@dataclass
class Context:
    """What the checks share: the running stack, the clients and what earlier checks learnt."""

    oracle: Oracle
    web: OpenAlgoWeb
    ws_url: str
    out_dir: Path
    browser_factory: Callable[[], Any] | None = None
    browser: Any = None
    username: str = "verify"
    password: str = field(default_factory=lambda: f"Vf#{secrets.token_hex(6)}Aa1", repr=False)
    instruments: dict[str, Instrument] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)  # label -> order id
    notes: dict[str, Any] = field(default_factory=dict)

    def instrument(self, key: str) -> Instrument:
        if key not in self.instruments:
            raise CheckFailed(f"no {key} instrument chosen yet (the symbol checks did not pass)")
        return self.instruments[key]

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
            self.browser = None
        self.web.close()


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Context], str | None]
    needs: tuple[str, ...] = ()
    browser: bool = False


def _near(a: float, b: float, tolerance: float = 0.011) -> bool:
    return abs(float(a) - float(b)) <= tolerance


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CheckFailed(f"{value!r} is not a number") from None


# ====================================================================== login


def check_setup(ctx: Context) -> str:
    before = ctx.web.get("/auth/check-setup").body
    expect(before.get("needs_setup") is True, f"a fresh OpenAlgo copy should need its first-run setup, got {before}")
    answer = ctx.web.post_form("/setup", {"username": ctx.username, "email": "verify@example.invalid",
                                          "password": ctx.password})
    expect(answer.http_status in (200, 302), f"POST /setup answered HTTP {answer.http_status}")
    after = ctx.web.get("/auth/check-setup").body
    expect(after.get("needs_setup") is False, f"setup did not create the admin user: {after}")
    return None


def check_app_login(ctx: Context) -> str | None:
    ctx.web.post_form("/auth/login", {"username": ctx.username, "password": ctx.password}).success("POST /auth/login")
    return None


def _wrong_totp(secret: str, now: float | None = None) -> str:
    """A 6-digit code valid in no window the server may accept (previous, current, next)."""
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    valid = {totp.at(now + 30 * step) for step in range(-2, 3)}
    code = 123456
    while f"{code:06d}" in valid:
        code = (code + 111111) % 1_000_000
    return f"{code:06d}"


def check_broker_wrong_totp(ctx: Context) -> str | None:
    account = ctx.oracle.server.account
    opened = len([x for x in ctx.oracle.log_lines("auth.verify_totp") if " 200 " in x])
    answer = ctx.web.post_form("/mstock/callback", {"password": account.password, "totp": _wrong_totp(account.totp_secret)},
                               multipart=True)
    message = answer.refusal("mStock login with a wrong TOTP")
    expect(answer.http_status in (400, 401), f"a wrong TOTP answered HTTP {answer.http_status}, expected 401")
    expect("totp" in message.lower(), f"the refusal should say the TOTP was wrong, it says: {message}")
    refused = [x for x in ctx.oracle.log_lines("auth.verify_totp") if "MA400" in x]
    expect(refused, "the sandbox never saw the wrong TOTP (was the refusal invented before asking mStock?)")
    now_open = len([x for x in ctx.oracle.log_lines("auth.verify_totp") if " 200 " in x])
    expect(now_open == opened, "the sandbox opened a session for a wrong TOTP")
    return None


def check_broker_login(ctx: Context) -> str | None:
    account = ctx.oracle.server.account
    answer = ctx.web.post_form("/mstock/callback", {"password": account.password,
                                                    "totp": pyotp.TOTP(account.totp_secret).now()}, multipart=True)
    answer.success("mStock login with password and TOTP")
    opened = [x for x in ctx.oracle.log_lines("auth.verify_totp") if " 200 " in x]
    expect(opened, "OpenAlgo reported a broker login but the sandbox opened no session")
    return None


def check_master_contract(ctx: Context) -> str:
    deadline = time.monotonic() + 180
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = ctx.web.get("/api/master-contract/status").body
        if status.get("status") in ("success", "error"):
            break
        time.sleep(0.5)
    expect(status.get("status") == "success", f"master contract download did not succeed: {status.get('message') or status}")
    total = int(status.get("total_symbols") or 0)
    rows = len(ctx.oracle.master_rows())
    expect(total >= rows, f"OpenAlgo holds {total} symbols, the sandbox's master has {rows} rows")
    stats = status.get("exchange_stats") or {}
    for exchange in ("NSE", "NFO", "NSE_INDEX"):
        expect(stats.get(exchange), f"no {exchange} symbols after the download: {stats}")
    return f"{total} symbols"


def check_api_key(ctx: Context) -> str | None:
    body = ctx.web.get("/apikey", Accept="application/json").body
    key = body.get("api_key")
    expect(isinstance(key, str) and len(key) >= 32, "GET /apikey returned no API key")
    ctx.web.api_key = key
    from broker.mstock.redact import register_secret

    register_secret(key)
    ctx.web.api("ping").success("ping")
    return None


# ====================================================================== symbols and data


def _symbol_matches(info: dict[str, Any], inst: Instrument) -> None:
    what = f"{inst.symbol} on {inst.exchange}"
    expect(str(info.get("token")) == inst.token, f"{what}: token {info.get('token')}, the master says {inst.token}")
    expect(info.get("brsymbol") == inst.brsymbol, f"{what}: brsymbol {info.get('brsymbol')}, the master says {inst.brsymbol}")
    expect(int(_num(info.get("lotsize"))) == inst.lotsize, f"{what}: lot size {info.get('lotsize')}, the master says {inst.lotsize}")
    expect(_near(_num(info.get("tick_size")), inst.tick, 1e-6), f"{what}: tick {info.get('tick_size')}, the master says {inst.tick}")
    if inst.expiry is not None:
        expect(str(info.get("expiry", "")).upper() == f"{inst.expiry:%d-%b-%y}".upper(),
               f"{what}: expiry {info.get('expiry')}, the master says {inst.expiry}")
    if inst.strike is not None:
        expect(_near(_num(info.get("strike")), inst.strike), f"{what}: strike {info.get('strike')}, the master says {inst.strike}")


def check_symbols(ctx: Context) -> str:
    oracle = ctx.oracle
    ctx.instruments["equity"] = oracle.equity("SBIN")
    ctx.instruments["equity2"] = oracle.equity("INFY")
    ctx.instruments["index"] = oracle.index("NIFTY", "26000")
    ctx.instruments["future"] = oracle.nearest_future("NIFTY")
    spot = oracle.snapshot(ctx.instruments["index"]).ltp
    ctx.instruments["option"] = oracle.option_near("NIFTY", spot, "CE")
    for key in ("equity", "equity2", "future", "option"):
        inst = ctx.instruments[key]
        info = ctx.web.api("symbol", symbol=inst.symbol, exchange=inst.exchange).success(f"symbol {inst.symbol}")["data"]
        _symbol_matches(info, inst)
    index = ctx.instruments["index"]
    info = ctx.web.api("symbol", symbol=index.symbol, exchange=index.exchange).success("symbol NIFTY")["data"]
    expect(str(info.get("token")) == index.token, f"NIFTY on NSE_INDEX: token {info.get('token')}, the sandbox's is {index.token}")
    return f"{ctx.instruments['future'].symbol}, {ctx.instruments['option'].symbol}"


def check_search(ctx: Context) -> str | None:
    inst = ctx.instrument("equity")
    hits = ctx.web.api("search", query=inst.symbol, exchange="NSE").success("search")["data"]
    match = [h for h in hits if h.get("symbol") == inst.symbol and h.get("exchange") == "NSE"]
    expect(match, f"searching {inst.symbol} on NSE did not return it: {[h.get('symbol') for h in hits][:10]}")
    _symbol_matches(match[0], inst)
    future = ctx.instrument("future")
    hits = ctx.web.api("search", query=future.symbol, exchange="NFO").success("search")["data"]
    expect(any(h.get("symbol") == future.symbol and str(h.get("token")) == future.token for h in hits),
           f"searching {future.symbol} on NFO did not return it with token {future.token}")
    return None


def check_expiry(ctx: Context) -> str:
    shown = {}
    for kind in ("futures", "options"):
        got = ctx.web.api("expiry", symbol="NIFTY", exchange="NFO", instrumenttype=kind).success(f"expiry {kind}")["data"]
        want = [f"{d:%d-%b-%y}".upper() for d in ctx.oracle.expiries("NIFTY", kind)]
        expect([str(x).upper() for x in got] == want, f"NIFTY {kind} expiries {got}, the master's (by date) are {want}")
        shown[kind] = len(got)
    return f"{shown['futures']} future and {shown['options']} option expiries"


def check_funds(ctx: Context) -> str:
    data = ctx.web.api("funds").success("funds")["data"]
    want = ctx.oracle.funds()
    expect(_near(_num(data.get("availablecash")), want["available"]),
           f"availablecash {data.get('availablecash')}, the sandbox's available funds are {want['available']:.2f}")
    expect(_near(_num(data.get("utiliseddebits")), want["used"]),
           f"utiliseddebits {data.get('utiliseddebits')}, the sandbox's used margin is {want['used']:.2f}")
    expect(_near(_num(data.get("m2munrealized")), want["unrealised"]),
           f"m2munrealized {data.get('m2munrealized')}, the sandbox's unrealised P&L is {want['unrealised']:.2f}")
    expect(_near(_num(data.get("m2mrealized")), want["realised"]),
           f"m2mrealized {data.get('m2mrealized')}, the sandbox's realised P&L is {want['realised']:.2f}")
    return f"available {want['available']:.2f}, P&L {want['realised']:.2f} + {want['unrealised']:.2f}"


def check_funds_after_orders(ctx: Context) -> str:
    future = ctx.instrument("future")
    snap = ctx.oracle.snapshot(future)
    ctx.oracle.set_ltp(future, on_tick(snap.ltp * 1.005, future.tick))  # an unrealised profit on the long future
    return check_funds(ctx)


def _quote_matches(label: str, quote: dict[str, Any], snap: Any, *, index: bool) -> None:
    for field_name, want in (("ltp", snap.ltp), ("open", snap.open), ("high", snap.high), ("low", snap.low),
                             ("prev_close", snap.close)):
        expect(_near(_num(quote.get(field_name)), want), f"{label}: {field_name} {quote.get(field_name)}, the sandbox's is {want}")
    if not index:
        expect(int(_num(quote.get("volume"))) == int(snap.volume), f"{label}: volume {quote.get('volume')}, the sandbox's is {snap.volume}")
        expect(_near(_num(quote.get("bid")), snap.bids[0][0]), f"{label}: bid {quote.get('bid')}, the sandbox's best bid is {snap.bids[0][0]}")
        expect(_near(_num(quote.get("ask")), snap.asks[0][0]), f"{label}: ask {quote.get('ask')}, the sandbox's best ask is {snap.asks[0][0]}")


def check_quotes(ctx: Context) -> str:
    for key in ("equity", "index", "future", "option"):
        inst = ctx.instrument(key)
        quote = ctx.web.api("quotes", symbol=inst.symbol, exchange=inst.exchange).success(f"quotes {inst.symbol}")["data"]
        _quote_matches(f"{inst.symbol} quote", quote, ctx.oracle.snapshot(inst), index=key == "index")
    return "equity, index, future, option"


def check_multiquotes(ctx: Context) -> str:
    keys = ("equity", "equity2", "index", "future", "option")
    insts = [ctx.instrument(k) for k in keys]
    body = ctx.web.api("multiquotes", symbols=[{"symbol": i.symbol, "exchange": i.exchange} for i in insts]).success("multiquotes")
    results = {(r.get("symbol"), r.get("exchange")): r.get("data") or {} for r in body.get("results", [])}
    for key, inst in zip(keys, insts):
        quote = results.get((inst.symbol, inst.exchange))
        expect(quote, f"multiquotes left out {inst.symbol} ({inst.exchange})")
        _quote_matches(f"{inst.symbol} in multiquotes", quote, ctx.oracle.snapshot(inst), index=key == "index")
    return f"{len(insts)} symbols"


def _levels_match(label: str, got: list[dict[str, Any]], want: list[tuple[float, int, int]]) -> None:
    expect(len(got) >= len(want), f"{label}: {len(got)} levels, the sandbox has {len(want)}")
    for i, (price, quantity, _orders) in enumerate(want):
        level = got[i]
        expect(_near(_num(level.get("price")), price) and int(_num(level.get("quantity"))) == int(quantity),
               f"{label} level {i + 1}: {level}, the sandbox's is price {price} quantity {quantity}")


def check_depth(ctx: Context) -> str:
    inst = ctx.instrument("equity")
    data = ctx.web.api("depth", symbol=inst.symbol, exchange=inst.exchange).success("depth")["data"]
    snap = ctx.oracle.snapshot(inst)
    _levels_match("depth bids", data.get("bids") or [], snap.bids)
    _levels_match("depth asks", data.get("asks") or [], snap.asks)
    expect(_near(_num(data.get("ltp")), snap.ltp), f"depth ltp {data.get('ltp')}, the sandbox's is {snap.ltp}")
    expect(int(_num(data.get("totalbuyqty"))) == int(snap.total_buy_qty),
           f"depth totalbuyqty {data.get('totalbuyqty')}, the sandbox's is {snap.total_buy_qty}")
    return "5 bids, 5 asks"


def _check_history(ctx: Context, interval: str, days_back: int) -> str:
    inst = ctx.instrument("equity")
    today = ctx.oracle.state.clock().date()
    start = today - timedelta(days=days_back)
    answer = ctx.web.api("history", symbol=inst.symbol, exchange=inst.exchange, interval=interval,
                         start_date=start.isoformat(), end_date=today.isoformat())
    bars = answer.success(f"history {interval}")["data"]
    want = ctx.oracle.candles(inst, interval, start, today)
    got = [(int(b["timestamp"]), _num(b["open"]), _num(b["high"]), _num(b["low"]), _num(b["close"]), int(_num(b["volume"])))
           for b in bars]
    expect(got, f"history {interval} {start}..{today}: no bars, the sandbox has {len(want)}")
    # Today's last bar may still be forming while we compare: allow that one to differ.
    forming = 1 if interval != "D" else 0
    expect(abs(len(got) - len(want)) <= forming,
           f"history {interval} {start}..{today}: {len(got)} bars, the sandbox has {len(want)}")
    wanted = {w[0]: w for w in want}
    compared = got[:-1] if forming else got
    for bar in compared:
        expect(bar[0] in wanted, f"history {interval}: a bar at {bar[0]} the sandbox does not have")
        w = wanted[bar[0]]
        expect(all(_near(a, b) for a, b in zip(bar[1:5], w[1:5])) and (interval == "D" or bar[5] == w[5]),
               f"history {interval} bar at {bar[0]}: {bar[1:]}, the sandbox's is {w[1:]}")
    stamps = [b[0] for b in got]
    expect(stamps == sorted(set(stamps)), f"history {interval}: bars out of order or repeated")
    return f"{len(got)} bars"


def check_intervals(ctx: Context) -> str:
    data = ctx.web.api("intervals").success("intervals")["data"]
    offered = {i for values in data.values() if isinstance(values, list) for i in values}
    for needed in ("1m", "5m", "15m", "1h", "D"):
        expect(needed in offered, f"intervals lack {needed}: {data}")
    return ", ".join(sorted(offered))


def check_margin(ctx: Context) -> str:
    equity, future = ctx.instrument("equity"), ctx.instrument("future")
    fut_price = on_tick(ctx.oracle.snapshot(future).ltp, future.tick)
    legs = [
        {"symbol": equity.symbol, "exchange": "NSE", "action": "BUY", "quantity": "10", "product": "MIS", "pricetype": "MARKET"},
        {"symbol": future.symbol, "exchange": "NFO", "action": "SELL", "quantity": str(future.lotsize), "product": "NRML",
         "pricetype": "LIMIT", "price": f"{fut_price:.2f}"},
    ]
    data = ctx.web.api("margin", positions=legs).success("margin")["data"]
    want = (10 * ctx.oracle.unit_margin(equity, "MIS", "BUY", ctx.oracle.snapshot(equity).ltp)
            + future.lotsize * ctx.oracle.unit_margin(future, "NRML", "SELL", fut_price))
    expect(_near(_num(data.get("total_margin_required")), want, 0.05),
           f"total_margin_required {data.get('total_margin_required')}, the sandbox computes {want:.2f}")
    return f"{want:.2f}"


def check_optionchain(ctx: Context) -> str:
    option = ctx.instrument("option")
    assert option.expiry is not None
    body = ctx.web.api("optionchain", underlying="NIFTY", exchange="NSE_INDEX",
                       expiry_date=f"{option.expiry:%d%b%y}".upper(), strike_count=2).success("optionchain")
    index = ctx.oracle.snapshot(ctx.instrument("index"))
    expect(_near(_num(body.get("underlying_ltp")), index.ltp), f"underlying_ltp {body.get('underlying_ltp')}, the sandbox's NIFTY is {index.ltp}")
    known = ctx.oracle.options_of("NIFTY", option.expiry)
    legs = 0
    for row in body.get("chain") or []:
        for side in ("ce", "pe"):
            leg = row.get(side)
            if not leg:
                continue
            inst = known.get(leg.get("symbol"))
            expect(inst is not None, f"optionchain lists {leg.get('symbol')}, which the sandbox's master does not have")
            snap = ctx.oracle.snapshot(inst)
            expect(_near(_num(leg.get("ltp")), snap.ltp), f"optionchain {leg.get('symbol')} ltp {leg.get('ltp')}, the sandbox's is {snap.ltp}")
            legs += 1
    expect(legs >= 4, f"optionchain returned {legs} legs for strike_count 2")
    return f"{legs} legs"


# ====================================================================== OpenAlgo's WebSocket


def _tick_matches(mode: str, data: dict[str, Any], snap: Any, *, index: bool) -> bool:
    if not _near(_num(data.get("ltp", -1)), snap.ltp):
        return False
    if mode in ("QUOTE", "DEPTH"):
        for name, want in (("open", snap.open), ("high", snap.high), ("low", snap.low), ("close", snap.close)):
            if not _near(_num(data.get(name, -1)), want):
                return False
        if not index and int(_num(data.get("volume", -1))) != int(snap.volume):
            return False
    if mode == "DEPTH":
        depth = data.get("depth") or {}
        buys, sells = depth.get("buy") or [], depth.get("sell") or []
        if index:
            return all(_num(level.get("quantity", 0)) == 0 for level in buys + sells)
        pairs = list(zip(buys, snap.bids)) + list(zip(sells, snap.asks))
        if len(buys) < len(snap.bids) or len(sells) < len(snap.asks):
            return False
        return all(_near(_num(g.get("price")), p) and int(_num(g.get("quantity"))) == int(q) for g, (p, q, _o) in pairs)
    return True


def _check_feed(ctx: Context, mode: str) -> str:
    equity, index = ctx.instrument("equity"), ctx.instrument("index")
    feed = OpenAlgoFeed(ctx.ws_url, ctx.web.api_key or "")
    try:
        feed.subscribe([(equity.symbol, equity.exchange), (index.symbol, index.exchange)], mode)
        # Move both prices to values no earlier tick carried: only a live tick can match.
        step = {"LTP": 1, "QUOTE": 2, "DEPTH": 3}[mode]
        targets = {}
        for inst in (equity, index):
            snap = ctx.oracle.snapshot(inst)
            target = on_tick(snap.close * (1 + 0.001 * step), inst.tick)
            if _near(target, snap.ltp, inst.tick / 2):
                target = on_tick(target + inst.tick, inst.tick)
            targets[inst.symbol] = ctx.oracle.set_ltp(inst, target)
        pending = {equity.symbol, index.symbol}
        deadline = time.monotonic() + 10
        seen: dict[str, Any] = {}
        while pending and time.monotonic() < deadline:
            message = feed.receive(deadline - time.monotonic())
            if not message or message.get("type") != "market_data":
                continue
            symbol = message.get("symbol")
            data = message.get("data") or {}
            if symbol in pending:
                seen[symbol] = data.get("ltp")
                inst = equity if symbol == equity.symbol else index
                if _tick_matches(mode, data, ctx.oracle.snapshot(inst), index=inst is index):
                    pending.discard(symbol)
        expect(not pending, f"{mode}: no tick matching the sandbox within 10 s for {sorted(pending)} "
                            f"(last ltp seen {seen}, the sandbox's {({s: t.ltp for s, t in targets.items()})})")
        feed.unsubscribe([(equity.symbol, equity.exchange), (index.symbol, index.exchange)], mode)
    finally:
        feed.close()
    return f"{equity.symbol} {targets[equity.symbol].ltp}, {index.symbol} {targets[index.symbol].ltp}"


# ====================================================================== orders


@dataclass(frozen=True)
class OrderCase:
    """One placeorder: instrument key, side, OpenAlgo price type and product, the state the
    sandbox must then show, and where the price and trigger sit relative to the LTP."""

    label: str
    instrument: str
    action: str
    pricetype: str
    product: str
    expect_status: str
    price_offset: float | None = None
    trigger_offset: float | None = None


ORDER_CASES: tuple[OrderCase, ...] = (
    OrderCase("MARKET CNC equity", "equity", "BUY", "MARKET", "CNC", "Traded"),
    OrderCase("LIMIT MIS equity", "equity", "BUY", "LIMIT", "MIS", "Pending", price_offset=-0.01),
    OrderCase("SL MIS equity", "equity", "BUY", "SL", "MIS", "Trigger Pending", price_offset=0.015, trigger_offset=0.01),
    OrderCase("SL-M MIS equity", "equity", "SELL", "SL-M", "MIS", "Trigger Pending", trigger_offset=-0.01),
    OrderCase("MARKET NRML future", "future", "BUY", "MARKET", "NRML", "Traded"),
    OrderCase("SL-M MIS future", "future", "SELL", "SL-M", "MIS", "Trigger Pending", trigger_offset=-0.01),
    OrderCase("LIMIT NRML option", "option", "BUY", "LIMIT", "NRML", "Pending", price_offset=-0.05),
    OrderCase("MARKET MIS option", "option", "BUY", "MARKET", "MIS", "Traded"),
)


def _order_matches(ctx: Context, orderid: str, inst: Instrument, action: str, pricetype: str, product: str,
                   quantity: int, price: float, trigger: float) -> Any:
    order = ctx.oracle.order(orderid)
    expect(order is not None, f"OpenAlgo answered order id {orderid}, which the sandbox does not have")
    assert order is not None
    what = f"order {orderid}"
    expect(order.token == inst.token and order.exchange == inst.book_exchange,
           f"{what} is on {order.tradingsymbol} ({order.exchange} {order.token}), expected {inst.brsymbol} ({inst.book_exchange} {inst.token})")
    expect(order.side == action, f"{what} side {order.side}, expected {action}")
    expect(order.ordertype == PRICE_TYPE[pricetype], f"{what} type {order.ordertype}, expected {PRICE_TYPE[pricetype]}")
    expect(order.product == PRODUCT[product], f"{what} product {order.product}, expected {PRODUCT[product]}")
    expect(order.quantity == quantity, f"{what} quantity {order.quantity}, expected {quantity}")
    if pricetype in ("LIMIT", "SL"):
        expect(_near(order.price, price), f"{what} price {order.price}, expected {price}")
    if pricetype in ("SL", "SL-M"):
        expect(_near(order.trigger, trigger), f"{what} trigger {order.trigger}, expected {trigger}")
    return order


def _place_case(case: OrderCase) -> Callable[[Context], str]:
    def run(ctx: Context) -> str:
        inst = ctx.instrument(case.instrument)
        ltp = ctx.oracle.snapshot(inst).ltp
        price = on_tick(ltp * (1 + case.price_offset), inst.tick) if case.price_offset is not None else 0.0
        trigger = on_tick(ltp * (1 + case.trigger_offset), inst.tick) if case.trigger_offset is not None else 0.0
        body = {"strategy": "verify", "symbol": inst.symbol, "exchange": inst.exchange, "action": case.action,
                "quantity": inst.lotsize, "pricetype": case.pricetype, "product": case.product,
                "price": price, "trigger_price": trigger}
        orderid = str(ctx.web.api("placeorder", **body).success(f"placeorder {case.label}").get("orderid") or "")
        expect(orderid, f"placeorder {case.label}: success without an order id")
        order = _order_matches(ctx, orderid, inst, case.action, case.pricetype, case.product, inst.lotsize, price, trigger)
        expect(order.status == case.expect_status,
               f"order {orderid} is {order.status!r} in the sandbox ({order.text}), expected {case.expect_status!r}")
        ctx.orders[case.label] = orderid
        return f"{orderid} {order.status}"

    return run


def check_rms_rejection(ctx: Context) -> str:
    inst = ctx.instrument("equity")
    before = set(ctx.oracle.orders())
    answer = ctx.web.api("placeorder", strategy="verify", symbol=inst.symbol, exchange=inst.exchange, action="BUY",
                         quantity=100000, pricetype="MARKET", product="CNC")
    message = answer.refusal("an order mStock's RMS rejects")
    new = [o for oid, o in ctx.oracle.orders().items() if oid not in before]
    expect(len(new) == 1 and new[0].status == "Rejected",
           f"the sandbox should hold exactly one new, rejected order; it holds {[(o.orderid, o.status) for o in new]}")
    expect("fund" in message.lower(), f"the error should carry mStock's reason (insufficient funds), it says: {message}")
    ctx.orders["rejected by RMS"] = new[0].orderid
    return message[:60]


def check_refused_before_sending(ctx: Context) -> str:
    inst = ctx.instrument("future")
    placed = len([x for x in ctx.oracle.log_lines("orders.place")])
    answer = ctx.web.api("placeorder", strategy="verify", symbol=inst.symbol, exchange=inst.exchange, action="BUY",
                         quantity=inst.lotsize + 1, pricetype="MARKET", product="NRML")
    message = answer.refusal("an order that is not a whole number of lots")
    expect(str(inst.lotsize) in message, f"the error should name the lot size {inst.lotsize}: {message}")
    expect(len(ctx.oracle.log_lines("orders.place")) == placed, "the order reached the sandbox; it must be refused before sending")
    return message[:60]


def check_exchange_rejection(ctx: Context) -> str:
    inst = ctx.instrument("equity")
    snap = ctx.oracle.snapshot(inst)
    price = on_tick(snap.lower_circuit * 0.9, inst.tick)
    answer = ctx.web.api("placeorder", strategy="verify", symbol=inst.symbol, exchange=inst.exchange, action="BUY",
                         quantity=1, pricetype="LIMIT", product="MIS", price=price)
    orderid = str(answer.success("an order the exchange rejects after mStock accepts it").get("orderid") or "")
    order = ctx.oracle.order(orderid)
    expect(order is not None and order.status == "Rejected", f"the sandbox should show {orderid} rejected, it shows {order}")
    status = ctx.web.api("orderstatus", strategy="verify", orderid=orderid).success("orderstatus")["data"]
    expect(status.get("order_status") == "rejected", f"orderstatus says {status.get('order_status')!r} for an order the exchange rejected")
    expect(str(status.get("rejection_reason") or "").strip(), "orderstatus gives no rejection reason")
    ctx.orders["rejected by the exchange"] = orderid
    return f"{orderid} rejected"


def check_modify(ctx: Context) -> str:
    inst = ctx.instrument("equity")
    orderid = ctx.orders["LIMIT MIS equity"]
    before = ctx.oracle.order(orderid)
    assert before is not None
    new_price = on_tick(before.price - 2 * inst.tick, inst.tick)
    answer = ctx.web.api("modifyorder", strategy="verify", orderid=orderid, symbol=inst.symbol, exchange=inst.exchange,
                         action="BUY", product="MIS", pricetype="LIMIT", price=new_price, quantity=2 * inst.lotsize,
                         disclosed_quantity=0, trigger_price=0)
    got = str(answer.success("modifyorder").get("orderid") or "").strip()
    expect(got == orderid, f"modifyorder answered order id {got!r}, expected {orderid}")
    order = _order_matches(ctx, orderid, inst, "BUY", "LIMIT", "MIS", 2 * inst.lotsize, new_price, 0.0)
    expect(order.status in OPEN_STATES, f"the modified order is {order.status} in the sandbox")
    return f"{before.price} -> {order.price}, qty {order.quantity}"


def check_cancel(ctx: Context) -> str:
    orderid = ctx.orders["SL MIS equity"]
    got = str(ctx.web.api("cancelorder", strategy="verify", orderid=orderid).success("cancelorder").get("orderid") or "")
    expect(got.strip() == orderid, f"cancelorder answered {got!r}, expected {orderid}")
    order = ctx.oracle.order(orderid)
    expect(order is not None and order.status in ("Cancelled", "O-Cancelled"),
           f"the sandbox shows {orderid} as {order.status if order else 'missing'}, expected cancelled")
    return orderid


def check_cancel_rejected(ctx: Context) -> str:
    orderid = ctx.orders["rejected by RMS"]
    message = ctx.web.api("cancelorder", strategy="verify", orderid=orderid).refusal("cancelling a rejected order")
    order = ctx.oracle.order(orderid)
    expect(order is not None and order.status == "Rejected", f"the rejected order changed in the sandbox: {order}")
    return message[:60]


def check_smart_order(ctx: Context) -> str:
    inst = ctx.instrument("equity2")
    steps = []
    for target in (5, 2, -3):
        current = ctx.oracle.net_position(inst, "MIS")
        if current:  # fill the next step at another price: the books then show a realised P&L
            ctx.oracle.set_ltp(inst, on_tick(ctx.oracle.snapshot(inst).ltp * 1.003, inst.tick))
        action = "BUY" if target > current else "SELL"
        ctx.web.api("placesmartorder", strategy="verify", symbol=inst.symbol, exchange=inst.exchange, action=action,
                    quantity=abs(target - current), position_size=target, product="MIS",
                    pricetype="MARKET").success(f"placesmartorder to {target}")
        deadline = time.monotonic() + 5
        while ctx.oracle.net_position(inst, "MIS") != target and time.monotonic() < deadline:
            time.sleep(0.1)
        held = ctx.oracle.net_position(inst, "MIS")
        expect(held == target, f"after placesmartorder position_size={target} the sandbox holds {held} (from {current})")
        steps.append(str(held))
    return " -> ".join(["0", *steps])


def check_openposition(ctx: Context) -> str:
    inst = ctx.instrument("equity2")
    body = ctx.web.api("openposition", strategy="verify", symbol=inst.symbol, exchange=inst.exchange,
                       product="MIS").success("openposition")
    want = ctx.oracle.net_position(inst, "MIS")
    expect(int(_num(body.get("quantity"))) == want, f"openposition says {body.get('quantity')}, the sandbox holds {want}")
    return f"{inst.symbol} {want}"


def check_orderstatus(ctx: Context) -> str:
    for label, orderid in ctx.orders.items():
        data = ctx.web.api("orderstatus", strategy="verify", orderid=orderid).success(f"orderstatus {orderid}")["data"]
        order = ctx.oracle.order(orderid)
        assert order is not None
        expect(data.get("order_status") == STATUS[order.status],
               f"orderstatus {orderid} ({label}): {data.get('order_status')!r}, the sandbox's {order.status} means {STATUS[order.status]!r}")
    return f"{len(ctx.orders)} orders"


def _book_orders(ctx: Context) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    data = ctx.web.api("orderbook").success("orderbook")["data"]
    return {str(o.get("orderid")).strip(): o for o in data.get("orders", [])}, data.get("statistics", {})


def check_orderbook(ctx: Context) -> str:
    rows, stats = _book_orders(ctx)
    orders = ctx.oracle.orders()
    missing = sorted(set(orders) - set(rows))
    expect(not missing, f"the order book lacks {missing} that the sandbox holds")
    extra = sorted(set(rows) - set(orders))
    expect(not extra, f"the order book lists {extra} that the sandbox does not hold")
    for orderid, order in orders.items():
        row = rows[orderid]
        what = f"order book row {orderid}"
        expect(row.get("order_status") == STATUS[order.status], f"{what}: {row.get('order_status')!r}, the sandbox says {order.status}")
        expect(row.get("action") == order.side, f"{what}: action {row.get('action')}, the sandbox says {order.side}")
        expect(int(_num(row.get("quantity"))) == order.quantity, f"{what}: quantity {row.get('quantity')}, the sandbox says {order.quantity}")
        expect(row.get("product") == PRODUCT_BACK[order.product], f"{what}: product {row.get('product')}, the sandbox says {order.product}")
        expect(_near(_num(row.get("price")), order.price), f"{what}: price {row.get('price')}, the sandbox says {order.price}")
        expect(_near(_num(row.get("trigger_price")), order.trigger), f"{what}: trigger {row.get('trigger_price')}, the sandbox says {order.trigger}")
        if order.status == "Traded":
            expect(_near(_num(row.get("average_price")), order.average_price),
                   f"{what}: average {row.get('average_price')}, the sandbox filled at {order.average_price}")
        if order.status == "Rejected":
            expect(str(row.get("rejection_reason") or "").strip(), f"{what}: rejected without a reason")
    counts = {
        "total_completed_orders": sum(o.status == "Traded" for o in orders.values()),
        "total_rejected_orders": sum(o.status == "Rejected" for o in orders.values()),
        "total_buy_orders": sum(o.side == "BUY" for o in orders.values()),
        "total_sell_orders": sum(o.side == "SELL" for o in orders.values()),
    }
    for name, want in counts.items():
        expect(int(_num(stats.get(name, -1))) == want, f"order book statistics {name} = {stats.get(name)}, the sandbox counts {want}")
    return f"{len(rows)} orders"


def check_tradebook(ctx: Context) -> str:
    rows = ctx.web.api("tradebook").success("tradebook")["data"]
    trades = ctx.oracle.trades()
    expect(len(rows) == len(trades), f"the trade book has {len(rows)} trades, the sandbox {len(trades)}")
    by_order: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_order.setdefault(str(row.get("orderid")).strip(), []).append(row)
    for trade in trades:
        matches = [r for r in by_order.get(trade["orderid"], [])
                   if int(_num(r.get("quantity"))) == trade["quantity"] and _near(_num(r.get("average_price")), trade["price"])]
        expect(matches, f"no trade book row for order {trade['orderid']}: {trade['quantity']} at {trade['price']}")
    return f"{len(rows)} trades"


def _key(row: dict[str, Any]) -> tuple[str, str, str]:
    return str(row.get("symbol")), str(row.get("exchange")), str(row.get("product"))


def _expected_positions(ctx: Context) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(OpenAlgo symbol, exchange, product) -> the sandbox's position row."""
    by_token = {(i.book_exchange, i.token): i for i in ctx.instruments.values()}
    want = {}
    for row in ctx.oracle.positions():
        inst = by_token.get((row["exchange"], row["token"]))
        expect(inst is not None, f"the sandbox holds a position in {row['name']} that verify did not trade")
        want[(inst.symbol, inst.exchange, PRODUCT_BACK[row["product"]])] = row
    return want


def check_positionbook(ctx: Context) -> str:
    rows = {_key(r): r for r in ctx.web.api("positionbook").success("positionbook")["data"]}
    want = _expected_positions(ctx)
    for key, position in want.items():
        row = rows.get(key)
        if position["net"] == 0 and row is None:
            continue  # a flat position may be left out
        expect(row is not None and int(_num(row.get("quantity"))) == position["net"],
               f"position {key}: the position book says {row and row.get('quantity')}, the sandbox holds {position['net']}")
        expect(_near(_num(row.get("ltp")), position["ltp"]), f"position {key}: ltp {row.get('ltp')}, the sandbox's is {position['ltp']}")
        expect(_near(_num(row.get("pnl")), position["pnl"], 0.05),
               f"position {key}: pnl {row.get('pnl')}, the sandbox's realised + unrealised is {position['pnl']:.2f}")
    extra = {k: r.get("quantity") for k, r in rows.items() if k not in want and int(_num(r.get("quantity"))) != 0}
    expect(not extra, f"the position book lists positions the sandbox does not hold: {extra}")
    return f"{sum(1 for p in want.values() if p['net'])} open"


def check_holdings(ctx: Context) -> str:
    data = ctx.web.api("holdings").success("holdings")["data"]
    rows = {str(h.get("symbol")): h for h in data.get("holdings", [])}
    for holding in ctx.oracle.holdings():
        symbol = holding["name"].removesuffix("-EQ")
        row = rows.get(symbol)
        expect(row is not None, f"holdings lack {symbol}, which the sandbox holds ({holding['quantity']})")
        expect(int(_num(row.get("quantity"))) == holding["quantity"], f"holding {symbol}: {row.get('quantity')}, the sandbox holds {holding['quantity']}")
        expect(_near(_num(row.get("average_price")), holding["average"]), f"holding {symbol}: average {row.get('average_price')}, the sandbox's is {holding['average']}")
    return f"{len(rows)} holdings"


# ====================================================================== the browser


def _indian_short(value: float) -> set[str]:
    """How OpenAlgo's dashboard prints an amount (``9.98L``), allowing either rounding."""
    out = set()
    number = abs(value)
    for divisor, suffix in ((10_000_000, "Cr"), (100_000, "L"), (1, "")):
        if number >= divisor or divisor == 1:
            scaled = number / divisor
            for rounded in (math.floor(scaled * 100) / 100, math.ceil(scaled * 100) / 100, round(scaled, 2)):
                out.add(("-" if value < 0 else "") + f"{rounded:.2f}{suffix}")
            break
    return out


def _browser(ctx: Context) -> Any:
    if ctx.browser is None:
        if ctx.browser_factory is None:
            raise CheckFailed("no browser available")
        ctx.browser = ctx.browser_factory()
    return ctx.browser


def _page_shows(ctx: Context, page: str, wanted: dict[str, list[str]]) -> str:
    """Open ``page`` and wait until every group of ``wanted`` texts shows; screenshot either way."""
    browser = _browser(ctx)
    text, shot = browser.show(page, lambda body: all(any(w in body for w in options) for options in wanted.values()))
    missing = [label for label, options in wanted.items() if not any(w in text for w in options)]
    expect(not missing, f"{page} does not show {missing} after 20 s (screenshot {shot}); the page shows: "
                        f"{' | '.join(text.split(chr(10)))[:400]}{browser.console_errors()}")
    return f"screenshot {shot.name}"


def check_page_orderbook(ctx: Context) -> str:
    orders = ctx.oracle.orders()
    return _page_shows(ctx, "/orderbook", {oid: [oid] for oid in orders})


def check_page_tradebook(ctx: Context) -> str:
    return _page_shows(ctx, "/tradebook", {t["orderid"]: [t["orderid"]] for t in ctx.oracle.trades()})


def check_page_positions(ctx: Context) -> str:
    want = {k: p["net"] for k, p in _expected_positions(ctx).items() if p["net"]}
    expect(want, "no open position to look for")
    return _page_shows(ctx, "/positions", {f"{sym} {qty}": [sym] for (sym, _e, _p), qty in want.items()}
                       | {f"quantity {qty}": [str(qty)] for qty in want.values()})


def check_page_dashboard(ctx: Context) -> str:
    funds = ctx.oracle.funds()
    return _page_shows(ctx, "/dashboard", {"Available Balance": ["Available Balance"],
                                           f"available {funds['available']:.2f}": sorted(_indian_short(funds["available"])),
                                           f"used {funds['used']:.2f}": sorted(_indian_short(funds["used"]))})


def check_page_holdings(ctx: Context) -> str:
    return _page_shows(ctx, "/holdings", {h["name"]: [h["name"].removesuffix("-EQ")] for h in ctx.oracle.holdings()})


# ====================================================================== closing out


def check_cancel_all(ctx: Context) -> str:
    open_before = {oid for oid, o in ctx.oracle.orders().items() if o.status in OPEN_STATES}
    expect(open_before, "no open order left to cancel (the order checks should have left some)")
    body = ctx.web.api("cancelallorder", strategy="verify").success("cancelallorder")
    cancelled = {str(x).strip() for x in body.get("canceled_orders") or body.get("cancelled_orders") or []}
    failed = body.get("failed_cancellations") or []
    expect(not failed, f"cancelallorder reports failures: {failed}")
    still_open = {oid for oid, o in ctx.oracle.orders().items() if o.status in OPEN_STATES}
    expect(not still_open, f"orders still open in the sandbox after cancelallorder: {sorted(still_open)}")
    expect(cancelled == open_before, f"cancelallorder reports {sorted(cancelled)}, the sandbox had open {sorted(open_before)}")
    return f"{len(cancelled)} cancelled"


def check_close_positions(ctx: Context) -> str:
    open_before = [p for p in ctx.oracle.positions() if p["net"]]
    expect(open_before, "no open position to close (the order checks should have left some)")
    ctx.web.api("closeposition", strategy="verify").success("closeposition")
    deadline = time.monotonic() + 10
    while any(p["net"] for p in ctx.oracle.positions()) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [(p["name"], p["product"], p["net"]) for p in ctx.oracle.positions() if p["net"]]
    expect(not left, f"positions still open in the sandbox after closeposition: {left}")
    return f"{len(open_before)} closed"


def check_books_after_closing(ctx: Context) -> str:
    check_orderbook(ctx)
    check_tradebook(ctx)
    rows = ctx.web.api("positionbook").success("positionbook")["data"]
    nonzero = [(r.get("symbol"), r.get("product"), r.get("quantity")) for r in rows if int(_num(r.get("quantity"))) != 0]
    expect(not nonzero, f"the position book still shows open quantities: {nonzero}")
    check_funds(ctx)
    return "order book, trade book, positions and funds agree"


def relogin(ctx: Context) -> None:
    """Log the OpenAlgo user out and in again, the mStock login included (a new mStock session)."""
    answer = ctx.web.get("/auth/logout")
    expect(answer.http_status in (200, 302), f"GET /auth/logout answered HTTP {answer.http_status}")
    check_app_login(ctx)
    check_broker_login(ctx)


def check_order_updates_polling(ctx: Context) -> str:
    return order_updates.check_polling(ctx, lambda: relogin(ctx))


# ====================================================================== the list

_LOGIN = ("login: mStock password + TOTP",)
_MASTER = ("master contract download", "API key")
_SYMBOLS = (*_MASTER, "symbol: equity, future, option, index")


def _order_checks() -> list[Check]:
    return [Check(f"placeorder {case.label}", _place_case(case), needs=_SYMBOLS) for case in ORDER_CASES]


CHECKS: tuple[Check, ...] = (
    Check("setup: first admin user", check_setup),
    Check("login: OpenAlgo user", check_app_login, needs=("setup: first admin user",)),
    Check("login: mStock refuses a wrong TOTP", check_broker_wrong_totp, needs=("login: OpenAlgo user",)),
    Check("login: mStock password + TOTP", check_broker_login, needs=("login: OpenAlgo user",)),
    Check("master contract download", check_master_contract, needs=_LOGIN),
    Check("API key", check_api_key, needs=_LOGIN),
    Check("symbol: equity, future, option, index", check_symbols, needs=_MASTER),
    Check("search", check_search, needs=_SYMBOLS),
    Check("expiry: futures and options", check_expiry, needs=_SYMBOLS),
    Check("funds", check_funds, needs=_MASTER),
    Check("quotes", check_quotes, needs=_SYMBOLS),
    Check("multiquotes", check_multiquotes, needs=_SYMBOLS),
    Check("depth", check_depth, needs=_SYMBOLS),
    Check("history 1m", lambda ctx: _check_history(ctx, "1m", 3), needs=_SYMBOLS),
    Check("history 5m", lambda ctx: _check_history(ctx, "5m", 6), needs=_SYMBOLS),
    Check("history D", lambda ctx: _check_history(ctx, "D", 45), needs=_SYMBOLS),
    Check("intervals", check_intervals, needs=_MASTER),
    Check("margin", check_margin, needs=_SYMBOLS),
    Check("optionchain", check_optionchain, needs=_SYMBOLS),
    Check("websocket LTP: equity and index", lambda ctx: _check_feed(ctx, "LTP"), needs=_SYMBOLS),
    Check("websocket QUOTE: equity and index", lambda ctx: _check_feed(ctx, "QUOTE"), needs=_SYMBOLS),
    Check("websocket DEPTH: equity and index", lambda ctx: _check_feed(ctx, "DEPTH"), needs=_SYMBOLS),
    *_order_checks(),
    Check("placeorder rejected by mStock (funds)", check_rms_rejection, needs=_SYMBOLS),
    Check("placeorder refused before sending (lot size)", check_refused_before_sending, needs=_SYMBOLS),
    Check("placeorder rejected by the exchange (price band)", check_exchange_rejection, needs=_SYMBOLS),
    Check("modifyorder", check_modify, needs=("placeorder LIMIT MIS equity",)),
    Check("cancelorder", check_cancel, needs=("placeorder SL MIS equity",)),
    Check("cancelorder refuses a rejected order", check_cancel_rejected, needs=("placeorder rejected by mStock (funds)",)),
    Check("placesmartorder: 0 -> 5 -> 2 -> -3", check_smart_order, needs=_SYMBOLS),
    Check("openposition", check_openposition, needs=("placesmartorder: 0 -> 5 -> 2 -> -3",)),
    Check("orderstatus", check_orderstatus, needs=_SYMBOLS),
    Check("orderbook", check_orderbook, needs=_SYMBOLS),
    Check("tradebook", check_tradebook, needs=_SYMBOLS),
    Check("positionbook", check_positionbook, needs=_SYMBOLS),
    Check("holdings", check_holdings, needs=_MASTER),
    Check("funds after orders", check_funds_after_orders, needs=_SYMBOLS),
    Check("browser: order book page", check_page_orderbook, needs=_SYMBOLS, browser=True),
    Check("browser: trade book page", check_page_tradebook, needs=_SYMBOLS, browser=True),
    Check("browser: positions page", check_page_positions, needs=_SYMBOLS, browser=True),
    Check("browser: holdings page", check_page_holdings, needs=_MASTER, browser=True),
    Check("browser: dashboard page", check_page_dashboard, needs=_MASTER, browser=True),
    # Polling last of the three: it logs in again, and the new session follows the order book.
    Check("order updates: open, complete, rejected in 1 s", order_updates.check_push, needs=_SYMBOLS),
    Check("order updates: a disconnect loses/repeats nothing", order_updates.check_disconnect, needs=_SYMBOLS),
    Check("order updates: polling, second socket refused", check_order_updates_polling, needs=_SYMBOLS),
    Check("cancelallorder", check_cancel_all, needs=_SYMBOLS),
    Check("closeposition", check_close_positions, needs=_SYMBOLS),
    Check("books after closing", check_books_after_closing, needs=("cancelallorder", "closeposition")),
)


def select(*, browser: bool) -> list[Check]:
    return [c for c in CHECKS if browser or not c.browser]


@dataclass
class Result:
    name: str
    status: str  # "pass" | "FAIL" | "skip"
    seconds: float
    detail: str = ""


def run_one(check: Check, ctx: Context, passed: set[str], redact: Callable[[str], str]) -> Result:
    """Run one check unless a check it needs did not pass; never raises (except Ctrl-C)."""
    blocked = [n for n in check.needs if n not in passed]
    if blocked:
        return Result(check.name, "skip", 0.0, f"needs: {', '.join(blocked)}")
    started = time.monotonic()
    try:
        detail = check.run(ctx) or ""
        status = "pass"
    except CheckFailed as exc:
        status, detail = "FAIL", str(exc)
    except Exception as exc:  # any other error is this check's failure, reported in its row
        status, detail = "FAIL", f"{type(exc).__name__}: {exc}"
    seconds = time.monotonic() - started
    if status == "pass":
        passed.add(check.name)
    return Result(check.name, status, seconds, redact(detail))
