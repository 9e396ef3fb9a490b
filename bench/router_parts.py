"""The shadow router's own CPU time per request, in process, against real model-apis:
with mirroring off and 100% mirrored, each with one part taken away.

    uv run python bench/router_parts.py                      # 8 rounds x 1,000 requests
    uv run python bench/router_parts.py --rounds 4 --requests 500

bench/shadow_router.py measures over HTTP, where the live and candidate model-apis, wrk
and the router share the cores; this one counts the router's own work only. The live
(v1) and candidate (v2) model-apis run as real processes (as in bench/shadow_router.py);
each router variant is its own app built by ``create_app`` from its own settings, all
started in this process and called in turn, round after round, through ASGI without
sockets on the client side (one Ames holdout record per request). A round's time is
this process's CPU time (``time.process_time``: user and system, the upstream
exchanges' socket calls included) from its first request until every mirror it caused
is judged, counted and logged, divided by its requests. Log lines go to a file.

Variants: the router as shipped with mirroring off and 100% mirrored (the mirror work in
its mirror process: the router's own row is then what its event loop still does per
mirror, and the child's CPU time is its own column, read from /proc); 100% mirrored with
the mirror work on the router's loop (``mirror_process=false``); and each with one part
off: ``fast_route`` (then FastAPI's routing, middleware and ``Request`` serve the live
path) and the ground-truth store (``feedback_store=none``). "per mirror" in the table is
a 100% row minus the matching mirroring-off row: the router's work for one mirror (the
second exchange, judging, counting, the comparison line, the candidate's feedback row).

It prints one markdown table and writes the JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shadow_router
import uvloop
from model_api_parts import request, scope_of
from run_file import REPO, write_run
from shadow_router import model_api

ASGIApp = Callable[..., Awaitable[None]]


@dataclass
class Variant:
    name: str
    mirror_percent: float
    settings: dict[str, Any] = field(default_factory=dict)


# The mirror work on the router's event loop, not in its mirror process.
LOOP = {"mirror_process": False}
VARIANTS = [
    Variant("mirroring off (as shipped)", 0),
    Variant("mirroring off, fast route off", 0, {"fast_route": False}),
    Variant("mirroring off, feedback store off", 0, {"feedback_store": "none"}),
    Variant("100% mirrored (as shipped: mirror process)", 100),
    Variant("100% mirrored, in-loop", 100, LOOP),
    Variant("100% mirrored, in-loop, fast route off", 100, {**LOOP, "fast_route": False}),
    Variant("100% mirrored, in-loop, feedback store off", 100, {**LOOP, "feedback_store": "none"}),
]
# Which mirroring-off row each 100% row's "per mirror" is taken against.
BASELINE = {
    "100% mirrored (as shipped: mirror process)": "mirroring off (as shipped)",
    "100% mirrored, in-loop": "mirroring off (as shipped)",
    "100% mirrored, in-loop, fast route off": "mirroring off, fast route off",
    "100% mirrored, in-loop, feedback store off": "mirroring off, feedback store off",
}


def routing_config(live: str, candidate: str, percent: float) -> dict[str, Any]:
    return {
        "live": {"url": live, "version": "1.0.0"},
        "candidate": {"url": candidate, "version": "2.0.0"},
        "mirror_percent": percent,
    }


async def _drained(app: Any) -> None:
    """Until every mirror job of the app's router is done (judged, counted, logged)."""
    router = app.state.router
    while router.mirror_jobs:
        await asyncio.sleep(0.0005)  # polls the router's own counters, no fixed wait


