"""Golden tests of the master normaliser: one realistic mStock row of every kind -> symtoken row."""

from __future__ import annotations

import pytest

from broker.mstock.database.index_tokens import NSE_INDICES
from broker.mstock.database.master_contract_db import build_symtoken_rows
from broker.mstock.database.normalize import format_strike, parse_expiry
from broker.mstock.records import SYMTOKEN_COLUMNS


def ms(token, symbol, name, expiry="", strike="", lot="1", itype="EQ", seg="NSE", tick="0.05"):
    return {
        "token": token, "symbol": symbol, "name": name, "expiry": expiry, "strike": strike,
        "lotsize": lot, "instrumenttype": itype, "exch_seg": seg, "tick_size": tick,
    }


def by_symbol(rows):
    return {(r[0], r[3]): dict(zip(SYMTOKEN_COLUMNS, r)) for r in rows}


GOLDEN = [
    # equity, several series of one symbol: EQ is bare, the others keep their suffix
    (ms("3045", "SBIN", "SBIN-EQ"), ("SBIN", "NSE"),
     dict(brsymbol="SBIN-EQ", name="SBIN", brexchange="NSE", token="3045", expiry="", strike=0.0, lotsize=1, instrumenttype="EQ", tick_size=0.05)),
    (ms("25001", "SBIN", "SBIN-BE"), ("SBIN-BE", "NSE"), dict(brsymbol="SBIN-BE", token="25001", instrumenttype="EQ")),
    (ms("25002", "IDEA", "IDEA-BZ", tick="0.01"), ("IDEA-BZ", "NSE"), dict(brsymbol="IDEA-BZ", tick_size=0.01)),
    # symbols with hyphens and ampersands are kept whole (contract 10.4)
    (ms("16669", "BAJAJ-AUTO", "BAJAJ-AUTO-EQ"), ("BAJAJ-AUTO", "NSE"), dict(brsymbol="BAJAJ-AUTO-EQ", name="BAJAJ-AUTO")),
    (ms("2031", "M&M", "M&M-EQ"), ("M&M", "NSE"), dict(token="2031")),
    # BSE equity without a series suffix (spec 8.4 illustrative row)
    (ms("500410", "ACC", "ACC", seg="BSE"), ("ACC", "BSE"), dict(brsymbol="ACC", brexchange="BSE", token="500410")),
    # BSE index rows: plain name without type, and an abbreviated name with an index type
    (ms("51", "SENSEX", "SENSEX", itype="", seg="BSE", tick="0.01"), ("SENSEX", "BSE_INDEX"),
     dict(brsymbol="SENSEX", brexchange="BSE", token="51", instrumenttype="INDEX", lotsize=1)),
    (ms("83", "SENSEX50", "SNSX50", itype="INDEX", seg="BSE"), ("SENSEX50", "BSE_INDEX"), dict(brsymbol="SNSX50", token="83")),
    (ms("99", "BSE100", "S&P BSE 100", itype="INDEX", seg="BSE"), ("BSE100", "BSE_INDEX"), dict(token="99")),
    # weekly index option, BFO, the exchange short code (month "O") is not parsed
    (ms("877966", "SENSEX", "SENSEX25O2382700CE", "23Oct2025", "82700", "20", "OPTIDX", "BFO"), ("SENSEX23OCT2582700CE", "BFO"),
     dict(brsymbol="SENSEX25O2382700CE", name="SENSEX", brexchange="BFO", expiry="23-OCT-25", strike=82700.0, lotsize=20, instrumenttype="CE")),
    # weekly and monthly NFO index options
    (ms("40001", "NIFTY", "NIFTY25O2125000PE", "21Oct2025", "25000", "75", "OPTIDX", "NFO"), ("NIFTY21OCT2525000PE", "NFO"),
     dict(expiry="21-OCT-25", instrumenttype="PE", lotsize=75)),
    (ms("40002", "NIFTY", "NIFTY25OCT25000CE", "28Oct2025", "25000.00", "75", "OPTIDX", "NFO"), ("NIFTY28OCT2525000CE", "NFO"),
     dict(expiry="28-OCT-25", strike=25000.0)),
    (ms("40003", "BANKNIFTY", "BANKNIFTY25NOVFUT", "25Nov2025", "", "30", "FUTIDX", "NFO", "0.20"), ("BANKNIFTY25NOV25FUT", "NFO"),
     dict(instrumenttype="FUT", expiry="25-NOV-25", strike=0.0, lotsize=30, tick_size=0.2)),
    # stock option with a fractional strike, stock future (futures carry -0.01 or "" strikes)
    (ms("40004", "VEDL", "VEDL25OCT292.5CE", "28Oct2025", "292.5", "1150", "OPTSTK", "NFO"), ("VEDL28OCT25292.5CE", "NFO"),
     dict(strike=292.5, lotsize=1150, instrumenttype="CE")),
    (ms("40005", "ACC", "ACC25OCTFUT", "28Oct2025", "-0.01", "300", "FUTSTK", "NFO"), ("ACC28OCT25FUT", "NFO"),
     dict(strike=0.0, instrumenttype="FUT")),
    # currency tagged NSE/BSE by mStock -> CDS/BCD, brexchange stays NSE/BSE (spec 8.4)
    (ms("1100001", "USDINR", "USDINR25OCTFUT", "29Oct2025", "", "1", "FUTCUR", "NSE", "0.0025"), ("USDINR29OCT25FUT", "CDS"),
     dict(brexchange="NSE", tick_size=0.0025, instrumenttype="FUT")),
    (ms("1100002", "USDINR", "USDINR25O2488.25CE", "24Oct2025", "88.25", "1", "OPTCUR", "NSE", "0.0025"), ("USDINR24OCT2588.25CE", "CDS"),
     dict(strike=88.25, instrumenttype="CE")),
    (ms("1100003", "USDINR", "USDINR25O2488CE", "24Oct2025", "88", "1", "OPTCUR", "BSE", "0.0025"), ("USDINR24OCT2588CE", "BCD"),
     dict(brexchange="BSE", strike=88.0)),
    (ms("1100004", "726GS2033", "726GS203325OCTFUT", "30Oct2025", "", "2000", "FUTIRC", "NSE"), ("726GS203330OCT25FUT", "CDS"),
     dict(instrumenttype="FUT")),
    # MCX commodity future and option on future
    (ms("430001", "CRUDEOIL", "CRUDEOIL25NOVFUT", "19Nov2025", "", "100", "FUTCOM", "MCX", "1"), ("CRUDEOIL19NOV25FUT", "MCX"),
     dict(brexchange="MCX", tick_size=1.0)),
    (ms("430002", "CRUDEOIL", "CRUDEOIL25NOV5400PE", "17Nov2025", "5400", "100", "OPTFUT", "MCX", "0.1"), ("CRUDEOIL17NOV255400PE", "MCX"),
     dict(instrumenttype="PE")),
]


