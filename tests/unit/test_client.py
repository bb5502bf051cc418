"""The client: headers, methods, timeouts, retries only on idempotent reads, writes never resent."""

from __future__ import annotations

import json

import pytest
import requests
from responses import matchers

from broker.mstock import errors
from broker.mstock.transport.client import MStockClient, Timeouts, get_client, reset_clients
from broker.mstock.transport.routes import ROUTES, Category

from ..helpers import ACCESS_TOKEN, API_KEY, BASE_URL, add_route, url_for

OK = {"status": "true", "message": "SUCCESS", "errorcode": "", "data": []}


def _client(**kwargs) -> MStockClient:
    kwargs.setdefault("sleep", lambda s: None)
    return MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url=BASE_URL, **kwargs)


def test_bearer_route_sends_version_key_and_token(mock_api):
    add_route(
        mock_api,
        "orders.list",
        OK,
        match=[
            matchers.header_matcher(
                {"X-Mirae-Version": "1", "X-PrivateKey": API_KEY, "Authorization": f"Bearer {ACCESS_TOKEN}"}
            )
        ],
    )
    assert _client().call("orders.list") == []


def test_login_route_sends_neither_key_nor_token(mock_api):
    add_route(mock_api, "auth.login", {"status": "true", "data": {"jwtToken": "x"}})
    MStockClient(None, api_key=API_KEY, base_url=BASE_URL).call("auth.login", json={"clientcode": "MA1"})
    sent = mock_api.calls[0].request.headers
    assert sent["X-Mirae-Version"] == "1"
    assert "X-PrivateKey" not in sent
    assert "Authorization" not in sent


def test_key_route_sends_key_but_no_bearer(mock_api):
    add_route(mock_api, "auth.verify_totp", {"status": True, "data": {"jwtToken": "x"}})
    MStockClient(None, api_key=API_KEY, base_url=BASE_URL).call("auth.verify_totp", json={})
    sent = mock_api.calls[0].request.headers
    assert sent["X-PrivateKey"] == API_KEY
    assert "Authorization" not in sent


def test_json_body_and_path_arguments(mock_api):
    add_route(
        mock_api,
        "orders.modify",
        {"status": "true", "data": {"orderid": " 1191241106101"}},
        orderid="1191241106101",
        match=[matchers.json_params_matcher({"price": "101.5"})],
    )
    data = _client().call("orders.modify", path={"orderid": " 1191241106101 "}, json={"price": "101.5"})
    assert data == {"orderid": " 1191241106101"}
    assert mock_api.calls[0].request.headers["Content-Type"] == "application/json"


def test_quote_and_history_are_sent_as_post():
    # GET-with-body is refused by many stacks; the server accepts POST too (spec 1.3).
    assert ROUTES["market.quote"].method == "POST"
    assert ROUTES["market.historical"].method == "POST"
    assert ROUTES["market.quote"].category is Category.QUOTE
    assert ROUTES["market.historical"].category is Category.DATA


@pytest.mark.parametrize("name", ["orders.place", "orders.modify", "orders.cancel", "orders.cancel_all", "portfolio.convert"])
def test_order_writes_are_not_idempotent(name):
    assert ROUTES[name].idempotent is False
    assert ROUTES[name].category is Category.ORDER


def test_idempotent_read_is_retried_on_gateway_error(mock_api):
    add_route(mock_api, "orders.list", "<html><title>502 Bad Gateway</title></html>", status=502)
    add_route(mock_api, "orders.list", OK)
    assert _client().call("orders.list") == []
    assert len(mock_api.calls) == 2


def test_idempotent_read_gives_up_after_max_attempts(mock_api):
    for _ in range(3):
        add_route(mock_api, "orders.list", requests.ConnectionError("connection reset"))
    with pytest.raises(errors.NetworkError):
        _client().call("orders.list")
    assert len(mock_api.calls) == 3


def test_rate_limited_read_waits_retry_after(mock_api):
    slept: list[float] = []
    mock_api.add("GET", url_for("orders.list"), status=429, json={"status": "false", "message": "Rate limit exceeded", "errorcode": "IA429"})
    add_route(mock_api, "orders.list", OK)
    assert _client(sleep=slept.append).call("orders.list") == []
    assert len(slept) == 1
    assert 0 < slept[0] <= 4.0


def test_place_is_sent_once_on_read_timeout(mock_api):
    add_route(mock_api, "orders.place", requests.ReadTimeout("read timed out"))
    with pytest.raises(errors.OutcomeUnknown) as caught:
        _client().call("orders.place", json={"tradingsymbol": "SBIN-EQ"})
    assert len(mock_api.calls) == 1
    assert caught.value.route == "orders.place"


def test_place_is_sent_once_on_gateway_page(mock_api):
    add_route(mock_api, "orders.place", "<html><title>504 Gateway Time-out</title></html>", status=504)
    with pytest.raises(errors.OutcomeUnknown):
        _client().call("orders.place", json={})
    assert len(mock_api.calls) == 1


