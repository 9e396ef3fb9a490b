"""Where a model-api request's time goes: py-spy samples of the service under wrk, grouped.

    uv run python bench/profile_model_api.py                       # v2, c=1 and c=64, ~1 minute
    uv run python bench/profile_model_api.py --configs default fastapi-route --duration 10

For each configuration of bench/model_api.py (same service process, same wrk script, one Ames
holdout record per request) and each concurrency it samples the service process with
py-spy (``--nonblocking``, wall-clock samples of the busy thread) while wrk drives it, and
groups every sample by the deepest frame that names a part of the request: the HTTP
server (uvicorn, httptools, the socket writes), FastAPI/Starlette, our middleware, body
read and JSON parse, validation, predict (and the batching queue), drift counting,
metrics, logging, the response JSON. It prints one markdown table (share of samples per
group and column) and writes the JSON to bench/results/.

py-spy is a benchmark-only tool: it is installed into its own environment under
~/.cache/understudy/bench-tools/py-spy (``uv``), never into the project. Shares, not
times: on a busy machine a descheduled process still counts as busy, so compare columns of
one run, and read the load average printed with them.
"""

# ruff: noqa: E501  (the group table reads best one group per line)

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_api import CONFIGS, REPO, RESULTS
from model_api_runs import free_ports, model_api_process, run_wrk, wait_ready

TOOLS = Path.home() / ".cache" / "understudy" / "bench-tools" / "py-spy"

# (group, pattern on a "function (file:line)" frame); the deepest matching frame names the
# sample's group, so a JSON encoding inside the log call counts as logging, and Starlette's
# layers between our middleware and the route count as the framework's.
GROUPS: list[tuple[str, str]] = [
    ("logging: event, format, write", r"_log\b|log_event|/logging/__init__|pythonjsonlogger|understudy_common/logging"),
    ("metrics", r"prometheus_client|understudy_model_api/metrics\.py"),
    ("drift counting", r"understudy_model_api/drift\.py"),
    ("validation", r"understudy_model/validation\.py"),
    ("predict: fast path, batching queue", r"understudy_model/(fast|trees)\.py|understudy_model_api/(batching|runtime)\.py"),
    ("body read, JSON parse", r"understudy_model_api/payload\.py|understudy_common/body\.py"),
    ("response JSON", r"render_json|render \(.*errors\.py|starlette/responses\.py"),
    ("request id", r"request_id\.py|uuid\.py"),
    ("HTTP server: uvicorn, httptools, socket writes", r"uvicorn/|httptools"),
    ("route handler glue", r"understudy_model_api/(routes|predictions)\.py"),
    ("our middleware", r"understudy_model_api/(middleware|app)\.py"),
]  # fmt: skip
FRAMEWORK = ("FastAPI/Starlette: routing, dependencies, middleware stack", r"fastapi/|starlette/")
OTHER = "other (event loop, interpreter)"
# Samples of start-up (imports, artifact load, fast-path verification), not of requests.
STARTUP = re.compile(r"_find_and_load|load_runtime|load_artifact|verify_against|compile_fast")


def group_of(stack: str) -> str:
    for frame in reversed(stack.split(";")):
        for name, pattern in [*GROUPS, FRAMEWORK]:
            if re.search(pattern, frame):
                return name
    return OTHER


def shares(raw: Path) -> dict[str, float]:
    """Share of the request samples in each group (start-up samples left out)."""
    counts: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if n.isdigit() and not STARTUP.search(stack):
            counts[group_of(stack)] += int(n)
    total = sum(counts.values()) or 1
    return {name: counts[name] / total for name in [*(g for g, _ in GROUPS), FRAMEWORK[0], OTHER]}


def py_spy() -> Path:
    exe = TOOLS / "bin" / "py-spy"
    if not exe.exists():
        subprocess.run(["uv", "venv", "-q", str(TOOLS)], check=True)
        subprocess.run(
            ["uv", "pip", "install", "-q", "-p", str(TOOLS / "bin" / "python"), "py-spy"],
            check=True,
        )
    return exe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, default=REPO / "artifacts" / "v2")
    parser.add_argument("--configs", nargs="*", default=["default"], choices=list(CONFIGS))
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 64])
    parser.add_argument("--duration", type=int, default=5, help="seconds sampled per column")
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    args = parser.parse_args()
    spy = py_spy()

    from understudy_model.data import holdout_records, load_ames, split_holdout

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    body = RESULTS / "profile_model_api-body-1.json"
    body.write_text(json.dumps({"records": holdout_records(split_holdout(load_ames()), limit=1)}))
    columns: dict[str, dict[str, Any]] = {}
    for config in args.configs:
        log_path = RESULTS / f"profile_model_api-{stamp}-{config}.log"
        [port] = free_ports(1)
        with model_api_process(args.artifact, CONFIGS[config], log_path, port=port) as started:
            url, pid = wait_ready(started), started.proc.pid
            for conc in args.concurrency:
                run_wrk(f"{url}/v1/predictions", body, concurrency=conc, duration=1)  # warm-up
                raw = RESULTS / f"profile_model_api-{stamp}-{config}-c{conc}.txt"
                load = os.getloadavg()[0]
                sampler = subprocess.Popen(
                    [
                        str(spy),
                        "record",
                        "--nonblocking",
                        "-r",
                        str(args.rate),
                        "-d",
                        str(args.duration),
                        "-f",
                        "raw",
                        "-o",
                        str(raw),
                        "-p",
                        str(pid),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                stats = run_wrk(
                    f"{url}/v1/predictions", body, concurrency=conc, duration=args.duration
                )
                sampler.wait(timeout=60)
                rps = stats["requests"] / (stats["duration_us"] / 1e6)
                columns[f"{config} c={conc}"] = {
                    "requests_per_s": rps,
                    "p50_ms": stats["p50_us"] / 1e3,
                    "load": [load, os.getloadavg()[0]],
                    "shares": shares(raw),
                }
                print(f"{config} c={conc}: {rps:,.0f} req/s, load {load:.1f}", flush=True)
    names = list(columns)
    print("\n| where | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for group in [*(g for g, _ in GROUPS), FRAMEWORK[0], OTHER]:
        cells = [f"{columns[n]['shares'][group]:.0%}" for n in names]
        print(f"| {group} | " + " | ".join(cells) + " |")
    out = RESULTS / f"profile_model_api-{stamp}.json"
    out.write_text(json.dumps({"artifact": str(args.artifact), "columns": columns}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
