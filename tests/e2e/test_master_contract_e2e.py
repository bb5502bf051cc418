"""End to end: log in to the sandbox, download its instrument master, look symbols up.

Real HTTP over loopback: the CLI login, ``contract download`` and OpenAlgo's
``master_contract_download()`` entry point, then quotes of the index tokens the package's
table supplies (NSE indices are not in the master, spec 8.5).
"""

from __future__ import annotations

import pytest

from broker.mstock import host
from broker.mstock.account.session import login_headless
from broker.mstock.cli import main as cli_main
from broker.mstock.database import master_contract_db as mc
from broker.mstock.database.index_tokens import NSE_INDICES
from broker.mstock.errors import ServerUnavailable
from broker.mstock.mapping.exchanges import openalgo_exchange_for_book
from broker.mstock.transport.client import get_client

pytestmark = pytest.mark.e2e


@pytest.fixture
def logged_in(sandbox) -> str:
    return login_headless().session.access_token


def test_cli_login_then_contract_download_fills_the_symbol_table(sandbox, capsys):
    assert cli_main(["login"]) == 0
    assert cli_main(["contract", "download", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "NSE_INDEX" in out and "BSE_INDEX" in out and "total" in out
    lookup = host.symbols()
    assert lookup.get_token("SBIN", "NSE") == "3045"
    assert lookup.get_br_symbol("SBIN", "NSE") == "SBIN-EQ"
    assert cli_main(["contract", "show", "NIFTY", "NSE_INDEX"]) == 0
    assert "26000" in capsys.readouterr().out


def test_openalgo_entry_point_stores_every_served_row(sandbox, logged_in, monkeypatch):
    events: list[tuple[str, dict]] = []
    monkeypatch.setattr(host, "notify", lambda event, payload: events.append((event, payload)))
    summary = mc.master_contract_download()
    assert [p["status"] for e, p in events if e == mc.EVENT] == ["success"]
    lookup = host.symbols()
    served = sandbox.state.rows
    assert lookup.count() == len(served) + 6  # + the NSE index table
    assert str(len(served)) in summary
    for row in served:
        exchange = openalgo_exchange_for_book(row["exch_seg"], row["instrumenttype"])
        record = lookup.get_record_by_token(row["token"], exchange) or lookup.get_record_by_token(row["token"], "BSE_INDEX")
        assert record is not None and record.brsymbol == row["name"], row
        assert lookup.get_token(record.symbol, record.exchange) == row["token"]


def test_index_rows_quote_through_their_brexchange(sandbox, logged_in):
    mc.refresh_master(logged_in)
    lookup = host.symbols()
    records = [lookup.get_symbol_info(e.symbol, "NSE_INDEX") for e in NSE_INDICES]
    records += [lookup.get_symbol_info(name, "BSE_INDEX") for name in ("SENSEX", "BANKEX", "SENSEX50")]
    assert all(r is not None and r.instrumenttype == "INDEX" for r in records)
    wanted: dict[str, list[str]] = {}
    for record in records:
        wanted.setdefault(record.brexchange, []).append(record.token)
    assert wanted["NSE"] == ["26000", "26009", "26037", "26074", "26013", "26017"]
    data = get_client(logged_in).call("market.quote", json={"mode": "LTP", "exchangeTokens": wanted})
    fetched = {(q["exchange"], str(q["symbolToken"])) for q in data["fetched"]}
    assert {("NSE", t) for t in wanted["NSE"]} <= fetched
    assert all(q["ltp"] > 0 for q in data["fetched"])


def test_a_failing_download_raises_and_keeps_the_previous_symbols(sandbox, logged_in, monkeypatch):
    mc.refresh_master(logged_in)
    before = host.symbols().count()
    monkeypatch.setattr(host, "notify", lambda event, payload: None)
    get_client(logged_in)._sleep = lambda seconds: None  # the retries of a read need not wait here
    sandbox.faults.inject("market.scrip_master", "http_error", times=None, status=503, body="unavailable")
    with pytest.raises(ServerUnavailable):
        mc.master_contract_download()
    assert host.symbols().count() == before
    assert host.symbols().get_token("NIFTY", "NSE_INDEX") == "26000"
