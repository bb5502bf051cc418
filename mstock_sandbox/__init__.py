"""The embedded mStock Type B sandbox: a local, stateful stand-in for ``api.mstock.trade``.

It behaves like mStock as ``mstock-typeb-api.md`` describes it, quirks included (mixed
envelope styles, list-wrapped place responses, leading spaces in modified order ids,
ProblemDetails, RMS and exchange rejections, rate limits), so the client is proven
against them. It is the demo's default broker and the real server of the end-to-end
tests, which reach it over loopback::

    server = SandboxServer(SandboxConfig(port=0)).start()
    server.base_url      # "http://127.0.0.1:<port>"  -> MSTOCK_BASE_URL
    server.ws_url        # "ws://127.0.0.1:<port2>"   -> MSTOCK_WS_URL (None without the feed)
    server.state         # market, OMS, portfolio, sessions
    server.faults.inject("orders.place", "drop_response")
    server.session_log() # what happened, one readable line per request
    server.stop()

``mstock-openalgo sandbox`` / ``python -m mstock_sandbox`` run it from the command line.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

from .config import SANDBOX_ACCOUNT, SandboxAccount, SandboxConfig
from .faults import FaultInjector
from .log import SessionLog
from .server import ENDPOINTS, Dispatcher, UpdateRelay, _HTTPServer, check_loopback
from .sessions import Session
from .state import SandboxState

__all__ = ["SANDBOX_ACCOUNT", "SandboxAccount", "SandboxConfig", "SandboxServer", "ROUTE_NAMES"]

ROUTE_NAMES: tuple[str, ...] = tuple(e.name for e in ENDPOINTS)


class SandboxServer:
    """A running sandbox: HTTP API on one port, binary feed (if available) on another."""

    def __init__(self, config: SandboxConfig | None = None, *, feed_options: dict[str, Any] | None = None) -> None:
        self.config = config or SandboxConfig()
        check_loopback(self.config.host)
        self._feed_options = feed_options or {}
        self.state: SandboxState | None = None
        self.faults = FaultInjector(ROUTE_NAMES)
        self.log = SessionLog(self.config.log_file, keep=self.config.log_to_memory)
        self.base_url: str | None = None
        self.ws_url: str | None = None
        self.feed: Any = None
        self._http: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._relay: UpdateRelay | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SandboxServer:
        if self._http is not None:
            return self
        self.state = SandboxState(self.config)
        dispatcher = Dispatcher(self.state, self.faults, self.log, self.config)
        self._http = _HTTPServer((self.config.host, self.config.port), dispatcher)
        host, port = self._http.server_address[:2]
        self.base_url = f"http://{self._host_for_url(host)}:{port}"
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sandbox-http", daemon=True)
        self._thread.start()
        if self.config.start_feed and importlib.util.find_spec("mstock_sandbox.feed") is not None:
            self._start_feed()
        self.log.note(self.state.clock(), f"sandbox up at {self.base_url} ({len(self.state.book)} instruments)"
                      + (f", feed at {self.ws_url}" if self.ws_url else ""))
        return self

    def _start_feed(self) -> None:
        from .feed import FeedServer

        assert self.state is not None
        self.feed = FeedServer(
            self.state.market, host=self.config.host, port=self.config.feed_port,
            check_credentials=self.state.check_feed_credentials, **self._feed_options,
        ).start()
        self.ws_url = self.feed.url
        self._relay = UpdateRelay(self.feed.broadcast_text)
        self.state.add_order_update_listener(self._relay)

    @staticmethod
    def _host_for_url(host: str) -> str:
        return f"[{host}]" if ":" in host else host

    def stop(self) -> None:
        if self.feed is not None:
            self.feed.stop()
            self.feed = None
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers

    def _running_state(self) -> SandboxState:
        if self.state is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        return self.state

    def reset(self) -> None:
        """Start-of-day state: no sessions, orders, positions, faults or rate-limit history."""
        state = self._running_state()
        self.faults.clear()
        state.reset()
        self.log.note(state.clock(), "state reset")

    def issue_session(self) -> Session:
        """A logged-in session without the login calls (for tests that are not about login)."""
        return self._running_state().sessions.issue_session()

    def set_rate_limits(self, enabled: bool) -> None:
        self._running_state().rate_limits.enabled = enabled

    def session_log(self) -> list[str]:
        return self.log.lines()

    @property
    def account(self) -> SandboxAccount:
        return self.config.account

    def env(self) -> dict[str, str]:
        """The ``.env`` values that point the plugin at this sandbox and its account."""
        account = self.config.account
        values = {
            "MSTOCK_BASE_URL": self.base_url or "",
            "BROKER_API_KEY": account.client_code,
            "BROKER_API_SECRET": account.api_key,
            "MSTOCK_PASSWORD": account.password,
            "MSTOCK_TOTP_SECRET": account.totp_secret,
        }
        if self.ws_url:
            values["MSTOCK_WS_URL"] = self.ws_url
        return values
