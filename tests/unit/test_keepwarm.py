"""Our own connection pool stays warm while the session is live (issue 11 item 11).

The schedule is tested step by step on injected clocks (no wall clock); the thread, the
client wiring and the stop conditions with real threads that are always stopped.
"""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from broker.mstock.clock import IST
from broker.mstock.errors import NetworkError, SessionExpired
from broker.mstock.transport import keepwarm
from broker.mstock.transport.client import MStockClient, get_client, reset_clients
from broker.mstock.transport.keepwarm import DEFAULT_INTERVAL, KeepWarm, idle_timeout
from broker.mstock.transport.ratelimit import RateLimiter
from broker.mstock.transport.routes import Category

from ..helpers import ACCESS_TOKEN, API_KEY, BASE_URL, add_route, url_for, wait_until

MORNING = datetime(2026, 9, 1, 9, 0, tzinfo=IST)
FUNDS_OK = {"status": True, "message": "SUCCESS", "data": [{"AVAILABLE_BALANCE": "1"}]}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.wall = MORNING

    def __call__(self) -> float:
        return self.now


def warm(clock: Clock, ping=None, **kwargs) -> KeepWarm:
    pings: list[float] = []

    def default_ping() -> None:
        pings.append(clock.now)
        keep.note_activity()  # the ping's own answer is activity on the pool

    keep = KeepWarm(ping or default_ping, clock=clock, now=lambda: clock.wall, **kwargs)
    keep.sent = pings  # type: ignore[attr-defined]
    return keep


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("timeout=5, max=100", 5.0), ("timeout=2.5", 2.5), ("max=100, timeout=60", 60.0), ("TIMEOUT = 7", 7.0),
     (None, None), ("", None), ("max=100", None), ("timeout=0", None), ("timeout=abc", None)],
)
def test_idle_timeout_from_the_keep_alive_header(header, seconds):
    assert idle_timeout(header) == seconds


def test_pings_when_the_pool_has_been_idle_for_an_interval():
    clock = Clock()
    keep = warm(clock)
    assert keep.step() == pytest.approx(DEFAULT_INTERVAL)  # just created: nothing to do yet
    clock.now += DEFAULT_INTERVAL
    assert keep.step() == pytest.approx(DEFAULT_INTERVAL)
    assert keep.sent == [120.0]


def test_real_traffic_postpones_the_ping():
    clock = Clock()
    keep = warm(clock)
    clock.now += 15.0
    keep.note_activity()  # an order went through the pool
    clock.now += 6.0
    assert keep.step() == pytest.approx(14.0)
    assert keep.sent == []


def test_interval_stays_below_the_servers_idle_timeout():
    clock = Clock()
    keep = warm(clock)
    keep.note_activity("timeout=5, max=100")
    assert keep.interval == pytest.approx(3.75)
    clock.now += 3.75
    keep.step()
    assert keep.sent == [103.75]
    keep.note_activity("timeout=120")
    assert keep.interval == pytest.approx(90.0)


def test_stops_when_the_session_is_rejected():
    clock = Clock()

    def rejected() -> None:
        raise SessionExpired("Invalid request. Please try again.", code="IA401")

    keep = warm(clock, ping=rejected)
    clock.now += DEFAULT_INTERVAL
    assert keep.step() is None


def test_keeps_trying_after_a_network_failure():
    clock = Clock()

    def down() -> None:
        raise NetworkError("down")

    keep = warm(clock, ping=down)
    clock.now += DEFAULT_INTERVAL
    assert keep.step() == pytest.approx(DEFAULT_INTERVAL)


def test_stops_at_ist_midnight_when_mstock_sessions_end():
    clock = Clock()
    keep = warm(clock)
    clock.wall = datetime(2026, 9, 1, 23, 59, 59, tzinfo=IST)
    assert keep.step() is not None
    clock.wall = datetime(2026, 9, 2, 0, 0, tzinfo=IST)
    assert keep.step() is None


def test_stops_when_the_host_no_longer_holds_the_session():
    clock = Clock()
    live = [True]
    asked = []

    def still_live() -> bool:
        asked.append(clock.now)
        return live[0]

    keep = warm(clock, still_live=still_live)
    for _ in range(3):
        clock.now += DEFAULT_INTERVAL
        assert keep.step() is not None
    assert asked == [120.0]  # a database read when hosted: asked at most every LIVENESS_INTERVAL
    live[0] = False  # logged out in OpenAlgo
    clock.now += keepwarm.LIVENESS_INTERVAL
    assert keep.step() is None
    assert len(keep.sent) == 3


