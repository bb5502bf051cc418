"""Raw mStock answers seen by the doctor, and their redaction into shareable samples.

Every exchange of the doctor's client is recorded (:class:`Recorder`); a probe that wants
an answer in the report takes the last one of a route and :func:`sanitize` turns its body
into something safe to share and ready to be a test fixture:

* tokens of any kind (``jwtToken``, ``feedToken``... and anything JWT-shaped), the API
  key, password and TOTP values the process registered: replaced;
* the client code and client name: replaced by ``MA0000000`` / ``SAMPLE CLIENT``;
* order, exchange-order, trade and fill numbers: replaced by fake numbers of the same
  length, consistently (one real id gives one fake id everywhere in the report);
* account numbers, PAN, e-mail, mobile: replaced; balances and fund figures: zero.

Instrument tokens, prices, quantities, statuses and our own ``ordertag`` are kept: they
are what makes a sample useful, and none of them identifies the account.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from ..redact import redact
from ..transport.probe import Exchange

# keys are compared lower-cased, without "_" and "-"
_ORDER_ID_KEYS = frozenset(
    {
        "orderid",
        "orderno",
        "exchangeorderid",
        "exchorderid",
        "uniqueorderid",
        "parentorderid",
        "nestordernumber",
        "fillid",
        "tradeid",
        "tradeno",
        "exchtradeid",
        "exchangetradeid",
        "norenordno",
    }
)
_SECRET_KEYS = frozenset(
    {
        "jwttoken",
        "refreshtoken",
        "feedtoken",
        "accesstoken",
        "authtoken",
        "token_",
        "apikey",
        "privatekey",
        "password",
        "totp",
        "otp",
        "secret",
        "requesttoken",
    }
)
_CLIENT_KEYS = frozenset({"clientid", "clientcode", "userid", "username", "uid", "actid", "accountid"})
_NAME_KEYS = frozenset({"clientname", "accountname", "holdername"})
_PERSONAL_KEYS = frozenset(
    {
        "accountno",
        "accountnumber",
        "bankaccount",
        "bankaccountno",
        "dpid",
        "boid",
        "pan",
        "pannumber",
        "email",
        "emailid",
        "mobile",
        "mobileno",
        "phone",
    }
)
_MONEY_WORDS = ("balance", "fund", "cash", "collateral", "payin", "payout", "limit", "margin", "withdraw", "ledger")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_CLIENT_CODE_SHAPE = re.compile(r"\bMA\d{5,}\b")
FAKE_CLIENT_CODE = "MA0000000"
FAKE_CLIENT_NAME = "SAMPLE CLIENT"
MAX_LIST_ITEMS = 50  # longer lists keep their first and last 25 items


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


class Redactor:
    """Consistent replacements for one report (the same real id always gets the same fake)."""

    def __init__(self, client_code: str | None = None) -> None:
        self.client_code = (client_code or "").strip()
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def fake_id(self, value: Any) -> Any:
        """``1161241001100`` -> ``9000000000001`` (same length; the same id, the same fake)."""
        raw = str(value)
        text = raw.strip()
        if text.strip("0") == "":  # "", "0": no id (a Transit order's exchange id is "0")
            return value
        with self._lock:
            fake = self._ids.get(text)
            if fake is None:
                serial = str(len(self._ids) + 1)
                fake = "9" + serial.rjust(max(len(text), len(serial) + 1) - 1, "0")
                self._ids[text] = fake
        if isinstance(value, int):
            return int(fake)
        return raw[: len(raw) - len(raw.lstrip())] + fake  # keeps mStock's leading space (modify)

    def text(self, value: str) -> str:
        out = value
        if self.client_code:
            out = out.replace(self.client_code, FAKE_CLIENT_CODE)
        out = _CLIENT_CODE_SHAPE.sub(FAKE_CLIENT_CODE, out)
        out = _JWT.sub("<token>", out)
        out = _UUID.sub("00000000-0000-0000-0000-000000000000", out)
        with self._lock:
            for real, fake in self._ids.items():
                if len(real) >= 6 and real in out:
                    out = out.replace(real, fake)
        return redact(out)

    def value(self, key: str, value: Any) -> Any:
        k = _key(key)
        if isinstance(value, (dict, list)):
            return self.walk(value)
        if value is None or isinstance(value, bool):
            return value
        if k in _ORDER_ID_KEYS:
            return self.fake_id(value)
        if k in _SECRET_KEYS or k.endswith("token") and k not in ("symboltoken", "instrumenttoken", "scriptoken"):
            return "<redacted>" if value != "" else value
        if k in _CLIENT_KEYS:
            return FAKE_CLIENT_CODE if value != "" else value
        if k in _NAME_KEYS:
            return FAKE_CLIENT_NAME if value != "" else value
        if k in _PERSONAL_KEYS:
            return "<redacted>" if value != "" else value
        if any(word in k for word in _MONEY_WORDS):
            if isinstance(value, (int, float)):
                return 0
            if isinstance(value, str) and re.fullmatch(r"\s*-?[\d,]+(\.\d+)?\s*", value):
                return "0.00"
        if isinstance(value, str):
            return self.text(value)
        return value

    def collect_ids(self, node: Any) -> None:
        """Give every order/trade id in ``node`` its fake first, so ids inside free text
        (an RMS message naming its order) are replaced wherever they appear."""
        if isinstance(node, dict):
            for key, value in node.items():
                if _key(str(key)) in _ORDER_ID_KEYS and not isinstance(value, (dict, list)) and value is not None:
                    self.fake_id(value)
                else:
                    self.collect_ids(value)
        elif isinstance(node, list):
            for item in node:
                self.collect_ids(item)

    def walk(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {k: self.value(str(k), v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.walk(item) if isinstance(item, (dict, list)) else self.value("", item) for item in node]
        if isinstance(node, str):
            return self.text(node)
        return node


def trim_lists(node: Any, path: str = "") -> tuple[Any, list[str]]:
    """Lists longer than :data:`MAX_LIST_ITEMS` keep their first and last half of it."""
    notes: list[str] = []
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out[key], more = trim_lists(value, f"{path}.{key}" if path else str(key))
            notes += more
        return out, notes
    if isinstance(node, list):
        items = node
        if len(node) > MAX_LIST_ITEMS:
            half = MAX_LIST_ITEMS // 2
            items = node[:half] + node[-half:]
            notes.append(f"{path or 'body'}: {MAX_LIST_ITEMS} of {len(node)} items kept (first and last {half})")
        out_list = []
        for index, item in enumerate(items):
            value, more = trim_lists(item, f"{path}[{index}]")
            out_list.append(value)
            notes += more
        return out_list, notes
    return node, notes


def sanitize(body: bytes, redactor: Redactor) -> tuple[Any, str]:
    """(redacted JSON value or text, note) for one raw body."""
    text = body.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        return redactor.text(text[:2000]), "not JSON"
    trimmed, notes = trim_lists(parsed)
    redactor.collect_ids(trimmed)
    return redactor.walk(trimmed), "; ".join(notes)


class Recorder:
    """Collects every :class:`Exchange` of the doctor's clients (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    def __call__(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def all(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def last(self, route: str) -> Exchange | None:
        with self._lock:
            for exchange in reversed(self._exchanges):
                if exchange.route == route:
                    return exchange
        return None

    def mark(self) -> int:
        with self._lock:
            return len(self._exchanges)

    def since(self, mark: int) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges[mark:])
