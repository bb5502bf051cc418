"""Unit tests of ``mstock-openalgo doctor``'s parts, and of the run-time following it led to.

The probes themselves run end to end against the sandbox (``tests/e2e/test_doctor_e2e.py``);
here: frame splitting, divisors, redaction of samples, the report's three renderings, the
configuration checks, the OpenAlgo checkout checks, the clock-skew verdict, the read-only
client, and the plugin changes behind the doctor's advice (a stated quote cap followed,
a history chunk refused for its size split, hourly end labels, depth order, empty tags).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import struct
import threading
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from broker.mstock.clock import IST
from broker.mstock.diagnostics import checks
from broker.mstock.diagnostics.context import Context, ReadOnlyClient
from broker.mstock.diagnostics.feed_probes import _power_of_ten, decode_packet, split_frame
from broker.mstock.diagnostics.openalgo import PLUGIN_DIR, check_openalgo
from broker.mstock.diagnostics.report import (
    CONFIRMED,
    CONTRADICTED,
    FAIL,
    OK,
    UNTESTABLE,
    WARN,
    Finding,
    Report,
    Sample,
)
from broker.mstock.diagnostics.samples import Redactor, sanitize
from broker.mstock.errors import InputRejected, SessionExpired
from broker.mstock.market import candles, history, quotes
from broker.mstock.orders.book import BookOrder, book_carries_tags
from broker.mstock.records import SymbolRecord
from broker.mstock.streaming import parser as feed_parser
from broker.mstock.transport.client import MStockClient
from broker.mstock.transport.probe import Exchange, check_endpoint, route_for

from ..helpers import API_KEY, API_ROOT, BASE_URL, add_route, sent_json

NOW = datetime(2026, 3, 4, 11, 0, tzinfo=IST)


def packet(mode: int = 1, token: str = "3045", ltp: int = 81_235, exchange_type: int = 1) -> bytes:
    head = (mode, exchange_type, token.encode().ljust(25, b"\0"), 7, 1_400_000_000, ltp)
    if mode == 1:
        return feed_parser.LTP_PACKET.pack(*head)
    quote_tail = (5, ltp, 1000, 10.0, 20.0, ltp, ltp, ltp, ltp - 100)
    if mode == 2:
        return feed_parser.QUOTE_PACKET.pack(*head, *quote_tail)
    depth = []
    for i in range(10):
        depth += [1 if i < 5 else 0, 10 * (i + 1), ltp - 5 * (i + 1) if i < 5 else ltp + 5 * (i - 4), i + 1]
    return feed_parser.SNAP_PACKET.pack(*head, *quote_tail, 1_400_000_000, 0, 0.0, *depth, 0, 0, 0, 0)


# ---------------------------------------------------------------------- frames


def test_split_frame_names_every_framing():
    ltp, snap = packet(1), packet(3)
    assert split_frame(ltp) == ("bare", [ltp])
    assert split_frame(struct.pack("<HH", 2, 51) + ltp + ltp) == ("header", [ltp, ltp])
    big = struct.pack(">H", 2) + struct.pack(">H", 51) + ltp + struct.pack(">H", 379) + snap
    assert split_frame(big) == ("big-endian", [ltp, snap])
    assert split_frame(ltp + ltp) == ("concatenated", [ltp, ltp])
    assert split_frame(b"\x01\x02\x03\x04\x05") == ("unknown", [])
    assert split_frame(b"\x00") == ("heartbeat", [])


def test_decode_packet_keeps_raw_integers():
    decoded = decode_packet(packet(3, ltp=9_257))
    assert (decoded.mode, decoded.token, decoded.ltp, decoded.close, decoded.exchange_ts) == (
        3,
        "3045",
        9_257,
        9_157,
        1_400_000_000,
    )
    assert decoded.depth[0] == (1, 10, 9_252, 1) and decoded.depth[5] == (0, 60, 9_262, 6)


@pytest.mark.parametrize(
    ("ratio", "divisor"), [(100.0, 100), (100.003, 100), (1e7 * 0.999, 10_000_000), (55.0, None), (0.0, None)]
)
def test_power_of_ten(ratio, divisor):
    assert _power_of_ten(ratio) == divisor


def test_depth_order_constant_swaps_the_sides(monkeypatch):
    snap = packet(3, ltp=10_000)
    as_documented = feed_parser.FeedParser().parse(snap)[0]
    assert as_documented["bids"][0]["price"] == 99.95 and as_documented["asks"][0]["price"] == 100.05
    monkeypatch.setattr(feed_parser, "DEPTH_BIDS_FIRST", False)
    swapped = feed_parser.FeedParser().parse(snap)[0]
    assert swapped["bids"][0]["price"] == 100.05 and swapped["asks"][0]["price"] == 99.95


# ---------------------------------------------------------------------- samples


def test_sanitize_replaces_ids_codes_tokens_and_balances_consistently():
    body = json.dumps(
        {
            "status": "true",
            "data": [
                {
                    "orderid": "1142241106106",
                    "exchangeorderid": "0",
                    "text": "RMS:1142241106106:NSE,MA6812345,FUND",
                    "ordertag": "OAM9X2K3QZ1F701XQ2",
                    "symboltoken": "3045",
                    "price": "571.80",
                    "ClientId": "MA6812345",
                    "AVAILABLE_BALANCE": "12345.50",
                    "jwtToken": "eyJhbGciOi.eyJVU0VS.c2ln",
                    "ClientName": "RAHUL KUMAR",
                },
                {"orderid": " 1142241106106", "uniqueorderid": "697c39bf-9411-46b0-81c2-67448ee99c72"},
            ],
            "candles": [[i] for i in range(120)],
        }
    ).encode()
    cleaned, note = sanitize(body, Redactor("MA6812345"))
    first, second = cleaned["data"]
    assert first["orderid"] == "9000000000001" and second["orderid"] == " 9000000000001"
    assert first["text"] == "RMS:9000000000001:NSE,MA0000000,FUND"
    assert first["exchangeorderid"] == "0"
    assert (first["ClientId"], first["ClientName"], first["jwtToken"]) == ("MA0000000", "SAMPLE CLIENT", "<redacted>")
    assert first["AVAILABLE_BALANCE"] == "0.00"
    assert (first["ordertag"], first["symboltoken"], first["price"]) == ("OAM9X2K3QZ1F701XQ2", "3045", "571.80")
    assert second["uniqueorderid"] != "697c39bf-9411-46b0-81c2-67448ee99c72"
    assert len(cleaned["candles"]) == 50 and cleaned["candles"][25] == [95]
    assert note == "candles: 50 of 120 items kept (first and last 25)"


def test_sanitize_of_text_that_is_not_json():
    cleaned, note = sanitize(b"<html>MA6812345 eyJhbGciOi.eyJVU0VS.c2ln</html>", Redactor("MA6812345"))
    assert (cleaned, note) == ("<html>MA0000000 <token></html>", "not JSON")


# ---------------------------------------------------------------------- report


def sample_report() -> Report:
    report = Report("0.1.0", "abc123def456", NOW, live=True, server={"REST": BASE_URL})
    report.add(Finding("clock", "clock", OK, "this machine's clock agrees with mStock's (within 0.5 s)"))
    report.add(
        Finding(
            "api_key",
            "API key and IP",
            FAIL,
            "mStock refused this machine's IP address: " + "x" * 120,
            fix="whitelist it | on the Trading APIs page",
        )
    )
    report.add(
        Finding(
            "quote_token_cap",
            "quote token cap",
            CONTRADICTED,
            "mStock refused 500 tokens",
            assumption="one quote call may name 500 tokens",
            change="market/quotes.py MAX_TOKENS_PER_QUOTE_CALL = 50",
        )
    )
    report.add(Finding("feed_epoch", "feed epoch zone", UNTESTABLE, "the market is closed"))
    report.add_sample(Sample("market.quote", "live_cap_refused", 400, {"status": "false"}))
    return report


def test_report_renderings():
    report = sample_report()
    text = report.to_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "  CONTRADICTED   quote token cap" in text and "change: market/quotes.py" in text
    assert text.splitlines()[-1].startswith("1 ok, 0 warn, 1 fail; 0 confirmed, 1 contradicted, 1 not testable")
    markdown = report.to_markdown()
    assert "| FAIL | API key and IP |" in markdown and "whitelist it \\| on the" in markdown
    assert "- `market.quote__live_cap_refused` (HTTP 400)" in markdown
    data = json.loads(report.to_json())
    assert data["summary"] == {"ok": 1, "warn": 0, "fail": 1, "confirmed": 0, "contradicted": 1, "not testable": 1}
    assert data["samples"][0]["name"] == "market.quote__live_cap_refused"
    assert report.failed and report.contradicted() == ["quote_token_cap"]


def test_report_text_never_shows_a_registered_secret():
    from broker.mstock.redact import register_secret

    register_secret("super-secret-key-value")
    report = sample_report()
    report.add(Finding("x", "x", WARN, "oops super-secret-key-value"))
    assert "super-secret-key-value" not in report.to_text() + report.to_markdown() + report.to_json()


# ---------------------------------------------------------------------- configuration checks


def context(tmp_path: Path, **options) -> Context:
    return Context.load(Report("t", "f", NOW, live=False), now=lambda: NOW, **options)


@pytest.mark.parametrize(
    ("values", "finding", "status", "detail"),
    [
        ({"BROKER_API_KEY": "MA6812345"}, "client_code", OK, "BROKER_API_KEY is MA*****45"),
        ({"BROKER_API_KEY": "ma6812345"}, "client_code", WARN, "BROKER_API_KEY ma*****45 is in lower case"),
        (
            {"BROKER_API_KEY": "DDFUFbGlDwBeBpqik2UOcBQ5yIKjrT@"},
            "client_code",
            FAIL,
            "BROKER_API_KEY looks like an API key, not a client code",
        ),
        (
            {"BROKER_API_SECRET": "MA6812345"},
            "api_key_format",
            FAIL,
            "BROKER_API_SECRET looks like a client code, not an API key",
        ),
        ({"BROKER_API_SECRET": "short@"}, "api_key_format", WARN, "BROKER_API_SECRET is set but short (6 characters)"),
        (
            {"MSTOCK_TOTP_SECRET": "123456"},
            "totp_secret",
            FAIL,
            "MSTOCK_TOTP_SECRET holds a 6-digit code, not the secret",
        ),
        (
            {"MSTOCK_TOTP_SECRET": "JBSWY3DPEHPK3PX1"},
            "totp_secret",
            FAIL,
            "MSTOCK_TOTP_SECRET is not base32 (only letters A-Z and digits 2-7)",
        ),
        (
            {"MSTOCK_TOTP_SECRET": "jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp"},
            "totp_secret",
            OK,
            "MSTOCK_TOTP_SECRET is valid base32 (32 characters)",
        ),
        (
            {"REDIRECT_URL": "http://127.0.0.1:5000/zerodha/callback"},
            "redirect_url",
            FAIL,
            "REDIRECT_URL names the broker 'zerodha', not mstock",
        ),
        (
            {"REDIRECT_URL": "http://127.0.0.1:5000/mstock/callback", "VALID_BROKERS": "zerodha,dhan"},
            "redirect_url",
            FAIL,
            "VALID_BROKERS does not contain mstock; OpenAlgo refuses to start",
        ),
        (
            {"REDIRECT_URL": "https://algo.example.com/mstock/callback"},
            "redirect_url",
            WARN,
            "REDIRECT_URL https://algo.example.com/mstock/callback names no port",
        ),
        (
            {"REDIRECT_URL": "http://127.0.0.1:5000/mstock/callback", "VALID_BROKERS": "Zerodha, MSTOCK"},
            "redirect_url",
            OK,
            "REDIRECT_URL is http://127.0.0.1:5000/mstock/callback and VALID_BROKERS contains mstock",
        ),
    ],
)
def test_variable_shapes(monkeypatch, tmp_path, values, finding, status, detail):
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    found = {f.id: f for f in checks._variables(context(tmp_path))}[finding]
    assert (found.status, found.detail) == (status, detail)


def test_env_file_overridden_by_the_shell_and_readable_by_others(monkeypatch, tmp_path):
    env = tmp_path / ".env"
    env.write_text("BROKER_API_KEY=MA6800009\nBROKER_API_SECRET=from-the-file-key-123456\n", encoding="utf-8")
    env.chmod(0o644)
    finding = checks._env_file(context(tmp_path, env_file=env, env_file_given=True))
    assert finding.status == WARN
    assert "the shell's environment overrides the file for BROKER_API_KEY, BROKER_API_SECRET" in finding.detail
    assert "readable by other users" in finding.detail and f"chmod 600 {env}" in finding.fix


def test_missing_env_file_given_on_the_command_line_fails(tmp_path):
    finding = checks._env_file(context(tmp_path, env_file=tmp_path / "nope.env", env_file_given=True))
    assert finding.status == FAIL and "given with --env-file" in finding.detail


def exchange(skew: float, *, rtt: float = 0.04) -> Exchange:
    server = datetime(2026, 3, 4, 5, 30, 0, tzinfo=timezone.utc)
    local_mid = server.timestamp() + 0.5 + skew
    return Exchange("orders.list", "GET", 401, server, local_mid - rtt / 2, local_mid + rtt / 2)


@pytest.mark.parametrize(("skew", "status"), [(0.2, OK), (-8.0, WARN), (31.0, FAIL), (-40.0, FAIL)])
def test_clock_skew_verdicts(tmp_path, skew, status):
    ctx = context(tmp_path)
    ctx.recorder(exchange(skew))
    finding = checks._clock(ctx)
    assert finding.status == status
    assert finding.data["skew_seconds"] == pytest.approx(skew, abs=0.01)


def test_clock_without_a_date_header_is_a_warning(tmp_path):
    assert checks._clock(context(tmp_path)).status == WARN


def test_read_only_client_refuses_writes_and_logins():
    client = ReadOnlyClient(MStockClient("token-abcdef", api_key=API_KEY, base_url=BASE_URL))
    for route in (
        "orders.place",
        "orders.modify",
        "orders.cancel",
        "orders.cancel_all",
        "portfolio.convert",
        "auth.login",
        "auth.logout",
    ):
        with pytest.raises(AssertionError):
            client.call(route)


def test_route_for_maps_paths_back_to_route_names():
    assert route_for("GET", "/openapi/typeb/orders") == "orders.list"
    assert route_for("POST", "/openapi/typeb/instruments/quote") == "market.quote"
    assert route_for("DELETE", "/openapi/typeb/orders/regular/1161241001100") == "orders.cancel"
    assert route_for("GET", "/elsewhere") == "/elsewhere"


# ---------------------------------------------------------------------- OpenAlgo checkout


SERVICE = """
_BROKER_FACTORIES: dict[str, tuple[str, str]] = {{
    "dhan": ("broker.dhan.streaming.dhan_order_adapter", "create_dhan_order_adapter"),{entry}
}}
_POLLING_BROKERS = {{"groww"{polling}}}
"""


def checkout(tmp_path: Path, *, entry: str = "", polling: str = "", plugin: bool = True) -> Path:
    root = tmp_path / "openalgo"
    (root / "blueprints").mkdir(parents=True)
    (root / "services").mkdir()
    (root / "broker").mkdir()
    (root / "app.py").write_text("", encoding="utf-8")
    (root / "blueprints" / "brlogin.py").write_text("", encoding="utf-8")
    (root / "services" / "order_update_service.py").write_text(
        SERVICE.format(entry=entry, polling=polling), encoding="utf-8"
    )
    if plugin:
        shutil.copytree(PLUGIN_DIR, root / "broker" / "mstock", ignore=shutil.ignore_patterns("__pycache__"))
    (root / ".env").write_text("", encoding="utf-8")
    return root


def openalgo_findings(root: Path, tmp_path: Path) -> dict[str, Finding]:
    ctx = context(tmp_path, openalgo=root, env_file=root / ".env")
    return {f.id: f for f in check_openalgo(ctx)}


def test_openalgo_checkout_with_this_plugin_and_polling(tmp_path):
    found = openalgo_findings(checkout(tmp_path, polling=', "mstock"'), tmp_path)
    assert found["openalgo"].status == OK
    assert found["openalgo_plugin"].status == OK and found["openalgo_plugin"].detail.startswith("broker/mstock is this")
    assert (found["openalgo_order_updates"].status, found["openalgo_order_updates"].detail) == (
        OK,
        "mstock is in _POLLING_BROKERS (OpenAlgo polls the order book)",
    )


def test_openalgo_checkout_with_a_stale_plugin_and_no_order_updates(tmp_path):
    root = checkout(tmp_path)
    (root / "broker" / "mstock" / "market" / "quotes.py").write_text("# old\n", encoding="utf-8")
    (root / "broker" / "mstock" / "api" / "old_module.py").write_text("", encoding="utf-8")
    found = openalgo_findings(root, tmp_path)
    plugin = found["openalgo_plugin"]
    assert plugin.status == FAIL and plugin.fix == f"mstock-openalgo install {root}"
    assert (
        "1 differ (market/quotes.py)" in plugin.detail and "1 not in this version (api/old_module.py)" in plugin.detail
    )
    updates = found["openalgo_order_updates"]
    assert updates.status == WARN
    assert (
        updates.detail
        == "no mstock entry in services/order_update_service.py: OpenAlgo will not publish mStock order updates"
    )
    # The fix names the adapter when this plugin ships one, else the order-book polling set.
    ships_adapter = (PLUGIN_DIR / "streaming" / "mstock_order_adapter.py").is_file()
    assert ("_BROKER_FACTORIES" if ships_adapter else "_POLLING_BROKERS") in updates.fix


def test_openalgo_order_update_entry_naming_a_missing_module_fails(tmp_path):
    entry = '\n    "mstock": ("broker.mstock.streaming.mstock_order_adapter", "create_mstock_order_adapter"),'
    root = checkout(tmp_path, entry=entry)
    found = openalgo_findings(root, tmp_path)
    target = root / "broker" / "mstock" / "streaming" / "mstock_order_adapter.py"
    if not target.exists():
        assert found["openalgo_order_updates"].status == FAIL
        target.write_text("def create_mstock_order_adapter(user_id):\n    return None\n", encoding="utf-8")
    found = openalgo_findings(root, tmp_path)
    assert found["openalgo_order_updates"].status == OK
    assert found["openalgo_order_updates"].detail.endswith("mstock_order_adapter.create_mstock_order_adapter")


def test_a_folder_that_is_not_openalgo_fails(tmp_path):
    found = openalgo_findings(tmp_path, tmp_path)
    assert list(found) == ["openalgo"] and found["openalgo"].status == FAIL


def test_redirect_url_is_required_inside_openalgo(monkeypatch, tmp_path):
    found = {f.id: f for f in checks._variables(context(tmp_path, openalgo=tmp_path))}
    assert found["redirect_url"].status == FAIL and "OpenAlgo refuses to start" in found["redirect_url"].detail


# ---------------------------------------------------------------------- following reality at run time


def record(token: str, exchange: str = "NSE") -> SymbolRecord:
    return SymbolRecord(f"S{token}", f"S{token}-EQ", f"S{token}", exchange, exchange, token, "", 0.0, 1, "EQ", 0.05)


class Lookup:
    def __init__(self, records: list[SymbolRecord]) -> None:
        self.records = {(r.symbol, r.exchange): r for r in records}

    def get_symbol_info(self, symbol: str, exchange: str) -> SymbolRecord | None:
        return self.records.get((symbol, exchange))


@pytest.mark.parametrize(
    ("message", "cap"),
    [
        ("Maximum 50 tokens are allowed per request.", 50),
        ("max 100 instruments", 100),
        ("Only 50 tokens allowed", 50),
        ("Number of symbols cannot be more than 20", 20),
        ("Maximum 500 tokens are allowed per request.", None),
        ("Invalid mode FULL. Valid modes are LTP and OHLC.", None),
    ],
)
def test_refused_cap_reads_only_a_stated_cap_below_what_was_sent(message, cap):
    assert quotes.refused_cap(InputRejected(message), 500) == cap
    assert quotes.refused_cap(SessionExpired(message), 500) is None


def test_a_stated_token_cap_is_followed_and_remembered(mock_api):
    sizes: list[int] = []

    def answer(request):
        body = json.loads(request.body)
        tokens = [t for values in body["exchangeTokens"].values() for t in values]
        sizes.append(len(tokens))
        if len(tokens) > 2:
            return (
                400,
                {},
                json.dumps(
                    {
                        "status": "false",
                        "message": "Maximum 2 tokens are allowed per request.",
                        "errorcode": "IA400",
                        "data": None,
                    }
                ),
            )
        rows = [
            {
                "exchange": "NSE",
                "tradingSymbol": f"S{t}-EQ",
                "symbolToken": t,
                "ltp": 10.0,
                "open": 9.0,
                "high": 11.0,
                "low": 8.0,
                "close": 9.5,
            }
            for t in tokens
        ]
        return (
            200,
            {},
            json.dumps(
                {"status": "true", "message": "SUCCESS", "errorcode": "", "data": {"fetched": rows, "unfetched": []}}
            ),
        )

    mock_api.add_callback("POST", f"{API_ROOT}/instruments/quote", callback=answer)
    lookup = Lookup([record(str(t)) for t in range(1, 6)])
    client = MStockClient("token-abcdef", api_key=API_KEY, base_url=BASE_URL, sleep=lambda s: None)
    items = [{"symbol": f"S{t}", "exchange": "NSE"} for t in range(1, 6)]
    first = quotes.get_multiquotes(client, lookup, items)
    assert [r["data"]["ltp"] for r in first] == [10.0] * 5
    assert sizes == [5, 2, 2, 1]
    assert quotes.capabilities.token_cap == 2
    sizes.clear()
    quotes.get_multiquotes(client, lookup, items)
    assert sizes == [2, 2, 1]


def test_first_mode_and_depth_constants_seed_the_capabilities(monkeypatch):
    monkeypatch.setattr(quotes, "FIRST_MODE", quotes.OHLC)
    monkeypatch.setattr(quotes, "FULL_HAS_DEPTH", False)
    quotes.reset_for_tests()
    assert (quotes.capabilities.mode, quotes.capabilities.full_has_depth) == (quotes.OHLC, False)


@pytest.mark.parametrize(
    ("message", "refused"),
    [
        ("Maximum 1000 candles are allowed per request. Please reduce the date range.", True),
        ("Date range exceeds the maximum of 1000 bars", True),
        ("Invalid symbol token 3 for NSE.", False),
    ],
)
def test_refused_for_size(message, refused):
    assert history.refused_for_size(InputRejected(message)) is refused


def test_a_history_chunk_refused_for_its_size_is_split(mock_api):
    def answer(request):
        body = json.loads(request.body)
        first = date.fromisoformat(body["fromdate"][:10])
        last = date.fromisoformat(body["todate"][:10])
        days = [first + timedelta(n) for n in range((last - first).days + 1) if (first + timedelta(n)).weekday() < 5]
        if len(days) > 3:
            return (
                400,
                {},
                json.dumps(
                    {
                        "status": "false",
                        "errorcode": "IA400",
                        "data": None,
                        "message": "Maximum 3 candles are allowed per request.",
                    }
                ),
            )
        candles_ = [[f"{d.isoformat()}T00:00:00+05", 1, 2, 0.5, 1.5, 100] for d in days]
        return (
            200,
            {},
            json.dumps({"status": "true", "message": "success", "errorcode": "", "data": {"candles": candles_}}),
        )

    mock_api.add_callback("POST", f"{API_ROOT}/instruments/historical", callback=answer)
    client = MStockClient("token-abcdef", api_key=API_KEY, base_url=BASE_URL, sleep=lambda s: None)
    frame = history.fetch_history(client, record("3045"), "NSE", "D", "2026-02-02", "2026-02-13", now=NOW, workers=1)
    assert len(frame) == 10
    assert len(mock_api.calls) > 1


def test_end_labels_become_bar_starts():
    def at(hh: int, mm: int) -> int:
        return int(datetime(2026, 3, 3, hh, mm, tzinfo=IST).timestamp())

    bars = [
        (at(10, 15), 1.0, 2.0, 0.5, 1.5, 10, 0),
        (at(15, 15), 1.0, 2.0, 0.5, 1.5, 10, 0),
        (at(15, 30), 1.0, 2.0, 0.5, 1.5, 10, 0),
        (at(9, 15), 1.0, 2.0, 0.5, 1.5, 10, 0),
    ]
    relabelled = candles.end_labels_to_start(bars, opens=time(9, 15), minutes=60)
    assert [r[0] for r in relabelled] == [at(9, 15), at(14, 15), at(15, 15), at(9, 15)]


def test_history_relabels_hourly_end_labels_when_told(mock_api, monkeypatch):
    monkeypatch.setattr(history, "HOURLY_LABELS", "end")
    labels = ["10:15", "11:15", "12:15", "13:15", "14:15", "15:15", "15:30"]
    add_route(
        mock_api,
        "market.historical",
        {
            "status": "true",
            "message": "success",
            "errorcode": "",
            "data": {"candles": [[f"2026-03-03 {label}", 1, 2, 0.5, 1.5, 10] for label in labels]},
        },
    )
    client = MStockClient("token-abcdef", api_key=API_KEY, base_url=BASE_URL, sleep=lambda s: None)
    frame = history.fetch_history(client, record("3045"), "NSE", "1h", "2026-03-03", "2026-03-03", now=NOW)
    shown = [datetime.fromtimestamp(t, IST).strftime("%H:%M") for t in frame["timestamp"]]
    assert shown == ["09:15", "10:15", "11:15", "12:15", "13:15", "14:15", "15:15"]
    assert sent_json(mock_api.calls[0])["interval"] == "ONE_HOUR"


def test_a_book_whose_tags_are_all_empty_does_not_carry_tags():
    def order(tag: str | None) -> BookOrder:
        from decimal import Decimal

        return BookOrder("1", "open", "NORMAL", "3045", "BUY", "LIMIT", 1, 0, Decimal(1), Decimal(0), tag, "", {})

    assert book_carries_tags([order(""), order("")]) is False
    assert book_carries_tags([order(None), order("OA123")]) is True


def test_parser_docstring_dates_utc_epoch_ticks_in_the_past():
    doc = feed_parser.__doc__ or ""
    assert "5.5 h in the **past**" in " ".join(doc.split())
    assert not re.search(r"5\.5 h in the future", doc)


def test_timeboxed_checks_leave_a_stuck_one_behind():
    stuck = threading.Event()
    results = checks.run_timeboxed({"quick": lambda: "done", "stuck": stuck.wait, "boom": lambda: 1 / 0}, deadline=0.2)
    stuck.set()
    assert set(results) == {"quick", "boom"} and results["quick"] == "done"
    assert isinstance(results["boom"], ZeroDivisionError)  # returned to be reported, never a thread traceback
    assert checks._checked(None, "https://api.mstock.trade").problem == "no answer from api.mstock.trade:443 within 6 s"
    assert checks._checked(results["boom"], "wss://ws.mstock.trade").problem.startswith(
        "cannot check ws.mstock.trade:443 (ZeroDivisionError"
    )


def test_tls_is_verified_and_a_failed_handshake_is_named():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def answer_garbage() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(1024)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        server = threading.Thread(target=answer_garbage, daemon=True)
        server.start()
        result = check_endpoint(f"https://127.0.0.1:{port}", timeout=3)
        server.join(3)
    assert result.tls is True
    assert result.problem is not None and result.problem.startswith("TLS handshake with 127.0.0.1 failed")


def test_plain_loopback_is_reachable_without_tls():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        result = check_endpoint(f"ws://127.0.0.1:{listener.getsockname()[1]}", timeout=3)
    assert (result.tls, result.problem) == (False, None)


def test_colour_paints_only_the_verdict():
    def paint(text: str, style: str | None) -> str:
        return f"<{style}>{text}</>"

    coloured = sample_report().to_text(paint=paint)
    plain = sample_report().to_text()
    assert "  <red>FAIL</>   API key and IP" in coloured and "  <green>ok</>     clock" in coloured
    assert re.sub(r"<[a-z]*>|</>", "", coloured) == plain


def test_updates_seen_only_on_the_subscribed_socket_are_a_contradiction(tmp_path):
    from broker.mstock.diagnostics.feed_probes import Capture, _sockets

    frame = json.dumps({"order_status": "order", "orderData": {"orderid": "1"}})
    ctx = context(tmp_path)
    _sockets(ctx, Capture(texts=[frame], second_opened=True))
    assert ctx.report.finding("feed_sockets").status == CONFIRMED
    finding = ctx.report.finding("order_updates_unsubscribed")
    assert (finding.status, finding.detail) == (CONTRADICTED, "1 updates reached the subscribed socket, none the other")
    assert finding.change.startswith("streaming/mstock_order_adapter.py must subscribe")


def test_heartbeat_frames_do_not_contradict_the_framing(tmp_path):
    from broker.mstock.diagnostics.feed_probes import Capture, _framing

    ltp = packet(1)
    ctx = context(tmp_path)
    packets = _framing(ctx, Capture(binary=[b"\x00", ltp, b""]))
    finding = ctx.report.finding("feed_framing")
    assert (finding.status, finding.detail) == (CONFIRMED, "3 frames: heartbeat x2, bare x1; the plugin reads all")
    assert [(p.token, p.ltp) for p in packets] == [("3045", 81_235)]


def test_a_refused_second_socket_is_followed_by_the_order_adapter(tmp_path):
    from broker.mstock.diagnostics.feed_probes import Capture, _sockets

    ctx = context(tmp_path)
    _sockets(ctx, Capture(second_refused="the mStock feed refused the upgrade (HTTP 429)"))
    finding = ctx.report.finding("feed_sockets")
    assert finding.status == CONTRADICTED and "MSTOCK_ORDER_UPDATES=poll" in finding.change
    assert ctx.report.finding("order_updates_unsubscribed").status == UNTESTABLE


def test_depth_sides_come_from_the_packet_even_when_the_market_moved_since_the_rest_quote(tmp_path):
    from broker.mstock.diagnostics.feed_probes import Packet, _depth
    from broker.mstock.diagnostics.rest_probes import Instruments, RestView

    sbin = record("3045")
    picks = Instruments(by_segment={"NSE": sbin})
    # REST saw bids 99.95.. and asks 100.05..; the market then moved up two ticks.
    rest = RestView(
        rows={
            ("NSE", "3045"): {
                "depth": {
                    "buy": [{"price": 100.0 - 0.05 * i, "quantity": 1} for i in range(1, 6)],
                    "sell": [{"price": 100.0 + 0.05 * i, "quantity": 1} for i in range(1, 6)],
                }
            }
        }
    )
    depth = [(1, 5, 10_010 - 5 * i, 1) for i in range(5)] + [(0, 5, 10_020 + 5 * i, 1) for i in range(5)]
    packet = Packet(mode=3, exchange_type=1, token="3045", exchange_ts=1, ltp=10_015, close=10_000, depth=depth)
    ctx = context(tmp_path)
    _depth(ctx, picks, rest, {(1, "3045"): packet})
    assert ctx.report.finding("depth_order").status == CONFIRMED
    assert ctx.report.finding("depth_side_flag").data == {"bid_flags": [1], "ask_flags": [0]}
