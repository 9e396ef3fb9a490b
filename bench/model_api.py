"""Benchmark of the model-api service next to its ceiling and its peer, all in one run.

    uv run python bench/model_api.py                      # v2, every peer target, ~4 minutes
    uv run python bench/model_api.py --quick              # fewer loads, 2 s runs, ~1 minute
    uv run python bench/model_api.py --targets ceiling default --duration 5
    uv run python bench/model_api.py --targets default naive fast-unbatched   # ablations
    uv run python bench/model_api.py --quick --keep-cpus-awake   # no vCPU halts (awake.py)

Targets (each a real server process on 127.0.0.1, driven by ``wrk``, a separate process
with a Lua script POSTing a fixed body of 1 or 100 Ames holdout records):

- model-api configurations (``python -m understudy_model_api``, inputs logged: the worst
  case): ``default`` (as it ships), ``naive`` (the scikit-learn pipeline per request, no
  batching, predict in a thread) and ablations (``CONFIGS``);
- ``ceiling``: the raw-ASGI ceiling, a fixed answer under model-api's own uvicorn and
  options (bench/asgi_ceiling.py);
- ``bare``: the least work a correct answer needs (parse, validate, predict, render; no
  metrics, log event, request id or drift counting) under the same uvicorn
  (bench/asgi_bare.py). Its share of the ceiling bounds what model-api can reach there;
  its predictions are checked equal to model-api's first;
- ``mlserver`` / ``mlserver-batch``: MLServer + mlserver-sklearn serving the artifact's
  pipeline (V2 protocol, pandas codec), without and with adaptive batching, installed by
  this script into a benchmark-only environment (bench/mlserver_peer.py). Its predictions
  are checked equal to model-api's before anything is measured;
- ``scaling``: ``default`` and ``ceiling`` with one server process and with two (two
  ports, like two pods), both loads split over two wrk processes.

Every target is started first, then each load (records, concurrency) runs on every target
in turn, so the machine's drift falls on all alike; each row's throughput is divided by
the ceiling's and MLServer's at the same load (bench/model_api_report.py). The floor is
validate + predict in process, without HTTP. Prints a table and writes JSON to
bench/results/ (gitignored) with the load average before and after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import mlserver_peer
from awake import cpus_kept_awake
from model_api_floor import floor
from model_api_report import (
    BARE,
    CEILING,
    MLSERVER,
    MLSERVER_BATCH,
    MODEL_API,
    Result,
    add_ratios,
    enough_requests,
    goals,
    merge_wrk,
    scaling,
    table,
)
from model_api_runs import Started, free_ports, model_api_process, run_wrk, wait_ready, wrk_split

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
CEILING_SCRIPT = REPO / "bench" / "asgi_ceiling.py"
BARE_SCRIPT = REPO / "bench" / "asgi_bare.py"

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
    # The service's own default: the request event without the inputs (every other target
    # logs them, the worst case). What logging each request's inputs costs.
    "inputs-unlogged": {"LOG_INPUTS": "false"},
}
PEERS = (CEILING, BARE, MLSERVER, MLSERVER_BATCH)
SCALING = "scaling"
TARGETS = [*CONFIGS, *PEERS, SCALING]
DEFAULT_TARGETS = [CEILING, MODEL_API, MLSERVER, MLSERVER_BATCH, "naive", SCALING]
# (records, concurrency) per target; the peers run model-api's loads.
PEER_LOADS = [(1, 1), (1, 16), (1, 64), (100, 1), (100, 16)]
LOADS: dict[str, list[tuple[int, int]]] = {
    "default": PEER_LOADS,
    "naive": [(1, 1), (1, 16), (1, 64), (100, 16)],
    "fast-unbatched": [(1, 1), (1, 64)],
    "batch-thread": [(1, 1), (1, 64)],
    "batch-wait-1ms": [(1, 1), (1, 64)],
    "drift-off": [(1, 1), (1, 64), (100, 16)],
    "fastapi-route": [(1, 1), (1, 64)],
    "inputs-unlogged": [(1, 1), (1, 64)],
    **{peer: PEER_LOADS for peer in PEERS},
}
# `--baseline DIR`: model-api as it ships in another checkout (e.g. main before a change).
BASELINE = "baseline"
LOADS[BASELINE] = PEER_LOADS
QUICK_LOADS = [(1, 1), (1, 64), (100, 16)]
SCALING_TARGETS = (MODEL_API, CEILING)
SCALING_LOADS = [(1, 16), (1, 64)]
QUICK_SCALING_LOADS = [(1, 64)]


@dataclass
class Endpoint:
    """Where a target answers, and the body file per records-per-request."""

    urls: list[str]  # one per server process
    path: str
    bodies: dict[int, Path]


def model_api_predictions(url: str, bodies: dict[int, Path]) -> dict[int, list[float]]:
    out = {}
    for n, body in bodies.items():
        answer = httpx.post(
            f"{url}/v1/predictions",
            content=body.read_bytes(),
            headers={"content-type": "application/json"},
            timeout=30,
        )
        answer.raise_for_status()
        out[n] = [float(p) for p in answer.json()["predictions"]]
    return out


def fast_predictions(artifact: Path, records: list[dict[str, Any]]) -> dict[int, list[float]]:
    """model-api's answers for 1 and 100 records, computed here (its fast predictor)."""
    from understudy_model.artifact import load_artifact
    from understudy_model.fast import compile_fast_predictor
    from understudy_model.validation import validate_records

    model = load_artifact(artifact)
    fast = compile_fast_predictor(model)
    return {
        n: [float(p) for p in fast.predict_rows(validate_records(records[:n], model.schema).rows)]
        for n in (1, 100)
    }