@pytest.mark.parametrize("raw, key, expected", GOLDEN, ids=[g[1][0] + "@" + g[1][1] for g in GOLDEN])
def test_each_kind_of_master_row_becomes_the_expected_symtoken_row(raw, key, expected):
    rows, report = build_symtoken_rows([raw])
    produced = by_symbol(rows)
    assert key in produced, f"{key} not in {sorted(produced)}"
    assert {k: produced[key][k] for k in expected} == expected
    assert report.skipped_total == 0


def test_the_whole_golden_set_normalises_together_without_loss():
    rows, report = build_symtoken_rows([g[0] for g in GOLDEN])
    assert report.input_rows == len(GOLDEN)
    assert report.stored_rows == len(GOLDEN) + len(NSE_INDICES)
    assert report.skipped_total == 0 and report.duplicates_total == 0
    assert report.per_exchange["CDS"] == 3 and report.per_exchange["BCD"] == 1


def test_nse_indices_come_from_the_index_table_with_their_confirmed_tokens():
    rows, _ = build_symtoken_rows([])
    nse = {r[0]: r for r in rows if r[3] == "NSE_INDEX"}
    tokens = {symbol: row[5] for symbol, row in nse.items()}
    assert tokens == {"NIFTY": "26000", "BANKNIFTY": "26009", "FINNIFTY": "26037", "MIDCPNIFTY": "26074", "NIFTYNXT50": "26013", "INDIAVIX": "26017"}
    assert {row[4] for row in nse.values()} == {"NSE"}
    assert {row[9] for row in nse.values()} == {"INDEX"}


def test_a_symbol_listed_only_in_a_non_eq_series_gets_no_bare_symbol():
    rows, _ = build_symtoken_rows([ms("25003", "ONLYBE", "ONLYBE-BE")])
    symbols = {r[0] for r in rows if r[3] == "NSE"}
    assert symbols == {"ONLYBE-BE"}


def test_the_eq_row_gets_the_bare_symbol_whatever_the_order_of_series():
    rows, _ = build_symtoken_rows([ms("25001", "YESBANK", "YESBANK-BE"), ms("11915", "YESBANK", "YESBANK-EQ")])
    produced = by_symbol(rows)
    assert produced[("YESBANK", "NSE")]["token"] == "11915"
    assert produced[("YESBANK-BE", "NSE")]["token"] == "25001"


def test_a_master_nse_index_row_never_replaces_the_confirmed_table_token():
    rows, report = build_symtoken_rows([ms("100001111", "NIFTY", "Nifty 50", itype="INDEX", seg="NSE")])
    produced = by_symbol(rows)
    assert produced[("NIFTY", "NSE_INDEX")]["token"] == "26000"
    assert report.duplicates["symbol"] == 1


