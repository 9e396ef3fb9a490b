"""bench/model_api.py's processes: a model-api (or the ceiling) under uvicorn, and wrk."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]

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


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports: all bound at once, so none is handed out twice."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


@dataclass(frozen=True)
class Started:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path


@contextmanager
def model_api_process(
    artifact: Path,
    settings: dict[str, str],
    log_path: Path,
    *,
    port: int,
    script: Path | None = None,
    checkout: Path | None = None,
) -> Iterator[Started]:
    """``python -m understudy_model_api`` (or ``script``, the ceiling, which runs the same
    entry point) on ``port``, stopped on exit; ``wait_ready`` until it answers (every
    process starts side by side: each takes 10-20 s to import on a busy machine).
    ``checkout``: another checkout of the project (a git worktree with its own ``make env``),
    whose model-api runs from its own environment and directory: a before/after pair
    measured in one run."""
    env = {
        **os.environ,
        "UNDERSTUDY_MODEL_API_ARTIFACT_DIR": str(artifact),
        "UNDERSTUDY_MODEL_API_HOST": "127.0.0.1",
        "UNDERSTUDY_MODEL_API_PORT": str(port),
        # The worst case (and the recorded results): every request's inputs logged.
        "UNDERSTUDY_MODEL_API_LOG_INPUTS": "true",
        **{f"UNDERSTUDY_MODEL_API_{k}": v for k, v in settings.items()},
    }
    python = str(checkout / ".venv" / "bin" / "python") if checkout else sys.executable
    command = [python, str(script)] if script else [python, "-m", "understudy_model_api"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=checkout or REPO
        )
        try:
            yield Started(f"http://127.0.0.1:{port}", proc, log_path)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def wait_ready(started: Started, *, timeout_s: float = 120) -> str:
    """Until /readyz answers 200; returns the base URL."""
    deadline = time.monotonic() + timeout_s
    while True:
        if started.proc.poll() is not None:
            raise RuntimeError(f"service exited; see {started.log_path}")
        try:
            if httpx.get(f"{started.url}/readyz", timeout=1).status_code == 200:
                return started.url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"service not ready in {timeout_s:.0f}s; see {started.log_path}")
        time.sleep(0.05)


def _wrk_command(
    url: str, script: str, *, concurrency: int, duration: int, threads: int
) -> list[str]:
    return [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        script,
        url,
    ]


def _parse(out: str) -> dict[str, Any]:
    match = re.search(r"BENCH_JSON (\{.*\})", out)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    stats: dict[str, Any] = json.loads(match.group(1))
    return stats


@contextmanager
def _lua(body_file: Path) -> Iterator[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"body": body_file})
    try:
        yield script.name
    finally:
        os.unlink(script.name)


def run_wrk(url: str, body_file: Path, *, concurrency: int, duration: int) -> dict[str, Any]:
    """One wrk (2 threads, or 1 at concurrency 1) POSTing ``body_file`` to ``url``."""
    with _lua(body_file) as script:
        cmd = _wrk_command(
            url, script, concurrency=concurrency, duration=duration, threads=min(2, concurrency)
        )
        return _parse(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def wrk_split(
    urls: list[str], body_file: Path, *, concurrency: int, duration: int
) -> list[dict[str, Any]]:
    """One single-threaded wrk per URL, side by side, sharing ``concurrency`` connections:
    two server processes on two ports get half the load each, as two pods behind a
    Service would (uvicorn's --workers would make one process' /metrics a random worker's)."""
    share, extra = divmod(concurrency, len(urls))
    with _lua(body_file) as script:
        procs = [
            subprocess.Popen(
                _wrk_command(
                    url, script, concurrency=share + (i < extra), duration=duration, threads=1
                ),
                stdout=subprocess.PIPE,
                text=True,
            )
            for i, url in enumerate(urls)
        ]
        outs = [proc.communicate()[0] for proc in procs]
    for proc in procs:
        if proc.returncode != 0:
            raise RuntimeError(f"wrk failed with exit code {proc.returncode}")
    return [_parse(out) for out in outs]
