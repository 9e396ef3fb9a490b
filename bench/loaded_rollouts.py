"""Benchmark: whole demo rollouts under a heavy mixed load, the latency rule vs the old one.

Runs ``python -m understudy_cli demo --plain`` (the real services, router and decision
core) repeatedly: scenario ``good`` (v2 should be promoted) and ``slow-candidate`` (v2 made
~3× slower, same predictions: should be rolled back on latency), each under two rules:

    new   the shipped default-rollout.yaml (latency-p90-ratio, method confidence,
          interval 12s, max 3.0)
    old   the same file with the latency check replaced by the rule before issue 10:
          latency-p99-ratio, method threshold, max 3.0, over the analysis interval (4s)

Each run starts its own load beside the demo and stops it afterwards, as a parallel build
makes it (issue 10: busy loops alone did not reproduce the false rollbacks):

    cpu     one busy-loop process per core (``--cpu-per-core`` more each)
    disk    a process writing 4 MiB files with fsync after every 1 MiB, in a temp dir,
            deleting each after writing it
    churn   a process starting ``--churn-rate`` short-lived processes per second (``true``)

Every load process runs in its own session and is killed with its group in a ``finally``;
the temp dir is removed. ``--load none`` runs the same rollouts on the idle machine (the
baseline and the slow candidate's calibration through the router).

    uv run python bench/loaded_rollouts.py                     # N=4 good, M=2 slow per rule
    uv run python bench/loaded_rollouts.py --good 10 --slow 4 --rules new
    uv run python bench/loaded_rollouts.py --load none --good 2 --slow 2

Prints a table (scenario × rule → outcomes, the failing checks, latency values) and writes
bench/results/loaded_rollouts.json (or ``--out``); each run's folder (report, service logs,
summary.json) is kept under bench/results/loaded_rollouts/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from understudy_cli.demo.config import load_spec_mapping

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
NEW_LATENCY = "latency-p90-ratio"
OLD_LATENCY = {"name": "latency-p99-ratio", "method": "threshold", "max": 3.0}

CPU_LOOP = "while True: pass"
DISK_WRITER = """
import os, sys
folder, chunk = sys.argv[1], os.urandom(1 << 20)
i = 0
while True:
    path = os.path.join(folder, f"blob-{i % 4}")
    with open(path, "wb") as f:
        for _ in range(4):
            f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
    os.remove(path)
    i += 1
"""
CHURN = """
import subprocess, sys, time
rate = float(sys.argv[1])
period = 1.0 / rate
next_at = time.monotonic()
while True:
    subprocess.run(["true"])
    next_at += period
    time.sleep(max(0.0, next_at - time.monotonic()))
"""


@dataclass
class Load:
    """The load processes of one run; ``stop`` kills them and removes the temp dir."""

    kind: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    folder: Path | None = None

    @classmethod
    def start(cls, kind: str, *, cpu_per_core: int, churn_rate: float) -> Load:
        load = cls(kind)
        if kind == "none":
            return load
        load.folder = Path(tempfile.mkdtemp(prefix="understudy-load-"))
        try:
            cores = os.cpu_count() or 1
            for _ in range(cores * cpu_per_core):
                load._spawn(["-c", CPU_LOOP])
            load._spawn(["-c", DISK_WRITER, str(load.folder)])
            load._spawn(["-c", CHURN, str(churn_rate)])
        except BaseException:
            load.stop()
            raise
        return load

    def _spawn(self, args: list[str]) -> None:
        self.procs.append(
            subprocess.Popen(
                [sys.executable, *args],
                start_new_session=True,  # its own group: churn's children die with it
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs:
            proc.wait()
        self.procs.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def write_configs(folder: Path) -> dict[str, Path]:
    """The rules' config files: the shipped default, and it with the old latency check."""
    default = load_spec_mapping(None)
    checks = default["analysis"]["checks"]
    if not any(c["name"] == NEW_LATENCY for c in checks):
        raise SystemExit(f"the default rollout has no {NEW_LATENCY} check: {checks}")
    old = json.loads(json.dumps(default))
    old["analysis"]["checks"] = [
        dict(OLD_LATENCY) if c["name"] == NEW_LATENCY else c for c in old["analysis"]["checks"]
    ]
    paths = {"new": folder / "new-rollout.yaml", "old": folder / "old-rollout.yaml"}
    paths["new"].write_text(yaml.safe_dump(default, sort_keys=False))
    paths["old"].write_text(yaml.safe_dump(old, sort_keys=False))
    return paths


@dataclass
class RunResult:
    scenario: str
    rule: str
    load: str
    phase: str
    failed_checks: list[str]  # checks that failed in any run (a rollback's cause)
    open_checks: list[str]  # checks not passing in the last run (a pause's cause)
    latency_check: str
    latency: list[dict[str, float | None]]  # value, lower, upper, samples per analysis run
    decision_seconds: float | None  # shadowing started -> the last event (the decision)
    wall_seconds: float
    load_average: tuple[float, float]  # 1-minute, before and after
    message: str
    run_dir: str