def test_rows_that_cannot_be_parsed_are_skipped_and_counted_by_reason():
    broken = [
        ms("1", "X", "X25OCTFUT", "31Foo2025", "", "50", "FUTSTK", "NFO"),
        ms("2", "X", "X25OCT100XX", "28Oct2025", "100", "50", "OPTSTK", "NFO"),
        ms("3", "X", "X25OCT100CE", "28Oct2025", "abc", "50", "OPTSTK", "NFO"),
        ms("4", "X", "X25OCT110CE", "28Oct2025", "110", "0", "OPTSTK", "NFO"),
        ms("5", "X", "X-EQ", itype="WARRANT"),
        ms("", "X", "X-EQ"),
        ms("7", "X", "X25OCTFUT", "28Oct2025", "", "50", "FUTSTK", ""),
        "not a row",
        ms("8", "X", "X-EQ", tick=["0.05"]),
    ]
    rows, report = build_symtoken_rows(broken + [ms("3045", "SBIN", "SBIN-EQ")])
    assert report.skipped == {
        "bad expiry": 1,
        "option without CE/PE": 1,
        "bad strike": 1,
        "bad lot size": 1,
        "instrument type 'WARRANT'": 1,
        "missing token or name": 1,
        "exchange 'missing' with FUTSTK": 1,
        "not an object": 1,
        "malformed row": 1,
    }
    assert report.stored_rows == 1 + len(NSE_INDICES)
    assert report.examples["bad expiry"] == ["X25OCTFUT"]


def test_duplicate_symbol_token_or_brsymbol_keeps_the_first_and_counts_the_rest():
    rows, report = build_symtoken_rows(
        [
            ms("3045", "SBIN", "SBIN-EQ"),
            ms("3046", "SBIN", "SBIN"),  # same OpenAlgo symbol, other token
            ms("3045", "SBIX", "SBIX-EQ"),  # same token
            ms("40001", "NIFTY", "NIFTY25OCTFUT", "28Oct2025", "", "75", "FUTIDX", "NFO"),
            ms("40001", "NIFTY", "NIFTY25OCTFUT", "28Oct2025", "", "75", "FUTIDX", "BFO"),  # other exchange: kept
        ]
    )
    produced = by_symbol(rows)
    assert produced[("SBIN", "NSE")]["token"] == "3045"
    assert ("SBIX", "NSE") not in produced
    assert ("NIFTY28OCT25FUT", "BFO") in produced
    assert report.duplicates == {"symbol": 1, "token": 1}


def test_same_token_in_equity_and_currency_both_tagged_nse_stay_distinct():
    # mStock tags currency NSE (spec 8.4): the token spaces of NSE cash and CDS overlap (D5).
    rows, _ = build_symtoken_rows(
        [ms("3045", "SBIN", "SBIN-EQ"), ms("3045", "USDINR", "USDINR25OCTFUT", "29Oct2025", "", "1", "FUTCUR", "NSE", "0.0025")]
    )
    produced = {(r[5], r[3]): r[0] for r in rows}
    assert produced[("3045", "NSE")] == "SBIN"
    assert produced[("3045", "CDS")] == "USDINR29OCT25FUT"


def test_numbers_sent_as_json_numbers_are_accepted_like_strings():
    rows, report = build_symtoken_rows(
        [{"token": 40004, "symbol": "VEDL", "name": "VEDL25OCT292.5CE", "expiry": "28Oct2025", "strike": 292.5,
          "lotsize": 1150, "instrumenttype": "OPTSTK", "exch_seg": "NFO", "tick_size": 0.05}]
    )
    produced = by_symbol(rows)[("VEDL28OCT25292.5CE", "NFO")]
    assert (produced["token"], produced["strike"], produced["lotsize"]) == ("40004", 292.5, 1150)


def test_options_whose_name_lacks_the_strike_are_counted():
    _, report = build_symtoken_rows([ms("1", "NIFTY", "NIFTY25OCT2500000CE", "28Oct2025", "2500000", "75", "OPTIDX", "NFO")])
    assert (report.options, report.strike_not_in_name) == (1, 0)
    _, report = build_symtoken_rows([ms("1", "NIFTY", "NIFTY25OCT25000CE", "28Oct2025", "2500000", "75", "OPTIDX", "NFO")])
    assert report.strike_not_in_name == 1


@pytest.mark.parametrize(
    "raw, expected",
    [("23Oct2025", ("23-OCT-25", "23OCT25")), ("05JAN2026", ("05-JAN-26", "05JAN26")), ("2025-12-30", ("30-DEC-25", "30DEC25")),
     ("30-Dec-2025", ("30-DEC-25", "30DEC25")), ("28MAR24", ("28-MAR-24", "28MAR24")), ("", None), ("31Feb2025", None)],
)
def test_expiry_parsing(raw, expected):
    assert parse_expiry(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [("24000", ("24000", 24000.0)), ("24000.00", ("24000", 24000.0)), ("292.50", ("292.5", 292.5)), ("88.2500", ("88.25", 88.25)),
     ("0.05", ("0.05", 0.05)), ("1E+3", ("1000", 1000.0)), ("0", None), ("-0.01", None), ("nan", None), ("x", None)],
)
def test_strike_text_has_no_trailing_zeros_and_keeps_real_decimals(raw, expected):
    assert format_strike(raw) == expected
