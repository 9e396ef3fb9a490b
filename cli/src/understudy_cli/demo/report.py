"""The run report: a Markdown file with the settings, every analysis run's values
and verdicts, the decision, and a PNG plot of live vs candidate predictions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import yaml

from understudy_operator.core import format_estimate
from understudy_operator.core import format_number as fmt

if TYPE_CHECKING:
    from understudy_cli.demo.labels import LabelStats
    from understudy_cli.demo.realized import Realized

matplotlib.use("Agg")  # files only; no display on servers or in CI
import matplotlib.pyplot as plt


@dataclass(frozen=True)
class GroundTruth:
    """The label feed's counts and the router's realized errors at the end of a run."""

    labels: LabelStats
    realized: Realized | None
    delay: float


def ground_truth_lines(gt: GroundTruth) -> list[str]:
    """The report's "Ground truth" section."""
    from understudy_cli.demo.realized import dollars

    s = gt.labels
    lines = ["## Ground truth", ""]
    lines.append(
        f"Each house's true sale price was sent to the router's `POST /v1/feedback` "
        f"{gt.delay:g}s after its answer: {s.queued} houses answered, {s.sent} labels sent "
        f"by the end (retries included; the rest were not due yet), {s.applied} applied."
    )
    bad = {**{k: v for k, v in s.outcomes.items() if k != "applied"}, **s.failed}
    if bad:
        lines.append("Not applied: " + ", ".join(f"{k} {v}" for k, v in sorted(bad.items())) + ".")
    if s.given_up:
        lines.append(f"Given up after the last retry: {s.given_up}.")
    lines.append("")
    realized = gt.realized
    if realized is None or realized.empty:
        lines += ["No labelled records (the router's /metrics had none).", ""]
        return lines
    lines += [
        "Realized error per model, over every labelled record it answered:",
        "",
        "| role | version | labelled records | MAE | RMSE |",
        "|---|---|---|---|---|",
    ]
    for e in realized.by_role:
        lines.append(
            f"| {e.role} | {e.version} | {e.records} | {dollars(e.mae)} | {dollars(e.rmse)} |"
        )
    if realized.paired:
        lines += [
            "",
            "On the same records (both models answered; what `realized-error-ratio` judges):",
            "",
            "| live | candidate | paired records | live MAE | candidate MAE | ratio |",
            "|---|---|---|---|---|---|",
        ]
        for p in realized.paired:
            ratio = f"{p.ratio:.3f}" if p.ratio is not None else "—"
            lines.append(
                f"| {p.live_version} | {p.candidate_version} | {p.records} | "
                f"{dollars(p.live_mae)} | {dollars(p.candidate_mae)} | {ratio} |"
            )
    lines.append("")
    return lines


@dataclass(frozen=True)
class PredictionPair:
    live: float
    candidate: float
    agree: bool


def read_comparison_pairs(log_path: Path, *, dataset: str) -> list[PredictionPair]:
    """Live/candidate pairs from the router's JSON comparison log events."""
    pairs: list[PredictionPair] = []
    if not log_path.exists():
        return pairs
    for line in log_path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("event.dataset") != dataset:
            continue
        live = event.get("understudy.live.predictions") or []
        candidate = event.get("understudy.candidate.predictions") or []
        agree = event.get("understudy.agree") or []
        if not (len(live) == len(candidate) == len(agree)):
            continue  # a failed mirror: nothing to plot
        for lv, cv, ag in zip(live, candidate, agree, strict=False):
            pairs.append(PredictionPair(float(lv), float(cv), bool(ag)))
    return pairs