def test_cancel_dropped_connection_is_outcome_unknown(mock_api):
    add_route(mock_api, "orders.cancel", requests.ConnectionError("Connection aborted."), orderid="1")
    with pytest.raises(errors.OutcomeUnknown):
        _client().call("orders.cancel", path={"orderid": "1"}, json={"variety": "NORMAL", "orderid": "1"})
    assert len(mock_api.calls) == 1


def test_write_that_never_connected_is_a_plain_network_error(mock_api):
    add_route(mock_api, "orders.place", requests.ConnectTimeout("connect timed out"))
    with pytest.raises(errors.NetworkError):
        _client().call("orders.place", json={})
    assert len(mock_api.calls) == 1


def test_place_rejection_is_not_retried(mock_api):
    add_route(mock_api, "orders.place", {"status": "false", "message": "RMS:...", "errorcode": "RS-0111", "data": None})
    with pytest.raises(errors.InsufficientFunds):
        _client().call("orders.place", json={})
    assert len(mock_api.calls) == 1


def test_redirects_are_never_followed(mock_api):
    mock_api.add("GET", url_for("orders.list"), status=302, headers={"Location": "https://evil.example/steal"})
    with pytest.raises(errors.MStockRejected):
        _client().call("orders.list")
    assert len(mock_api.calls) == 1


def test_timeouts_are_short_for_trading_and_long_for_the_master():
    timeouts = Timeouts()
    assert timeouts.for_route(ROUTES["orders.place"]) == (3.05, 7.0)
    assert timeouts.for_route(ROUTES["market.scrip_master"]) == (3.05, 120.0)


def test_tls_verification_is_on_and_cookies_are_never_stored():
    client = _client()
    assert client._session.verify is True
    assert client._session.cookies.get_policy().set_ok is not None
    with pytest.raises(TypeError):
        MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url=BASE_URL, verify=False)  # no such switch


def test_plain_http_is_refused_except_on_loopback():
    with pytest.raises(errors.ConfigError):
        MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url="http://api.mstock.trade")
    assert MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url="http://127.0.0.1:8123").api_root == (
        "http://127.0.0.1:8123/openapi/typeb"
    )


def test_missing_api_key_is_a_config_error_naming_the_variable(mock_api):
    with pytest.raises(errors.ConfigError) as caught:
        MStockClient(ACCESS_TOKEN, api_key="", base_url=BASE_URL).call("orders.list")
    assert "BROKER_API_SECRET" in str(caught.value)
    assert len(mock_api.calls) == 0


def test_repr_hides_the_token():
    assert ACCESS_TOKEN not in repr(_client())
    assert API_KEY not in repr(_client())


def test_get_client_shares_one_client_per_token():
    first = get_client(ACCESS_TOKEN)
    assert get_client(ACCESS_TOKEN) is first
    assert get_client("another-token-value") is not first
    reset_clients()
    assert get_client(ACCESS_TOKEN) is not first


def test_scrip_master_bytes_are_streamed(mock_api):
    add_route(mock_api, "market.scrip_master", b'[{"token":"3045","name":"SBIN-EQ"}]')
    seen: list[int] = []
    raw = _client().fetch_bytes("market.scrip_master", progress=lambda done, total: seen.append(done))
    assert raw == b'[{"token":"3045","name":"SBIN-EQ"}]'
    assert seen[-1] == len(raw)


def test_scrip_master_error_envelope_raises(mock_api):
    add_route(mock_api, "market.scrip_master", {"status": "false", "message": "Invalid request. Please try again.", "errorcode": "IA401"}, status=401)
    with pytest.raises(errors.SessionExpired):
        _client().fetch_bytes("market.scrip_master")


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _answer_after(mock_api, clock: _Clock, seconds: float, answer) -> None:
    """The historical call takes ``seconds`` on ``clock``, then answers (or raises ``answer``)."""

    def respond(request):
        clock.now += seconds
        if isinstance(answer, BaseException):
            raise answer
        return 200, {}, json.dumps(answer)

    mock_api.add_callback("POST", url_for("market.historical"), callback=respond)


def test_an_answer_tells_the_limiter_the_request_has_arrived(mock_api):
    from broker.mstock.transport.ratelimit import RateLimiter

    clock = _Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    _answer_after(mock_api, clock, 0.01, OK)
    _client(limiter=limiter).call("market.historical", json={})  # sent at 100.00, answered at 100.01
    # the next data call may go one second after the answer, not one second after send + margin
    assert limiter.acquire(Category.DATA) == pytest.approx(1.0)


def test_no_answer_keeps_the_full_margin(mock_api):
    from broker.mstock.transport.ratelimit import DEFAULT_MARGINS, RateLimiter

    clock = _Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    _answer_after(mock_api, clock, 0.01, requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(errors.RequestTimeout):
        _client(limiter=limiter, max_attempts=1).call("market.historical", json={})  # sent at 100.00, never answered
    assert limiter.acquire(Category.DATA) == pytest.approx(1.0 + DEFAULT_MARGINS[Category.DATA] - 0.01)
