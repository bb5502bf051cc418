"""Exchange vocabularies: book/master rows to OpenAlgo exchanges, intraday and feed codes."""

from __future__ import annotations

import pytest

from broker.mstock.mapping.exchanges import (
    DERIVATIVE_KIND,
    FEED_EXCHANGE_NAMES,
    FEED_EXCHANGE_TYPE,
    INSTRUMENT_SEGMENT,
    INTRADAY_EXCHANGE_CODE,
    OA_EXCHANGES_SUPPORTED,
    feed_exchange_type,
    openalgo_exchange_for_book,
)


@pytest.mark.parametrize(
    "exchange, itype, expected",
    [
        ("NSE", "OPTIDX", "NFO"), ("NSE", "OPTSTK", "NFO"), ("NSE", "FUTIDX", "NFO"), ("NSE", "FUTSTK", "NFO"),
        ("BSE", "OPTIDX", "BFO"), ("BSE", "FUTSTK", "BFO"),
        ("NSE", "FUTCUR", "CDS"), ("NSE", "OPTCUR", "CDS"), ("NSE", "FUTIRC", "CDS"), ("NSE", "OPTIRC", "CDS"), ("NSE", "FUTIRT", "CDS"),
        ("BSE", "FUTCUR", "BCD"), ("BSE", "OPTCUR", "BCD"),
        ("MCX", "FUTCOM", "MCX"), ("MCX", "OPTFUT", "MCX"), ("NSE", "FUTCOM", "MCX"),
        ("NSE", "EQUITY", "NSE"), ("NSE", "EQ", "NSE"), ("BSE", "", "BSE"), ("BSE", None, "BSE"),
        ("NFO", "OPTIDX", "NFO"), ("BFO", "FUTIDX", "BFO"), ("CDS", "FUTCUR", "CDS"), ("BCD", "OPTCUR", "BCD"),
        ("nse", "optidx", "NFO"), (" NSE ", " OPTSTK ", "NFO"),
        ("NSE", "INDEX", "NSE_INDEX"), ("BSE", "INDEX", "BSE_INDEX"),
    ],
)
def test_book_rows_map_to_openalgo_exchanges_by_instrument_type(exchange, itype, expected):
    assert openalgo_exchange_for_book(exchange, itype) == expected


def test_an_unknown_instrument_type_raises_naming_it():
    with pytest.raises(ValueError, match="WARRANT"):
        openalgo_exchange_for_book("NSE", "WARRANT")


def test_an_unknown_exchange_raises():
    with pytest.raises(ValueError, match="XYZ"):
        openalgo_exchange_for_book("XYZ", "EQ")


def test_intraday_and_feed_codes_follow_the_spec():
    assert dict(INTRADAY_EXCHANGE_CODE) == {
        "NSE": "1", "NSE_INDEX": "1", "NFO": "2", "CDS": "3", "BSE": "4", "BSE_INDEX": "4", "BFO": "5", "MCX": "6"
    }
    assert dict(FEED_EXCHANGE_TYPE) == {"NSE": 1, "NSE_INDEX": 1, "NFO": 2, "BSE": 3, "BSE_INDEX": 3, "BFO": 4, "CDS": 13}
    assert {FEED_EXCHANGE_NAMES[code] for code in FEED_EXCHANGE_TYPE.values()} == {"NSECM", "NSEFO", "BSECM", "BSEFO", "NSECD"}
    assert set(INTRADAY_EXCHANGE_CODE) <= OA_EXCHANGES_SUPPORTED


@pytest.mark.parametrize("exchange", ["BCD", "MCX"])
def test_exchanges_without_a_feed_segment_raise(exchange):
    with pytest.raises(ValueError, match="not supported on the mStock feed"):
        feed_exchange_type(exchange)


def test_every_derivative_type_has_a_kind_and_a_segment():
    derivative_types = {t for t, seg in INSTRUMENT_SEGMENT.items() if seg not in ("cash", "index")}
    assert derivative_types == set(DERIVATIVE_KIND)
