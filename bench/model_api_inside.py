"""Each part of a model-api request timed inside whole requests, beside the same call
repeated in a tight loop.

    uv run python bench/model_api_inside.py                  # v2, one record, 5,000 requests
    uv run python bench/model_api_inside.py --records 8 --requests 2000

Why: a sum of microbenchmarks (each part called in a loop) underestimated a whole request
by ~3x here (bench/README.md, "A request's CPU time in process"). A part called over and
over keeps its code and data in the CPU's caches and its branches predicted; inside a
request every other part has run in between, so the same call costs more. This script
says by how much, part by part, so that a change is judged where it runs.

How: the real app (``create_app``, the service's settings, ``log_inputs`` on as in
bench/model_api.py) answers ``--requests`` requests in process (no sockets, uvloop), after
a warm-up; the parts are wrapped with a ``perf_counter`` pair each (the wrapper's own cost,
~0.2 µs, is in every number). Then each synchronous part is called again with the
arguments of the last request, ``--loop`` times in a row, and timed the same way. A part
called inside another (``encode`` inside ``predict_rows``) is in both lines. Awaited parts
(the runtime's predict, which includes the micro-batcher's hand-over) have no loop column.

It prints one markdown table and writes the JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_api_parts import holdout_body, request, run_as_service, scope_of
from run_file import REPO, write_run


@dataclass
class Part:
    """One wrapped callable: where it lives, what it is called in the table."""

    owner: Any  # a module or a class
    attribute: str
    label: str
    awaited: bool = False


def parts() -> list[Part]:
    from understudy_common import logging as common_logging
    from understudy_model.fast import FastPredictor
    from understudy_model_api import predictions
    from understudy_model_api.drift import DriftMetrics
    from understudy_model_api.runtime import Runtime

    return [
        Part(predictions, "read_body", "body read", awaited=True),
        Part(predictions, "parse_json", "JSON parse"),
        Part(predictions, "validate_records", "validation"),
        Part(Runtime, "predict", "predict, awaited (batching queue + model)", awaited=True),
        Part(FastPredictor, "predict_rows", "predict_rows (encode + trees + exp)"),
        Part(FastPredictor, "encode", "encode (one-hot, scaling)"),
        Part(predictions, "_not_finite", "finite check"),
        Part(predictions, "answers_of", "answers"),
        Part(DriftMetrics, "count", "drift counting"),
        Part(predictions, "log_event", "log event (with inputs)"),
        Part(common_logging.EcsJsonFormatter, "format_event", "log line: fields + JSON"),
        Part(common_logging.JsonLinesHandler, "write_line", "log line: write"),
        Part(predictions, "render_json", "answer JSON"),
    ]


class Timed:
    """The parts wrapped: total seconds, calls and the last arguments of each."""

    def __init__(self, wrapped: list[Part]) -> None:
        self.parts = wrapped
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.last: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        self.real: dict[str, Callable[..., Any]] = {}

    def __enter__(self) -> Timed:
        for part in self.parts:
            real = getattr(part.owner, part.attribute)
            self.real[part.label] = real
            setattr(part.owner, part.attribute, self._wrap(part, real))
        return self

    def __exit__(self, *exc: object) -> None:
        for part in self.parts:
            setattr(part.owner, part.attribute, self.real[part.label])

    def _wrap(self, part: Part, real: Callable[..., Any]) -> Callable[..., Any]:
        label, seconds, calls, last = part.label, self.seconds, self.calls, self.last
        clock = time.perf_counter
        if part.awaited:

            async def awaited(*args: Any, **kwargs: Any) -> Any:
                started = clock()
                result = await real(*args, **kwargs)
                seconds[label] += clock() - started
                calls[label] += 1
                return result

            return awaited

        def called(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            result = real(*args, **kwargs)
            seconds[label] += clock() - started
            calls[label] += 1
            last[label] = (args, kwargs)
            return result

        return called

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def tight_loop_us(timed: Timed, label: str, repeats: int) -> float:
    """µs per call of ``label``'s real callable, called ``repeats`` times in a row with the
    last request's arguments (best of 5 such runs: the loop's own floor)."""
    real = timed.real[label]
    args, kwargs = timed.last[label]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeats):
            real(*args, **kwargs)
        best = min(best, (time.perf_counter() - started) / repeats)
    return best * 1e6


async def measure(
    artifact: Path,
    body: bytes,
    *,
    requests: int,
    warmup: int,
    loop_repeats: int,
    freeze_gc: bool = False,
) -> dict[str, Any]:
    from understudy_model_api.app import create_app
    from understudy_model_api.settings import Settings

    app = create_app(Settings(artifact_dir=artifact, log_inputs=True))
    scope = scope_of(body)
    # Wrapped before the model loads: the runner keeps the predictor's bound method.
    with Timed(parts()) as timed:
        async with app.router.lifespan_context(app):
            if freeze_gc:  # as the service does after start-up (understudy_common.gcfreeze)
                gc.freeze()
            for _ in range(warmup):
                await request(app, scope, body)
            timed.reset()
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(requests):
                status = await request(app, scope, body)
                if status != 200:
                    raise RuntimeError(f"HTTP {status}: the body must be a valid request")
            whole_us = (time.perf_counter() - started) / requests * 1e6
            cpu_us = (time.process_time() - cpu) / requests * 1e6
            inside = {  # µs per call, and calls per request
                part.label: (timed.seconds[part.label] / calls * 1e6, calls / requests)
                for part in timed.parts
                if (calls := timed.calls.get(part.label, 0))  # else not on this model's path
            }
    # The tight loops call the real parts (a part calling another reaches the real one too),
    # after the wrappers are gone, so they add nothing to the counts above.
    rows = [
        {
            "part": part.label,
            "calls_per_request": inside[part.label][1],
            "inside_us": inside[part.label][0],
            "tight_loop_us": None
            if part.awaited
            else tight_loop_us(timed, part.label, loop_repeats),
        }
        for part in timed.parts
        if part.label in inside
    ]
    return {"whole_request_us": whole_us, "whole_request_cpu_us": cpu_us, "parts": rows}


def table(result: dict[str, Any]) -> str:
    lines = [
        "| part | µs per call inside requests | µs per call in a tight loop | inside / loop |",
        "|---|---:|---:|---:|",
        f"| whole request (wall; CPU {result['whole_request_cpu_us']:.0f}) | "
        f"{result['whole_request_us']:.0f} | | |",
    ]
    for row in result["parts"]:
        loop = row["tight_loop_us"]
        lines.append(
            f"| {row['part']} | {row['inside_us']:.1f} | "
            + (f"{loop:.1f} | ×{row['inside_us'] / loop:.1f} |" if loop else "– | – |")
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, default=REPO / "artifacts" / "v2")
    parser.add_argument("--records", type=int, default=1, help="Ames holdout records per request")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--loop", type=int, default=2000, help="calls per tight-loop run")
    args = parser.parse_args()
    result, load_before, load_after = run_as_service(
        measure(
            args.artifact,
            holdout_body(args.records),
            requests=args.requests,
            warmup=args.warmup,
            loop_repeats=args.loop,
            freeze_gc=True,
        )
    )
    print(f"\n{args.artifact.name}, {args.records} record(s) per request, {args.requests} requests")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}\n")
    print(table(result))
    write_run(
        "model_api_inside",
        {"artifact": str(args.artifact), "records": args.records, **result},
        load_before=load_before,
        load_after=load_after,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
