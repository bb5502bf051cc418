"""The end-to-end demo: every OpenAlgo-facing function, on the embedded sandbox by default.

Each step prints a readable table; the run exits non-zero if any step fails. With
``live=True`` the same calls go to the real mStock API configured in ``.env``; orders are
then skipped unless ``place_real_orders`` is also set.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp

from broker.mstock.cli.output import terminal_width
from broker.mstock.cli.table import Column, format_table

_SANDBOX_ENV = (
    "MSTOCK_BASE_URL",
    "MSTOCK_WS_URL",
    "BROKER_API_KEY",
    "BROKER_API_SECRET",
    "MSTOCK_PASSWORD",
    "MSTOCK_TOTP_SECRET",
    "MSTOCK_HOST",
    "DATABASE_URL",
    "MSTOCK_SESSION_FILE",
)


@dataclass
class DemoContext:
    live: bool
    place_orders: bool
    auth: str = ""
    feed_token: str | None = None
    order_ids: dict[str, str] = field(default_factory=dict)
    option_symbol: str | None = None
    failures: list[str] = field(default_factory=list)
    out: Callable[[str], None] = print


@contextmanager
def sandbox_environment(master_size: int) -> Iterator[Any]:
    """Start the sandbox and point the plugin's configuration at it for the duration."""
    from mstock_sandbox import SandboxConfig, SandboxServer

    saved = {name: os.environ.get(name) for name in _SANDBOX_ENV}
    workdir = tempfile.TemporaryDirectory(prefix="mstock-demo-")
    server = SandboxServer(SandboxConfig(port=0, master_size=master_size)).start()
    try:
        os.environ.update(server.env())  # base and feed URLs, account credentials
        os.environ.update(
            {
                "MSTOCK_HOST": "standalone",
                "DATABASE_URL": f"sqlite:///{Path(workdir.name) / 'symbols.db'}",
                "MSTOCK_SESSION_FILE": str(Path(workdir.name) / "session.json"),
            }
        )
        yield server
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        from broker.mstock import host
        from broker.mstock.transport.client import reset_clients

        reset_clients()
        host.reset_for_tests()
        workdir.cleanup()


def _step(ctx: DemoContext, title: str, action: Callable[[DemoContext], Any]) -> None:
    ctx.out(f"\n== {title}")
    try:
        action(ctx)
    except Exception as exc:  # the demo reports every failed step, then exits non-zero
        ctx.failures.append(f"{title}: {type(exc).__name__}: {exc}")
        ctx.out(f"FAILED: {type(exc).__name__}: {exc}")
        if os.environ.get("MSTOCK_DEMO_TRACEBACK"):
            ctx.out(traceback.format_exc())


def _table(ctx: DemoContext, rows: list[dict], columns: list[Any] | None = None) -> None:
    ctx.out(format_table(rows, columns, width=terminal_width(sys.stdout), hint=None))


def _pairs(ctx: DemoContext, pairs: dict[str, Any]) -> None:
    _table(ctx, [{"field": k, "value": v} for k, v in pairs.items()])


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


# --------------------------------------------------------------------------- steps


def step_login(ctx: DemoContext) -> None:
    from broker.mstock import config
    from broker.mstock.api.auth_api import authenticate_with_totp
    from broker.mstock.local import session_file as session_store
    from broker.mstock.redact import mask_id

    settings = config.settings()
    settings.require("BROKER_API_KEY", "BROKER_API_SECRET", "MSTOCK_PASSWORD", "MSTOCK_TOTP_SECRET")
    code = pyotp.TOTP(settings.totp_secret or "").now()
    token, feed, error = authenticate_with_totp(settings.password, code)
    _expect(error is None and bool(token), f"login failed: {error}")
    ctx.auth, ctx.feed_token = token, feed
    saved = session_store.new_session(token, feed, client_code=settings.client_code or "", base_url=settings.base_url)
    session_store.save(settings.session_file, saved)
    _table(ctx, [{"client": mask_id(settings.client_code), "token expires": saved.expires_at, "feed token": "yes" if feed else "no"}])


def step_master_contract(ctx: DemoContext) -> None:
    from broker.mstock import host
    from broker.mstock.database.master_contract_db import master_contract_download

    master_contract_download()
    lookup = host.symbols()
    rows = []
    for symbol, exchange in (("SBIN", "NSE"), ("NIFTY", "NSE_INDEX"), ("SENSEX", "BSE_INDEX")):
        record = lookup.get_symbol_info(symbol, exchange)
        _expect(record is not None, f"{symbol} on {exchange} missing from the symbol table")
        rows.append({"symbol": symbol, "exchange": exchange, "token": record.token, "brsymbol": record.brsymbol, "lot": record.lotsize})
    option = nearest_option(lookup.search("NIFTY CE", "NFO", 1000), strike=24000)
    _expect(option is not None, "no NIFTY options in the symbol table")
    ctx.option_symbol = option.symbol
    rows.append({"symbol": option.symbol, "exchange": "NFO", "token": option.token, "brsymbol": option.brsymbol,
                 "lot": option.lotsize, "expiry": option.expiry})
    _table(ctx, rows, ["symbol", "exchange", "token", "brsymbol", "lot", "expiry"])


