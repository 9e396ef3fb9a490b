"""Benchmark of the model-api service: real uvicorn process, load from wrk (a separate process).

    uv run python bench/model_api.py                 # v1, the default scenarios, ~3 minutes
    uv run python bench/model_api.py --artifact artifacts/v2 --duration 5

For each service configuration (the default one, the naive baseline = per-request
scikit-learn pipeline without batching or fast path, and a few ablations) it starts
``python -m understudy_model_api`` on a free port, drives it with ``wrk`` (Debian
package; a Lua script POSTs a fixed body) at several concurrencies, and records
latency p50/p99 and throughput. The floor is the in-process predict without HTTP.
It prints a table and writes JSON to bench/results/ (gitignored), with the load
average before and after each run: other work on the machine skews the numbers.
Service logs (one JSON event per request, inputs included: the default) go to a
file next to the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

# name -> service settings (UNDERSTUDY_MODEL_API_* without the prefix)
CONFIGS: dict[str, dict[str, str]] = {
    "default": {},  # fast path, micro-batching (no wait), inline predict
    "naive": {"PREDICTOR": "reference", "BATCHING": "false", "EXECUTOR": "thread"},
    "fast-unbatched": {"BATCHING": "false"},
    "batch-thread": {"EXECUTOR": "thread"},
    "batch-wait-1ms": {"MAX_BATCH_WAIT_MS": "1"},
    # Input drift counting off (it is on for every feature by default): its cost over HTTP.
    "drift-off": {"DRIFT_FEATURES": "none"},
    # POST /v1/predictions through FastAPI's routing rather than the fast route (the
    # same handler either way): what the fast route buys.
    "fastapi-route": {"FAST_ROUTE": "false"},
}
# (config, records per request, concurrency)
SCENARIOS: list[tuple[str, int, int]] = [
    ("default", 1, 1),
    ("default", 1, 16),
    ("default", 1, 64),
    ("default", 100, 1),
    ("default", 100, 16),
    ("naive", 1, 1),
    ("naive", 1, 16),
    ("naive", 1, 64),
    ("naive", 100, 16),
    ("fast-unbatched", 1, 1),
    ("fast-unbatched", 1, 64),
    ("batch-thread", 1, 1),
    ("batch-thread", 1, 64),
    ("batch-wait-1ms", 1, 1),
    ("batch-wait-1ms", 1, 64),
    ("drift-off", 1, 1),
    ("drift-off", 1, 64),
    ("drift-off", 100, 16),
    ("fastapi-route", 1, 1),
    ("fastapi-route", 1, 64),
]

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("%(body)s", "rb"))
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  io.write(string.format(
    "BENCH_JSON {\\"p50_us\\": %%d, \\"p99_us\\": %%d, \\"mean_us\\": %%f, \\"requests\\": %%d, " ..
    "\\"duration_us\\": %%d, \\"errors_status\\": %%d, \\"errors_socket\\": %%d}\\n",
    latency:percentile(50), latency:percentile(99), latency.mean, summary.requests,
    summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass
class Result:
    config: str
    records: int
    concurrency: int
    p50_ms: float
    p99_ms: float
    requests_per_s: float
    records_per_s: float
    requests: int
    errors: int
    load_before: float
    load_after: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def service(artifact: Path, settings: dict[str, str], log_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "UNDERSTUDY_MODEL_API_ARTIFACT_DIR": str(artifact),
        "UNDERSTUDY_MODEL_API_HOST": "127.0.0.1",
        "UNDERSTUDY_MODEL_API_PORT": str(port),
        # The worst case (and the recorded results): every request's inputs logged.
        "UNDERSTUDY_MODEL_API_LOG_INPUTS": "true",
        **{f"UNDERSTUDY_MODEL_API_{k}": v for k, v in settings.items()},
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "understudy_model_api"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:  # readiness polling
                if proc.poll() is not None:
                    raise RuntimeError(f"service exited; see {log_path}")
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"service not ready in 60s; see {log_path}")
                time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def run_wrk(url: str, body_file: Path, *, concurrency: int, duration: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"body": body_file})
    threads = min(2, concurrency)
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        script.name,
        f"{url}/v1/predictions",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    match = re.search(r"BENCH_JSON (\{.*\})", out)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    stats: dict[str, Any] = json.loads(match.group(1))
    return stats


def floor(artifact: Path, records: list[dict[str, Any]], seconds: float = 2.0) -> dict[str, Any]:
    """In-process: validate + fast predict, no HTTP (the lower bound of a request), and the
    drift counting of the same records alone (its peer: validate + fast predict)."""
    from understudy_model.artifact import load_artifact
    from understudy_model.fast import compile_fast_predictor
    from understudy_model.validation import validate_records
    from understudy_model_api.drift import DriftCounter, select_features

    model = load_artifact(artifact)
    fast = compile_fast_predictor(model)
    assert model.reference is not None, "an artifact without a reference counts nothing"
    counter = DriftCounter(model, model.reference, select_features("all", model.reference))

    def count_drift(rows: list[dict[str, Any]]) -> None:
        counter.count_rows(rows)
        counter.count_predictions([0.0] * len(rows))

    out: dict[str, Any] = {"drift_series_per_pod": len(counter.series)}
    for n in (1, 100):
        batch = records[:n]
        clean = validate_records(batch, model.schema).rows
        calls: dict[str, Any] = {
            "fast_predict": lambda b=batch: fast.predict_rows(
                validate_records(b, model.schema).rows
            ),
            "reference_predict": lambda b=batch: model.predict_rows(
                validate_records(b, model.schema).rows
            ),
            "drift_count": lambda rows=clean: count_drift(rows),  # counting alone
        }
        for name, call in calls.items():
            times = []
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
            arr = np.array(times)
            out[f"{name}_{n}"] = {
                "p50_ms": float(np.percentile(arr, 50) * 1e3),
                "p99_ms": float(np.percentile(arr, 99) * 1e3),
                "calls_per_s": float(len(arr) / arr.sum()),
            }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, default=REPO / "artifacts" / "v1")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument(
        "--configs", nargs="*", default=list(CONFIGS), help="subset of: " + " ".join(CONFIGS)
    )
    parser.add_argument(
        "--floor-only", action="store_true", help="only the in-process floor (no wrk, seconds)"
    )
    args = parser.parse_args()
    if args.floor_only:
        args.configs = []
    elif shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    if not (args.artifact / "model.json").is_file():
        print(f"{args.artifact} is not an artifact; run `make models` first", file=sys.stderr)
        return 2

    from understudy_model.data import holdout_records, load_ames, split_holdout

    records = holdout_records(split_holdout(load_ames()), limit=100)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    bodies = {}
    for n in (1, 100):
        bodies[n] = RESULTS / f"model_api-body-{n}.json"
        bodies[n].write_text(json.dumps({"records": records[:n]}))

    results: list[Result] = []
    for config in args.configs:
        wanted = [s for s in SCENARIOS if s[0] == config]
        log_path = RESULTS / f"model_api-{stamp}-{config}.log"
        with service(args.artifact, CONFIGS[config], log_path) as url:
            for _, n, conc in wanted:
                # warm-up, then the measured run
                run_wrk(url, bodies[n], concurrency=conc, duration=1)
                before = os.getloadavg()[0]
                stats = run_wrk(url, bodies[n], concurrency=conc, duration=args.duration)
                after = os.getloadavg()[0]
                rps = stats["requests"] / (stats["duration_us"] / 1e6)
                result = Result(
                    config=config,
                    records=n,
                    concurrency=conc,
                    p50_ms=stats["p50_us"] / 1e3,
                    p99_ms=stats["p99_us"] / 1e3,
                    requests_per_s=rps,
                    records_per_s=rps * n,
                    requests=stats["requests"],
                    errors=stats["errors_status"] + stats["errors_socket"],
                    load_before=before,
                    load_after=after,
                )
                results.append(result)
                print(
                    f"{config:>15} records={n:<3} c={conc:<3} p50 {result.p50_ms:7.2f} ms  "
                    f"p99 {result.p99_ms:7.2f} ms  {rps:8.0f} req/s  "
                    f"{result.records_per_s:8.0f} rec/s  errors {result.errors}  "
                    f"load {before:.2f}->{after:.2f}",
                    flush=True,
                )
    floor_stats = floor(args.artifact, records)

    def find(config: str, n: int, c: int) -> Result | None:
        return next(
            (r for r in results if (r.config, r.records, r.concurrency) == (config, n, c)), None
        )

    best = find("default", 1, 64)
    naive = find("naive", 1, 1)
    naive_best = max(
        (r.requests_per_s for r in results if r.config == "naive" and r.records == 1), default=None
    )
    c1 = find("default", 1, 1)
    goals = {
        "speedup_c64_vs_naive_c1": best.requests_per_s / naive.requests_per_s
        if best and naive
        else None,
        "speedup_c64_vs_naive_best_single": best.requests_per_s / naive_best
        if best and naive_best
        else None,
        "p50_c1_ms": c1.p50_ms if c1 else None,
    }
    print("\nfloor (in process, validate + predict, no HTTP; drift_count: counting alone):")
    print(f"  drift series per pod: {floor_stats['drift_series_per_pod']} (and as many shares)")
    for name, s in floor_stats.items():
        if not isinstance(s, dict):
            continue
        print(
            f"  {name:<22} p50 {s['p50_ms']:7.3f} ms  p99 {s['p99_ms']:7.3f} ms  "
            f"{s['calls_per_s']:9.0f} calls/s"
        )
    print("\ngoals:", json.dumps(goals))
    out = RESULTS / f"model_api-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "model_api",
                "when": stamp,
                "artifact": str(args.artifact),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "loadavg_end": os.getloadavg(),
                },
                "duration_s": args.duration,
                "load_generator": "wrk (separate process), 2 threads",
                "configs": {k: CONFIGS[k] for k in args.configs},
                "results": [asdict(r) for r in results],
                "floor": floor_stats,
                "goals": goals,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