def check_ceiling(url: str, body: Path) -> None:
    from asgi_ceiling import ANSWER

    answer = httpx.post(url + "/v1/predictions", content=body.read_bytes(), timeout=10)
    if answer.status_code != 200 or answer.content != ANSWER:
        raise SystemExit(f"the ceiling did not give its fixed answer: {answer.text[:200]}")


def start_targets(
    stack: ExitStack, args: argparse.Namespace, bodies: dict[int, Path], stamp: str
) -> dict[str, Endpoint]:
    """Every server the chosen targets need (a second process each for `scaling`)."""
    out: dict[str, Endpoint] = {}
    configs = [t for t in args.targets if t in CONFIGS]
    if SCALING in args.targets:
        configs = list(dict.fromkeys([*configs, MODEL_API]))
    processes = 2 if SCALING in args.targets else 1

    def log(name: str, i: int) -> Path:
        return RESULTS / f"model_api-{stamp}-{name}{'' if i == 0 else f'-{i + 1}'}.log"

    # Every server starts side by side, MLServer first (the slowest: ~30-80 s on a busy
    # machine, most of it importing); then each is waited for. Ports are taken at once,
    # before any server binds, so no two get the same one.
    ports_left = iter(free_ports(8 + 3 * processes + len(configs)))
    mlservers = []
    wanted = [t for t in (MLSERVER, MLSERVER_BATCH) if t in args.targets]
    if wanted:
        from understudy_model.artifact import read_metadata

        binary = mlserver_peer.ensure_env(uv=shutil.which("uv") or "uv")
        metadata = read_metadata(args.artifact)
        for name in wanted:
            ports = mlserver_peer.Ports(next(ports_left), next(ports_left), next(ports_left))
            root = mlserver_peer.write_repository(
                Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlserver-"))),
                model_file=args.artifact / str(metadata["artifact"]["file"]),
                model_version=str(metadata["version"]),
                ports=ports,
                batching=name == MLSERVER_BATCH,
            )
            proc = stack.enter_context(mlserver_peer.mlserver(binary, root, log_path=log(name, 0)))
            mlservers.append((name, proc, f"http://127.0.0.1:{ports.http}"))
    started: dict[str, list[Started]] = {}
    for config in configs:
        count = processes if config == MODEL_API else 1
        started[config] = [
            stack.enter_context(
                model_api_process(
                    args.artifact, CONFIGS[config], log(config, i), port=next(ports_left)
                )
            )
            for i in range(count)
        ]
    if args.baseline is not None:
        started[BASELINE] = [
            stack.enter_context(
                model_api_process(
                    args.artifact,
                    {},
                    log(BASELINE, 0),
                    port=next(ports_left),
                    checkout=args.baseline,
                )
            )
        ]
    if CEILING in args.targets or SCALING in args.targets:
        started[CEILING] = [
            stack.enter_context(
                model_api_process(
                    args.artifact, {}, log(CEILING, i), port=next(ports_left), script=CEILING_SCRIPT
                )
            )
            for i in range(processes)
        ]
    if BARE in args.targets:
        started[BARE] = [
            stack.enter_context(
                model_api_process(
                    args.artifact, {}, log(BARE, 0), port=next(ports_left), script=BARE_SCRIPT
                )
            )
        ]
    for name, group in started.items():
        out[name] = Endpoint([wait_ready(s) for s in group], "/v1/predictions", bodies)
    if CEILING in out:
        check_ceiling(out[CEILING].urls[0], bodies[1])
    if BARE in out:  # it must do the real work: model-api's answers, to the last bit
        served = model_api_predictions(out[BARE].urls[0], bodies)
        if served != fast_predictions(args.artifact, args.records):
            raise SystemExit("the bare target's predictions differ from model-api's")
    if mlservers:
        v2_bodies = mlserver_peer.frame_bodies(args.artifact, args.records, RESULTS)
        if MODEL_API in out:
            expected = model_api_predictions(out[MODEL_API].urls[0], bodies)
        else:  # what model-api serves: the artifact's pipeline on the validated records
            expected = mlserver_peer.reference_predictions(args.artifact, args.records)
        for name, proc, url in mlservers:
            mlserver_peer.wait_ready(proc, url, log_path=log(name, 0))
            mlserver_peer.check_predictions(url, v2_bodies, expected)
            out[name] = Endpoint([url], mlserver_peer.infer_path(), v2_bodies)
    return out


