"""The mStock Type B route table (spec sections 3-8).

Keys are dotted names shared by the client, the tests' fixture files
(``tests/fixtures/<route>__<case>.json``) and the sandbox. Paths are relative to
``<base_url>/openapi/typeb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Category(str, Enum):
    """Rate-limit categories of spec 2.1."""

    ORDER = "order"  # 30/s, 250/min, 1000/h
    DATA = "data"  # 1/s, 1000/min, 5000/h (historical, intraday)
    QUOTE = "quote"  # 20/s
    OTHER = "other"  # not limited by mStock


class Auth(str, Enum):
    """Which credentials a route needs (spec 1.2)."""

    NONE = "none"  # X-Mirae-Version only (connect/login)
    KEY = "key"  # + X-PrivateKey (session/token, session/verifytotp)
    BEARER = "bearer"  # + Authorization: Bearer <jwt>


class Timeout(str, Enum):
    TRADING = "trading"
    DATA = "data"
    MASTER = "master"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    category: Category = Category.OTHER
    auth: Auth = Auth.BEARER
    # Only idempotent routes are ever retried. Writes (place, modify, cancel, cancel-all,
    # convert) are never retried: a lost response is reconciled, not resent (invariant 1).
    idempotent: bool = True
    timeout: Timeout = Timeout.TRADING
    # The scrip master is a bare JSON array without the usual envelope (spec 1.4 item 5).
    bare_array: bool = False

    @property
    def is_write(self) -> bool:
        return not self.idempotent


_WRITE = dict(category=Category.ORDER, idempotent=False)

ROUTES: dict[str, Route] = {
    # auth (spec 3)
    "auth.login": Route("POST", "/connect/login", auth=Auth.NONE, idempotent=False),
    "auth.verify_totp": Route("POST", "/session/verifytotp", auth=Auth.KEY, idempotent=False),
    "auth.session_token": Route("POST", "/session/token", auth=Auth.KEY, idempotent=False),
    "auth.logout": Route("GET", "/logout", idempotent=False),
    # account (spec 6)
    "user.funds": Route("GET", "/user/fundsummary"),
    # orders (spec 4)
    "orders.place": Route("POST", "/orders/regular", **_WRITE),
    "orders.modify": Route("PUT", "/orders/regular/{orderid}", **_WRITE),
    "orders.cancel": Route("DELETE", "/orders/regular/{orderid}", **_WRITE),
    "orders.cancel_all": Route("POST", "/orders/cancelall", **_WRITE),
    "orders.list": Route("GET", "/orders"),
    # GET-with-body in the docs, POST in the SDKs; the server takes both (spec 1.3).
    "orders.details": Route("POST", "/order/details"),
    "orders.trades": Route("GET", "/tradebook"),
    "orders.trade_history": Route("POST", "/trades"),
    # portfolio (spec 5)
    "portfolio.positions": Route("GET", "/portfolio/positions"),
    "portfolio.holdings": Route("GET", "/portfolio/holdings"),
    "portfolio.convert": Route("POST", "/portfolio/convertposition", **_WRITE),
    # margins (spec 7): a calculation, safe to repeat
    "margins.orders": Route("POST", "/margins/orders"),
    # market data (spec 8)
    "market.quote": Route("POST", "/instruments/quote", category=Category.QUOTE),
    "market.historical": Route(
        "POST", "/instruments/historical", category=Category.DATA, timeout=Timeout.DATA
    ),
    "market.intraday": Route(
        "POST", "/instruments/intraday", category=Category.DATA, timeout=Timeout.DATA
    ),
    "market.scrip_master": Route(
        "GET", "/instruments/OpenAPIScripMaster", timeout=Timeout.MASTER, bare_array=True
    ),
    "market.option_chain_master": Route("GET", "/getoptionchainmaster/{exchange_id}"),
    "market.option_chain": Route("GET", "/GetOptionChain/{exchange_id}/{expiry}/{token}"),
}


def route(name: str) -> Route:
    try:
        return ROUTES[name]
    except KeyError:
        raise KeyError(f"unknown mStock route {name!r}") from None
