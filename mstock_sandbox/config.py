"""Sandbox configuration: the simulated account and the server's knobs.

Everything here is plain data. The defaults describe one retail account that can log in
with TOTP (spec 3.3) or with a fixed OTP (spec 3.2), holds a few delivery shares and
has enough cash to trade a little of everything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class SandboxAccount:
    """The one client the sandbox knows. Secrets are kept out of ``repr``."""

    client_code: str = "MA6800001"
    password: str = field(default="sandbox-pass", repr=False)
    # Shaped like a real Type B key (base64-ish text ending in "@", spec 12).
    api_key: str = field(default="sandbox-api-key-Zk3x@", repr=False)
    # Base32 (A-Z, 2-7), 32 characters, like the secret the mStock portal shows (spec 3.4).
    totp_secret: str = field(default="MSTOCKSANDBOXTOTPSECRETAB2345672", repr=False)
    client_name: str = "SANDBOX TRADER"
    # The SMS/e-mail OTP of the session/token path (spec 3.2); None disables that path.
    otp: str | None = field(default="123456", repr=False)
    opening_balance: float = 1_000_000.0
    # Delivery holdings at the start of the day: master trading symbol -> (quantity, average price).
    holdings: Mapping[str, tuple[int, float]] = field(
        default_factory=lambda: {"SBIN-EQ": (40, 612.5), "IDEA-EQ": (500, 9.85), "WIPRO-EQ": (25, 231.4)}
    )


SANDBOX_ACCOUNT = SandboxAccount()


@dataclass
class SandboxConfig:
    """How to run one sandbox.

    ``port=0`` picks a free port. The server always binds to a loopback address.
    ``clock`` returns the current time (aware, or naive meaning IST); it drives session
    expiry, order timestamps and which day is "today" for candles. TOTP codes are always
    checked against the real wall clock, because the client computes them from it.
    """

    host: str = "127.0.0.1"
    port: int = 0
    feed_port: int = 0
    account: SandboxAccount = field(default_factory=lambda: SANDBOX_ACCOUNT)
    master_size: int = 4000
    master_seed: int = 7
    # Rows to serve instead of generating a master (tests with a tailored instrument set).
    master_rows: Sequence[Mapping[str, str]] | None = None
    clock: Callable[[], datetime] | None = None
    # Every calendar day has a session and, outside 09:15-15:30, "today" shows the whole
    # session: the demo works at night and on weekends. False = Mon-Fri, real hours only.
    always_open: bool = True
    enforce_rate_limits: bool = True
    # Data API: 1 request/s documented; a client pacing at exactly 1/s must not be refused
    # because of scheduling jitter, so the sandbox counts a second as this many seconds.
    data_api_window: float = 0.95
    # Largest number of tokens one quote call may ask for (spec 8.1 leaves it [UNKNOWN];
    # OpenAlgo's plugin sends 500 per call and it works for them).
    quote_token_cap: int = 500
    # Bars per historical call (spec 8.2, Type A's documented limit). Longer ranges are
    # truncated to the first (oldest) bars and the message says so.
    history_bar_limit: int = 1000
    # Access tokens die at IST midnight and at most this many hours after login (spec 2.2).
    session_max_hours: float | None = 12.0
    # Lifetime of the request token (UUID) between connect/login and the second step.
    request_token_seconds: float = 300.0
    # Failed password attempts before the account is locked (spec 2.2: "9 attempts remaining").
    login_attempts: int = 10
    log_file: Path | str | None = None
    log_to_memory: int = 5000
    start_feed: bool = True
    # Random-walk seed for tick() and depth; fixed so runs are repeatable.
    market_seed: int = 11
    # Extra latency on every request, seconds (the demo may want a realistic feel).
    base_latency: float = 0.0
