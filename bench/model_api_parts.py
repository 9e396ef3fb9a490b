"""Where a model-api request's CPU time goes: whole requests through the real app in
process (no sockets), with one part taken away at a time, beside the raw-ASGI ceiling
called the same way.

    uv run python bench/model_api_parts.py                      # v2, 8 rounds x 2,000 requests
    uv run python bench/model_api_parts.py --artifact artifacts/v1 --rounds 4

bench/model_api.py measures over HTTP and bench/profile_model_api.py samples shares; this
one gives microseconds. Each variant is its own app built by ``create_app`` from its own
``Settings`` (one Ames holdout record per request, the same body bytes as
bench/model_api.py), all started in one process and called in turn, round after round, so
a busy moment hits every variant alike. The time is the process's CPU time
(``time.process_time``) over the round divided by its requests; the log lines go to a file
as the service's go to its stdout. Variants:

- as shipped (``log_inputs`` off), and with each request's inputs in its log event;
- settings that switch a part off: drift counting (``drift_features=none``), the batching
  queue (``batching=false``);
- parts patched out for the measurement only (no configuration does this; it tells what
  the part costs): the request's log event, and the prediction (the runtime answers zeros
  at once, so neither the queue nor the model runs);
- all three patched out: what is left is the request's own handling (body, JSON parse,
  validation, metrics, request id, the answer's JSON) without HTTP.

It prints one markdown table (median and range of the rounds, and each variant's
difference to "as shipped") and writes the JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import uvloop
from asgi_ceiling import app as ceiling_app
from run_file import REPO, write_run

ASGIApp = Callable[..., Awaitable[None]]
T = TypeVar("T")
PATH = "/v1/predictions"


@dataclass
class Variant:
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    no_log_event: bool = False
    no_predict: bool = False


VARIANTS = [
    Variant("as shipped (inputs not logged)"),
    Variant("inputs logged", {"log_inputs": True}),
    Variant("drift counting off (setting)", {"drift_features": "none"}),
    Variant("batching queue off (setting)", {"batching": False}),
    Variant("log event patched out", no_log_event=True),
    Variant("predict patched out (zeros, no queue)", no_predict=True),
    Variant(
        "log event, drift and predict out",
        {"drift_features": "none"},
        no_log_event=True,
        no_predict=True,
    ),
]
CEILING = "raw ASGI ceiling (fixed answer)"
SHIPPED = VARIANTS[0].name


def scope_of(body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def request(app: ASGIApp, scope: dict[str, Any], body: bytes) -> int:
    """One whole request; returns the status (the body is read as the app sends it)."""
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:  # an app that reads past the body would wait for a disconnect
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


@contextlib.contextmanager
def patched(variant: Variant) -> Iterator[None]:
    """Take the variant's parts out of the model-api modules, and put them back."""
    from understudy_model_api import predictions
    from understudy_model_api.runtime import Runtime

    real_log_event, real_predict = predictions.log_event, Runtime.predict

    async def zeros(self: Runtime, rows: Any, *, alone: bool = False) -> np.ndarray:
        return np.zeros(len(rows))

    try:
        if variant.no_log_event:
            predictions.log_event = lambda *args, **kwargs: None
        if variant.no_predict:
            Runtime.predict = zeros  # type: ignore[method-assign]
        yield
    finally:
        predictions.log_event, Runtime.predict = real_log_event, real_predict  # type: ignore[method-assign]


async def measure(
    artifact: Path,
    body: bytes,
    *,
    rounds: int,
    requests: int,
    warmup: int,
    freeze_gc: bool = False,
) -> dict[str, list[float]]:
    from understudy_model_api.app import create_app
    from understudy_model_api.settings import Settings

    scope = scope_of(body)
    apps: list[tuple[Variant, ASGIApp]] = [(Variant(CEILING), ceiling_app)]
    async with contextlib.AsyncExitStack() as stack:
        for v in VARIANTS:
            model_api = create_app(Settings(artifact_dir=artifact, **v.settings))
            await stack.enter_async_context(model_api.router.lifespan_context(model_api))
            apps.append((v, model_api))
        if freeze_gc:  # as the service does after start-up (understudy_common.gcfreeze)
            gc.freeze()
        cpu_us: dict[str, list[float]] = {v.name: [] for v, _ in apps}
        for round_ in range(rounds + 1):  # round 0 warms every variant up, unmeasured
            for variant, app in apps:
                n = warmup if round_ == 0 else requests
                with patched(variant):
                    started = time.process_time()
                    for _ in range(n):
                        status = await request(app, scope, body)
                        if status != 200:
                            raise RuntimeError(f"{variant.name}: HTTP {status}")
                    spent = time.process_time() - started
                if round_:
                    cpu_us[variant.name].append(spent / n * 1e6)
    return cpu_us


def table(cpu_us: dict[str, list[float]]) -> tuple[str, list[dict[str, Any]]]:
    shipped = statistics.median(cpu_us[SHIPPED])
    lines = [
        "| variant | CPU µs per request (median) | rounds' range | vs as shipped |",
        "|---|---:|---:|---:|",
    ]
    rows = []
    for name, values in cpu_us.items():
        median = statistics.median(values)
        diff = median - shipped
        lines.append(
            f"| {name} | {median:.0f} | {min(values):.0f}–{max(values):.0f} | {diff:+.0f} |"
        )
        rows.append(
            {"variant": name, "median_us": median, "rounds_us": values, "vs_shipped_us": diff}
        )
    return "\n".join(lines), rows


def holdout_body(records: int) -> bytes:
    """A request body of the first ``records`` Ames holdout houses (as bench/model_api.py's)."""
    from understudy_model.data import holdout_records, load_ames, split_holdout

    return json.dumps(
        {"records": holdout_records(split_holdout(load_ames()), limit=records)}
    ).encode()


def run_as_service(
    measurement: Coroutine[Any, Any, T],
) -> tuple[T, tuple[float, float, float], tuple[float, float, float]]:
    """Run ``measurement`` on the service's event loop (uvloop) with the service's JSON log
    lines going to a file, as its go to its stdout; with the load average before and after."""
    from understudy_common.logging import configure_logging

    load_before = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="model-api-bench-") as tmp,
        (Path(tmp) / "service.log").open("w") as log,
    ):
        configure_logging(service="model-api", level="INFO", stream=log)
        result = uvloop.run(measurement)
    return result, load_before, os.getloadavg()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, default=REPO / "artifacts" / "v2")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000, help="per variant and round")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--body", type=Path, help="default: one holdout record, as model_api.py")
    args = parser.parse_args()
    body = args.body.read_bytes() if args.body is not None else holdout_body(1)
    cpu_us, load_before, load_after = run_as_service(
        measure(
            args.artifact,
            body,
            rounds=args.rounds,
            requests=args.requests,
            warmup=args.warmup,
            freeze_gc=True,
        )
    )
    text, rows = table(cpu_us)
    print(f"\n{args.artifact.name}, {args.rounds} rounds x {args.requests} requests per variant")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}\n")
    print(text)
    write_run(
        "model_api_parts",
        {
            "artifact": str(args.artifact),
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
