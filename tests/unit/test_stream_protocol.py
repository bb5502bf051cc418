"""Feed URL, request frames and text frames (spec 11.1, 11.2, 11.4)."""

from __future__ import annotations

import json
import ssl

import pytest

from broker.mstock.errors import ApiKeyRejected, NetworkError, ServerUnavailable, SessionExpired, ValidationError
from broker.mstock.streaming import connection
from broker.mstock.streaming.connection import backoff_delay
from broker.mstock.streaming.protocol import (
    TextMessage,
    check_mode,
    classify_text,
    display_url,
    feed_url,
    request_frames,
)


def test_feed_url_carries_key_and_token_escaping_only_what_breaks():
    url = feed_url("wss://ws.mstock.trade", "ay3x+Yz/kB@@", "eyJ.a-b_c")
    assert url == "wss://ws.mstock.trade?API_KEY=ay3x%2BYz/kB@@&ACCESS_TOKEN=eyJ.a-b_c"
    assert display_url(url) == "wss://ws.mstock.trade"
    assert display_url("ws://127.0.0.1:9001/feed?API_KEY=x") == "ws://127.0.0.1:9001/feed"


def test_request_frame_groups_tokens_by_exchange_type():
    (frame,) = request_frames(1, 3, {13: ["1594"], 1: ["22", "3045"]})
    assert json.loads(frame) == {
        "action": 1,
        "params": {"mode": 3, "tokenList": [{"exchangeType": 1, "tokens": ["22", "3045"]}, {"exchangeType": 13, "tokens": ["1594"]}]},
    }


def test_request_frames_split_at_the_token_limit():
    frames = [json.loads(f) for f in request_frames(0, 2, {1: ["1", "2", "3"], 2: ["4", "5"]}, max_tokens=2, correlation_id="c")]
    assert [f["params"]["tokenList"] for f in frames] == [
        [{"exchangeType": 1, "tokens": ["1", "2"]}],
        [{"exchangeType": 1, "tokens": ["3"]}, {"exchangeType": 2, "tokens": ["4"]}],
        [{"exchangeType": 2, "tokens": ["5"]}],
    ]
    assert [f["correlationID"] for f in frames] == ["c-1", "c-2", "c-3"]
    assert {f["action"] for f in frames} == {0}


def test_unknown_mode_is_rejected():
    with pytest.raises(ValidationError):
        check_mode(4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"order_status":"order","orderData":{"orderid":"1"}}', TextMessage("order", {"orderid": "1"})),
        ('{"order_status":"trade","orderData":{"fillid":"9"}}', TextMessage("trade", {"fillid": "9"})),
        ('{"type":"order","data":{"orderid":"2"}}', TextMessage("order", {"orderid": "2"})),
        ('{"type":"Trade","data":{"fillid":"3"}}', TextMessage("trade", {"fillid": "3"})),
        ('{"type":"error","data":"Invalid token"}', TextMessage("error", "Invalid token")),
        ('{"hello":1}', TextMessage("other", {"hello": 1})),
        ("not json", TextMessage("other", "not json")),
        (b'[1,2]', TextMessage("other", [1, 2])),
    ],
)
def test_text_frames_are_classified(text, expected):
    assert classify_text(text) == expected


def test_backoff_is_jittered_and_capped():
    assert backoff_delay(1, 0.5, 30, rng=lambda: 0.0) == 0.25
    assert backoff_delay(1, 0.5, 30, rng=lambda: 1.0) == 0.5
    assert backoff_delay(4, 0.5, 30, rng=lambda: 1.0) == 4.0
    assert backoff_delay(50, 0.5, 30, rng=lambda: 1.0) == 30.0
    assert backoff_delay(50, 0.5, 30, rng=lambda: 0.0) == 15.0


def test_tls_is_always_verified(monkeypatch):
    seen = {}

    def fake_create_connection(url, **kwargs):
        seen.update(kwargs)
        return "socket"

    monkeypatch.setattr(connection.websocket, "create_connection", fake_create_connection)
    assert connection.open_socket("wss://ws.mstock.trade?API_KEY=k&ACCESS_TOKEN=t", timeout=1) == "socket"
    assert seen["sslopt"] == {"cert_reqs": ssl.CERT_REQUIRED, "check_hostname": True}


@pytest.mark.parametrize(("status", "error"), [(401, SessionExpired), (403, ApiKeyRejected), (502, ServerUnavailable), (400, NetworkError)])
def test_upgrade_refusals_map_to_errors_without_the_url(monkeypatch, status, error):
    def refuse(url, **kwargs):
        raise connection.websocket.WebSocketBadStatusException("Handshake status", status)

    monkeypatch.setattr(connection.websocket, "create_connection", refuse)
    with pytest.raises(error) as caught:
        connection.open_socket("wss://ws.mstock.trade?API_KEY=secret-key&ACCESS_TOKEN=secret-token", timeout=1)
    assert "secret" not in str(caught.value)
    assert caught.value.http_status == status
