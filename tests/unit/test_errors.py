"""The broker-code table and RMS text."""

from __future__ import annotations

import pytest

from broker.mstock import errors
from broker.mstock.transport import error_codes
from broker.mstock.transport.error_codes import error_class_for, readable_reason


@pytest.mark.parametrize(("code", "expected"), sorted(error_codes.ERROR_CODES.items()))
def test_every_exact_code_maps_to_its_class(code, expected):
    assert error_class_for(code, 200) is expected


@pytest.mark.parametrize(
    ("code", "http_status", "expected"),
    [
        ("RS-9999", 200, errors.OrderRejected),
        ("MA0034", 200, errors.BackOfficeError),
        ("MA408", 200, errors.BackOfficeError),
        ("IA999", 400, errors.MStockRejected),
        (None, 401, errors.SessionExpired),
        (None, 403, errors.ApiKeyRejected),
        (None, 404, errors.NotFound),
        (None, 429, errors.RateLimited),
        (None, 503, errors.ServerUnavailable),
        (None, 200, errors.MStockRejected),
    ],
)
def test_prefix_and_http_fallbacks(code, http_status, expected):
    assert error_class_for(code, http_status) is expected


def test_transient_and_permanent_branches_do_not_overlap():
    assert not issubclass(errors.OutcomeUnknown, errors.MStockTransient)
    assert not issubclass(errors.OutcomeUnknown, errors.MStockRejected)
    assert issubclass(errors.RateLimited, errors.MStockTransient)
    assert issubclass(errors.InsufficientFunds, errors.OrderRejected)


def test_rms_fund_shortfall_is_made_readable():
    text = (
        "RMS:1141241105101:NSE,EQUITY,22,ACC,INTRADAY,,EQ,XXXXX,B,1,I,22,ACC,INTRADAY,89.44995,"
        "FUND LIMIT INSUFFICIENT,AVAILABLE FUND=0,ADDITIONAL REQUIRED FUND=572.36,CALCULATED MARGIN FOR ORDER=572.36"
    )
    assert readable_reason(text) == "insufficient funds: required 572.36, available 0"


def test_other_rms_text_keeps_its_reason():
    assert readable_reason("RMS:1:NSE,EQUITY,22,ACC,SCRIP BLOCKED FOR TRADING") == "rejected by RMS: scrip blocked for trading"


def test_non_rms_text_passes_through():
    assert readable_reason("EXCH:16284:The order price is out of the days price range.") == (
        "EXCH:16284:The order price is out of the days price range."
    )


def test_error_messages_are_redacted():
    exc = errors.MStockRejected("failed with Bearer eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.c2ln")
    assert "eyJ" not in str(exc)
    assert "eyJ" not in repr(exc)
