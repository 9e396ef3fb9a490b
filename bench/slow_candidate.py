"""Benchmark: calibrate the demo's slow candidate against v2, through model-api and HTTP.

Starts ``python -m understudy_model_api`` for v1, v2 and the slowed v2 of the demo's
``slow-candidate`` scenario (``understudy_model.faults.Slowdown``, ``SLOW_REPEATS`` by
default), then sends one Ames holdout house per request, round-robin over the three, at a
fixed pace (as the demo's traffic does: 40 requests/s in total by default), over a
keep-alive connection each, and times every answer on the client (HTTP included, as the
router measures its upstreams). Prints p50/p90/p99 per version and each version's ratio
to v2 (the peer the slow candidate is calibrated against).

    uv run python bench/slow_candidate.py [--requests 1500] [--repeats 40 60]

Writes bench/results/slow_candidate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from understudy_cli.demo.run import ensure_artifacts, traffic_records
from understudy_cli.demo.scenarios import SCENARIOS, SLOW_REPEATS, V1, V2
from understudy_model.faults import write_slowdown

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(artifact: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "UNDERSTUDY_MODEL_API_ARTIFACT_DIR": str(artifact),
        "UNDERSTUDY_MODEL_API_PORT": str(port),
        "UNDERSTUDY_MODEL_API_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "understudy_model_api"], env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"model-api for {artifact} not ready in 60s; see {log}")


def measure(urls: dict[str, str], records: list[dict[str, Any]], *, n: int, rate: float) -> dict:
    clients = {name: httpx.Client(base_url=url, timeout=10) for name, url in urls.items()}
    times: dict[str, list[float]] = {name: [] for name in urls}
    names = list(urls)
    period = 1.0 / rate
    next_at = time.monotonic()
    try:
        for i in range(n * len(names)):
            name = names[i % len(names)]
            record = records[(i // len(names)) % len(records)]
            started = time.perf_counter()
            response = clients[name].post("/v1/predictions", json={"records": [record]})
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            if i >= 30 * len(names):  # warm-up: the first 30 requests per version
                times[name].append(elapsed)
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        for client in clients.values():
            client.close()
    out = {}
    for name, values in times.items():
        ms = np.array(values) * 1000
        out[name] = {
            "requests": len(values),
            "p50_ms": float(np.quantile(ms, 0.5)),
            "p90_ms": float(np.quantile(ms, 0.9)),
            "p99_ms": float(np.quantile(ms, 0.99)),
        }
    for row in out.values():
        for q in ("p50", "p90", "p99"):
            row[f"{q}_vs_v2"] = row[f"{q}_ms"] / out["v2"][f"{q}_ms"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1500, help="per version")
    parser.add_argument("--rate", type=float, default=40.0, help="requests/s over all versions")
    parser.add_argument("--repeats", type=int, nargs="+", default=[SLOW_REPEATS])
    parser.add_argument("--artifacts", type=Path, default=REPO / "artifacts")
    parser.add_argument("--out", type=Path, default=RESULTS / "slow_candidate.json")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    paths = ensure_artifacts(args.artifacts, [V1, V2], print)
    artifacts = {"v1": paths[V1.version], "v2": paths[V2.version]}
    for repeats in args.repeats:
        out = RESULTS / f"v2-slow-x{repeats}"
        write_slowdown(paths[V2.version], out, version=f"2.0.1-slow-x{repeats}", repeats=repeats)
        artifacts[f"v2 x{repeats}"] = out
    procs = []
    try:
        urls = {}
        for name, artifact in artifacts.items():
            log = RESULTS / f"slow_candidate-{name.replace(' ', '')}.log"
            proc, urls[name] = _start(artifact, log)
            procs.append(proc)
        load_before = os.getloadavg()
        records, _ = traffic_records()  # (records, true prices)
        table = measure(urls, records, n=args.requests, rate=args.rate)
        load_after = os.getloadavg()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    print(f"one house per request, {args.rate:g} requests/s in total, {args.requests} per version")
    print("| version | p50 ms | p90 ms | p99 ms | p50 / v2 | p90 / v2 | p99 / v2 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in table.items():
        print(
            f"| {name} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['p50_vs_v2']:.2f} | {r['p90_vs_v2']:.2f} | {r['p99_vs_v2']:.2f} |"
        )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    args.out.write_text(
        json.dumps(
            {
                "at": datetime.now(UTC).isoformat(),
                "scenario": SCENARIOS["slow-candidate"].candidate.version,
                "rate": args.rate,
                "requests_per_version": args.requests,
                "load_average_before": load_before,
                "load_average_after": load_after,
                "versions": table,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
