"""Live progress of a demo run in the terminal (rich), or plain lines when the
output is not a terminal (CI, pipes) — one line per analysis run, not a wall of logs."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from understudy_operator.core import format_estimate
from understudy_operator.core import format_number as fmt

# By verdict, lower-cased (the status says "Pass", "NotYet"): green settled good, red
# settled bad, blue "not yet" (evidence, but not enough), yellow no evidence.
VERDICT_STYLE = {"pass": "green", "fail": "bold red", "notyet": "blue", "inconclusive": "yellow"}


def _style(verdict: object) -> str:
    return VERDICT_STYLE.get(str(verdict or "").lower(), "")


def _estimate(check: dict[str, Any]) -> str:
    return format_estimate(check.get("value"), check.get("lower"), check.get("upper"))


@dataclass
class View:
    """What the screen shows; the controller updates it, the display renders it."""

    title: str
    phase: str = "Starting"
    elapsed: float = 0.0
    stable: str = "—"
    candidate: str = "—"
    traffic: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    # The label feed's counts (label_counts) and the realized-error line
    # (realized.describe); empty when the demo sends no labels.
    labels: dict[str, Any] = field(default_factory=dict)
    realized: str = ""


def label_counts(stats: Any) -> dict[str, Any]:
    """What the screen shows of a LabelStats: sent, applied, and every bad answer."""
    counts: dict[str, Any] = {"sent": stats.sent, "applied": stats.applied}
    for outcome, n in sorted(stats.outcomes.items()):
        if outcome != "applied":
            counts[outcome] = n
    for reason, n in sorted(stats.failed.items()):
        counts[f"failed {reason}"] = n
    if stats.retried:
        counts["retried"] = stats.retried
    return counts


def render(view: View, max_runs: int = 8) -> Group:
    """The screen: a header panel, the runs × checks table, the message (also used by
    `kubectl understudy get`)."""
    header = Table.grid(padding=(0, 2))
    header.add_row(
        Text(view.phase, style="bold cyan"),
        f"stable {view.stable}",
        f"candidate {view.candidate}",
        f"{view.elapsed:5.1f}s",
        "traffic " + " ".join(f"{k}={fmt(v)}" for k, v in view.traffic.items()),
    )
    counters = " ".join(f"{k}={fmt(v)}" for k, v in view.counters.items())
    if view.labels:
        counters += "\nlabels " + " ".join(f"{k}={fmt(v)}" for k, v in view.labels.items())
    if view.realized:
        counters += "\n" + view.realized
    runs = Table(title="analysis runs", expand=True)
    runs.add_column("#", justify="right")
    runs.add_column("verdict")
    checks: list[str] = []
    thresholds: dict[str, str] = {}
    for run in view.runs:
        for check in run.get("checks", []):
            if check["name"] not in checks:
                checks.append(check["name"])
            thresholds[check["name"]] = str(check.get("threshold") or "")
    for name in checks:
        # the threshold under the name: what each value is judged against
        runs.add_column(f"{name}\n{thresholds[name]}".rstrip())
    for run in view.runs[-max_runs:]:
        by_name = {c["name"]: c for c in run.get("checks", [])}
        cells = []
        for name in checks:
            check = by_name.get(name)
            if check is None:
                cells.append(Text("—"))
            else:
                cells.append(Text(_estimate(check), style=_style(check.get("verdict"))))
        runs.add_row(
            str(run["number"]),
            Text(run["verdict"], style=_style(run["verdict"])),
            *cells,
        )
    return Group(
        Panel(Group(header, Text(counters)), title=view.title),
        runs,
        Text(view.message, style="bold"),
    )


class Display:
    def __init__(
        self, view: View, *, stream: TextIO | None = None, interactive: bool | None = None
    ) -> None:
        self.view = view
        self.stream = stream or sys.stdout
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._live: Live | None = None
        self._printed_runs = 0
        self._last_phase = ""
        self._last_realized = ""

    def __enter__(self) -> Display:
        if self.interactive:
            self._live = Live(
                render(self.view),
                console=Console(file=self.stream),
                refresh_per_second=4,
                transient=False,
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(render(self.view))
            self._live.__exit__(None, None, None)

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(render(self.view))
            return
        # Runs first: a phase change (Promoting, RolledBack) is the consequence of the run
        # that came with it, so it reads after that run.
        new_runs = self.view.runs[self._printed_runs :]
        for run in new_runs:
            checks = ", ".join(
                f"{c['name']}={_estimate(c)} {c.get('verdict')}" for c in run.get("checks", [])
            )
            self._line(
                f"run {run['number']} {run['verdict']} samples={fmt(run.get('samples'))}: {checks}"
            )
        if new_runs and self.view.realized and self.view.realized != self._last_realized:
            labels = " ".join(f"{k}={fmt(v)}" for k, v in self.view.labels.items())
            self._line(f"{self.view.realized} (labels {labels})")
            self._last_realized = self.view.realized
        self._printed_runs = len(self.view.runs)
        if self.view.phase != self._last_phase:
            self._line(f"phase {self.view.phase}: {self.view.message}")
            self._last_phase = self.view.phase

    def note(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(text)
        else:
            self._line(text)

    def _line(self, text: str) -> None:
        print(f"[{self.view.elapsed:6.1f}s] {text}", file=self.stream, flush=True)


def summary_lines(rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)
