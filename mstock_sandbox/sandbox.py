"""The running sandbox: :class:`SandboxServer` starts and stops the HTTP API and the feed together."""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from .config import RejectRule, SandboxAccount, SandboxConfig
from .faults import FaultInjector
from .log import SessionLog
from .orders import Trade
from .server import ENDPOINTS, Dispatcher, PortInUse, UpdateRelay, _HTTPServer, check_loopback, is_port_in_use
from .sessions import Session
from .state import SandboxState

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
        self.dispatcher: Dispatcher | None = None
        self._http: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._relay: UpdateRelay | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SandboxServer:
        """Listen and serve. Raises :class:`PortInUse` (nothing left running) when a port is taken."""
        if self._http is not None:
            return self
        self.state = SandboxState(self.config)
        dispatcher = self.dispatcher = Dispatcher(self.state, self.faults, self.log, self.config)
        try:
            self._http = _HTTPServer((self.config.host, self.config.port), dispatcher)
        except OSError as exc:
            if is_port_in_use(exc):
                raise PortInUse(self.config.port, "HTTP") from None
            raise
        host, port = self._http.server_address[:2]
        self.base_url = f"http://{self._host_for_url(host)}:{port}"
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sandbox-http", daemon=True)
        self._thread.start()
        if self.config.start_feed and importlib.util.find_spec("mstock_sandbox.feed") is not None:
            try:
                self._start_feed()
            except BaseException:
                self.stop()
                raise
        self.log.note(self.state.clock(), f"sandbox up at {self.base_url} ({len(self.state.book)} instruments)"
                      + (f", feed at {self.ws_url}" if self.ws_url else ""))
        return self

    def _start_feed(self) -> None:
        from .feed import EPOCHS, FeedServer, PacketFormat

        assert self.state is not None
        config = self.config
        buy_flag, sell_flag = config.depth_side_flag
        options: dict[str, Any] = {
            "framing": config.feed_framing,
            "packet_format": PacketFormat(
                currency_divisor=config.currency_divisor, epoch=EPOCHS[config.feed_epoch],
                bid_flag=buy_flag, ask_flag=sell_flag, asks_first=config.depth_order == "asks-first",
            ),
            "max_sockets": config.feed_max_sockets,
            "socket_policy": config.feed_socket_policy,
            **self._feed_options,
        }
        feed = FeedServer(
            self.state.market, host=config.host, port=config.feed_port,
            check_credentials=self.state.check_feed_credentials, **options,
        )
        try:
            self.feed = feed.start()
        except OSError as exc:
            if is_port_in_use(exc):
                raise PortInUse(config.feed_port, "feed") from None
            raise
        self.ws_url = self.feed.url
        self._relay = UpdateRelay(self.feed.broadcast_text, config.order_frame_shape)
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

    def expire_sessions(self) -> None:
        """End every session now, as the day's rollover at midnight does."""
        self._running_state().sessions.expire()

    def fill(self, orderid: str, quantity: int | None = None, price: float | None = None) -> Trade:
        """Fill an open order (``quantity`` of it: a partial fill) at ``price`` (default: its
        limit price, or the LTP for market-like orders); a waiting stop is triggered first."""
        return self._running_state().oms.fill(orderid, quantity, price)

    def trigger(self, orderid: str) -> None:
        """Trigger a stop order now; it then fills (stop-market) or rests/fills at its limit."""
        self._running_state().oms.trigger(orderid)

    def reject_orders(self, stage: str = "rms", **match: Any) -> RejectRule:
        """Reject the next matching orders at the RMS or the exchange (see :class:`RejectRule`).

        ``match``: ``symbol`` (master name), ``token``, ``side``, ``quantity``, ``price``,
        ``ordertag``; plus ``reason``, ``code`` (RMS) and ``times``. Rules last until :meth:`reset`.
        """
        rule = RejectRule(stage=stage, **match)
        self._running_state().oms.add_reject_rule(rule)
        return rule

    def session_log(self) -> list[str]:
        return self.log.lines()

    @property
    def account(self) -> SandboxAccount:
        return self.config.account

    def env(self, data_dir: Path | str | None = None) -> dict[str, str]:
        """The ``.env`` values that point the plugin at this sandbox and its account.

        With ``data_dir`` (created, mode 0700), also ``DATABASE_URL`` and
        ``MSTOCK_SESSION_FILE`` inside it, so the sandbox's symbol table and session never
        replace a live account's.
        """
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
        if data_dir is not None:
            folder = Path(data_dir).expanduser().resolve()
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if hasattr(os, "chmod") and os.name != "nt":
                os.chmod(folder, 0o700)  # also when it existed: it will hold a session token
            values["DATABASE_URL"] = f"sqlite:///{(folder / 'symbols.db').as_posix()}"
            values["MSTOCK_SESSION_FILE"] = str(folder / "session.json")
        return values