def nearest_option(records: Any, *, strike: float) -> Any:
    """The NIFTY call of the nearest expiry (compared as dates) closest to ``strike``."""
    from broker.mstock.records import expiry_order

    calls = [r for r in records if r.instrumenttype == "CE" and r.name == "NIFTY" and r.expiry]
    return min(calls, key=lambda r: (expiry_order(r.expiry), abs(r.strike - strike)), default=None)


def step_funds(ctx: DemoContext) -> None:
    from broker.mstock.api.funds import get_margin_data

    funds = get_margin_data(ctx.auth)
    _expect(bool(funds), "funds unavailable")
    _pairs(ctx, funds)


def step_quotes(ctx: DemoContext) -> None:
    from broker.mstock.api.data import BrokerData

    data = BrokerData(ctx.auth)
    rows = []
    for symbol, exchange in (("SBIN", "NSE"), ("NIFTY", "NSE_INDEX"), (ctx.option_symbol, "NFO")):
        if symbol is None:
            continue
        quote = data.get_quotes(symbol, exchange)
        _expect(quote["ltp"] > 0, f"no LTP for {symbol}")
        rows.append({"symbol": symbol, "exchange": exchange, **{k: quote[k] for k in ("ltp", "open", "high", "low", "prev_close")}})
    _table(ctx, rows, ["symbol", "exchange", "ltp", "prev_close", Column("open", priority=1),
                       Column("high", priority=2), Column("low", priority=3)])


def _place(ctx: DemoContext, label: str, order: dict) -> str:
    from broker.mstock.api.order_api import place_order_api

    res, body, orderid = place_order_api({"strategy": "demo", **order}, ctx.auth)
    _expect(res.status == 200 and bool(orderid), f"{label} order failed: {body.get('message')}")
    ctx.order_ids[label] = str(orderid)
    return str(orderid)


def step_orders(ctx: DemoContext) -> None:
    from broker.mstock.api.data import BrokerData

    if not ctx.place_orders:
        ctx.out("skipped: live mode places no order without --place-real-orders")
        return
    ltp = BrokerData(ctx.auth).get_quotes("SBIN", "NSE")["ltp"]
    below = round(round(ltp * 0.95 / 0.05) * 0.05, 2)
    base = {"symbol": "SBIN", "exchange": "NSE", "product": "MIS", "quantity": 1}
    _place(ctx, "limit", {**base, "action": "BUY", "pricetype": "LIMIT", "price": below})
    _place(ctx, "market", {**base, "action": "BUY", "pricetype": "MARKET"})
    trigger = round(round(ltp * 0.9 / 0.05) * 0.05, 2)
    _place(ctx, "stoploss", {**base, "action": "SELL", "pricetype": "SL", "price": round(trigger - 0.5, 2), "trigger_price": trigger})
    _table(ctx, [{"order": k, "orderid": v} for k, v in ctx.order_ids.items()])


def step_modify_cancel(ctx: DemoContext) -> None:
    from broker.mstock.api.order_api import cancel_order, modify_order

    if not ctx.place_orders:
        ctx.out("skipped")
        return
    limit_id = ctx.order_ids["limit"]
    modified, status = modify_order(
        {
            "orderid": limit_id,
            "symbol": "SBIN",
            "exchange": "NSE",
            "action": "BUY",
            "product": "MIS",
            "pricetype": "LIMIT",
            "quantity": 2,
            "price": _price_of(ctx, limit_id),
            "disclosed_quantity": 0,
            "trigger_price": 0,
        },
        ctx.auth,
    )
    _expect(status == 200, f"modify failed: {modified.get('message')}")
    cancelled, status = cancel_order(ctx.order_ids["stoploss"], ctx.auth)
    _expect(status == 200, f"cancel failed: {cancelled.get('message')}")
    _table(ctx, [{"action": "modify (qty 1 -> 2)", "orderid": limit_id}, {"action": "cancel", "orderid": ctx.order_ids["stoploss"]}])


def _price_of(ctx: DemoContext, orderid: str) -> float:
    from broker.mstock.api.order_api import get_order_book
    from broker.mstock.mapping.order_data import map_order_data, transform_order_data

    for row in transform_order_data(map_order_data(order_data=get_order_book(ctx.auth))):
        if str(row["orderid"]) == orderid:
            return float(row["price"])
    raise AssertionError(f"order {orderid} not in the order book")


