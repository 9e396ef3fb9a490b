"""How long the router's event loop waits for its feedback writer thread, by store and setting.

    uv run python bench/router_loop_lag.py                  # ~1 minute
    uv run python bench/router_loop_lag.py --seconds 20 --rate 2000 --intervals-ms 5 0.5

The router stores every request's predictions for ground truth: the event loop queues them,
and a worker thread parses and writes each batch (SQLite here). The thread's Python work
holds the GIL; while it does, the loop cannot answer live requests, and CPython takes the
GIL back from a busy thread only after ``sys.getswitchinterval()`` (5 ms by default). This
shows as the router's live tail at one connection even with mirroring off (bench/README.md).

In one process, with the real PredictionWriter, FeedbackMetrics and SQLite store, a task
offers one live and one candidate prediction ``--rate`` times a second (as the request path
does) and measures how late its own 1 ms timer fires: the loop's lag, which every live
request waiting for the loop also sees. Measured without the writer (the floor), with
SQLite at each switch interval, and with a stand-in for a store across a network (each
write takes ``--remote-ms``, the GIL released, as a PostgreSQL round trip would), in
rotated rounds; a table and JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from run_file import write_run

from understudy_router.feedback.metrics import FeedbackMetrics
from understudy_router.feedback.store import open_store
from understudy_router.feedback.writer import PredictionWriter

NO_WRITER = "no writer"
# One record's answer as model-api sends it (the writer parses live bodies itself).
BODY = (
    b'{"model_name":"house-prices","model_version":"1.0.0","predictions":[181234.56],'
    b'"request_id":"r"}'
)


async def _run(seconds: float, rate: float, writer: PredictionWriter | None) -> list[float]:
    """The timer's lateness (µs) at every 1 ms tick while offering at ``rate``/s."""
    lags: list[float] = []
    every = 1.0 / rate
    next_offer = time.perf_counter()
    n = 0
    end = time.perf_counter() + seconds
    if writer is not None:
        writer.start()
    while (now := time.perf_counter()) < end:
        while writer is not None and next_offer <= now:
            n += 1
            rid = f"bench-{n}"
            writer.offer_live(request_id=rid, version="1.0.0", body=BODY)
            writer.offer_candidate(request_id=rid, version="2.0.0", predictions=(181000.0,))
            next_offer += every
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - before - 0.001) * 1e6)
    if writer is not None:
        await writer.stop()
    return lags


class RemoteStore:
    """A store whose every write takes ``seconds`` of waiting (the GIL released)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def store(self, predictions: Any) -> list[Any]:
        time.sleep(self.seconds)
        return []


def measure(
    seconds: float, rate: float, interval: float | None, db: Path, remote: float | None = None
) -> dict[str, Any]:
    """One measurement: ``interval`` None = no writer; else SQLite at that switch interval
    (s), or the remote stand-in taking ``remote`` seconds per write."""
    default = sys.getswitchinterval()
    writer = None
    if interval is not None:
        sys.setswitchinterval(interval)
        db.unlink(missing_ok=True)
        metrics = FeedbackMetrics(registry=CollectorRegistry(), model="house-prices")
        writer = PredictionWriter(
            store=RemoteStore(remote) if remote else open_store(f"sqlite:///{db}"),  # type: ignore[arg-type]
            metrics=metrics,
            queue_size=100_000,
            batch_size=500,
            interval=0.2,
            on_joins=lambda joins: None,
        )
    try:
        lags = asyncio.run(_run(seconds, rate, writer))
    finally:
        sys.setswitchinterval(default)
    lags.sort()

    def q(p: float) -> float:
        return round(lags[min(len(lags) - 1, int(p * len(lags)))], 1)

    return {
        "ticks": len(lags),
        "p50_us": q(0.50),
        "p99_us": q(0.99),
        "p999_us": q(0.999),
        "max_us": round(lags[-1], 1),
        "over_1ms": sum(1 for x in lags if x > 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--rate", type=float, default=1000.0, help="requests offered per second")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--intervals-ms", type=float, nargs="+", default=[5.0], help="switch intervals (SQLite)"
    )
    parser.add_argument("--remote-ms", type=float, default=3.0, help="the remote store's write")
    args = parser.parse_args()
    labels: list[tuple[str, float | None, float | None]] = [(NO_WRITER, None, None)]
    labels += [(f"SQLite, switch {ms:g} ms", ms / 1000, None) for ms in args.intervals_ms]
    remote_label = f"remote store, {args.remote_ms:g} ms a write"
    labels.append((remote_label, sys.getswitchinterval(), args.remote_ms / 1000))
    load_before = os.getloadavg()
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in labels}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "feedback.sqlite3"
        for r in range(args.rounds):
            rotated = labels[r % len(labels) :] + labels[: r % len(labels)]
            for label, interval, remote in rotated:
                results[label].append(measure(args.seconds, args.rate, interval, db, remote))
                print(f"round {r + 1}: {label}: {results[label][-1]}", file=sys.stderr)
    load_after = os.getloadavg()

    print(
        f"\nloop lag of a 1 ms timer, {args.rate:g} requests/s offered, "
        f"medians of {args.rounds} rounds"
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}\n")
    print("| setting | p50 µs | p99 µs | p99.9 µs | max µs | ticks late > 1 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, _, _ in labels:
        runs = results[label]

        def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return statistics.median(run[key] for run in runs)

        print(
            f"| {label} | {med('p50_us'):.0f} | {med('p99_us'):.0f} | {med('p999_us'):.0f} "
            f"| {med('max_us'):.0f} | {med('over_1ms'):.0f} |"
        )
    write_run(
        "router_loop_lag",
        {"seconds": args.seconds, "rate": args.rate, "results": results},
        load_before=load_before,
        load_after=load_after,
    )


if __name__ == "__main__":
    main()
