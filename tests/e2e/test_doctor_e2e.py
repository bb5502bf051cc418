"""End to end: ``mstock-openalgo doctor`` against the embedded sandbox, as is and with each
open assumption changed.

One sandbox serves the whole module (its market caches make every run quick): its clock is
fixed on a Wednesday at 11:00 IST, inside market hours, so nothing depends on when the
tests run. A variant changes the same knobs :class:`~mstock_sandbox.SandboxConfig` names,
on the running sandbox, and puts them back afterwards (:func:`variant`). The index set is
fixed when a sandbox starts, so that variant gets a sandbox of its own.

Every variant must be reported as exactly one contradiction (or none, where the plugin
already reads what the sandbox sends) and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from broker.mstock.cli import main as cli_main
from broker.mstock.database import master_contract_db as mc
from broker.mstock.diagnostics import LIVE_PROBES, run_doctor
from broker.mstock.diagnostics.report import CONFIRMED, CONTRADICTED, FAIL, OK, UNTESTABLE, WARN, Report
from broker.mstock.errors import MStockError
from broker.mstock.local import session_file
from broker.mstock.local.symbol_store import SymbolStore
from broker.mstock.market import quotes
from broker.mstock.orders.placement import place
from broker.mstock.orders.tags import is_our_tag
from broker.mstock.transport import ratelimit
from broker.mstock.transport.client import parse_envelope
from broker.mstock.transport.routes import ROUTES
from mstock_sandbox import SandboxConfig, SandboxServer
from mstock_sandbox.clock import IST
from mstock_sandbox.config import EXTENDED_INDEX_SPOTS
from mstock_sandbox.feed import EPOCHS, PacketFormat
from tests.e2e.conftest import make_client, off_ltp, pin_price
from tests.e2e.sandbox_support import running_sandbox
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e

FIXED = datetime(2026, 3, 4, 11, 0, tzinfo=IST)  # a Wednesday, market open
# The feed probe stops once every instrument has sent a packet (the sandbox sends at once
# on subscribe), so a generous ceiling costs nothing unless the machine is slow.
FEED_SECONDS = 20.0
FEED_MIN_SECONDS = 0.2
WRITE_OUTCOMES = ("placed", "modified", "cancelled")


def fixed_now() -> datetime:
    return FIXED


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with running_sandbox(clock=fixed_now) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def symbols_url(server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sandbox's master in a symbol table, once for the module (every sandbox here serves the same rows)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('doctor') / 'symbols.db'}"
    store = SymbolStore(url)
    mc.process_master(server.state.master_bytes(), store=store.replace_all, limits=mc.Limits(min_rows=1))
    store.close()
    return url


def place_resting(server: SandboxServer, url: str, quantity: int = 10) -> str:
    """A resting LIMIT order placed through the plugin (so it carries our ordertag)."""
    token = server.issue_session().access_token
    client = make_client(server, token)
    try:
        data = {
            "symbol": "SBIN",
            "exchange": "NSE",
            "action": "BUY",
            "quantity": quantity,
            "pricetype": "LIMIT",
            "price": off_ltp(pin_price(server, "3045"), -0.03),
            "product": "MIS",
        }
        return place(client, data, SymbolStore(url))
    finally:
        client.close()


@pytest.fixture(scope="module")
def working_order(server: SandboxServer, symbols_url: str) -> str:
    """Today's book for every test: one order of ours, partly filled and still working."""
    orderid = place_resting(server, symbols_url)
    server.fill(orderid, quantity=4)
    return orderid


@pytest.fixture
def doctor(server, symbols_url, working_order, isolated_environment, monkeypatch, tmp_path) -> SandboxServer:
    """The shared sandbox, its values in the environment, and a saved CLI session."""
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", symbols_url)
    session = server.issue_session()
    saved = session_file.new_session(
        session.access_token,
        session.feed_token,
        client_code=server.account.client_code,
        base_url=server.base_url,
        client_name=server.account.client_name,
    )
    session_file.save(tmp_path / "session.json", saved)
    server.faults.clear()
    return server


def live(**options: Any) -> Report:
    options.setdefault("feed_seconds", FEED_SECONDS)
    options.setdefault("feed_min_seconds", FEED_MIN_SECONDS)
    return run_doctor(live=True, now=fixed_now, **options)


# Order updates come only when an order changes; the rate-limit probe is opt-in.
UNTESTABLE_HERE = ["order_updates", "order_updates_unsubscribed", "rate_limit_shape"]


