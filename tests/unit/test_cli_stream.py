"""``mstock-openalgo stream``: live ticks from the feed on the command line."""

from __future__ import annotations

import io
import json

import pytest

from broker.mstock import host
from broker.mstock.account import session
from broker.mstock.cli import build_parser, stream
from broker.mstock.errors import SessionExpired, ValidationError

from .feed_support import FEED_TOKEN_OK, FakeSymbols


@pytest.fixture
def live(feed_server, monkeypatch):
    monkeypatch.setenv("MSTOCK_WS_URL", feed_server.url)
    fake = FakeSymbols()
    monkeypatch.setattr(host, "symbols", lambda: fake)
    monkeypatch.setattr(session, "current_auth_token", lambda: FEED_TOKEN_OK)
    return feed_server


def run(argv: list[str]) -> tuple[int, str, str]:
    args = build_parser().parse_args(["stream", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = stream.run(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_parse_instruments():
    assert stream.parse_instruments(["sbin:nse", "NIFTY:NSE_INDEX", "M&M:NSE"]) == [
        ("SBIN", "NSE"), ("NIFTY", "NSE_INDEX"), ("M&M", "NSE")
    ]
    with pytest.raises(ValidationError):
        stream.parse_instruments(["SBIN"])


def test_an_instrument_may_be_two_words_as_in_every_command():
    assert stream.parse_instruments(["SBIN", "NSE", "NSE:RELIANCE"]) == [("SBIN", "NSE"), ("RELIANCE", "NSE")]


@pytest.mark.parametrize("flag", ["--count", "--seconds"])
def test_a_negative_limit_is_refused(flag, capsys):
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["stream", "SBIN:NSE", flag, "-1"])
    assert caught.value.code == 2
    assert f"argument {flag}: must be 0 (no limit) or more, not -1" in capsys.readouterr().err


def test_prints_quote_ticks_until_count(live):
    code, out, err = run(["SBIN:NSE", "RELIANCE:NSE", "--count", "2"])
    assert code == 0, err
    lines = sorted(out.splitlines())
    assert lines == [
        "10:15:30  NSE:RELIANCE  2,890.10  -9.90 (-0.34%)  O 800.00 H 820.50 L 795.25 C 2,900.00  V 1,234,567",
        "10:15:30  NSE:SBIN  812.35  +7.35 (+0.91%)  O 800.00 H 820.50 L 795.25 C 805.00  V 1,234,567",
    ]


def test_json_depth_output_and_bad_symbols(live):
    code, out, err = run(["SBIN:NSE", "CRUDEOIL19SEP26FUT:MCX", "NOPE:NSE", "--mode", "depth", "--json", "--count", "1"])
    assert code == 0
    payload = json.loads(out)
    assert (payload["mode"], payload["depth"]["buy"][0]) == (3, {"price": 812.3, "quantity": 100, "orders": 3})
    assert "MCX:CRUDEOIL19SEP26FUT: MCX is not supported on the mStock feed" in err
    assert "NSE:NOPE: unknown symbol NOPE on NSE" in err


def test_depth_lines():
    text = stream.format_tick({
        "timestamp": 1788237930000, "exchange": "NSE", "symbol": "SBIN", "mode": 3, "ltp": 812.35, "change": 7.35,
        "change_percent": 0.91, "open": 800.0, "high": 820.5, "low": 795.25, "close": 805.0, "volume": 10, "oi": 0,
        "depth": {"buy": [{"price": 812.3, "quantity": 100, "orders": 3}], "sell": [{"price": 812.4, "quantity": 60, "orders": 2}]},
    })
    assert text.splitlines()[1] == "          3        100       812.30 | 812.40       60         2"


def test_stops_with_the_reason_when_the_feed_refuses_the_token(live, monkeypatch):
    monkeypatch.setattr(session, "current_auth_token", lambda: "expired-token")
    code, out, err = run(["SBIN:NSE", "--seconds", "5"])
    assert code == 1
    assert "HTTP 401" in err


def test_needs_a_login(monkeypatch):
    def no_session():
        raise SessionExpired("no saved mStock session: log in first with `mstock-openalgo login`")

    monkeypatch.setattr(session, "current_auth_token", no_session)
    args = build_parser().parse_args(["stream", "SBIN:NSE"])
    with pytest.raises(SessionExpired):
        stream.run(args)


def test_nothing_to_stream_is_one_error(live):
    with pytest.raises(ValidationError) as caught:
        run(["NOPE:NSE", "--seconds", "1"])
    assert str(caught.value) == "nothing to stream: NSE:NOPE: unknown symbol NOPE on NSE"


def test_the_stream_stops_when_its_reader_goes_away(live):
    from broker.mstock.cli.output import PipeGuard

    class Gone(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    args = build_parser().parse_args(["stream", "SBIN:NSE"])  # no --count, no --seconds
    out, err = PipeGuard(Gone()), io.StringIO()
    assert stream.run(args, out=out, err=err) == 0
    assert out.reader_gone and err.getvalue() == ""
