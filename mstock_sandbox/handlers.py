"""One function per endpoint: request body in, :class:`~.envelopes.Reply` out (spec 3-8).

Handlers see a :class:`Call` whose credentials the server has already checked. They
raise :class:`~.envelopes.ApiError` for refusals and return the endpoint's own envelope
style for successes. Each reply carries a short, secret-free ``outcome`` for the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .candles import historical, intraday, parse_interval, parse_when
from .clock import minutes_elapsed
from .envelopes import ApiError, Reply, bad_input, ok_bool, ok_list_wrapped, ok_str, ok_success_word, problem_details
from .orders import as_text
from .portfolio import unit_margin
from .rows import fund_row, holdings_rows, order_book_row, order_details_row, positions_rows, trade_history_row
from .sessions import Session
from .state import SandboxState

LOGIN_MESSAGE = "Please enter the OTP that we sent on XXXXXXX452 and XXXX00@GMAIL.COM"  # spec 3.1


@dataclass
class Call:
    state: SandboxState
    route: str
    method: str
    params: dict[str, str]
    body: Any
    session: Session | None = None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(problem_details({"$": ["A non-empty request body is required."]}))
    return body


# ---------------------------------------------------------------------- auth (spec 3)


def login(call: Call) -> Reply:
    body = _object(call.body)
    # A TOTP in step 1 is tolerated and ignored (spec 3.1 [CONFLICT]: OA sends one, docs send "").
    token = call.state.sessions.login(as_text(body, "clientcode"), str(body.get("password") or ""))
    data = {"jwtToken": token, "refreshToken": "", "feedToken": "", "state": "live"}
    return ok_str(data, LOGIN_MESSAGE, outcome="request token issued")


def _session_data(session: Session) -> dict[str, str]:
    return {"jwtToken": session.access_token, "refreshToken": session.refresh_token, "feedToken": session.feed_token}


def verify_totp(call: Call) -> Reply:
    body = _object(call.body)
    session = call.state.sessions.verify_totp(as_text(body, "refreshToken"), as_text(body, "totp"))
    account = call.state.account
    data = {
        "ClientName": account.client_name,
        "ClientId": account.client_code,
        "exchanges": ["NSE", "BSE", "NFO", "BFO", "CDS"],
        **_session_data(session),
    }
    return ok_bool(data, "SUCCESS", outcome="session opened (TOTP)")


def session_token(call: Call) -> Reply:
    body = _object(call.body)
    session = call.state.sessions.verify_otp(as_text(body, "refreshToken"), as_text(body, "otp"))
    # The success message really is a copy of the login message (spec 3.2).
    return ok_str({**_session_data(session), "state": "live"}, LOGIN_MESSAGE, outcome="session opened (OTP)")


def logout(call: Call) -> Reply:
    assert call.session is not None
    call.state.sessions.logout(call.session)
    return ok_bool(None, "Success", errorcode=None, outcome="logged out")


# ---------------------------------------------------------------------- account (spec 6)


def funds(call: Call) -> Reply:
    figures = call.state.funds()
    row = fund_row(call.state.portfolio, **figures)
    return ok_bool([row], outcome=f"available {row['AVAILABLE_BALANCE']}")


# ---------------------------------------------------------------------- orders (spec 4)


def place_order(call: Call) -> Reply:
    order = call.state.oms.place(call.body)
    outcome = f"placed {order.orderid} {order.side} {order.quantity} {order.inst.name} {order.ordertype} -> {order.status}"
    if order.ordertag:
        outcome += f" tag={order.ordertag}"
    data = {"script": order.inst.name, "orderid": order.orderid, "uniqueorderid": ""}
    return ok_list_wrapped(data, outcome=outcome)


def modify_order(call: Call) -> Reply:
    order = call.state.oms.modify(call.params["orderid"], call.body)
    # The leading space in the modified order id is real (spec 4.4).
    data = {"orderid": f" {order.orderid}", "uniqueorderid": ""}
    return ok_str(data, outcome=f"modified {order.orderid} -> {order.status}")


def cancel_order(call: Call) -> Reply:
    order = call.state.oms.cancel(call.params["orderid"], call.body)
    return ok_str({"orderid": order.orderid, "uniqueorderid": ""}, outcome=f"cancelled {order.orderid}")


def cancel_all(call: Call) -> Reply:
    cancelled = call.state.oms.cancel_all()
    # Only one id comes back (spec 4.6, semantics [UNKNOWN]): the sandbox names the last.
    return ok_success_word({"order_id": cancelled[-1].orderid}, outcome=f"cancelled {len(cancelled)} open orders")


def order_book(call: Call) -> Reply:
    with call.state.lock:
        orders = sorted(call.state.oms.orders.values(), key=lambda o: (o.updated, o.orderid), reverse=True)
        rows = [order_book_row(o, ordertag=call.state.config.ordertag_echo) for o in orders]
    return ok_str(rows or None, outcome=f"{len(rows)} orders")


def order_details(call: Call) -> Reply:
    body = _object(call.body)
    orderid = as_text(body, "order_no")
    with call.state.lock:
        order = call.state.oms.orders.get(orderid)
        rows = [order_details_row(order)] if order else None
    return ok_str(rows, outcome=f"details {orderid}: {order.status if order else 'unknown'}")


def trade_book(call: Call) -> Reply:
    rows = call.state.trade_book()
    return ok_str(rows or None, outcome=f"{len(rows)} trades")


def trade_history(call: Call) -> Reply:
    body = _object(call.body)
    start = parse_when(as_text(body, "fromdate"), end_of_day=False)
    end = parse_when(as_text(body, "todate"), end_of_day=True)
    with call.state.lock:
        rows = [trade_history_row(t) for t in call.state.oms.trades if start.date() <= t.time.date() <= end.date()]
    return ok_str(rows, outcome=f"{len(rows)} trades in range")


# ---------------------------------------------------------------------- portfolio (spec 5)


def positions(call: Call) -> Reply:
    with call.state.lock:
        rows = positions_rows(call.state.portfolio)
    return ok_str(rows or None, outcome=f"{len(rows)} positions")


def holdings(call: Call) -> Reply:
    market = call.state.market

    def quote(inst):
        snap = market.snapshot_of(inst)
        return snap.ltp, snap.close

    with call.state.lock:
        rows = holdings_rows(call.state.portfolio, quote)
    return ok_str(rows or None, errorcode=None, outcome=f"{len(rows)} holdings")


def convert_position(call: Call) -> Reply:
    description = call.state.oms.convert(_object(call.body))
    return ok_str(None, outcome=description)


# ---------------------------------------------------------------------- margins (spec 7)

_BREAKUP_NAMES = ("BROKERAGE", "BROKER_BROKERAGE", "EXPOMARGIN", "LEVIES_BROKERAGE", "OTHER_BROKERAGE",
                  "SPANMARGIN", "VARELMMARGIN")


def _charges(total: float, span: float = 0.0, exposure: float = 0.0) -> dict[str, Any]:
    amounts = {"SPANMARGIN": round(span, 2), "EXPOMARGIN": round(exposure, 2)}
    breakup = [{"name": n, "amount": amounts.get(n, 0), "msg": "", "breakup": []} for n in _BREAKUP_NAMES]
    # trade_value is 0 in the DOC sample (spec 7); the sandbox keeps it that way.
    return {"total_charges": round(total, 2), "trade_value": 0, "breakup": breakup}


def margins(call: Call) -> Reply:
    body = call.body
    if not isinstance(body, dict) or not isinstance(body.get("orders"), list) or not body["orders"]:
        raise ApiError(problem_details({"orders": ["The orders field is required."]}))
    state = call.state
    legs = []
    with state.lock:
        for leg in body["orders"]:
            leg = _object(leg)
            inst = state.book.get(as_text(leg, "exchange").upper(), as_text(leg, "token"))
            if inst is None or inst.is_index:
                raise bad_input(f"Invalid token {as_text(leg, 'token')} on {as_text(leg, 'exchange')}.")  # [INVENTED]
            try:
                quantity = int(float(as_text(leg, "quantity")))
                price = float(as_text(leg, "price") or 0)
            except ValueError:
                raise bad_input("Invalid quantity or price.") from None
            side = as_text(leg, "transaction_type").upper()
            product = as_text(leg, "product_type").upper()
            price = price or state.market.ltp(inst)
            total = quantity * unit_margin(inst, product, side, price)
            hedged = inst.is_future or (inst.is_option and side == "SELL")
            legs.append(_charges(total, total * 0.75 if hedged else 0.0, total * 0.25 if hedged else 0.0))
    summary = _charges(sum(leg["total_charges"] for leg in legs))
    summary["breakup"] = [
        {**item, "amount": round(sum(leg["breakup"][i]["amount"] for leg in legs), 2)}
        for i, item in enumerate(summary["breakup"])
    ]
    return ok_str({"summary": summary, "charges": legs}, errorcode=None,
                  outcome=f"{len(legs)} legs, total {summary['total_charges']}")


# ---------------------------------------------------------------------- market data (spec 8)


def historical_candles(call: Call) -> Reply:
    body = _object(call.body)
    state = call.state
    inst = state.book.get(as_text(body, "exchange").upper(), as_text(body, "symboltoken"))
    if inst is None:
        raise bad_input(f"Invalid symbol token {as_text(body, 'symboltoken')} for {as_text(body, 'exchange')}.")
    result = historical(
        state.model, inst,
        interval=parse_interval(as_text(body, "interval")),
        start=parse_when(as_text(body, "fromdate"), end_of_day=False),
        end=parse_when(as_text(body, "todate"), end_of_day=True),
        today=state.clock().date(),
        limit=state.config.history_bar_limit,
        hourly_labels=state.config.hourly_labels,
    )
    message = "success"
    outcome = f"{inst.name} {as_text(body, 'interval')} {len(result.candles)} candles"
    limit = state.config.history_bar_limit
    if result.truncated and state.config.history_over_limit == "refuse":
        # [INVENTED]: the real answer beyond the limit is unknown (spec 8.2).
        raise bad_input(f"Maximum {limit} candles are allowed per request. Please reduce the date range.")
    if result.truncated:
        message = f"success: only the first {limit} candles of the range are returned"
        outcome += " (TRUNCATED)"
    return ok_str({"candles": result.candles}, message, outcome=outcome)


def intraday_candles(call: Call) -> Reply:
    body = _object(call.body)
    if not as_text(body, "symboltoken"):
        raise ApiError(problem_details({"symboltoken": ["The symboltoken field is required."]}))
    state = call.state
    inst = state.book.get_intraday(as_text(body, "exchange"), as_text(body, "symboltoken"))
    if inst is None:
        raise bad_input(f"Invalid symbol token {as_text(body, 'symboltoken')} for exchange {as_text(body, 'exchange')}.")
    now = state.clock()
    candles = intraday(
        state.model, inst,
        interval=parse_interval(as_text(body, "interval")),
        day=now.date(),
        minutes=minutes_elapsed(now, always_open=state.config.always_open),
        hourly_labels=state.config.hourly_labels,
    )
    return ok_bool({"candles": candles}, outcome=f"{inst.name} {len(candles)} candles today")


def scrip_master(call: Call) -> Reply:
    data = call.state.master_bytes()
    return Reply(200, data, outcome=f"{len(call.state.rows)} instruments, {len(data)} bytes")