def statuses(report: Report) -> dict[str, str]:
    return {f.id: f.status for f in report.probes}


# ---------------------------------------------------------------------- variants


REST_KNOBS = (
    "quote_token_cap",
    "quote_full",
    "history_bar_limit",
    "history_over_limit",
    "hourly_labels",
    "ordertag_echo",
    "rate_limit_shape",
    "arrival_jitter_ms",
    "connect_latency_ms",
    "idle_timeout",
)
FEED_KNOBS = ("feed_framing", "currency_divisor", "feed_epoch", "depth_side_flag", "depth_order")
SOCKET_KNOBS = ("feed_max_sockets", "feed_socket_policy")


def packet_format(config: SandboxConfig) -> PacketFormat:
    buy, sell = config.depth_side_flag
    return PacketFormat(
        currency_divisor=config.currency_divisor,
        epoch=EPOCHS[config.feed_epoch],
        bid_flag=buy,
        ask_flag=sell,
        asks_first=config.depth_order == "asks-first",
    )


@contextmanager
def variant(server: SandboxServer, **knobs: Any) -> Iterator[None]:
    """Run the sandbox with ``knobs`` changed (validated by SandboxConfig), then restore it."""
    unknown = set(knobs) - set(REST_KNOBS) - set(FEED_KNOBS) - set(SOCKET_KNOBS) - {"partial_fill_status"}
    assert not unknown, f"not a knob this helper can change on a running sandbox: {unknown}"
    changed = dataclasses.replace(server.config, **knobs)  # raises on a bad value, like the CLI flags
    saved = {name: getattr(server.config, name) for name in knobs}
    old_framing, old_format = server.feed.framing, server.feed.packet_format
    old_sockets = server.feed.max_sockets, server.feed.socket_policy
    for name, value in knobs.items():
        setattr(server.config, name, value)
    if "partial_fill_status" in knobs:
        server.state.oms.partial_fill_status = knobs["partial_fill_status"]
    server.feed.framing = changed.feed_framing
    server.feed.packet_format = packet_format(changed)
    server.feed.max_sockets, server.feed.socket_policy = changed.feed_max_sockets, changed.feed_socket_policy
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(server.config, name, value)
        server.state.oms.partial_fill_status = server.config.partial_fill_status
        server.feed.framing, server.feed.packet_format = old_framing, old_format
        server.feed.max_sockets, server.feed.socket_policy = old_sockets


VARIANTS: list[tuple[dict[str, Any], list[str]]] = [
    ({"quote_token_cap": 40}, ["quote_token_cap"]),
    ({"quote_full": "no-depth"}, ["quote_full_layout"]),
    ({"quote_full": "ohlc"}, ["quote_full_layout"]),
    ({"quote_full": "refuse"}, ["quote_full_layout"]),
    ({"history_bar_limit": 500}, ["history_bar_limit"]),
    ({"history_over_limit": "refuse"}, ["history_over_limit"]),
    ({"hourly_labels": "end"}, ["hourly_labels"]),
    ({"feed_framing": "big-endian"}, ["feed_framing"]),
    ({"feed_framing": "bare"}, []),  # bare packets: the plugin reads those too
    ({"currency_divisor": 10_000_000}, ["price_divisor_cds"]),
    ({"feed_epoch": "utc"}, ["feed_epoch"]),
    ({"depth_side_flag": (66, 83)}, ["depth_side_flag"]),
    ({"depth_order": "asks-first"}, ["depth_order"]),
    ({"ordertag_echo": False}, ["ordertag_echo"]),
    ({"feed_max_sockets": 1, "feed_socket_policy": "refuse"}, ["feed_sockets"]),
    ({"feed_max_sockets": 1, "feed_socket_policy": "evict"}, ["feed_sockets"]),
    ({"arrival_jitter_ms": 20.0, "connect_latency_ms": 15.0, "idle_timeout": 0.5}, []),  # network only
]


def _variant_id(item: tuple[dict[str, Any], list[str]]) -> str:
    return ",".join(f"{k}={v}" for k, v in item[0].items())


