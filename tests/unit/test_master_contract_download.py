"""master_contract_download(): download with the stored session, normalise, store atomically, or raise."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from pathlib import Path

import pytest

from broker.mstock import host
from broker.mstock.cli import main as cli_main
from broker.mstock.database import master_contract_db as mc
from broker.mstock.database.normalize import build_symtoken_rows
from broker.mstock.errors import BadResponse, SessionExpired
from broker.mstock.local import session_file as session_store
from broker.mstock.local import symbol_store
from broker.mstock.mapping.exchanges import openalgo_exchange_for_book
from mstock_sandbox.master import FIELDS, generate_master
from tests.helpers import ACCESS_TOKEN, BASE_URL, CLIENT_CODE, FEED_TOKEN, add_route

TODAY = dt.date(2025, 10, 20)
MASTER = generate_master(3000, today=TODAY)
MASTER_BYTES = json.dumps(MASTER).encode()
OLD_ROWS = [("OLDSYM", "OLDSYM-EQ", "OLDSYM", "NSE", "NSE", "1", "", 0.0, 1, "EQ", 0.05)]


@pytest.fixture
def session():
    saved = session_store.new_session(ACCESS_TOKEN, FEED_TOKEN, client_code=CLIENT_CODE, base_url=BASE_URL)
    session_store.save(Path(os.environ["MSTOCK_SESSION_FILE"]), saved)
    return saved


@pytest.fixture
def events(monkeypatch):
    seen: list[tuple[str, dict]] = []
    monkeypatch.setattr(host, "notify", lambda event, payload: seen.append((event, payload)))
    return seen


@pytest.fixture
def old_table():
    store = host.symbols()
    store.replace_all(OLD_ROWS)
    return store


def results(events):
    return [payload for event, payload in events if event == mc.EVENT]


def test_download_stores_the_normalised_master_and_reports_success(mock_api, session, events, old_table):
    add_route(mock_api, "market.scrip_master", MASTER)
    summary = mc.master_contract_download()
    lookup = host.symbols()
    assert lookup.get_token("SBIN", "NSE") == "3045"
    assert lookup.get_token("NIFTY", "NSE_INDEX") == "26000"
    assert lookup.get_token("OLDSYM", "NSE") is None
    assert mock_api.calls[0].request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert results(events) == [{"status": "success", "message": summary}]
    assert "NFO" in summary and "NSE_INDEX 6" in summary
    assert [e for e, _ in events].count(mc.PROGRESS_EVENT) >= 3


def test_every_generated_row_round_trips_symbol_token_brsymbol(mock_api, session, events):
    add_route(mock_api, "market.scrip_master", MASTER)
    mc.master_contract_download()
    lookup = host.symbols()
    for raw in MASTER:
        oa_exchange = openalgo_exchange_for_book(raw["exch_seg"], raw["instrumenttype"])
        record = lookup.get_record_by_token(raw["token"], oa_exchange)
        if record is None:  # BSE index rows live on BSE_INDEX
            record = lookup.get_record_by_token(raw["token"], "BSE_INDEX")
        assert record is not None, raw
        assert record.brsymbol == raw["name"]
        assert lookup.get_token(record.symbol, record.exchange) == raw["token"]
        assert lookup.get_br_symbol(record.symbol, record.exchange) == raw["name"]
        assert lookup.get_oa_symbol(raw["name"], record.exchange) == record.symbol
        assert lookup.get_symbol(raw["token"], record.exchange) == record.symbol
        assert lookup.get_brexchange(record.symbol, record.exchange) == raw["exch_seg"]


def test_generated_derivatives_follow_openalgo_symbol_rules():
    rows, report = build_symtoken_rows(MASTER)
    assert report.skipped_total == 0 and report.duplicates_total == 0
    for symbol, _, name, exchange, _, _, expiry, strike, _, itype, _ in rows:
        if exchange in ("NFO", "BFO", "CDS", "BCD", "MCX"):
            assert itype in ("FUT", "CE", "PE")
            assert symbol.startswith(name + expiry.replace("-", ""))
            assert symbol.endswith(itype)
            if itype != "FUT":
                assert ".0" + itype not in symbol and strike > 0
    assert {r[3] for r in rows} == {"NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX", "NSE_INDEX", "BSE_INDEX"}


def test_a_rejected_download_raises_and_keeps_the_old_table(mock_api, session, events, old_table):
    add_route(mock_api, "market.scrip_master", {"status": False, "message": "Invalid request.", "errorcode": "IA401"}, status=401)
    with pytest.raises(SessionExpired):
        mc.master_contract_download()
    assert host.symbols().get_token("OLDSYM", "NSE") == "1"
    assert results(events)[0]["status"] == "error"
    assert "Invalid request" in results(events)[0]["message"]


def test_without_a_stored_session_it_raises_and_reports(mock_api, events, old_table):
    with pytest.raises(SessionExpired):
        mc.master_contract_download()
    assert len(mock_api.calls) == 0
    assert results(events)[0]["status"] == "error"
    assert host.symbols().count() == 1


def test_an_implausibly_small_master_is_a_failure(mock_api, session, events, old_table):
    add_route(mock_api, "market.scrip_master", MASTER[:50])
    with pytest.raises(mc.MasterContractError, match="only"):
        mc.master_contract_download()
    assert host.symbols().get_token("OLDSYM", "NSE") == "1"
    assert results(events)[0]["status"] == "error"


def test_a_truncated_master_is_a_failure(mock_api, session, events, old_table):
    add_route(mock_api, "market.scrip_master", MASTER_BYTES[: len(MASTER_BYTES) // 2])
    with pytest.raises(BadResponse, match="not valid JSON"):
        mc.master_contract_download()
    assert host.symbols().get_token("OLDSYM", "NSE") == "1"


def test_a_failure_at_the_last_step_of_the_store_rolls_back(mock_api, session, events, old_table, monkeypatch):
    monkeypatch.setattr(symbol_store, "INDEXES", symbol_store.INDEXES + (("idx_broken", "no_such_column"),))
    add_route(mock_api, "market.scrip_master", MASTER)
    with pytest.raises(symbol_store.SymbolStoreError):
        mc.master_contract_download()
    assert host.symbols().get_token("OLDSYM", "NSE") == "1"
    fresh = symbol_store.SymbolStore(os.environ["DATABASE_URL"])
    assert fresh.count() == 1
    fresh.close()


def test_a_csv_master_with_the_same_header_is_accepted(mock_api, session, events):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(MASTER)
    add_route(mock_api, "market.scrip_master", buffer.getvalue())
    mc.master_contract_download()
    assert host.symbols().get_token("VEDL", "NSE") == "3063"


def test_parse_refuses_csv_with_a_short_last_line():
    text = "token,symbol,name,expiry,strike,lotsize,instrumenttype,exch_seg,tick_size\n3045,SBIN,SBIN-EQ,,,1,EQ,NSE,0.05\n22,ACC"
    with pytest.raises(BadResponse):
        mc.parse_master(text.encode())


def test_parse_refuses_an_unknown_format():
    with pytest.raises(BadResponse):
        mc.parse_master(b"hello world")


def test_plausibility_limits_are_configurable():
    rows, report = build_symtoken_rows(MASTER[:50])
    mc.check_plausible(report, mc.Limits(min_rows=10))
    with pytest.raises(mc.MasterContractError, match="no MCX"):
        mc.check_plausible(report, mc.Limits(min_rows=10, required_exchanges=("MCX",)))


# ----------------------------------------------------------------------------- CLI


def test_cli_download_prints_a_summary_per_exchange(mock_api, session, capsys):
    add_route(mock_api, "market.scrip_master", MASTER)
    assert cli_main(["contract", "download", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "NSE_INDEX" in out and "total" in out and "parse" in out


def test_cli_download_without_login_says_how_to_log_in(capsys):
    assert cli_main(["contract", "download"]) == 1
    assert "log in first with `mstock-openalgo login`" in capsys.readouterr().err


def test_cli_search_and_show(old_table, capsys):
    host.symbols().replace_all(build_symtoken_rows(MASTER)[0])
    assert cli_main(["contract", "search", "vedl", "292.5", "-e", "nfo"]) == 0
    assert "VEDL" in capsys.readouterr().out
    assert cli_main(["contract", "show", "usdinr31oct25fut", "cds"]) == 0
    out = capsys.readouterr().out
    assert "0.0025" in out and "USDINR25OCTFUT" in out
    assert cli_main(["contract", "show", "NOPE", "NSE"]) == 1
    assert "unknown symbol NOPE on NSE" in capsys.readouterr().err


@pytest.mark.parametrize("chunk_bytes", [1, 300, 5000, 10**9])
def test_chunked_parsing_yields_every_row_in_order(chunk_bytes):
    chunks = list(mc.iter_master_chunks(MASTER_BYTES, chunk_bytes))
    assert [row for chunk in chunks for row in chunk] == MASTER
    assert len(chunks) > 1 or chunk_bytes == 10**9


def test_a_chunk_boundary_inside_a_string_falls_back_to_parsing_whole(monkeypatch):
    tricky = [dict(row) for row in MASTER[:40]]
    tricky[1]["name"] = 'ODD}, {"NAME-EQ'  # a value that looks like an object boundary
    raw = json.dumps(tricky).encode()
    monkeypatch.setattr(mc, "CHUNK_BYTES", raw.index(b"ODD"))
    with pytest.raises(mc._SplitFailed):
        list(mc.iter_master_chunks(raw, mc.CHUNK_BYTES))
    stored: list[tuple] = []
    result = mc.process_master(raw, store=lambda rows: stored.extend(rows) or len(rows), limits=mc.Limits(min_rows=10))
    assert result.report.input_rows == 40
    assert 'ODD}, {"NAME-EQ' in {row[1] for row in stored}


def test_whitespace_and_bom_around_the_array_are_accepted():
    raw = b"\xef\xbb\xbf \n" + json.dumps(MASTER[:3], indent=2).encode() + b"\n"
    assert [r for c in mc.iter_master_chunks(raw, 10) for r in c] == MASTER[:3]
    assert mc.parse_master(raw) == MASTER[:3]