def plot_pairs(
    pairs: Sequence[PredictionPair],
    *,
    path: Path,
    live_version: str,
    candidate_version: str,
    tolerance_relative: float | None,
    quantity: str = "predicted sale price ($)",
) -> Path | None:
    """Scatter of live vs candidate and both distributions; the tolerance band only for a
    relative tolerance (a classifier agrees on labels, not within a band)."""
    if not pairs:
        return None
    fig, (scatter, hist) = plt.subplots(1, 2, figsize=(12, 5))
    agreed = [p for p in pairs if p.agree]
    disagreed = [p for p in pairs if not p.agree]
    scatter.scatter(
        [p.live for p in agreed],
        [p.candidate for p in agreed],
        s=8,
        alpha=0.5,
        label=f"agree ({len(agreed)})",
        color="tab:blue",
    )
    scatter.scatter(
        [p.live for p in disagreed],
        [p.candidate for p in disagreed],
        s=10,
        alpha=0.7,
        label=f"disagree ({len(disagreed)})",
        color="tab:red",
    )
    values = np.array([v for p in pairs for v in (p.live, p.candidate)])
    # A few extreme predictions (v1 extrapolating on the largest homes) would squash
    # the rest into a corner: the axes stop at the 99th percentile and say so.
    top = float(np.percentile(values, 99)) * 1.1
    beyond = sum(1 for p in pairs if p.live > top or p.candidate > top)
    scatter.plot([0, top], [0, top], color="black", linewidth=1, label="equal")
    if tolerance_relative is not None:
        scatter.fill_between(
            [0, top],
            [0, top * (1 - tolerance_relative)],
            [0, top * (1 + tolerance_relative)],
            color="grey",
            alpha=0.15,
            label=f"±{tolerance_relative:.0%}",
        )
    scatter.set_xlim(0, top)
    scatter.set_ylim(0, top)
    scatter.set_xlabel(f"live {live_version}: {quantity}")
    scatter.set_ylabel(f"candidate {candidate_version}: {quantity}")
    scatter.set_title(
        "Live vs candidate, per mirrored record"
        + (f" ({beyond} beyond the axes)" if beyond else "")
    )
    scatter.legend(loc="upper left")
    bins = np.linspace(float(values.min()), top, 50)
    hist.hist([p.live for p in pairs], bins=bins, alpha=0.5, label=f"live {live_version}")
    hist.hist(
        [p.candidate for p in pairs], bins=bins, alpha=0.5, label=f"candidate {candidate_version}"
    )
    hist.set_xlabel(quantity)
    hist.set_ylabel("records")
    hist.set_title("Prediction distributions (what the KS check compares)")
    hist.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(
    *,
    path: Path,
    title: str,
    settings: dict[str, Any],
    runs: Iterable[dict[str, Any]],
    outcome: str,
    message: str,
    plot: Path | None,
    traffic: dict[str, Any],
    ground_truth: GroundTruth | None = None,
    drift: Sequence[str] = (),
) -> Path:
    lines = [f"# {title}", "", f"**Outcome: {outcome}** — {message}", ""]
    lines += [
        "## Settings",
        "",
        "```yaml",
        yaml.safe_dump(settings, sort_keys=False).rstrip(),
        "```",
        "",
    ]
    lines += ["## Traffic", ""]
    lines += [f"- {key}: {fmt(value)}" for key, value in traffic.items()]
    lines += [
        "",
        "## Analysis runs",
        "",
        "| run | at (s) | verdict | samples | check | value | threshold | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        checks = run.get("checks") or [{}]
        for i, check in enumerate(checks):
            head = (
                [
                    str(run["number"]),
                    f"{run['at']:.1f}",
                    run["verdict"],
                    fmt(run.get("samples")),
                ]
                if i == 0
                else ["", "", "", ""]
            )
            lines.append(
                "| "
                + " | ".join(
                    [
                        *head,
                        check.get("name", "—"),
                        format_estimate(check.get("value"), check.get("lower"), check.get("upper")),
                        fmt(check.get("threshold")),
                        check.get("verdict", "—"),
                    ]
                )
                + " |"
            )
    lines += [""]
    if ground_truth is not None:
        lines += ground_truth_lines(ground_truth)
    lines += drift  # the "Input drift" section (understudy_cli.drift.report_section)
    if plot is not None:
        lines += ["## Live vs candidate", "", f"![live vs candidate]({plot.name})", ""]
    else:
        lines += ["## Live vs candidate", "", "No comparisons were logged.", ""]
    path.write_text("\n".join(lines))
    return path
