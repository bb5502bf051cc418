"""The doctor's report: findings, raw samples, and how they are shown.

Two kinds of finding:

* a **check** (configuration, clock, connectivity, session, symbol table, OpenAlgo
  checkout) is ``ok``, ``warn`` or ``fail`` and says how to fix what is wrong;
* a **probe** of an assumption the plugin makes where mStock's documentation is silent is
  ``confirmed``, ``contradicted`` (with what was observed and the one constant or table
  entry to change) or ``not testable`` now (and why).

One :class:`Report` renders as text for a terminal (80 columns), Markdown for people and
JSON for tools. Nothing in it is a secret: samples are redacted before they get here and
every text passes through the plugin's redactor once more on the way out.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ..redact import redact

OK, WARN, FAIL = "ok", "warn", "fail"
CONFIRMED, CONTRADICTED, UNTESTABLE = "confirmed", "contradicted", "not testable"
CHECK_STATUSES = (OK, WARN, FAIL)
PROBE_STATUSES = (CONFIRMED, CONTRADICTED, UNTESTABLE)

_LABEL = {
    OK: "ok",
    WARN: "WARN",
    FAIL: "FAIL",
    CONFIRMED: "confirmed",
    CONTRADICTED: "CONTRADICTED",
    UNTESTABLE: "not testable",
}
WIDTH = 80

# Every live probe (id -> title), in report order; a probe that cannot run still gets a line.
LIVE_PROBES: dict[str, str] = {
    "quote_full_layout": "quote FULL layout",
    "quote_token_cap": "quote token cap",
    "index_tokens_nse": "NSE index tokens",
    "index_tokens_more": "more NSE indices",
    "index_tokens_bse": "BSE index tokens",
    "history_bar_limit": "history bar limit",
    "history_over_limit": "history over limit",
    "hourly_labels": "hourly labels",
    "ordertag_echo": "ordertag echo",
    "order_statuses": "order statuses",
    "feed_framing": "feed framing",
    "price_divisor_nse": "divisor NSE cash",
    "price_divisor_nfo": "divisor NSE F&O",
    "price_divisor_bse": "divisor BSE cash",
    "price_divisor_bfo": "divisor BSE F&O",
    "price_divisor_cds": "divisor NSE currency",
    "feed_epoch": "feed epoch zone",
    "depth_order": "depth order",
    "depth_side_flag": "depth side flag",
    "order_updates": "order updates",
    "feed_sockets": "second feed socket",
    "order_updates_unsubscribed": "unsubscribed updates",
    "rate_limit_shape": "rate-limit answer",
}


@dataclass
class Finding:
    """One line of the report.

    ``id`` is stable (tests and tools key on it); ``detail`` says what was seen;
    ``fix`` (checks) what to do; ``change`` (contradicted probes) the constant or table
    entry to change, by module and name, or how the plugin already follows it at run time.
    ``data`` holds the observed values for tools.
    """

    id: str
    title: str
    status: str
    detail: str
    fix: str = ""
    assumption: str = ""
    change: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def is_check(self) -> bool:
        return self.status in CHECK_STATUSES


@dataclass
class Sample:
    """A raw mStock answer, redacted, named like a test fixture (``<route>__<case>``)."""

    route: str
    case: str
    http_status: int
    body: Any
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.route}__{self.case}"


@dataclass
class Report:
    tool_version: str
    plugin_fingerprint: str
    started_at: datetime
    live: bool
    server: dict[str, str] = field(default_factory=dict)
    checks: list[Finding] = field(default_factory=list)
    probes: list[Finding] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    feed_frames: list[str] = field(default_factory=list)  # a few raw binary frames, hex
    duration_seconds: float = 0.0

    # ------------------------------------------------------------------ building

    def add(self, finding: Finding) -> Finding:
        (self.checks if finding.is_check else self.probes).append(finding)
        return finding

    def add_sample(self, sample: Sample) -> None:
        names = {s.name for s in self.samples}
        if sample.name not in names:
            self.samples.append(sample)

    def finding(self, finding_id: str) -> Finding | None:
        return next((f for f in (*self.checks, *self.probes) if f.id == finding_id), None)

    # ------------------------------------------------------------------ verdicts

    def counts(self) -> dict[str, int]:
        counted = Counter(f.status for f in (*self.checks, *self.probes))
        return {status: counted.get(status, 0) for status in (*CHECK_STATUSES, *PROBE_STATUSES)}

    @property
    def failed(self) -> bool:
        return any(f.status in (FAIL, CONTRADICTED) for f in (*self.checks, *self.probes))

    def contradicted(self) -> list[str]:
        return [f.id for f in self.probes if f.status == CONTRADICTED]

    def summary_line(self) -> str:
        c = self.counts()
        line = f"{c[OK]} ok, {c[WARN]} warn, {c[FAIL]} fail"
        if self.live:
            line += f"; {c[CONFIRMED]} confirmed, {c[CONTRADICTED]} contradicted, {c[UNTESTABLE]} not testable"
        return line

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": "mstock-openalgo doctor",
            "version": self.tool_version,
            "plugin_fingerprint": self.plugin_fingerprint,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "duration_seconds": round(self.duration_seconds, 2),
            "live": self.live,
            "server": dict(self.server),
            "summary": self.counts(),
            "checks": [asdict(f) for f in self.checks],
            "probes": [asdict(f) for f in self.probes],
            "samples": [{"name": s.name, **asdict(s)} for s in self.samples],
            "feed_frames_hex": list(self.feed_frames),
        }

    def to_json(self) -> str:
        return redact(json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str))

    # ------------------------------------------------------------------ text (terminal)

    def to_text(self, width: int = WIDTH, paint: Callable[[str, str | None], str] | None = None) -> str:
        """For a terminal ``width`` columns wide; ``paint(text, style)`` colours the verdicts."""
        lines = [f"mstock-openalgo doctor {self.tool_version}  {self.started_at:%Y-%m-%d %H:%M:%S %Z}"]
        for key, value in self.server.items():
            lines.append(f"  {key}: {value}")
        lines.append("")
        lines.append("Checks")
        lines.extend(_text_rows(self.checks, width, label_width=6, paint=paint))
        if self.live:
            lines.append("")
            lines.append("Live probes (read-only)")
            lines.extend(_text_rows(self.probes, width, label_width=14, paint=paint))
        lines.append("")
        lines.append(f"{self.summary_line()} ({self.duration_seconds:.1f} s)")
        return redact("\n".join(lines))

    # ------------------------------------------------------------------ Markdown (people)

    def to_markdown(self) -> str:
        out = [
            "# mstock-openalgo doctor report",
            "",
            f"- version: {self.tool_version} (plugin fingerprint `{self.plugin_fingerprint}`)",
            f"- run: {self.started_at:%Y-%m-%d %H:%M:%S %Z}, {self.duration_seconds:.1f} s"
            + (", quick checks and live probes" if self.live else ", quick checks"),
        ]
        out += [f"- {key}: {value}" for key, value in self.server.items()]
        out += [
            "",
            f"**{self.summary_line()}**",
            "",
            "## Checks",
            "",
            "| result | check | detail | fix |",
            "|---|---|---|---|",
        ]
        out += [f"| {_LABEL[f.status]} | {_md(f.title)} | {_md(f.detail)} | {_md(f.fix)} |" for f in self.checks]
        if self.live:
            out += [
                "",
                "## Live probes of undocumented behaviour",
                "",
                "| result | assumption | observed | change |",
                "|---|---|---|---|",
            ]
            out += [
                f"| {_LABEL[f.status]} | **{_md(f.title)}**: {_md(f.assumption)} | {_md(f.detail)} | {_md(f.change)} |"
                for f in self.probes
            ]
        if self.samples:
            out += [
                "",
                "## Raw samples (redacted)",
                "",
                "Each can be saved as `tests/fixtures/<name>.json` (the JSON report holds the bodies).",
                "",
            ]
            out += [f"- `{s.name}` (HTTP {s.http_status}){': ' + _md(s.note) if s.note else ''}" for s in self.samples]
        if self.feed_frames:
            out += ["", "## Feed frames (hex, first bytes)", ""]
            out += [f"- `{frame}`" for frame in self.feed_frames]
        return redact("\n".join(out) + "\n")


def _md(text: str) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


_STYLE = {OK: "green", CONFIRMED: "green", WARN: "yellow", FAIL: "red", CONTRADICTED: "red", UNTESTABLE: "dim"}


def _text_rows(
    findings: list[Finding], width: int, *, label_width: int, paint: Callable[[str, str | None], str] | None = None
) -> list[str]:
    lines: list[str] = []
    title_width = max([len(f.title) for f in findings] + [10])
    title_width = min(title_width, 22)
    indent = " " * (2 + label_width + 1 + title_width + 1)
    for f in findings:
        head = f"  {_LABEL[f.status]:<{label_width}} {f.title:<{title_width}} "
        wrapped = textwrap.wrap(f.detail, width, initial_indent=head, subsequent_indent=indent) or [head.rstrip()]
        if paint is not None:  # colour the verdict only, after the layout is fixed
            label = _LABEL[f.status]
            wrapped[0] = "  " + paint(label, _STYLE[f.status]) + wrapped[0][2 + len(label) :]
        lines.extend(wrapped)
        extra = f.fix if f.status in (WARN, FAIL) else (f.change if f.status == CONTRADICTED else "")
        if extra:
            prefix = "fix: " if f.is_check else "change: "
            lines.extend(textwrap.wrap(prefix + extra, width, initial_indent=indent, subsequent_indent=indent + "  "))
    return lines
