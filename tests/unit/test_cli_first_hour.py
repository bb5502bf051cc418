"""The first hour of a trader with the CLI: messages, exit codes, output shapes, bad input.

Every case here is something a new user met: an expired session, an order error printed
twice, tracebacks on a closed pipe, tables wider than the terminal, ``NSE:SBIN``,
modifying an order by its id alone, ``--json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os

import pytest

from broker.mstock.account import session
from broker.mstock.cli import build_parser, main
from broker.mstock.cli import output as cli_output
from broker.mstock.cli.instruments import parse_instrument, parse_instrument_list, take_instrument
from broker.mstock.cli.table import Column, format_table
from broker.mstock.errors import ValidationError

from ..helpers import ACCESS_TOKEN, add_route, sent_json
from .order_support import PLACED, book, order_row

pytestmark = pytest.mark.usefixtures("fast_reconcile")


@pytest.fixture
def logged_in(monkeypatch):
    monkeypatch.setattr(session, "current_auth_token", lambda: ACCESS_TOKEN)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------ item 2: sessions


def test_an_expired_session_says_so_and_how_to_log_in(mock_api, capsys, logged_in):
    add_route(mock_api, "user.funds", case="expired", status=401)
    code, out, err = run(capsys, "funds")
    assert (code, out) == (1, "")
    assert err == (
        "error: the mStock session has expired (mStock sessions end at midnight IST); log in again with "
        "`mstock-openalgo login` (mStock said: Invalid request. Please try again. [IA401])\n"
    )


def test_an_expired_session_on_a_book_command(mock_api, capsys, logged_in, symbols):
    add_route(mock_api, "orders.list", case="expired", status=401)
    code, out, err = run(capsys, "orders")
    assert code == 1
    assert err.startswith("error: the mStock session has expired (mStock sessions end at midnight IST)")
    assert err.count("\n") == 1


# ------------------------------------------------------------------ item 5: errors and logs


def test_an_order_error_is_printed_once_on_one_line(mock_api, capsys, logged_in, symbols):
    add_route(mock_api, "orders.place", case="rms_reject")
    code, out, err = run(capsys, "order", "place", "SBIN:NSE", "BUY", "1")
    assert (code, out) == (1, "")
    assert err == "error: insufficient funds: required 572.36, available 0 [RS-0111]\n"


def test_verbose_shows_log_lines_without_tracebacks(mock_api, capsys, logged_in, symbols):
    add_route(mock_api, "orders.place", case="rms_reject")
    code, _, err = run(capsys, "-v", "order", "place", "SBIN:NSE", "BUY", "1")
    assert code == 1
    assert "WARNING broker.mstock.api.boundary: place_order_api failed" in err
    assert "Traceback" not in err


def test_a_usage_error_is_one_line(capsys):
    code, out, err = run(capsys, "order", "place", "SBIN")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")


def test_an_unexpected_exception_is_one_line_with_a_hint(capsys, monkeypatch):
    from broker.mstock.cli import session as session_cli

    def boom(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(session_cli, "_funds", boom)
    code, out, err = run(capsys, "funds")
    assert code == 1
    assert err == (
        "error: unexpected RuntimeError: boom. This is a bug in mstock-openalgo; rerun with -vv for details and report it\n"
    )
    code, out, err = run(capsys, "-vv", "funds")
    assert "Traceback (most recent call last)" in err and err.endswith("report it\n")


def test_an_unexpected_exception_never_prints_a_secret(capsys, monkeypatch):
    from broker.mstock.cli import session as session_cli

    def boom(args):  # a library's error that quotes the feed URL (key and token in its query)
        raise RuntimeError(f"Handshake status 500 for wss://ws.mstock.trade?API_KEY=k3y&ACCESS_TOKEN={ACCESS_TOKEN}")

    monkeypatch.setattr(session_cli, "_funds", boom)
    for argv in (("funds",), ("-vv", "funds")):
        code, out, err = run(capsys, *argv)
        assert code == 1 and "Handshake status 500" in err
        assert ACCESS_TOKEN not in err and "k3y" not in err


def test_ctrl_c_exits_130_quietly(capsys, monkeypatch):
    from broker.mstock.cli import session as session_cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(session_cli, "_funds", interrupted)
    assert run(capsys, "funds") == (130, "", "interrupted\n")


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_goes_away_ends_the_output_quietly(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdout", _ClosedPipe())
    assert main(["--version"]) == 0
    assert main(["completion", "bash"]) == 0
    assert capsys.readouterr().err == ""


def test_a_real_closed_pipe_is_silenced_at_the_file_descriptor(monkeypatch):
    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = os.fdopen(write_end, "w")
    guard = cli_output.PipeGuard(stream)
    guard.write("x" * 100_000)
    guard.flush()
    assert guard.reader_gone
    stream.write("more")
    stream.close()  # flushing into the null device now: no BrokenPipeError


# ------------------------------------------------------------------ item 7: refuse what cannot work


def test_history_with_from_after_to_is_refused(capsys, logged_in, symbols, mock_api):
    code, out, err = run(capsys, "history", "SBIN:NSE", "D", "2026-12-01", "2026-11-01")
    assert code == 1
    assert err == "error: FROM 2026-12-01 is after TO 2026-11-01: give the earlier date first\n"
    assert len(mock_api.calls) == 0


def test_depth_of_an_index_says_indices_have_no_depth(capsys, logged_in, symbols, mock_api):
    code, _, err = run(capsys, "depth", "NSE_INDEX:NIFTY")
    assert code == 1
    assert "NIFTY on NSE_INDEX is an index: indices are not traded, so they have no market depth" in err
    assert len(mock_api.calls) == 0


def test_margin_shows_only_what_mstock_reported(capsys, logged_in, symbols, mock_api):
    add_route(mock_api, "margins.orders", case="ok")
    code, out, _ = run(capsys, "margin", "SBIN:NSE", "BUY", "5", "--product", "CNC")
    assert code == 0
    assert "total margin required  11,250.00" in out
    assert "span" not in out and "0.00" not in out.replace("11,250.00", "")
    assert "(mStock gave no breakdown of this amount)" in out


# ------------------------------------------------------------------ item 8: instruments and orders


@pytest.mark.parametrize(
    ("text", "expected"),
    [("SBIN:NSE", ("SBIN", "NSE")), ("NSE:SBIN", ("SBIN", "NSE")), ("nse_index:nifty", ("NIFTY", "NSE_INDEX")),
     ("M&M:NSE", ("M&M", "NSE")), ("NFO:NIFTY28NOV24FUT", ("NIFTY28NOV24FUT", "NFO"))],
)
def test_both_instrument_spellings(text, expected):
    assert parse_instrument(text) == expected


def test_two_words_either_way_and_lists():
    assert take_instrument(["SBIN", "NSE", "BUY", "1"]) == (("SBIN", "NSE"), ["BUY", "1"])
    assert parse_instrument_list(["SBIN", "NSE", "NSE:TCS", "NIFTY:NSE_INDEX"]) == [
        {"symbol": "SBIN", "exchange": "NSE"}, {"symbol": "TCS", "exchange": "NSE"},
        {"symbol": "NIFTY", "exchange": "NSE_INDEX"},
    ]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["SBIN"], "'SBIN' has no exchange"),
        (["SBIN", "BUY", "1"], "'SBIN BUY' names no exchange"),
        (["SBIN:XYZ"], "'SBIN:XYZ' names no exchange"),
        (["A:B:C"], "cannot read an instrument from 'A:B:C'"),
        (["BSE:NSE"], "'BSE:NSE' is ambiguous"),
    ],
)
def test_bad_instruments_are_explained(words, message):
    with pytest.raises(ValidationError) as caught:
        take_instrument(words)
    assert message in str(caught.value)


def test_a_symbol_spelled_like_an_exchange_is_resolved_by_the_symbol_table():
    class Lookup:
        def get_token(self, symbol, exchange):
            return "10" if (symbol, exchange) == ("BSE", "NSE") else None

    assert parse_instrument("NSE:BSE", Lookup()) == ("BSE", "NSE")
    assert parse_instrument("BSE:NSE", Lookup()) == ("BSE", "NSE")


def test_order_place_accepts_exchange_first_and_reports_the_status(mock_api, capsys, logged_in, symbols):
    add_route(mock_api, "orders.place", PLACED)
    add_route(mock_api, "orders.list", book(order_row()))
    code, out, err = run(capsys, "order", "place", "NSE:SBIN", "buy", "10", "--pricetype", "LIMIT", "--price", "570")
    assert (code, err) == (0, "")
    assert "orderid  1191241106101" in out and "status   open" in out
    sent = sent_json(mock_api.calls[0])
    assert (sent["tradingsymbol"], sent["exchange"], sent["transactiontype"]) == ("SBIN-EQ", "NSE", "BUY")


def test_an_order_rejected_right_after_placing_is_an_error(mock_api, capsys, logged_in, symbols):
    add_route(mock_api, "orders.place", PLACED)
    add_route(mock_api, "orders.list", book(order_row(status="Rejected", orderstatus="Rejected", text="RMS: margin exceeds")))
    code, out, err = run(capsys, "order", "place", "SBIN:NSE", "BUY", "10")
    assert code == 1
    assert "status   rejected" in out
    assert err.startswith("error: order 1191241106101 was rejected: ")


def test_order_modify_takes_the_id_and_only_what_changes(mock_api, capsys, logged_in, symbols):
    add_route(mock_api, "orders.list", book(order_row(quantity="10", price="570.00", disclosedquantity="0")))
    add_route(mock_api, "orders.modify", case="ok", orderid="1191241106101")
    code, out, err = run(capsys, "order", "modify", "1191241106101", "--price", "570.50")
    assert (code, err) == (0, "")
    sent = sent_json(mock_api.calls[-1])
    assert (sent["price"], sent["quantity"], sent["tradingsymbol"], sent["transactiontype"], sent["ordertype"],
            sent["producttype"]) == ("570.50", "10", "SBIN-EQ", "BUY", "LIMIT", "INTRADAY")
    assert "price    570.00 -> 570.50" in out


def test_order_modify_json_lists_the_changes(mock_api, capsys, logged_in, symbols):
    add_route(mock_api, "orders.list", book(order_row()))
    add_route(mock_api, "orders.modify", case="ok", orderid="1191241106101")
    code, out, _ = run(capsys, "order", "modify", "1191241106101", "--quantity", "20", "--json")
    assert code == 0
    assert json.loads(out)["changes"] == {"quantity": {"from": 10, "to": 20}}


def test_order_modify_with_nothing_to_change_sends_nothing(mock_api, capsys, logged_in):
    code, _, err = run(capsys, "order", "modify", "1191241106101")
    assert code == 2
    assert "nothing to change" in err
    assert len(mock_api.calls) == 0


def test_order_modify_of_an_unknown_order(mock_api, capsys, logged_in, symbols):
    add_route(mock_api, "orders.list", book(order_row()))
    code, _, err = run(capsys, "order", "modify", "42", "--price", "570")
    assert (code, err) == (1, "error: order 42 is not in today's order book\n")


def test_order_status(mock_api, capsys, logged_in, symbols):
    add_route(mock_api, "orders.list", book(order_row(status="Rejected", orderstatus="Rejected", text="RMS: margin exceeds")))
    code, out, _ = run(capsys, "order", "status", "1191241106101", "--json")
    assert code == 0
    row = json.loads(out)
    assert (row["orderid"], row["order_status"], row["symbol"], row["quantity"]) == ("1191241106101", "rejected", "SBIN", 10)


def _all_parsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix}{name}"] = sub
                found.update(_all_parsers(sub, f"{prefix}{name} "))
    return found


def test_one_spelling_of_the_trigger_price_option():
    spellings = {
        option
        for sub in _all_parsers(build_parser()).values()
        for action in sub._actions
        for option in action.option_strings
        if "trig" in option
    }
    assert spellings == {"--trigger-price"}


# ------------------------------------------------------------------ item 9: output


DATA_COMMANDS = {
    "login", "logout", "funds", "contract download", "contract search", "contract show", "order place",
    "order modify", "order cancel", "order status", "order smart", "orders", "trades", "positions", "holdings",
    "close-all", "cancel-all", "quote", "depth", "history", "margin", "stream",
}


def test_every_data_command_has_json():
    parsers = _all_parsers(build_parser())
    assert DATA_COMMANDS <= set(parsers)
    missing = [name for name in sorted(DATA_COMMANDS) if "--json" not in parsers[name]._option_string_actions]
    assert missing == []


def test_json_before_or_after_the_command(mock_api, capsys, logged_in, symbols):
    add_route(mock_api, "orders.list", book(order_row(), order_row(orderid="2", status="Traded")))
    add_route(mock_api, "orders.list", book(order_row(), order_row(orderid="2", status="Traded")))
    _, after, _ = run(capsys, "orders", "--json")
    _, before, _ = run(capsys, "--json", "orders")
    assert json.loads(after) == json.loads(before)
    data = json.loads(after)
    assert sorted(data) == ["orders", "statistics"]
    assert sorted(data["orders"][0]) == sorted([
        "symbol", "exchange", "action", "quantity", "price", "trigger_price", "pricetype", "product", "orderid",
        "order_status", "timestamp", "filled_quantity", "pending_quantity", "average_price", "rejection_reason",
    ])


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert (code, out) == (0, f"mstock-openalgo {__import__('broker.mstock').mstock.__version__}\n")


def test_the_order_book_fits_80_columns(mock_api, capsys, logged_in, symbols):
    rows = [order_row(orderid=f"11912411061{i:02d}", tradingsymbol="NIFTY24N0724000CE", exchange="NFO",
                      symboltoken="50374", quantity="25", status="Trigger Pending", ordertype="STOPLOSS_LIMIT",
                      triggerprice="101.50", price="102.00") for i in range(3)]
    add_route(mock_api, "orders.list", book(*rows))
    code, out, _ = run(capsys, "orders")
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    assert "NIFTY07NOV2424000CE" in out and "trigger pending" in out
    assert "--json shows every field" in out


def test_tables_shorten_long_text_last():
    rows = [{"symbol": "A" * 70, "qty": 1, "note": "n" * 40}]
    text = format_table(rows, [Column("symbol"), Column("qty"), Column("note", priority=1)], width=40)
    assert all(len(line) <= 40 for line in text.splitlines())
    assert text.splitlines()[2] == "A" * 34 + "…    1"
    assert "(1 more column at 40 characters wide:\nnote; --json shows every field)" in text


@pytest.mark.parametrize(
    ("tty", "environ", "expected"),
    [(False, {}, False), (True, {}, True), (True, {"NO_COLOR": "1"}, False), (True, {"TERM": "dumb"}, False)],
)
def test_colour_only_on_a_terminal_and_never_with_no_color(tty, environ, expected):
    stream = io.StringIO()
    stream.isatty = lambda: tty  # type: ignore[method-assign]
    assert cli_output.wants_colour(stream, environ) is expected


def test_statuses_are_coloured_only_when_allowed():
    rows = [{"status": "rejected"}]
    plain = format_table(rows, [Column("status")])
    console = cli_output.Console(io.StringIO(), io.StringIO(), colour=True, width=80)
    painted = format_table(rows, [Column("status", style=lambda v: "red")], paint=console.paint)
    assert "\x1b[" not in plain and "\x1b[31mrejected\x1b[0m" in painted


def test_rich_draws_the_same_columns_on_a_terminal():
    pytest.importorskip("rich")
    from broker.mstock.cli.table import render_table

    out = io.StringIO()
    render_table(out, [{"symbol": "SBIN", "ltp": 812.35}], ["symbol", "ltp"], title="Quotes", width=80,
                 terminal=True, paint=lambda t, s: t, colour=False)
    text = out.getvalue()
    assert "SBIN" in text and "812.35" in text and "Quotes" in text


def test_everything_works_without_the_optional_libraries(monkeypatch, capsys, mock_api, logged_in, symbols):
    import builtins
    import importlib.util

    real_import, real_find_spec = builtins.__import__, importlib.util.find_spec
    blocked = {"rich", "platformdirs", "argcomplete", "colorama"}

    def fake_import(name, *args, **kwargs):
        if name.split(".")[0] in blocked:
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    def fake_find_spec(name, *args, **kwargs):
        return None if name.split(".")[0] in blocked else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    add_route(mock_api, "orders.list", book(order_row()))
    code, out, _ = run(capsys, "orders")
    assert code == 0 and "1191241106101" in out
    code, _, err = run(capsys, "completion", "bash")
    assert code == 1
    assert err == ("error: tab completion needs argcomplete: pip install 'mstock-openalgo[cli]' "
                   "(every command works without it)\n")


def test_completion_prints_shell_code(capsys):
    pytest.importorskip("argcomplete")
    code, out, _ = run(capsys, "completion", "bash")
    assert code == 0 and "mstock-openalgo" in out and "complete" in out


def test_a_missing_env_file_is_named(capsys, tmp_path):
    missing = tmp_path / "missing-configuration.env"
    assert run(capsys, "--env-file", str(missing), "funds") == (1, "", f"error: --env-file {missing}: no such file\n")


def test_a_file_that_cannot_be_written_is_one_line_not_a_bug_report(capsys, logged_in, symbols, monkeypatch, tmp_path):
    import pandas as pd

    from broker.mstock.market import history

    frame = pd.DataFrame([{"timestamp": 1793577600, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1, "oi": 0}])
    monkeypatch.setattr(history, "fetch_history", lambda *a, **k: frame)
    target = tmp_path / "missing" / "x.csv"
    code, _, err = run(capsys, "history", "SBIN:NSE", "D", "2026-11-02", "2026-11-02", "--csv", str(target))
    assert (code, err) == (1, f"error: No such file or directory ({target})\n")
