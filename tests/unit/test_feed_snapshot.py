"""``depth_snapshot``: one Snap Quote over a short-lived socket."""

from __future__ import annotations

import pytest

from broker.mstock.errors import RequestTimeout, SessionExpired, ValidationError
from broker.mstock.streaming.snapshot import depth_snapshot

from ..helpers import wait_until
from .feed_support import FEED_TOKEN_OK, MOMENT_MS


@pytest.fixture
def feed_env(feed_server, monkeypatch):
    monkeypatch.setenv("MSTOCK_WS_URL", feed_server.url)
    return feed_server


def test_returns_the_first_full_packet_and_closes(feed_env):
    snap = depth_snapshot(FEED_TOKEN_OK, "NFO", "35001", timeout=2)
    assert (snap["mode"], snap["token"], snap["exchange_type"]) == (3, "35001", 2)
    assert (snap["ltp"], snap["close"], snap["oi"], snap["oi_change_pct"]) == (24100.0, 24050.0, 1250000, -2.75)
    assert snap["bids"][0] == {"price": 812.3, "quantity": 100, "orders": 3}
    assert len(snap["asks"]) == 5
    assert snap["exchange_ts"] == MOMENT_MS
    assert feed_env.received_requests() == [
        {"action": 1, "params": {"mode": 3, "tokenList": [{"exchangeType": 2, "tokens": ["35001"]}]}}
    ]
    assert wait_until(lambda: feed_env.connection_count == 0)


def test_currency_uses_the_currency_segment(feed_env):
    assert depth_snapshot(FEED_TOKEN_OK, "CDS", "1594", timeout=2)["ltp"] == 88.13


def test_times_out_when_nothing_arrives(feed_env):
    with pytest.raises(RequestTimeout):
        depth_snapshot(FEED_TOKEN_OK, "NSE", "999999", timeout=0.1)


def test_refused_credentials(feed_env):
    with pytest.raises(SessionExpired):
        depth_snapshot("expired-token", "NSE", "3045", timeout=1)


def test_unsupported_exchange():
    with pytest.raises(ValidationError):
        depth_snapshot(FEED_TOKEN_OK, "MCX", "4242")