async def measure(
    live: str,
    candidate: str,
    body: bytes,
    *,
    store_dir: Path,
    rounds: int,
    requests: int,
    warmup: int,
    variants: list[Variant] = VARIANTS,
    freeze_gc: bool = False,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """The router's CPU µs per request by variant and round, and its mirror process's
    (variants that have one)."""
    from understudy_router.app import create_app
    from understudy_router.settings import RouterSettings

    scope = scope_of(body)
    apps: list[tuple[Variant, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        for i, v in enumerate(variants):
            settings: dict[str, Any] = {
                "config_json": json.dumps(routing_config(live, candidate, v.mirror_percent)),
                "feedback_store": f"sqlite:///{store_dir / f'feedback-{i}.sqlite3'}",
                **v.settings,
            }
            app = create_app(RouterSettings(**settings))
            await stack.enter_async_context(app.router.lifespan_context(app))
            apps.append((v, app))
        if freeze_gc:  # as the service does after start-up (understudy_common.gcfreeze)
            gc.freeze()
        cpu_us: dict[str, list[float]] = {v.name: [] for v, _ in apps}
        child_us: dict[str, list[float]] = {}
        for round_ in range(rounds + 1):  # round 0 warms every variant up, unmeasured
            for variant, app in apps:
                n = warmup if round_ == 0 else requests
                child = app.state.router.routing_view()["mirror"]["process"]
                started, child_started = time.process_time(), cpu_seconds(child)
                for _ in range(n):
                    status = await request(app, dict(scope), body)
                    if status != 200:
                        raise RuntimeError(f"{variant.name}: HTTP {status}")
                await _drained(app)
                spent = time.process_time() - started
                if round_:
                    cpu_us[variant.name].append(spent / n * 1e6)
                    if child is not None:
                        spent = cpu_seconds(child) - child_started
                        child_us.setdefault(variant.name, []).append(spent / n * 1e6)
    return cpu_us, child_us


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat; 0 for None)."""
    return 0.0 if pid is None else shadow_router.cpu_seconds([pid])


def table(
    cpu_us: dict[str, list[float]], child_us: dict[str, list[float]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    child_us = child_us or {}
    medians = {name: statistics.median(values) for name, values in cpu_us.items()}
    lines = [
        "| variant | router CPU µs per request (median) | rounds' range | per mirror "
        "| its mirror process's CPU µs per request |",
        "|---|---:|---:|---:|---:|",
    ]
    rows = []
    for name, values in cpu_us.items():
        base = BASELINE.get(name)
        per_mirror = medians[name] - medians[base] if base in medians else None
        shown = f"{per_mirror:+.0f}" if per_mirror is not None else "–"
        child = child_us.get(name)
        child_shown = f"{statistics.median(child):.0f}" if child else "–"
        lines.append(
            f"| {name} | {medians[name]:.0f} | {min(values):.0f}–{max(values):.0f} | {shown} "
            f"| {child_shown} |"
        )
        rows.append(
            {
                "variant": name,
                "median_us": medians[name],
                "rounds_us": values,
                "per_mirror_us": per_mirror,
                "mirror_process_rounds_us": child,
            }
        )
    return "\n".join(lines), rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1000, help="per variant and round")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    from understudy_common.logging import configure_logging
    from understudy_model.data import holdout_records, load_ames, split_holdout

    records = holdout_records(split_holdout(load_ames()), limit=1)
    body = json.dumps({"records": records}).encode()
    load_before = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="router-parts-") as tmp_name,
        contextlib.ExitStack() as stack,
    ):
        tmp = Path(tmp_name)
        live, live_proc = model_api(REPO / "artifacts" / "v1", tmp, "live")
        stack.enter_context(live_proc)
        candidate, candidate_proc = model_api(REPO / "artifacts" / "v2", tmp, "candidate")
        stack.enter_context(candidate_proc)
        log = stack.enter_context((tmp / "router.log").open("w"))
        configure_logging(service="shadow-router", level="INFO", stream=log)
        cpu_us, child_us = uvloop.run(  # the service's event loop
            measure(
                f"http://127.0.0.1:{live}",
                f"http://127.0.0.1:{candidate}",
                body,
                store_dir=tmp,
                rounds=args.rounds,
                requests=args.requests,
                warmup=args.warmup,
                freeze_gc=True,
            )
        )
    load_after = os.getloadavg()
    text, rows = table(cpu_us, child_us)
    print(f"\n{args.rounds} rounds x {args.requests} requests per variant")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}\n")
    print(text)
    write_run(
        "router_parts",
        {
            "rounds": args.rounds,
            "requests_per_round": args.requests,
            "body_bytes": len(body),
            "variants": rows,
        },
        load_before=load_before,
        load_after=load_after,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