@pytest.mark.parametrize(("knobs", "expected"), VARIANTS, ids=[_variant_id(v) for v in VARIANTS])
def test_each_variant_is_reported_as_exactly_its_own_contradiction(doctor, knobs, expected):
    with variant(doctor, **knobs):
        report = live()
    assert report.contradicted() == expected, report.to_text()
    assert [f.id for f in report.checks if f.status == FAIL] == []
    # Nothing else became untestable: every other probe still got its answer.
    assert sorted(f.id for f in report.probes if f.status == UNTESTABLE) == UNTESTABLE_HERE


def test_the_default_sandbox_confirms_every_assumption_it_can_show(doctor):
    report = live()
    assert report.contradicted() == []
    assert [f.id for f in report.checks if f.status == FAIL] == []
    assert {f.id for f in report.probes} == set(LIVE_PROBES)
    untestable = sorted(f.id for f in report.probes if f.status == UNTESTABLE)
    assert untestable == UNTESTABLE_HERE
    cap = report.finding("quote_token_cap")
    assert cap.detail == f"a call with {quotes.MAX_TOKENS_PER_QUOTE_CALL} real tokens was accepted"
    assert report.finding("ordertag_echo").status == CONFIRMED
    assert "partly filled order (4 of 10) shows 'Pending'" in report.finding("order_statuses").detail
    assert report.finding("hourly_labels").data == {
        "labels": ["09:15", "10:15", "11:15", "12:15", "13:15", "14:15", "15:15"]
    }


def test_contradictions_name_the_value_seen_and_the_constant_to_change(doctor):
    with variant(doctor, quote_token_cap=40, history_bar_limit=500, currency_divisor=10_000_000, feed_epoch="utc"):
        report = live()
    assert set(report.contradicted()) == {"quote_token_cap", "history_bar_limit", "price_divisor_cds", "feed_epoch"}
    assert report.finding("quote_token_cap").data["cap"] == 40
    assert report.finding("quote_token_cap").change == (
        "market/quotes.py MAX_TOKENS_PER_QUOTE_CALL = 40 (the plugin already follows a refusal that states the cap)"
    )
    assert report.finding("history_bar_limit").change == "market/intervals.py HISTORY_BAR_LIMIT = 500"
    assert report.finding("price_divisor_cds").change == "streaming/parser.py PRICE_DIVISOR[13] = 10000000"
    assert report.finding("feed_epoch").change == "streaming/parser.py FEED_EPOCH_UNIX = EPOCH_1980_UTC"
    assert "5.5 h in the past" in report.finding("feed_epoch").detail


def test_a_partial_fill_status_the_table_lacks_is_the_one_contradiction(doctor, symbols_url):
    with variant(doctor, partial_fill_status="Part Filled"):
        orderid = place_resting(doctor, symbols_url)
        doctor.fill(orderid, quantity=3)
        report = live()
    doctor.fill(orderid)  # complete it: later tests see only known statuses
    assert report.contradicted() == ["order_statuses"]
    finding = report.finding("order_statuses")
    assert "'Part Filled'" in finding.detail and "(3 of 10)" in finding.detail
    assert finding.change == 'mapping/codes.py STATUS_TO_OPENALGO: add "part filled": OPEN'


def test_more_nse_index_tokens_are_found_and_named(symbols_url, isolated_environment, monkeypatch, tmp_path):
    # A sandbox of its own (the index set is fixed at start); a smaller cap keeps this cold
    # sandbox quick, the shared one checks the real cap.
    monkeypatch.setattr(quotes, "MAX_TOKENS_PER_QUOTE_CALL", 60)
    with running_sandbox(clock=fixed_now, index_spots=EXTENDED_INDEX_SPOTS) as extended:
        for name, value in extended.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("DATABASE_URL", symbols_url)
        session = extended.issue_session()
        session_file.save(
            tmp_path / "session.json",
            session_file.new_session(
                session.access_token, None, client_code=extended.account.client_code, base_url=extended.base_url
            ),
        )
        report = live()
    assert report.contradicted() == ["index_tokens_more"]
    finding = report.finding("index_tokens_more")
    assert finding.data["tokens"]["26004"] == "NIFTY 500"
    assert len(finding.data["tokens"]) == len(EXTENDED_INDEX_SPOTS) - 6
    assert "NIFTY500 26004" in finding.change and finding.change.startswith("database/index_tokens.py NSE_INDICES")


@pytest.fixture
def limited(doctor) -> Iterator[SandboxServer]:
    """mStock's documented limits on both sides, as in production."""
    ratelimit.set_default_limiter(ratelimit.RateLimiter())
    doctor.set_rate_limits(True)
    try:
        yield doctor
    finally:
        doctor.set_rate_limits(False)


