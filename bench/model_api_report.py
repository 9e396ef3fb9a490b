"""bench/model_api.py's numbers: one row per measured run, the ratios between targets
measured in the same run, the table and the goals. Pure (no processes, no I/O), so it is
unit-tested (tests/bench/test_model_api_report.py); imports nothing from the rest of bench/.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CEILING = "ceiling"
# The least work a correct answer needs under the same uvicorn (bench/asgi_bare.py): parse,
# validate, predict, render. Its ratio to the ceiling bounds model-api's on this stack.
BARE = "bare"
MLSERVER = "mlserver"
MLSERVER_BATCH = "mlserver-batch"
MODEL_API = "default"  # model-api as it ships (the `default` configuration)
# The peers every row is divided by, when measured at the same records, concurrency,
# server processes and load-generator processes: (target, column header).
PEERS = (
    (CEILING, "x ceiling"),
    (BARE, "x bare"),
    (MLSERVER, "x MLServer"),
    (MLSERVER_BATCH, "x MLS+batch"),
)


@dataclass
class Result:
    target: str  # a model-api configuration, `ceiling`, `bare`, `mlserver` or `mlserver-batch`
    records: int  # records per request
    concurrency: int  # connections, over all wrk processes
    processes: int  # server processes serving the target (2: each on its own port)
    wrk_processes: int  # 1, or 2 splitting the connections (the scaling rows)
    p50_ms: float
    p99_ms: float
    requests_per_s: float
    records_per_s: float
    requests: int
    errors: int
    load_before: float  # 1-minute load average before and after the run
    load_after: float
    duration_s: int = 0  # of the measured wrk run
    ratios: dict[str, float | None] | None = None  # filled by add_ratios

    def key(self) -> tuple[int, int, int, int]:
        return (self.records, self.concurrency, self.processes, self.wrk_processes)


# A run counts when it answered at least this many requests per connection; else the
# run is repeated longer (wrk drops the requests still in flight at its end, so a
# server slower than the run, e.g. MLServer at 64 connections, would count 0 req/s).
MIN_REQUESTS_PER_CONNECTION = 2


def enough_requests(requests: int, concurrency: int) -> bool:
    return requests >= MIN_REQUESTS_PER_CONNECTION * concurrency


def merge_wrk(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Several wrk processes that ran side by side, as one: requests, throughput and
    errors add up. Their latency histograms are not available, so p50 is the mean of
    theirs weighted by requests and p99 the worst one (both approximate, said in the JSON)."""
    if not stats:
        raise ValueError("nothing to merge")
    requests = sum(int(s["requests"]) for s in stats)
    return {
        "requests": requests,
        "requests_per_s": sum(s["requests"] / (s["duration_us"] / 1e6) for s in stats),
        "p50_us": sum(s["p50_us"] * s["requests"] for s in stats) / max(requests, 1),
        "p99_us": max(s["p99_us"] for s in stats),
        "errors": sum(int(s["errors_status"]) + int(s["errors_socket"]) for s in stats),
    }


def add_ratios(results: list[Result]) -> None:
    """Each row's requests/s divided by each peer's at the same key, in the same run;
    None where that peer was not measured (or is the row itself)."""
    by_key = {(r.target, r.key()): r for r in results}
    for row in results:
        row.ratios = {}
        for peer, _ in PEERS:
            other = by_key.get((peer, row.key()))
            if other is None or other is row or other.requests_per_s <= 0:
                row.ratios[peer] = None
            else:
                row.ratios[peer] = row.requests_per_s / other.requests_per_s


def scaling(results: list[Result]) -> dict[str, dict[str, float]]:
    """Throughput with two server processes over one, per target and concurrency, both
    driven by the same two wrk processes: what a second core buys."""
    out: dict[str, dict[str, float]] = {}
    split = [r for r in results if r.wrk_processes == 2]
    for two in (r for r in split if r.processes == 2):
        one = next(
            (
                r
                for r in split
                if r.processes == 1
                and (r.target, r.records, r.concurrency)
                == (two.target, two.records, two.concurrency)
            ),
            None,
        )
        if one is not None and one.requests_per_s > 0:
            name = f"{two.target} records={two.records} c={two.concurrency}"
            out[name] = {
                "one_process_rps": one.requests_per_s,
                "two_processes_rps": two.requests_per_s,
                "speedup": two.requests_per_s / one.requests_per_s,
            }
    return out


def find(results: list[Result], target: str, records: int, concurrency: int) -> Result | None:
    """The main-table row (one server process, one wrk) of a target, if measured."""
    return next(
        (
            r
            for r in results
            if (r.target, r.records, r.concurrency, r.processes, r.wrk_processes)
            == (target, records, concurrency, 1, 1)
        ),
        None,
    )


def goals(results: list[Result]) -> dict[str, float | None]:
    """Issue 16's goals for model-api (ratios to the ceiling of the same run) and the
    earlier ones (c=64 over the naive per-request pipeline, p50 at c=1)."""

    def ratio(top: Result | None, bottom: Result | None) -> float | None:
        if top is None or bottom is None or bottom.requests_per_s <= 0:
            return None
        return top.requests_per_s / bottom.requests_per_s

    out: dict[str, float | None] = {}
    for c in (1, 64):  # goal: >= 0.5 of the ceiling
        out[f"model_api_vs_ceiling_c{c}"] = ratio(
            find(results, MODEL_API, 1, c), find(results, CEILING, 1, c)
        )
        # The bound: the bare target's share of the ceiling, and model-api's of the bare's.
        out[f"bare_vs_ceiling_c{c}"] = ratio(
            find(results, BARE, 1, c), find(results, CEILING, 1, c)
        )
        out[f"model_api_vs_bare_c{c}"] = ratio(
            find(results, MODEL_API, 1, c), find(results, BARE, 1, c)
        )
        out[f"model_api_vs_mlserver_best_c{c}"] = ratio(
            find(results, MODEL_API, 1, c),
            max(
                (r for t in (MLSERVER, MLSERVER_BATCH) if (r := find(results, t, 1, c))),
                key=lambda r: r.requests_per_s,
                default=None,
            ),
        )
    c1 = find(results, MODEL_API, 1, 1)
    out["p50_c1_ms"] = c1.p50_ms if c1 else None  # goal: <= 0.2 ms
    out["speedup_c64_vs_naive_c1"] = ratio(
        find(results, MODEL_API, 1, 64), find(results, "naive", 1, 1)
    )
    return out


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def _fmt_rps(r: Result) -> str:
    if r.requests == 0:  # not "0 req/s": slower than the run, nothing answered to count
        return f"none answered in {r.duration_s} s"
    return f"{r.requests_per_s:,.0f}"


def table(results: list[Result]) -> str:
    """A Markdown table of every row, with its ratios to the peers."""
    head = (
        "| target | records | c | server procs | wrk procs | p50 ms | p99 ms | req/s | rec/s | "
        + " | ".join(h for _, h in PEERS)
        + " | load |"
    )
    lines = [head, "|---|" + "---:|" * (head.count("|") - 2)]
    for r in results:
        ratios = r.ratios or {}
        lines.append(
            f"| {r.target} | {r.records} | {r.concurrency} | {r.processes} | "
            f"{r.wrk_processes} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {_fmt_rps(r)} | "
            f"{r.records_per_s:,.0f} | "
            + " | ".join(_fmt_ratio(ratios.get(p)) for p, _ in PEERS)
            + f" | {r.load_before:.1f}-{r.load_after:.1f} |"
        )
    return "\n".join(lines)