def measure(
    name: str,
    endpoint: Endpoint,
    *,
    records: int,
    concurrency: int,
    processes: int,
    wrk_processes: int,
    duration: int,
) -> Result:
    urls = [u + endpoint.path for u in endpoint.urls[:processes]]
    body = endpoint.bodies[records]
    # One wrk (2 threads), or single-threaded ones side by side, each on its own server
    # process or all on the one.
    targets = [urls[i % len(urls)] for i in range(wrk_processes)]

    def load(seconds: int) -> dict[str, Any]:
        if wrk_processes == 1:
            return merge_wrk([run_wrk(urls[0], body, concurrency=concurrency, duration=seconds)])
        return merge_wrk(wrk_split(targets, body, concurrency=concurrency, duration=seconds))

    load(1)  # warm-up
    seconds = duration
    while True:
        before = os.getloadavg()[0]
        stats = load(seconds)
        # wrk counts only answered requests: a slow server needs a longer run to count.
        if enough_requests(stats["requests"], concurrency) or seconds >= 4 * duration:
            break
        seconds *= 2
    after = os.getloadavg()[0]
    rps = stats["requests_per_s"]
    result = Result(
        target=name,
        records=records,
        concurrency=concurrency,
        processes=processes,
        wrk_processes=wrk_processes,
        p50_ms=stats["p50_us"] / 1e3,
        p99_ms=stats["p99_us"] / 1e3,
        requests_per_s=rps,
        records_per_s=rps * records,
        requests=stats["requests"],
        errors=stats["errors"],
        load_before=before,
        load_after=after,
        duration_s=seconds,
    )
    print(
        f"{name:>15} records={records:<3} c={concurrency:<3} procs={processes} "
        f"wrk={wrk_processes} p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
        f"{rps:8.0f} req/s  errors {result.errors}  load {before:.2f}->{after:.2f}",
        flush=True,
    )
    return result


