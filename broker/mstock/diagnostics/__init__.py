"""``mstock-openalgo doctor``: know before the first live order.

* :mod:`.checks`: quick checks (configuration, clock, hosts and TLS, API key and IP, saved
  session, symbol table, OpenAlgo checkout), each ok / warn / fail with its fix, in a few
  seconds;
* :mod:`.rest_probes` and :mod:`.feed_probes` (``--live``): read-only probes of every
  point mStock's documentation leaves open, each confirmed, contradicted (with the value
  seen and the constant to change) or not testable now;
* :mod:`.report`: the result as text, Markdown and JSON, with redacted raw samples
  (:mod:`.samples`) named like test fixtures.

The doctor never places, modifies or cancels an order and never logs in on its own
(``--login`` asks it to, through the CLI's normal login); every request goes through a
client that refuses anything but reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from .. import clock, host
from ..clock import IST, today_ist
from ..errors import AuthError, MStockError
from .checks import run_checks
from .context import Context
from .feed_probes import run_feed_probes
from .openalgo import PLUGIN_DIR, file_hashes, fingerprint, plugin_version
from .report import LIVE_PROBES, UNTESTABLE, Report
from .rest_probes import (
    RestView,
    choose_instruments,
    probe_bse_indices,
    probe_full_layout,
    probe_history_limit,
    probe_hourly_labels,
    probe_more_indices,
    probe_nse_indices,
    probe_order_book,
    probe_rate_limit,
    probe_token_cap,
)

__all__ = ["LIVE_PROBES", "run_doctor", "Report"]

T = TypeVar("T")


def run_doctor(
    *,
    live: bool = False,
    env_file: Path | None = None,
    env_file_given: bool = False,
    openalgo: Path | None = None,
    openalgo_given: bool = False,
    feed_seconds: float = 5.0,
    feed_min_seconds: float = 1.0,
    probe_rate_limit: bool = False,
    now: Callable[[], datetime] | None = None,
    wall: Callable[[], float] | None = None,
) -> Report:
    """Run the quick checks (and, with ``live``, the probes) and return the report.

    ``now`` (market time) and ``wall`` (Unix seconds, for the clock-skew check) default to
    this machine's clock, looked up at call time.
    """
    now = now or clock.now_ist
    wall = wall or time.time
    started = time.monotonic()
    report = Report(
        tool_version=plugin_version(),
        plugin_fingerprint=fingerprint(file_hashes(PLUGIN_DIR)),
        started_at=now().astimezone(IST),
        live=live,
    )
    ctx = Context.load(
        report,
        env_file=env_file,
        env_file_given=env_file_given,
        openalgo=openalgo,
        openalgo_given=openalgo_given,
        now=now,
        wall=wall,
        feed_seconds=feed_seconds,
        feed_min_seconds=feed_min_seconds,
        probe_rate_limit=probe_rate_limit,
    )
    if ctx.settings is not None:
        report.server = {"REST": ctx.settings.base_url, "feed": ctx.settings.ws_url}
    run_checks(ctx)
    if live:
        run_live(ctx)
    report.duration_seconds = time.monotonic() - started
    return report


def run_live(ctx: Context) -> None:
    """Every live probe, in order; one that mStock does not answer is "not testable"."""
    if ctx.settings is None or ctx.access_token is None:
        _remaining_untestable(ctx, "no working session: run mstock-openalgo login (or pass --login)")
        return
    lookup = host.symbols()
    picks = choose_instruments(lookup, today_ist(ctx.now()))
    equity = picks.equity
    if equity is None:
        _remaining_untestable(ctx, "no NSE equity in the symbol table: run mstock-openalgo contract download")
        return
    client = ctx.client(ctx.access_token)
    try:
        rest = _guarded(ctx, ("quote_full_layout",), lambda: probe_full_layout(ctx, client, picks)) or RestView()
        _guarded(ctx, ("quote_token_cap",), lambda: probe_token_cap(ctx, client, picks))
        _guarded(ctx, ("index_tokens_nse",), lambda: probe_nse_indices(ctx, client))
        _guarded(ctx, ("index_tokens_more",), lambda: probe_more_indices(ctx, client, lookup))
        _guarded(ctx, ("index_tokens_bse",), lambda: probe_bse_indices(ctx, client, lookup))
        _guarded(ctx, ("history_bar_limit", "history_over_limit"), lambda: probe_history_limit(ctx, client, equity))
        _guarded(ctx, ("hourly_labels",), lambda: probe_hourly_labels(ctx, client, equity))
        _guarded(ctx, ("ordertag_echo", "order_statuses"), lambda: probe_order_book(ctx, client))
        run_feed_probes(ctx, picks, rest)
        _guarded(ctx, ("rate_limit_shape",), lambda: probe_rate_limit(ctx, equity))
    except AuthError as exc:
        _remaining_untestable(ctx, f"mStock refused the session or the key: {exc}")
    finally:
        client.close()
    _remaining_untestable(ctx, "not reached")
    order = {finding_id: i for i, finding_id in enumerate(LIVE_PROBES)}
    ctx.report.probes.sort(key=lambda f: order.get(f.id, len(order)))


def _guarded(ctx: Context, ids: tuple[str, ...], probe: Callable[[], T]) -> T | None:
    """Run one probe; mStock failing to answer it (not a refused session) makes its findings untestable."""
    try:
        return probe()
    except AuthError:
        raise
    except MStockError as exc:
        for finding_id in ids:
            if ctx.report.finding(finding_id) is None:
                ctx.probe(finding_id, UNTESTABLE, f"mStock did not answer the probe: {exc}")
        return None


def _remaining_untestable(ctx: Context, reason: str) -> None:
    for finding_id in LIVE_PROBES:
        if ctx.report.finding(finding_id) is None:
            ctx.probe(finding_id, UNTESTABLE, reason)
