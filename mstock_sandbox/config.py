"""Sandbox configuration: the simulated account and the server's knobs.

Everything here is plain data. The defaults describe one retail account that can log in
with TOTP (spec 3.3) or with a fixed OTP (spec 3.2), holds a few delivery shares and
has enough cash to trade a little of everything.

Every point mStock's documentation leaves open is a knob of :class:`SandboxConfig` whose
default is what the plugin assumes today, so a test (or ``doctor --live``) can run the
sandbox with exactly one assumption changed.

Field -> command-line flag -> default::

    quote_token_cap        --quote-cap N               500
    quote_full             --quote-full LAYOUT         smartapi (no-depth, ohlc, refuse)
    history_bar_limit      --history-bar-limit N       1000
    history_over_limit     --history-over-limit        truncate (refuse)
    hourly_labels          --hourly-labels             start (end)
    index_spots            --index-set                 confirmed six (extended)
    feed_framing           --feed-framing              header (bare, big-endian)
    currency_divisor       --currency-divisor N        100
    feed_epoch             --feed-epoch                ist (utc)
    depth_side_flag        --depth-side-flag B=buy,S=sell  (1, 0)
    depth_order            --depth-order               bids-first (asks-first)
    order_frame_shape      --order-frames              current (legacy)
    feed_max_sockets       --feed-max-sockets N        None = unlimited
    feed_socket_policy     --feed-socket-policy        refuse (evict)
    ordertag_echo          --no-ordertag-echo          True
    partial_fill_status    --partial-fill-status TEXT  "" = keep the open status
    rate_limit_shape       --rate-limit-shape          http-429 (http-200)
    enforce_rate_limits    --no-rate-limits            True
    strict_rate_limits     --strict-rate-limits        False (data second = 0.95 s)
    arrival_jitter_ms      --arrival-jitter-ms MAX     0
    idle_timeout           --idle-timeout S            None = never close idle connections
    connect_latency_ms     --connect-latency-ms N      0
    reject_rules           (Python only)               ()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType


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



# NSE index spots the sandbox quotes and streams under NSE (they are not in the master).
# The six the plugin ships are confirmed by independent sources; the extended set adds
# more NSE indices, with the exchange's own index numbers, so that a probe has real
# candidates to find. Sandbox-only: mStock has not confirmed the extra tokens.
CONFIRMED_INDEX_SPOTS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "26000": ("NIFTY", "NIFTY 50"),
    "26009": ("BANKNIFTY", "NIFTY BANK"),
    "26037": ("FINNIFTY", "NIFTY FIN SERVICE"),
    "26074": ("MIDCPNIFTY", "NIFTY MID SELECT"),
    "26013": ("NIFTYNXT50", "NIFTY NEXT 50"),
    "26017": ("INDIAVIX", "INDIA VIX"),
})
EXTENDED_INDEX_SPOTS: Mapping[str, tuple[str, str]] = MappingProxyType({
    **CONFIRMED_INDEX_SPOTS,
    "26004": ("NIFTY500", "NIFTY 500"),
    "26008": ("NIFTYIT", "NIFTY IT"),
    "26011": ("NIFTYMIDCAP100", "NIFTY MIDCAP 100"),
    "26012": ("NIFTY100", "NIFTY 100"),
    "26018": ("NIFTYREALTY", "NIFTY REALTY"),
    "26021": ("NIFTYFMCG", "NIFTY FMCG"),
    "26023": ("NIFTYPHARMA", "NIFTY PHARMA"),
    "26025": ("NIFTYPSUBANK", "NIFTY PSU BANK"),
    "26029": ("NIFTYAUTO", "NIFTY AUTO"),
    "26030": ("NIFTYMETAL", "NIFTY METAL"),
    "26047": ("NIFTYPVTBANK", "NIFTY PVT BANK"),
})
INDEX_SETS: Mapping[str, Mapping[str, tuple[str, str]]] = MappingProxyType(
    {"confirmed": CONFIRMED_INDEX_SPOTS, "extended": EXTENDED_INDEX_SPOTS}
)

# The choices of the enumerated knobs below (first = default = what the plugin assumes).
ORDER_FRAME_SHAPES = ("current", "legacy")
FEED_SOCKET_POLICIES = ("refuse", "evict")
QUOTE_FULL_LAYOUTS = ("smartapi", "no-depth", "ohlc", "refuse")
HISTORY_OVER_LIMIT = ("truncate", "refuse")
HOURLY_LABELS = ("start", "end")
FEED_FRAMINGS = ("header", "bare", "big-endian")
FEED_EPOCHS = ("ist", "utc")
DEPTH_ORDERS = ("bids-first", "asks-first")
RATE_LIMIT_SHAPES = ("http-429", "http-200")
REJECT_STAGES = ("rms", "exchange")


@dataclass(frozen=True)
class RejectRule:
    """Reject every order that matches, at the RMS or at the exchange (a test's lever).

    Fields left ``None`` match anything. ``symbol`` is the master trading symbol
    (``SBIN-EQ``); ``price`` is the order's limit price (0 for market orders). ``reason``
    replaces the default text; ``times`` limits how many orders the rule rejects.

    * ``stage="rms"``: the place call answers HTTP 200 ``status:"false"`` with ``code`` and
      the RMS comma list ending in ``reason``; the order shows as Rejected in the book.
    * ``stage="exchange"``: the place call succeeds; the order shows as Rejected in the
      book with ``reason`` as its text (default ``EXCH:16388:...``, invented).
    """

    stage: str = "rms"
    symbol: str | None = None
    token: str | None = None
    side: str | None = None
    quantity: int | None = None
    price: float | None = None
    ordertag: str | None = None
    reason: str | None = None
    code: str = "RS-0018"  # invented: no source shows RMS codes other than funds
    times: int | None = None

    def __post_init__(self) -> None:
        if self.stage not in REJECT_STAGES:
            raise ValueError(f"reject rule stage must be one of {', '.join(REJECT_STAGES)}, not {self.stage!r}")
        if self.times is not None and self.times < 1:
            raise ValueError("reject rule times must be at least 1 (or None for every matching order)")


def parse_depth_side_flag(text: str) -> tuple[int, int]:
    """``"1=buy,0=sell"`` -> ``(1, 0)``: the int16 flags of bid and ask depth entries."""
    flags: dict[str, int] = {}
    for part in str(text).split(","):
        value, sep, side = part.strip().partition("=")
        try:
            number = int(value)
        except ValueError:
            number = None
        if not sep or side.strip().lower() not in ("buy", "sell") or number is None or not -32768 <= number <= 32767:
            raise ValueError(f"depth side flag {text!r}: write it as BUY=buy,SELL=sell with two int16 numbers, e.g. 1=buy,0=sell")
        flags[side.strip().lower()] = number
    if set(flags) != {"buy", "sell"}:
        raise ValueError(f"depth side flag {text!r}: give one number for buy and one for sell, e.g. 1=buy,0=sell")
    return flags["buy"], flags["sell"]


def _choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


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
    # Count every documented window exactly, by arrival (the data second is 1.0 s, not
    # ``data_api_window``), as a strict real server would.
    strict_rate_limits: bool = False
    # Simulated network jitter: each request waits a random 0..N ms (seeded by
    # ``market_seed``) before the server counts and handles it, so requests sent at an
    # exact pace arrive unevenly, and sometimes out of order, as on a real network.
    arrival_jitter_ms: float = 0.0
    # How a rate-limit refusal looks (spec 2.1: the real answer is [UNKNOWN]; both shapes
    # are invented): "http-429" = HTTP 429 + {"status":"false","errorcode":"IA429",...};
    # "http-200" = the same body with HTTP 200.
    rate_limit_shape: str = "http-429"
    # Largest number of tokens one quote call may ask for (spec 8.1 leaves it [UNKNOWN];
    # OpenAlgo's plugin sends 500 per call and it works for them). Over the cap the call
    # is refused with HTTP 400 IA400 "Maximum N tokens are allowed per request." [INVENTED].
    quote_token_cap: int = 500
    # How quote mode FULL answers (spec 8.1 [UNKNOWN]): "smartapi" = OHLC + the
    # SmartAPI-like FULL fields with 5-level depth (see quotes.py); "no-depth" = the same
    # without depth; "ohlc" = FULL accepted but answered like OHLC; "refuse" = FULL
    # refused with HTTP 400 IA400 [INVENTED text], so clients must fall back to OHLC.
    quote_full: str = "smartapi"
    # Bars per historical call (spec 8.2, Type A's documented limit).
    history_bar_limit: int = 1000
    # Beyond the limit (spec 8.2 [UNKNOWN]): "truncate" returns the first (oldest) bars and
    # says so in the message; "refuse" answers HTTP 400 IA400 [INVENTED text].
    history_over_limit: str = "truncate"
    # ONE_HOUR bars cover 09:15-10:15, ..., 15:15-15:30. "start" labels each bar with its
    # first minute (09:15 ... 15:15); "end" with its end (10:15 ... 15:15, 15:30). The
    # published hourly sample's HH:45 labels are [UNKNOWN] (spec 8.2).
    hourly_labels: str = "start"
    # NSE index spots served under NSE (token -> (underlying, display name)); see
    # CONFIRMED_INDEX_SPOTS / EXTENDED_INDEX_SPOTS.
    index_spots: Mapping[str, tuple[str, str]] = field(default_factory=lambda: CONFIRMED_INDEX_SPOTS)
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
    # HTTP keep-alive: close a connection idle for this many seconds and say so in a
    # ``Keep-Alive: timeout=N`` header (None: keep idle connections open, no header).
    idle_timeout: float | None = None
    # Delay the first request of every new TCP connection by this many ms: the TCP + TLS
    # handshake a real network charges (loopback has none). Reused connections pay nothing.
    connect_latency_ms: float = 0.0

    # ---- orders
    # Whether order-book rows and order frames carry ``ordertag`` (spec 4.7 does not show
    # it; order/details always does).
    ordertag_echo: bool = True
    # Status of a partly filled, still working order ([UNKNOWN], spec 16.6). "" keeps its
    # open status (Pending / O-Pending / O-Modified) with ``filledshares`` updated.
    partial_fill_status: str = ""
    # Orders to reject deterministically (see RejectRule); tests may add more at run time.
    reject_rules: Sequence[RejectRule] = ()

    # ---- feed
    # Order and trade text frames (spec 11.4 [CONFLICT]): "current" =
    # {"order_status": "order"|"trade", "orderData": {...}} as today's SDKs read them;
    # "legacy" = {"type": "order"|"trade", "data": {...}} as older clients do.
    order_frame_shape: str = "current"
    # WebSockets per access token (mStock documents no limit): None = unlimited. Over the
    # limit, "refuse" answers the upgrade with HTTP 429; "evict" accepts the new socket
    # and closes the oldest with close code 1008 (both [INVENTED]).
    feed_max_sockets: int | None = None
    feed_socket_policy: str = "refuse"
    # Binary framing (see feed.py): "header" = little-endian uint16 count + uint16 size +
    # packets; "bare" = one packet per frame; "big-endian" = big-endian uint16 count, then
    # a big-endian uint16 length before each packet.
    feed_framing: str = "header"
    # Paise divisor of currency (NSECD, exchangeType 13) prices on the feed; 100 as for
    # every other segment ([UNKNOWN], spec 11.3; Angel's feed uses 10000000).
    currency_divisor: int = 100
    # Zone of the feed's 1980-epoch timestamps ([UNKNOWN], spec 11.3): "ist" or "utc".
    feed_epoch: str = "ist"
    # int16 flags of bid and ask depth entries ([UNKNOWN] "1 buy / 0 sell?", spec 11.3),
    # and which five come first in the packet.
    depth_side_flag: tuple[int, int] = (1, 0)
    depth_order: str = "bids-first"

    def __post_init__(self) -> None:
        _choice("order_frame_shape", self.order_frame_shape, ORDER_FRAME_SHAPES)
        _choice("feed_socket_policy", self.feed_socket_policy, FEED_SOCKET_POLICIES)
        _choice("quote_full", self.quote_full, QUOTE_FULL_LAYOUTS)
        _choice("history_over_limit", self.history_over_limit, HISTORY_OVER_LIMIT)
        _choice("hourly_labels", self.hourly_labels, HOURLY_LABELS)
        _choice("feed_framing", self.feed_framing, FEED_FRAMINGS)
        _choice("feed_epoch", self.feed_epoch, FEED_EPOCHS)
        _choice("depth_order", self.depth_order, DEPTH_ORDERS)
        _choice("rate_limit_shape", self.rate_limit_shape, RATE_LIMIT_SHAPES)
        if self.feed_max_sockets is not None and self.feed_max_sockets < 1:
            raise ValueError("feed_max_sockets must be at least 1 (or None for unlimited)")
        for name in ("quote_token_cap", "history_bar_limit", "currency_divisor"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("arrival_jitter_ms", "connect_latency_ms", "base_latency"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        if self.idle_timeout is not None and self.idle_timeout <= 0:
            raise ValueError("idle_timeout must be positive (or None to keep idle connections open)")
        buy, sell = self.depth_side_flag
        if buy == sell:
            raise ValueError("depth_side_flag needs two different numbers for buy and sell")
        self.reject_rules = tuple(self.reject_rules)

    @property
    def rate_limit_data_window(self) -> float:
        """The data API's one-second window as counted (exactly 1.0 s in strict mode)."""
        return 1.0 if self.strict_rate_limits else self.data_api_window
