"""Expiries are dates: ``05-JAN-27`` comes after ``08-DEC-26`` everywhere (search, demo)."""

from __future__ import annotations

from datetime import date

import pytest

from broker.mstock.local.symbol_store import SymbolStore
from broker.mstock.records import SymbolRecord, expiry_date, expiry_order
from mstock_tools.demo import nearest_option


def _option(token: str, day: str, strike: float, name: str = "NIFTY") -> tuple:
    compact = day.replace("-", "")
    return (f"{name}{compact}{int(strike)}CE", f"{name}X{compact}{int(strike)}CE", name, "NFO", "NFO",
            token, day, strike, 75, "CE", 0.05)


JAN = _option("40001", "05-JAN-27", 24000)
DEC_08 = _option("40002", "08-DEC-26", 24000)
DEC_15 = _option("40003", "15-DEC-26", 24000)
DEC_08_FAR = _option("40004", "08-DEC-26", 25000)
BANK = _option("40005", "08-DEC-26", 52000, name="BANKNIFTY")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("05-JAN-27", date(2027, 1, 5)), ("8-dec-26", date(2026, 12, 8)), ("28-NOV-2024", date(2024, 11, 28)),
     ("", None), (None, None), ("31-FEB-26", None), ("2026-12-08", None), ("08-XYZ-26", None)],
)
def test_expiry_date(text, expected):
    assert expiry_date(text) == expected


def test_text_order_is_wrong_and_date_order_is_right():
    texts = ["05-JAN-27", "08-DEC-26", "15-DEC-26"]
    assert sorted(texts) == ["05-JAN-27", "08-DEC-26", "15-DEC-26"]  # what went wrong
    assert sorted(texts, key=expiry_order) == ["08-DEC-26", "15-DEC-26", "05-JAN-27"]
    assert expiry_order("") < expiry_order("08-DEC-26")  # cash instruments first


def test_search_lists_the_nearest_expiry_first(tmp_path):
    store = SymbolStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.replace_all([JAN, DEC_15, DEC_08_FAR, DEC_08, BANK])
    try:
        found = [r.expiry for r in store.search("NIFTY CE", "NFO", 10) if r.name == "NIFTY"]
        assert found == ["08-DEC-26", "08-DEC-26", "15-DEC-26", "05-JAN-27"]
        assert [r.strike for r in store.search("NIFTY 08DEC26", "NFO", 10) if r.name == "NIFTY"] == [24000.0, 25000.0]
    finally:
        store.close()


def test_the_demo_picks_the_nearest_expiry_not_the_first_in_text_order():
    records = [SymbolRecord(*row) for row in (JAN, DEC_15, DEC_08_FAR, DEC_08, BANK)]
    chosen = nearest_option(records, strike=24000)
    assert (chosen.expiry, chosen.strike, chosen.brsymbol, chosen.lotsize) == ("08-DEC-26", 24000.0, DEC_08[1], 75)
