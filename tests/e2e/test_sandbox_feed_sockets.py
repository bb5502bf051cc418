"""How many feed sockets one access token may hold (mStock documents no limit): unlimited by
default; with ``feed_max_sockets`` an extra socket is refused, or evicts the oldest."""

from __future__ import annotations

import pytest
import websocket

from .conftest import make_client
from ..helpers import wait_until
from .sandbox_support import FeedListener, order_body, running_sandbox

pytestmark = pytest.mark.e2e


def test_unlimited_by_default(sandbox, sandbox_token):
    feeds = [FeedListener(sandbox, sandbox_token) for _ in range(3)]
    try:
        assert sandbox.feed.connections_for(sandbox_token) == 3
        assert sandbox.feed.refused_sockets == 0
    finally:
        for feed in feeds:
            feed.close()


def test_refuse_answers_the_extra_upgrade_with_http_429():
    with running_sandbox(feed_max_sockets=1, feed_socket_policy="refuse") as server:
        token = server.issue_session().access_token
        first = FeedListener(server, token)
        try:
            with pytest.raises(websocket.WebSocketBadStatusException) as caught:
                websocket.create_connection(f"{server.ws_url}?API_KEY={server.account.api_key}&ACCESS_TOKEN={token}",
                                            timeout=5)
            assert caught.value.status_code == 429
            assert server.feed.refused_sockets == 1
            # the first socket is undisturbed, and another token has sockets of its own
            other = FeedListener(server, server.issue_session().access_token)
            orderid = make_client(server, token).call("orders.place", json=order_body())["orderid"]
            assert first.wait_texts(3)[0]["orderData"]["orderid"] == orderid
            other.close()
        finally:
            first.close()
        # once the first socket is gone, a new one is accepted
        assert wait_until(lambda: server.feed.connections_for(token) == 0)
        again = FeedListener(server, token)
        again.close()


def test_evict_lets_the_new_socket_win_and_closes_the_oldest():
    with running_sandbox(feed_max_sockets=1, feed_socket_policy="evict") as server:
        token = server.issue_session().access_token
        old = FeedListener(server, token)
        new = FeedListener(server, token)
        try:
            assert wait_until(lambda: old.closed is not None)
            assert old.closed == (1008, "replaced by a newer connection with the same access token")
            assert (server.feed.evicted_sockets, server.feed.connections_for(token)) == (1, 1)
            orderid = make_client(server, token).call("orders.place", json=order_body())["orderid"]
            assert [f["orderData"]["orderid"] for f in new.wait_texts(3)] == [orderid] * 3
            assert old.texts == []
        finally:
            old.close()
            new.close()


def test_two_sockets_allowed_third_evicts_the_first():
    with running_sandbox(feed_max_sockets=2, feed_socket_policy="evict") as server:
        token = server.issue_session().access_token
        feeds = [FeedListener(server, token) for _ in range(3)]
        try:
            assert wait_until(lambda: feeds[0].closed is not None)
            assert (feeds[1].closed, feeds[2].closed, server.feed.connections_for(token)) == (None, None, 2)
        finally:
            for feed in feeds:
                feed.close()