def run(args: argparse.Namespace, stamp: str) -> list[Result]:
    bodies = {}
    for n in (1, 100):
        bodies[n] = RESULTS / f"model_api-body-{n}.json"
        bodies[n].write_text(json.dumps({"records": args.records[:n]}))
    results: list[Result] = []
    with ExitStack() as stack:
        endpoints = start_targets(stack, args, bodies, stamp)
        measured = [t for t in args.targets if t in LOADS]
        if args.baseline is not None:  # measured just before default at every load
            measured.insert(measured.index(MODEL_API) if MODEL_API in measured else 0, BASELINE)
        for load in dict.fromkeys(load for t in measured for load in LOADS[t]):
            if args.quick and load not in QUICK_LOADS:
                continue
            for name in (t for t in measured if load in LOADS[t]):
                results.append(
                    measure(
                        name,
                        endpoints[name],
                        records=load[0],
                        concurrency=load[1],
                        processes=1,
                        wrk_processes=1,
                        duration=args.duration,
                    )
                )
        if SCALING in args.targets:
            for records, concurrency in QUICK_SCALING_LOADS if args.quick else SCALING_LOADS:
                for name in SCALING_TARGETS:
                    for processes in (1, 2):
                        results.append(
                            measure(
                                name,
                                endpoints[name],
                                records=records,
                                concurrency=concurrency,
                                processes=processes,
                                wrk_processes=2,
                                duration=args.duration,
                            )
                        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, default=REPO / "artifacts" / "v2")
    parser.add_argument("--duration", type=int, default=None, help="seconds per wrk run")
    parser.add_argument(
        "--targets",
        nargs="*",
        default=None,
        choices=TARGETS,
        help=f"default: {' '.join(DEFAULT_TARGETS)} (--quick: without naive)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 loads (scaling: 1), 2 s runs unless --duration"
    )
    parser.add_argument(
        "--keep-cpus-awake",
        action="store_true",
        help="a SCHED_IDLE spinner on every CPU, so no vCPU halts between requests (awake.py)",
    )
    parser.add_argument(
        "--floor-only", action="store_true", help="only the in-process floor (no wrk, seconds)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another checkout with its .venv (git worktree add ...; make env): its model-api "
        "runs as the target `baseline`, with default's settings, in the same run",
    )
    args = parser.parse_args()
    args.duration = args.duration or (2 if args.quick else 4)
    if args.targets is None:  # naive, the slowest, adds ~20 s of reruns to a quick run
        args.targets = [t for t in DEFAULT_TARGETS if not (args.quick and t == "naive")]
    if args.floor_only:
        args.targets = []
    elif shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    if not (args.artifact / "model.json").is_file():
        print(f"{args.artifact} is not an artifact; run `make models` first", file=sys.stderr)
        return 2

    from understudy_model.data import holdout_records, load_ames, split_holdout

    args.records = holdout_records(split_holdout(load_ames()), limit=100)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    load_start = os.getloadavg()
    with cpus_kept_awake(args.keep_cpus_awake) as kept_awake:
        results = run(args, stamp)
    add_ratios(results)
    floor_stats = floor(args.artifact, args.records)
    summary = {"goals": goals(results), "scaling": scaling(results)}
    if results:
        print("\n" + table(results))
        print(f"CPUs kept awake by SCHED_IDLE spinners: {kept_awake or 'none'}")
    print("\nfloor (in process, validate + predict, no HTTP; drift_count: counting alone):")
    print(f"  drift series per pod: {floor_stats['drift_series_per_pod']} (and as many shares)")
    for name, s in floor_stats.items():
        if isinstance(s, dict):
            print(
                f"  {name:<22} p50 {s['p50_ms']:7.3f} ms  p99 {s['p99_ms']:7.3f} ms  "
                f"{s['calls_per_s']:9.0f} calls/s"
            )
    print("\ngoals:", json.dumps(summary["goals"]))
    print("scaling:", json.dumps(summary["scaling"]))
    out = RESULTS / f"model_api-{stamp}.json"
    document = {
        "benchmark": "model_api",
        "when": stamp,
        "artifact": str(args.artifact),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
        },
        "duration_s": args.duration,
        "quick": args.quick,
        "cpus_kept_awake": kept_awake,
        "targets": args.targets,
        "load_generator": "wrk (separate process), 2 threads; scaling rows: 2 wrk x 1 thread",
        "latency_of_split_wrk": "p50 request-weighted mean of the wrk processes', p99 worst",
        "configs": {k: CONFIGS[k] for k in args.targets if k in CONFIGS},
        "baseline": str(args.baseline) if args.baseline else None,
        "mlserver": {
            "version": mlserver_peer.MLSERVER_VERSION,
            "batching": mlserver_peer.BATCH_SETTINGS,
        },
        "results": [asdict(r) for r in results],
        "floor": floor_stats,
        **summary,
    }
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
