"""Proxy and CA-bundle variables: read once when a client's session is made, with requests' rules.

The loopback "proxy" below is a plain HTTP server: a client that uses it sends the
absolute URL as the request target, which is how the test tells a proxied request from a
direct one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from broker.mstock.transport.client import MStockClient

from ..helpers import ACCESS_TOKEN, API_KEY

ORDERS_OK = json.dumps({"status": "true", "message": "SUCCESS", "data": [], "errorcode": ""}).encode()


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ORDERS_OK)))
        self.end_headers()
        self.wfile.write(ORDERS_OK)

    def log_message(self, *args) -> None:
        pass


def _serve() -> tuple[ThreadingHTTPServer, list[str]]:
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # A short poll: shutdown() waits for the loop to notice (0.5 s per server by default).
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, seen


@pytest.fixture
def loopback() -> Iterator[tuple[str, list[str], str, list[str]]]:
    """(mStock URL, requests it saw, proxy URL, requests the proxy saw)."""
    api, api_seen = _serve()
    proxy, proxy_seen = _serve()
    try:
        yield (f"http://127.0.0.1:{api.server_address[1]}", api_seen, f"http://127.0.0.1:{proxy.server_address[1]}",
               proxy_seen)
    finally:
        for server in (api, proxy):
            server.shutdown()
            server.server_close()


def test_https_proxy_is_read_when_the_session_is_made(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    client = MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url="https://api.mstock.trade")
    assert client._session.trust_env is False
    assert client._session.proxies["https"] == "http://proxy.example:3128"


def test_no_proxy_naming_the_host_means_direct(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.mstock.trade")
    client = MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url="https://api.mstock.trade")
    assert "https" not in client._session.proxies


def test_the_proxy_carries_the_requests_even_after_the_variable_is_gone(loopback, monkeypatch):
    api_url, api_seen, proxy_url, proxy_seen = loopback
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    client = MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url=api_url)
    monkeypatch.delenv("HTTP_PROXY")
    assert client.call("orders.list") == []
    assert client.call("orders.list") == []
    assert proxy_seen == [f"{api_url}/openapi/typeb/orders"] * 2
    assert api_seen == []


def test_no_proxy_for_loopback_goes_direct(loopback, monkeypatch):
    api_url, api_seen, proxy_url, proxy_seen = loopback
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url=api_url)
    assert client.call("orders.list") == []
    assert api_seen == ["/openapi/typeb/orders"]
    assert proxy_seen == []


def test_a_ca_bundle_from_the_environment_is_used_and_still_verifies(monkeypatch, tmp_path):
    bundle = tmp_path / "company-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    client = MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url="https://api.mstock.trade")
    assert client._session.verify == str(bundle)


def test_without_a_ca_bundle_the_system_store_verifies():
    client = MStockClient(ACCESS_TOKEN, api_key=API_KEY, base_url="https://api.mstock.trade")
    assert client._session.verify is True


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_that_does_not_exist_is_a_clear_configuration_error(monkeypatch, tmp_path, mock_api, variable):
    # requests would raise a bare OSError on every call, past the faces' error shapes.
    from broker.mstock.api import order_api

    missing = tmp_path / "no-such-ca.pem"
    monkeypatch.setenv(variable, str(missing))
    body = order_api.get_order_book(ACCESS_TOKEN)
    assert body == {
        "status": "error",
        "message": f"{variable}={missing} names no file or folder: point it at a CA bundle (PEM) or unset it",
    }
    assert len(mock_api.calls) == 0
