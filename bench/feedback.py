"""Benchmark: what storing predictions for ground truth costs the live path, and how fast
labels are applied, per store backend.

One run, the same model-api processes (v1 live, v2 candidate, 100% mirrored) behind three
routers that differ only in ``UNDERSTUDY_ROUTER_FEEDBACK_STORE``:

    store-off    none: nothing stored (the router as it was)
    sqlite       a SQLite file (WAL), the embedded default
    postgresql   a real PostgreSQL (Debian's package, started here on 127.0.0.1)

Live path: wrk (Lua POST of one Ames holdout record) at 1 connection (latency) and at
``--connections`` (load), every target once per round in a rotated order; p50/p99 and
requests/s, medians over rounds, and the p50/p99 ratios store-on / store-off within each
round. Afterwards each router's ``understudy_router_predictions_stored_total`` by outcome
(everything offered must have been stored).

Feedback throughput: ``--labels`` predictions are put straight into each store, then
labelled through ``POST /v1/feedback`` in batches of ``--batch`` from ``--clients``
concurrent clients; labels/s from the first request to the last answer, every label must
come back ``applied``.

Needs Debian ``wrk`` and ``postgresql`` (``apt-get install -y wrk postgresql``) and trained
artifacts (``make models``).

    uv run python bench/feedback.py [--duration 5] [--rounds 2] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from run_file import write_run
from shadow_router import LUA, REPO, artifacts_root, body, model_api, router, run_wrk

sys.path.insert(0, str(REPO))  # the real PostgreSQL of the tests (tests/support/postgres.py)

from tests.support.postgres import PostgresServer, postgres_bin_dir
from understudy_router.feedback.store import LIVE, Prediction, open_store

BACKENDS = ("store-off", "sqlite", "postgresql")


def stored_counts(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("understudy_router_predictions_stored_total{"):
            outcome = line.split('outcome="')[1].split('"')[0]
            out[outcome] = float(line.rsplit(" ", 1)[1])
    return out


def seed(url: str, prefix: str, count: int) -> list[str]:
    """``count`` live predictions (one record each) straight into the store."""
    store = open_store(url)
    now = time.time()
    ids = [f"{prefix}-{i}" for i in range(count)]
    try:
        for start in range(0, count, 5_000):
            store.store(
                [
                    Prediction(rid, 0, LIVE, "1.0.0", "house-prices", 200_000.0, now)
                    for rid in ids[start : start + 5_000]
                ]
            )
    finally:
        store.close()
    return ids


def label_throughput(port: int, ids: list[str], *, batch: int, clients: int) -> dict[str, Any]:
    batches = [ids[i : i + batch] for i in range(0, len(ids), batch)]
    outcomes: dict[str, int] = {}
    lock = threading.Lock()
    url = f"http://127.0.0.1:{port}/v1/feedback"

    def work(mine: list[list[str]]) -> None:
        with httpx.Client(timeout=60) as client:
            for chunk in mine:
                labels = [{"request_id": r, "record": 0, "actual": 190_000.0} for r in chunk]
                response = client.post(url, json={"labels": labels})
                response.raise_for_status()
                with lock:
                    for name, n in response.json()["summary"].items():
                        outcomes[name] = outcomes.get(name, 0) + n

    threads = [threading.Thread(target=work, args=(batches[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {
        "labels": len(ids),
        "seconds": seconds,
        "labels_per_s": len(ids) / seconds,
        "outcomes": outcomes,
        "batch": batch,
        "clients": clients,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk measurement")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (load)")
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each target")
    parser.add_argument("--labels", type=int, default=20_000, help="labels per backend")
    parser.add_argument("--batch", type=int, default=500, help="labels per POST")
    parser.add_argument("--clients", type=int, default=4, help="concurrent feedback clients")
    args = parser.parse_args()
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL not found: apt-get install -y postgresql")
    root = artifacts_root()
    load_before = os.getloadavg()
    results: dict[str, list[dict[str, Any]]] = {}
    feedback: dict[str, dict[str, Any]] = {}
    stored: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-feedback-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)  # the server may run as the postgres user
        postgres = stack.enter_context(PostgresServer(tmp / "postgres", bin_dir=bin_dir))
        urls = {
            "store-off": "none",
            "sqlite": f"sqlite:///{tmp / 'feedback.sqlite3'}",
            "postgresql": postgres.new_database(),
        }
        script = tmp / "post.lua"
        script.write_text(LUA % body())
        live_port, live_cm = model_api(root / "v1", tmp, "live")
        cand_port, cand_cm = model_api(root / "v2", tmp, "candidate")
        stack.enter_context(live_cm)
        stack.enter_context(cand_cm)
        config = {
            "live": {"url": f"http://127.0.0.1:{live_port}", "version": "1.0.0"},
            "candidate": {"url": f"http://127.0.0.1:{cand_port}", "version": "2.0.0"},
            "mirror_percent": 100,
        }
        ports: dict[str, int] = {}
        for name in BACKENDS:
            os.environ["UNDERSTUDY_ROUTER_FEEDBACK_STORE"] = urls[name]
            ports[name], cm = router(config, tmp, name)
            stack.enter_context(cm)
        os.environ.pop("UNDERSTUDY_ROUTER_FEEDBACK_STORE")
        for connections in (1, args.connections):
            for round_ in range(args.rounds):
                shift = round_ % len(BACKENDS)
                for name in BACKENDS[shift:] + BACKENDS[:shift]:
                    key = f"{name}@c{connections}"
                    print(f"round {round_ + 1}: {key} ...", file=sys.stderr, flush=True)
                    results.setdefault(key, []).append(
                        run_wrk(
                            f"http://127.0.0.1:{ports[name]}/v1/predictions",
                            script,
                            connections=connections,
                            duration=args.duration,
                        )
                    )
        time.sleep(1.0)  # the writers' last batch (interval 0.2 s)
        stored = {name: stored_counts(ports[name]) for name in BACKENDS[1:]}
        for name in BACKENDS[1:]:
            print(f"feedback: {name} ...", file=sys.stderr, flush=True)
            ids = seed(urls[name], f"bench-{name}", args.labels)
            feedback[name] = label_throughput(
                ports[name], ids, batch=args.batch, clients=args.clients
            )
    load_after = os.getloadavg()

    def ratio(on: str, field: str, c: int) -> dict[str, float]:
        values = [
            a[field] / b[field]
            for a, b in zip(results[f"{on}@c{c}"], results[f"store-off@c{c}"], strict=True)
        ]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    summary = {
        f"{on}_{field.removesuffix('_us')}_ratio@c{c}": ratio(on, field, c)
        for on in BACKENDS[1:]
        for c in (1, args.connections)
        for field in ("p50_us", "p99_us")
    }
    print(f"\nload average before {load_before}, after {load_after}; {os.cpu_count()} CPUs")
    print(f"live path, 100% mirrored; medians of {args.rounds} rounds of {args.duration} s")
    print(f"{'target':<18}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}{'non2xx':>8}")
    for key, runs in results.items():
        med = {f: statistics.median(r[f] for r in runs) for f in ("p50_us", "p99_us", "rps")}
        print(
            f"{key:<18}{med['p50_us'] / 1000:>9.2f}{med['p99_us'] / 1000:>9.2f}"
            f"{med['rps']:>9.0f}{sum(r['errors'] for r in runs):>8}"
            f"{sum(r['non2xx'] for r in runs):>8}"
        )
    print(f"\n{'ratio store-on / store-off':<34}{'median':>8}{'range':>16}")
    for key, value in summary.items():
        spread = f"{value['min']:.3f}-{value['max']:.3f}"
        print(f"{key:<34}{value['median']:>8.3f}{spread:>16}")
    print("\npredictions stored, by outcome:")
    for name, counts in stored.items():
        print(f"  {name:<12}{json.dumps(counts)}")
    print(
        f"\n{'feedback':<12}{'labels':>8}{'batch':>7}{'clients':>8}{'seconds':>9}{'labels/s':>10}"
    )
    for name, f in feedback.items():
        print(
            f"{name:<12}{f['labels']:>8}{f['batch']:>7}{f['clients']:>8}"
            f"{f['seconds']:>9.2f}{f['labels_per_s']:>10.0f}  {json.dumps(f['outcomes'])}"
        )
    write_run(
        "feedback",
        {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "results": results,
            "summary": summary,
            "stored": stored,
            "feedback": feedback,
        },
        load_before=load_before,
        load_after=load_after,
    )


if __name__ == "__main__":
    main()