def test_rate_limit_answer_is_confirmed_as_http_429(limited):
    report = live(probe_rate_limit=True)
    assert report.contradicted() == []
    finding = report.finding("rate_limit_shape")
    assert finding.status == CONFIRMED and finding.detail.startswith("HTTP 429")
    assert any(s.name == "market.intraday__live_rate_limited" for s in report.samples)


def test_rate_limit_answered_with_http_200_is_the_one_contradiction(limited):
    with variant(limited, rate_limit_shape="http-200"):
        report = live(probe_rate_limit=True)
    assert report.contradicted() == ["rate_limit_shape"]
    finding = report.finding("rate_limit_shape")
    assert finding.detail.startswith("HTTP 200") and "reads it as a rate limit" in finding.detail
    assert finding.change.startswith("nothing to change")


def test_order_updates_arriving_while_listening_are_read(doctor, symbols_url):
    orderid = place_resting(doctor, symbols_url)
    logins = doctor.feed.logins

    def fill_once_both_sockets_listen() -> None:
        if wait_until(lambda: doctor.feed.logins >= logins + 2, timeout=20):
            doctor.fill(orderid)

    filler = threading.Thread(target=fill_once_both_sockets_listen, daemon=True)
    filler.start()
    report = live(feed_min_seconds=3.0)
    filler.join(5)
    assert report.contradicted() == []
    finding = report.finding("order_updates")
    assert finding.status == CONFIRMED and "order_status/orderData" in finding.detail
    assert report.finding("order_updates_unsubscribed").status == CONFIRMED
    assert report.finding("feed_sockets").status == CONFIRMED


def test_the_doctor_never_writes(doctor):
    before = [line for line in doctor.session_log() if any(word in line for word in WRITE_OUTCOMES)]
    orders_before = len(doctor.state.orders())
    live(probe_rate_limit=False)
    after = [line for line in doctor.session_log() if any(word in line for word in WRITE_OUTCOMES)]
    assert after == before
    assert len(doctor.state.orders()) == orders_before


# ---------------------------------------------------------------------- quick checks


def test_quick_checks_pass_on_the_sandbox(doctor):
    report = run_doctor(now=fixed_now)
    bad = {f.id: f.status for f in report.checks if f.status != OK}
    assert bad == {"env_file": WARN}
    assert report.probes == []
    assert report.finding("session").detail.startswith("alive: MA*****01, logged in ")
    assert "SANDBOX TRADER" not in report.to_json()
    assert report.finding("symbol_table").data["rows_per_exchange"]["NSE_INDEX"] == 6


def test_clock_skew_beyond_a_totp_window_fails(doctor):
    report = run_doctor(now=fixed_now, wall=lambda: time.time() + 42)
    finding = report.finding("clock")
    assert finding.status == FAIL
    # The Date header has whole seconds: the estimate is within half a second (plus the round trip).
    assert finding.data["skew_seconds"] == pytest.approx(42, abs=0.5 + finding.data["uncertainty_seconds"])
    assert "s ahead of mStock's clock" in finding.detail and "TOTP codes made here will be rejected" in finding.detail
    assert "NTP" in finding.fix


def test_an_ip_that_is_not_whitelisted_is_named(doctor):
    doctor.faults.inject("orders.list", "ip_not_whitelisted", times=None)
    report = run_doctor(now=fixed_now)
    finding = report.finding("api_key")
    assert finding.status == FAIL
    assert finding.detail.startswith("mStock refused this machine's IP address: Primary and Secondary IP")
    assert "Trading APIs" in finding.fix


def test_a_wrong_api_key_is_named(doctor, monkeypatch):
    monkeypatch.setenv("BROKER_API_SECRET", "not-the-key-at-all-123456")
    report = run_doctor(now=fixed_now)
    assert report.finding("api_key").status == FAIL
    assert report.finding("api_key").detail.startswith("mStock refused the API key: API is suspended/expired")


def test_a_session_mstock_no_longer_accepts_fails_with_the_fix(doctor):
    doctor.expire_sessions()
    report = run_doctor(now=fixed_now, live=True)
    assert report.finding("session").status == FAIL
    assert report.finding("session").fix == "mstock-openalgo login --force"
    assert {f.status for f in report.probes} == {UNTESTABLE}