def run_once(
    *, scenario: str, rule: str, config: Path, load_kind: str, args: argparse.Namespace
) -> RunResult:
    out = args.runs_dir / f"{rule}-{load_kind}"
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    load = Load.start(load_kind, cpu_per_core=args.cpu_per_core, churn_rate=args.churn_rate)
    try:
        time.sleep(args.settle)  # let the load reach its steady state first
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "understudy_cli",
                "demo",
                "--plain",
                "--scenario",
                scenario,
                "--config",
                str(config),
                "--out",
                str(out),
                "--max-seconds",
                str(args.max_seconds),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
    finally:
        load.stop()
    wall = time.monotonic() - started
    load_after = os.getloadavg()[0]
    new_dirs = sorted(set(out.iterdir()) - before)
    if not new_dirs or not (new_dirs[-1] / "summary.json").exists():
        tail = proc.stdout.decode(errors="replace")[-2000:]
        return RunResult(scenario, rule, load_kind, "error", [], [], "", [], None, wall,
                         (load_before, load_after), tail, "")  # fmt: skip
    run_dir = new_dirs[-1]
    (run_dir / "demo-output.txt").write_bytes(proc.stdout)
    summary = json.loads((run_dir / "summary.json").read_text())
    return summarize(summary, rule=rule, load_kind=load_kind, wall=wall,
                     load_average=(load_before, load_after), run_dir=run_dir)  # fmt: skip


def summarize(
    summary: dict[str, Any],
    *,
    rule: str,
    load_kind: str,
    wall: float,
    load_average: tuple[float, float],
    run_dir: Path,
) -> RunResult:
    runs = summary["runs"]
    failed = sorted({c["name"] for r in runs for c in r["checks"] if c["verdict"] == "Fail"})
    last = runs[-1]["checks"] if runs else []
    open_checks = sorted(c["name"] for c in last if c["verdict"] != "Pass")
    latency_name = ""
    latency = []
    for r in runs:
        for c in r["checks"]:
            if c["name"].startswith("latency-"):
                latency_name = c["name"]
                latency.append({k: c.get(k) for k in ("value", "lower", "upper", "samples")})
    events = summary["events"]
    shadowing = next((t for t, kind, _ in events if kind == "ShadowStarted"), None)
    final = events[-1][0] if events else None
    decision = final - shadowing if shadowing is not None and final is not None else None
    return RunResult(
        scenario=summary["scenario"],
        rule=rule,
        load=load_kind,
        phase=summary["phase"],
        failed_checks=failed,
        open_checks=open_checks,
        latency_check=latency_name,
        latency=latency,
        decision_seconds=decision,
        wall_seconds=wall,
        load_average=load_average,
        message=summary["message"],
        run_dir=str(run_dir),
    )


def _spread(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def _column(group: list[RunResult], key: str) -> list[float]:
    """One field of the latency check over every analysis run of the group (where set)."""
    return [float(v) for r in group for x in r.latency if (v := x.get(key)) is not None]


def table(results: list[RunResult]) -> list[str]:
    lines = [
        "| scenario | rule | load | runs | outcomes | failing checks (runs) | "
        "latency value min/med/max | lower bound min/med/max | upper bound min/med/max | "
        "shadow -> decision s (median) |",
        "|---|---|---|---:|---|---|---|---|---|---:|",
    ]
    groups: dict[tuple[str, str, str], list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.scenario, r.rule, r.load), []).append(r)
    for (scenario, rule, load), group in groups.items():
        outcomes = Counter(r.phase for r in group)
        failing = Counter(c for r in group for c in r.failed_checks)
        values = _column(group, "value")
        lows = _column(group, "lower")
        highs = _column(group, "upper")
        finite_highs = [h for h in highs if h != float("inf")]
        decided = [r.decision_seconds for r in group if r.decision_seconds is not None]
        name = next((r.latency_check for r in group if r.latency_check), "?")
        infinite = len(highs) - len(finite_highs)
        lines.append(
            f"| {scenario} | {rule} ({name}) | {load} | {len(group)} | "
            + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
            + " | "
            + (", ".join(f"{k} ({v})" for k, v in sorted(failing.items())) or "none")
            + f" | {_spread(values)} | {_spread(lows)} | {_spread(finite_highs)}"
            + (f" (+{infinite} inf)" if infinite else "")
            + (f" | {statistics.median(decided):.0f} |" if decided else " | – |")
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--good", type=int, default=4, help="runs of scenario good per rule")
    parser.add_argument("--slow", type=int, default=2, help="runs of slow-candidate per rule")
    parser.add_argument("--rules", nargs="+", choices=["new", "old"], default=["new", "old"])
    parser.add_argument("--load", choices=["mixed", "none"], default="mixed")
    parser.add_argument("--cpu-per-core", type=int, default=1, help="busy loops per core")
    parser.add_argument("--churn-rate", type=float, default=100.0, help="processes/s")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of load first")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="per demo run")
    parser.add_argument("--out", type=Path, default=RESULTS / "loaded_rollouts.json")
    parser.add_argument("--runs-dir", type=Path, default=RESULTS / "loaded_rollouts")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="understudy-rules-") as tmp:
        configs = write_configs(Path(tmp))
        # Interleave rules and scenarios so a drift in the machine's state hits all alike.
        plan = [
            (scenario, rule)
            for i in range(max(args.good, args.slow))
            for scenario, count in (("good", args.good), ("slow-candidate", args.slow))
            if i < count
            for rule in args.rules
        ]
        for k, (scenario, rule) in enumerate(plan, 1):
            r = run_once(
                scenario=scenario, rule=rule, config=configs[rule], load_kind=args.load, args=args
            )
            results.append(r)
            print(
                f"[{k}/{len(plan)}] {scenario} {rule} ({args.load} load): {r.phase} "
                f"in {r.wall_seconds:.0f}s, failed {r.failed_checks or '-'}, "
                f"load {r.load_average[0]:.1f}->{r.load_average[1]:.1f}: {r.message[:160]}",
                flush=True,
            )
    print()
    for line in table(results):
        print(line)
    args.out.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "finished": datetime.now(UTC).isoformat(),
                "cores": os.cpu_count(),
                "settings": {k: str(v) for k, v in vars(args).items()},
                "rules": {"new": "shipped default-rollout.yaml", "old": OLD_LATENCY},
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