def step_smart_order(ctx: DemoContext) -> None:
    from broker.mstock.api.order_api import place_smartorder_api

    if not ctx.place_orders:
        ctx.out("skipped")
        return
    res, body, orderid = place_smartorder_api(
        {"strategy": "demo", "symbol": "SBIN", "exchange": "NSE", "product": "MIS", "action": "BUY",
         "pricetype": "MARKET", "quantity": 0, "position_size": 3},
        ctx.auth,
    )
    _expect(bool(orderid) or "No action needed" in str(body.get("message")), f"smart order failed: {body.get('message')}")
    _table(ctx, [{"request": "hold 3 SBIN (MIS)", "result": body.get("message") or "placed", "orderid": orderid or ""}])


def step_books(ctx: DemoContext) -> None:
    from broker.mstock.api import order_api
    from broker.mstock.mapping import order_data as od

    orders = od.map_order_data(order_data=order_api.get_order_book(ctx.auth))
    stats = od.calculate_order_statistics(orders)
    ctx.out("Order book")
    _table(ctx, od.transform_order_data(orders), ["orderid", "symbol", Column("exchange", priority=1), "action", Column("quantity", "qty"),
                                                  "price", "pricetype", "product", Column("order_status", "status")])
    _pairs(ctx, stats)
    ctx.out("Trade book")
    trades = od.transform_tradebook_data(od.map_trade_data(trade_data=order_api.get_trade_book(ctx.auth)))
    _table(ctx, trades, ["orderid", "symbol", "exchange", "action", "quantity", "average_price", "trade_value"])
    ctx.out("Positions")
    positions = od.transform_positions_data(od.map_position_data(order_api.get_positions(ctx.auth)))
    _table(ctx, positions, ["symbol", "exchange", "product", "quantity", "average_price", "ltp", "pnl"])
    ctx.out("Holdings")
    holdings_raw = od.map_portfolio_data(order_api.get_holdings(ctx.auth))
    _table(ctx, od.transform_holdings_data(holdings_raw), ["symbol", "exchange", "quantity", "product", "pnl", "pnlpercent"])
    _pairs(ctx, od.calculate_portfolio_statistics(holdings_raw))


def step_close_all(ctx: DemoContext) -> None:
    from broker.mstock.api.order_api import close_all_positions

    if not ctx.place_orders:
        ctx.out("skipped")
        return
    body, status = close_all_positions("", ctx.auth)
    _expect(status == 200, f"close all failed: {body.get('message')}")
    _table(ctx, [{"status": status, "message": body.get("message", "")}])


def step_logout(ctx: DemoContext) -> None:
    from broker.mstock import config
    from broker.mstock.api.auth_api import logout
    from broker.mstock.local import session_file as session_store

    ok, error = logout(ctx.auth)
    _expect(ok, f"logout failed: {error}")
    session_store.clear(config.settings().session_file)
    _table(ctx, [{"logged out": "yes"}])


STEPS: tuple[tuple[str, Callable[[DemoContext], Any]], ...] = (
    ("Log in (password + generated TOTP)", step_login),
    ("Download the master contract", step_master_contract),
    ("Funds", step_funds),
    ("Quotes: equity, index, option", step_quotes),
    ("Place LIMIT, MARKET and SL orders", step_orders),
    ("Modify the LIMIT order, cancel the SL order", step_modify_cancel),
    ("Smart order", step_smart_order),
    ("Order book, trade book, positions, holdings", step_books),
    ("Close all positions", step_close_all),
    ("Log out", step_logout),
)


def run_steps(ctx: DemoContext) -> int:
    for title, action in STEPS:
        _step(ctx, title, action)
        if ctx.failures and title.startswith("Log in"):
            break  # nothing else can work without a session
    ctx.out("")
    if ctx.failures:
        ctx.out(f"demo FAILED: {len(ctx.failures)} step(s)")
        for failure in ctx.failures:
            ctx.out(f"  - {failure}")
        return 1
    ctx.out(f"demo OK: {len(STEPS)} steps")
    return 0


def run_demo(*, live: bool = False, place_real_orders: bool = False, master_size: int = 4000, out: Callable[[str], None] = print) -> int:
    if live:
        out("Live mode: using the mStock API configured in .env" + ("" if place_real_orders else " (no orders will be placed)"))
        return run_steps(DemoContext(live=True, place_orders=place_real_orders, out=out))
    with sandbox_environment(master_size) as server:
        out(f"Embedded mStock sandbox at {server.base_url}")
        code = run_steps(DemoContext(live=False, place_orders=True, out=out))
        log_lines = server.session_log() if hasattr(server, "session_log") else []
        if log_lines:
            out(f"\nSandbox session log (last 5 of {len(log_lines)} requests):")
            width = terminal_width(sys.stdout)
            for line in log_lines[-5:]:
                out(f"  {line}" if len(line) + 2 <= width else f"  {line[: width - 3]}…")
        return code