def test_an_unreachable_host_fails_fast_with_its_reason(doctor, monkeypatch):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("MSTOCK_BASE_URL", f"http://127.0.0.1:{closed_port}")
    report = run_doctor(now=fixed_now)
    assert report.finding("rest_host").status == FAIL
    assert report.finding("rest_host").detail.startswith(f"cannot connect to 127.0.0.1:{closed_port}")
    assert report.finding("api_key").status == FAIL


# ---------------------------------------------------------------------- CLI, report files, secrets


@pytest.fixture
def cli_clock(monkeypatch):
    """The CLI reads the market clock from ``broker.mstock.clock``: pin it to the sandbox's."""
    from broker.mstock import clock

    monkeypatch.setattr(clock, "now_ist", fixed_now)


def test_cli_report_files_are_redacted_and_secrets_never_printed(doctor, cli_clock, tmp_path, capsys, caplog):
    env_file = tmp_path / "openalgo.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in doctor.env().items()), encoding="utf-8")
    env_file.chmod(0o600)
    out_dir = tmp_path / "report"
    saved = session_file.load(tmp_path / "session.json")
    with caplog.at_level(logging.DEBUG):
        code = cli_main(
            ["-vv", "--env-file", str(env_file), "doctor", "--live", "--feed-seconds", "20", "--report", str(out_dir)]
        )
    captured = capsys.readouterr()
    assert code == 0, captured.out
    files = {
        p.relative_to(out_dir).as_posix(): p.read_text(encoding="utf-8") for p in out_dir.rglob("*") if p.is_file()
    }
    assert {"doctor-report.md", "doctor-report.json"} <= set(files)
    fixtures = sorted(name for name in files if name.startswith("fixtures/"))
    assert "fixtures/market.quote__live_full.json" in fixtures
    assert "fixtures/orders.list__live.json" in fixtures
    assert all(name.split("/", 1)[1].split("__")[0] in ROUTES for name in fixtures)
    account = doctor.account
    secrets = [
        account.api_key,
        account.password,
        account.totp_secret,
        saved.access_token,
        saved.feed_token,
        account.client_code,
        account.client_name,
    ]
    everything = "\n".join([captured.out, captured.err, caplog.text, *files.values()])
    leaked = [s for s in secrets if s in everything]
    assert leaked == []
    book = json.loads(files["fixtures/orders.list__live.json"])
    ours = [row for row in book["data"] if is_our_tag(row.get("ordertag"))]
    assert ours and all(row["orderid"].startswith("9") for row in book["data"])
    report = json.loads(files["doctor-report.json"])
    assert report["live"] is True and report["summary"]["contradicted"] == 0
    # Each sample is a fixture the client's own envelope parser reads like the real answer.
    for sample in report["samples"]:
        body = files[f"fixtures/{sample['name']}.json"].encode()
        if sample["http_status"] == 200:
            assert parse_envelope(200, "application/json", body, route_name=sample["route"]).http_status == 200
        else:
            with pytest.raises(MStockError):
                parse_envelope(sample["http_status"], "application/json", body, route_name=sample["route"])
    assert report["checks"][0]["id"] == "env_file" and report["checks"][0]["status"] == OK
    assert "| result | assumption | observed | change |" in files["doctor-report.md"]
    assert max(len(line) for line in captured.out.splitlines()) <= 80


def test_contradicted_output_shows_the_change_and_exits_1(doctor, cli_clock, capsys):
    with variant(doctor, quote_token_cap=40):
        code = cli_main(["doctor", "--live", "--feed-seconds", "20"])
    out = capsys.readouterr().out
    assert code == 1
    assert "CONTRADICTED   quote token cap" in out
    assert "change: market/quotes.py MAX_TOKENS_PER_QUOTE_CALL = 40" in " ".join(out.split())


def test_statuses_are_unique_per_probe(doctor):
    report = live()
    ids = [f.id for f in report.probes]
    assert len(ids) == len(set(ids))
    assert all(f.status in (CONFIRMED, CONTRADICTED, UNTESTABLE) for f in report.probes)


@pytest.mark.parametrize("argv", [["--json", "doctor"], ["doctor", "--json"], ["doctor", "--format", "json"]])
def test_json_output_before_or_after_the_command(doctor, cli_clock, capsys, argv):
    assert cli_main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["live"] is False and data["summary"]["fail"] == 0
    assert [c["id"] for c in data["checks"]][:2] == ["env_file", "client_code"]
