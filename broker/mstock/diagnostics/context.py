"""What one doctor run knows and shares: configuration, clocks, the session, the report.

Two clocks, injectable for tests: ``wall`` (Unix seconds, for the clock-skew check
against mStock's ``Date`` header) and ``now`` (an aware datetime, for "is the market
open", "which day was the last session" and feed packet times). Both default to this
machine's clock.

Every request goes through :class:`ReadOnlyClient`, which refuses any route that could
create or change an order or a session: the doctor only ever reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import config
from ..clock import now_ist
from ..errors import ConfigError
from ..transport.client import MStockClient, Timeouts
from ..transport.probe import observing_client
from ..transport.ratelimit import RateLimiter
from ..transport.routes import route as lookup_route
from .report import LIVE_PROBES, Finding, Report, Sample
from .samples import Recorder, Redactor, sanitize

# Short, so that the quick checks finish within seconds even when a host does not answer.
QUICK_TIMEOUTS = Timeouts(connect=3.0, trading=3.0, data=3.0, master=3.0)
LIVE_TIMEOUTS = Timeouts(connect=3.05, trading=7.0, data=15.0, master=15.0)


class ReadOnlyClient:
    """An :class:`MStockClient` that refuses writes and session routes before sending."""

    def __init__(self, client: MStockClient) -> None:
        self._client = client

    def call(self, route_name: str, **kwargs: Any) -> Any:
        r = lookup_route(route_name)
        if r.is_write or route_name.startswith("auth."):
            raise AssertionError(f"the doctor never calls {route_name}")  # a bug, not a user error
        return self._client.call(route_name, **kwargs)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"<ReadOnlyClient {self._client!r}>"


@dataclass
class Context:
    """One doctor run. ``settings`` is None when the configuration cannot be read at all."""

    report: Report
    settings: config.Settings | None
    settings_error: str | None = None
    env_file: Path | None = None
    env_file_given: bool = False
    openalgo: Path | None = None
    openalgo_given: bool = False
    now: Callable[[], datetime] = now_ist
    wall: Callable[[], float] = time.time
    feed_seconds: float = 5.0  # longest wait for a packet of every instrument
    feed_min_seconds: float = 1.0  # shortest listening, for order updates
    probe_rate_limit: bool = False
    recorder: Recorder = field(default_factory=Recorder)
    redactor: Redactor = field(default_factory=Redactor)
    access_token: str | None = None
    session_note: str = ""
    # The token cap the quote probe found, when smaller than the plugin's: later probes use it.
    quote_cap: int | None = None

    @classmethod
    def load(cls, report: Report, **options: Any) -> Context:
        try:
            settings, error = config.settings(), None
        except ConfigError as exc:
            settings, error = None, str(exc)
        ctx = cls(report=report, settings=settings, settings_error=error, **options)
        ctx.redactor = Redactor(settings.client_code if settings else None)
        return ctx

    def client(
        self, access_token: str | None, *, quick: bool = False, limiter: RateLimiter | None = None
    ) -> ReadOnlyClient:
        """A recorded read-only client; ``quick``: short timeouts and no retry. ``limiter``
        replaces the shared one (only the opt-in rate-limit probe goes past it, unretried)."""
        if self.settings is None:
            raise ConfigError(self.settings_error or "configuration unreadable")
        return ReadOnlyClient(
            observing_client(
                access_token,
                api_key=self.settings.api_key,
                base_url=self.settings.base_url,
                on_exchange=self.recorder,
                wall=self.wall,
                timeouts=QUICK_TIMEOUTS if quick else LIVE_TIMEOUTS,
                max_attempts=1 if quick or limiter is not None else 2,
                limiter=limiter,
            )
        )

    def probe(
        self,
        finding_id: str,
        status: str,
        detail: str,
        *,
        assumption: str = "",
        change: str = "",
        fix: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        """Add a live probe's finding, under the title the report lists for ``finding_id``."""
        self.report.add(
            Finding(
                finding_id,
                LIVE_PROBES[finding_id],
                status,
                detail,
                fix=fix,
                assumption=assumption,
                change=change,
                data=data or {},
            )
        )

    def sample(self, route: str, case: str, *, exchange: Any = None) -> None:
        """Put the last answer of ``route`` (or ``exchange``) in the report, redacted."""
        seen = exchange if exchange is not None else self.recorder.last(route)
        if seen is None or not seen.body:
            return
        body, note = sanitize(seen.body, self.redactor)
        self.report.add_sample(Sample(route=seen.route, case=case, http_status=seen.http_status, body=body, note=note))