def test_the_thread_is_a_daemon_and_stops_at_once():
    keep = KeepWarm(lambda: None)
    keep.start()
    thread = keep.thread
    assert thread is not None and thread.daemon and keep.running
    keep.stop(join=2.0)
    assert not thread.is_alive() and not keep.running
    keep.start()  # a stopped keep-warm stays stopped
    assert keep.thread is thread


# --- wired into the client ------------------------------------------------------------


@pytest.fixture
def keep_warm_on():
    keepwarm.set_enabled(True)
    yield
    reset_clients()  # stops every client's keep-warm


def test_no_thread_before_a_successful_authenticated_request(mock_api, keep_warm_on):
    client = get_client(ACCESS_TOKEN)
    assert client.keep_warm is not None and client.keep_warm.thread is None
    add_route(mock_api, "orders.list", {"status": "false", "message": "Invalid request.", "errorcode": "IA401"},
              status=401)
    with pytest.raises(SessionExpired):
        client.call("orders.list")
    assert client.keep_warm.thread is None and not client.keep_warm.running


def test_a_working_session_starts_it_and_logout_stops_it(mock_api, keep_warm_on):
    from broker.mstock.account.login import logout

    client = get_client(ACCESS_TOKEN)
    add_route(mock_api, "user.funds", FUNDS_OK)
    client.call("user.funds")
    keep = client.keep_warm
    assert keep is not None and keep.running and keep.thread.daemon
    add_route(mock_api, "auth.logout", {"status": True, "message": "SUCCESS", "data": None})
    logout(client)
    keep.thread.join(2.0)
    assert not keep.thread.is_alive()


def test_any_rejected_token_stops_it(mock_api, keep_warm_on):
    client = get_client(ACCESS_TOKEN)
    add_route(mock_api, "user.funds", FUNDS_OK)
    client.call("user.funds")
    add_route(mock_api, "orders.list", {"status": "false", "message": "Invalid request.", "errorcode": "IA401"},
              status=401)
    with pytest.raises(SessionExpired):
        client.call("orders.list")
    client.keep_warm.thread.join(2.0)
    assert not client.keep_warm.running


def test_the_ping_is_an_authenticated_funds_read_outside_every_order_window(mock_api):
    limiter = RateLimiter()
    client = MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url=BASE_URL, keep_warm=True, limiter=limiter)
    add_route(mock_api, "user.funds", FUNDS_OK, status=200)
    mock_api.calls.reset()
    try:
        client._keep_warm_ping()
    finally:
        client.close()
    request = mock_api.calls[0].request
    assert (request.method, request.url) == ("GET", url_for("user.funds"))
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert all(not window for cat in (Category.ORDER, Category.DATA, Category.QUOTE) for window in limiter._history[cat])


def test_the_servers_keep_alive_header_sets_the_interval(mock_api):
    client = MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url=BASE_URL, keep_warm=True)
    mock_api.add("GET", url_for("user.funds"), json=FUNDS_OK, headers={"Keep-Alive": "timeout=5, max=100"})
    try:
        client.call("user.funds")
        assert client.keep_warm.interval == pytest.approx(3.75)
    finally:
        client.close()
    assert not client.keep_warm.running


def test_disabled_for_clients_built_by_hand_and_when_switched_off(mock_api):
    assert MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url=BASE_URL).keep_warm is None
    assert get_client(ACCESS_TOKEN).keep_warm is None  # tests switch the registry's keep-warm off
    assert MStockClient(None, api_key=API_KEY, base_url=BASE_URL, keep_warm=True).keep_warm is None


def test_clients_dropped_from_the_registry_stop_warming(mock_api, keep_warm_on, monkeypatch):
    from broker.mstock.transport import client as client_module

    monkeypatch.setattr(client_module, "_MAX_CLIENTS", 1)
    add_route(mock_api, "user.funds", FUNDS_OK)
    first = get_client("token-one")
    first.call("user.funds")
    assert first.keep_warm.running
    get_client("token-two")  # evicts the first
    first.keep_warm.thread.join(2.0)
    assert not first.keep_warm.running


def test_no_keep_warm_threads_outlive_the_tests():
    def warming() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "mstock-keepwarm" and t.is_alive()]

    # A stopped thread may still be on its way out on a loaded machine: wait for it, not for luck.
    assert wait_until(lambda: not warming()), warming()
