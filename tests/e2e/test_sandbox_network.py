"""The sandbox's network realism: idle keep-alive timeout, connection setup cost, arrival
jitter, and rate limits counted strictly at arrival.

Delays go through ``server.dispatcher.sleep`` and the limiter reads
``server.state.rate_limits.clock``; tests replace both with a fake clock, so they check
exactly which request was counted when, without depending on real time.
"""

from __future__ import annotations

import http.client
import random
import socket
import time
from datetime import datetime

import pytest

from mstock_sandbox import SandboxConfig

from .sandbox_support import running_sandbox

pytestmark = pytest.mark.e2e

NOW = datetime(2025, 2, 7, 11, 0, 0)
HISTORY = ('{"exchange":"NSE","symboltoken":"3045","interval":"ONE_DAY",'
           '"fromdate":"2025-02-05","todate":"2025-02-05"}')


def fixed_clock():
    return NOW


def connect(server) -> http.client.HTTPConnection:
    host, port = server.base_url.rsplit("//", 1)[1].rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=5)


def get_orders(conn: http.client.HTTPConnection, server, token: str) -> http.client.HTTPResponse:
    headers = {"X-Mirae-Version": "1", "X-PrivateKey": server.account.api_key, "Authorization": f"Bearer {token}"}
    conn.request("GET", "/openapi/typeb/orders", headers=headers)
    response = conn.getresponse()
    response.read()
    return response


def post_history(conn: http.client.HTTPConnection, server, token: str) -> int:
    headers = {"X-Mirae-Version": "1", "X-PrivateKey": server.account.api_key, "Authorization": f"Bearer {token}",
               "Content-Type": "application/json"}
    conn.request("POST", "/openapi/typeb/instruments/historical", body=HISTORY, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


class FakeTime:
    """The limiter's clock and the dispatcher's sleep in one: sleeping advances the clock."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def install(server, fake: FakeTime) -> None:
    server.state.rate_limits.clock = fake.clock
    server.dispatcher.sleep = fake.sleep


# ------------------------------------------------------------------ keep-alive


def test_an_idle_connection_is_closed_after_the_advertised_timeout():
    # 1 s, not less: the second request must reach the server before the connection idles
    # out, even when a loaded machine stalls this thread between the two.
    with running_sandbox(idle_timeout=1.0) as server:
        token = server.issue_session().access_token
        conn = connect(server)
        first = get_orders(conn, server, token)
        sock = conn.sock
        second = get_orders(conn, server, token)  # at once: the same connection still serves
        assert conn.sock is sock
        started = time.monotonic()
        assert sock.recv(1) == b""  # then the server closes it (end of stream)
        waited = time.monotonic() - started
        conn.close()
    assert (first.status, second.status) == (200, 200)
    assert first.getheader("Keep-Alive") == "timeout=1"
    assert waited >= 0.9  # not before the timeout (a lower bound, whatever the machine's load)


def test_without_an_idle_timeout_connections_stay_open_and_nothing_is_advertised(sandbox, sandbox_token):
    conn = connect(sandbox)
    response = get_orders(conn, sandbox, sandbox_token)
    conn.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        conn.sock.recv(1)  # nothing arrives, the connection is not closed
    conn.close()
    assert response.getheader("Keep-Alive") is None


# ------------------------------------------------------------------ connection setup cost


def test_the_first_request_of_a_new_connection_pays_the_handshake():
    with running_sandbox(connect_latency_ms=150) as server:
        token = server.issue_session().access_token
        slept: list[float] = []
        real_sleep = server.dispatcher.sleep
        server.dispatcher.sleep = lambda s: (slept.append(s), real_sleep(s))
        conn = connect(server)
        started = time.monotonic()
        get_orders(conn, server, token)
        first = time.monotonic() - started
        after_first = list(slept)
        get_orders(conn, server, token)  # reused connection: pays nothing
        after_reuse = list(slept)
        other = connect(server)
        get_orders(other, server, token)  # a new connection pays again
        conn.close()
        other.close()
    assert (after_first, after_reuse, slept) == ([0.15], [0.15], [0.15, 0.15])
    assert first >= 0.15  # the delay is real, not only recorded


# ------------------------------------------------------------------ arrival jitter and strict limits


def expected_outcomes(sends: list[float], delays: list[float], window: float) -> list[int]:
    """What a server counting arrivals (send + delay) with one request per ``window`` answers."""
    accepted: list[float] = []
    out = []
    for sent, delay in zip(sends, delays):
        arrival = sent + delay
        if any(arrival - window < a <= arrival for a in accepted):
            out.append(429)
        else:
            accepted.append(arrival)
            out.append(200)
    return out


@pytest.mark.parametrize("interval, refused", [(1.0, True), (1.25, False)])
def test_pacing_at_exactly_one_per_second_does_not_survive_jitter(interval, refused):
    knobs = dict(enforce_rate_limits=True, strict_rate_limits=True, arrival_jitter_ms=200, clock=fixed_clock)
    with running_sandbox(**knobs) as server:
        token = server.issue_session().access_token
        fake = FakeTime()
        install(server, fake)
        conn = connect(server)
        sends = [1000.0 + i * interval for i in range(12)]
        statuses = []
        for sent in sends:
            fake.now = sent  # the client sends exactly on its schedule
            statuses.append(post_history(conn, server, token))
        conn.close()
    assert len(fake.slept) == 12 and all(0.0 <= d <= 0.2 for d in fake.slept)
    # the seeded jitter is the sandbox's: the same delays every run
    rng = random.Random(f"{SandboxConfig().market_seed}:jitter")
    assert fake.slept == [rng.uniform(0.0, 200.0) / 1000.0 for _ in range(12)]
    assert statuses == expected_outcomes(sends, fake.slept, 1.0)
    assert (429 in statuses) is refused


def test_strict_mode_counts_a_data_second_as_one_second():
    for strict, expected in ((False, [200, 200]), (True, [200, 429])):
        with running_sandbox(enforce_rate_limits=True, strict_rate_limits=strict, clock=fixed_clock) as server:
            token = server.issue_session().access_token
            fake = FakeTime()
            install(server, fake)
            conn = connect(server)
            statuses = []
            for sent in (1000.0, 1000.97):
                fake.now = sent
                statuses.append(post_history(conn, server, token))
            conn.close()
        assert statuses == expected, f"strict={strict}"


def test_a_slow_answer_is_counted_when_the_request_arrived():
    with running_sandbox(enforce_rate_limits=True, strict_rate_limits=True, clock=fixed_clock) as server:
        token = server.issue_session().access_token
        fake = FakeTime()
        install(server, fake)
        server.faults.inject("market.historical", "latency", seconds=0.5)
        conn = connect(server)
        fake.now = 1000.0
        first = post_history(conn, server, token)  # arrives at 1000.0, answered at 1000.5
        fake.now = 1001.2
        second = post_history(conn, server, token)  # 1.2 s after the first arrival
        conn.close()
    assert (first, second, fake.slept) == (200, 200, [0.5])
