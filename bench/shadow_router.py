"""Benchmark: what the shadow router costs the live path, next to nginx's ``mirror``.

One run, one load generator (wrk, Lua script for the POST body), the same model-api
processes (v1 live, v2 candidate), four ways to reach the live model:

    direct       wrk -> model-api v1
    router-off   wrk -> shadow router (no candidate) -> v1
    router-100   wrk -> shadow router (100% mirrored to v2, compared) -> v1
    router-100-loop  the same with the mirror work on the router's event loop
                 (UNDERSTUDY_ROUTER_MIRROR_PROCESS=false; the default runs it in the
                 router's mirror process)
    nginx-100    wrk -> nginx (``mirror`` directive, 100% to v2) -> v1   (the peer)
    nginx-off    wrk -> nginx (no mirror) -> v1: the peer's mirroring-off, so that its
                 own mirroring ratio (nginx-100 / nginx-off) is measured in the same run
    nginx-null   wrk -> nginx (``mirror`` 100% to a fixed-answer nginx) -> v1: the
                 peer's mirroring without a second model's CPU
    router-w     wrk -> shadow router (candidate set, no mirror, canary weight 0.01%) -> v1
                 (the canary weight decision on every request, ~all answered by live; its
                 p50 against router-off is the decision's cost, next to the in-process
                 per-call time of the same decision printed below the table)

each at concurrency 1 (latency: the router's overhead) and at a higher concurrency
(throughput). Prints p50/p99 latency and requests/s and the ratios against the goals,
and writes JSON to bench/results/. Needs Debian ``wrk`` and ``nginx``
(``apt-get install -y wrk nginx``) and trained artifacts (``make models``).

    uv run python bench/shadow_router.py [--duration 10] [--connections 16] [--rounds 3]
    uv run python bench/shadow_router.py --pin            # or --pin-router (below)
    uv run python bench/shadow_router.py --keep-cpus-awake  # no vCPU halts (bench/awake.py)

Each round measures every target once, in a rotated order, so slow drifts of the machine
(other load, thermal) fall on all targets alike. The table shows the median over rounds
and the p99 range; each ratio is taken within a round (same minute, same machine state)
and reported as its median and range over rounds.

``--pin`` puts the candidate model-api alone on the last CPU and everything else (wrk,
the live model-api, the routers, nginx) on the others, as a cluster would schedule the
candidate's pods apart from the live ones. Comparing a pinned and an unpinned run shows
how much of the mirroring's p99 cost is the candidate's CPU competing with the live path.

``--pin-router`` puts every router alone on the last CPU and everything else (wrk, both
model-apis, nginx) on the others, as a cluster gives the router's pod CPU of its own. With
the fixed-answer candidate (``router-null``, ``router-null-loop``) the mirroring's p99
cost is then the router's own mirror work - interleaved with its live work on one thread
(``-loop``), or in its mirror process on the same CPU - and nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from awake import cpus_kept_awake
from prometheus_client.parser import text_string_to_metric_families
from run_file import REPO, write_run

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "errors": %%d, "non2xx": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "mean_us": %%.1f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  upstream live {{ server 127.0.0.1:{live}; keepalive 64; }}
  upstream candidate {{ server 127.0.0.1:{candidate}; keepalive 64; }}
{mirror_servers}
  server {{
    # nginx-off: the same proxy without the mirror, so the peer's own mirroring cost to
    # the live path (nginx-100 against it) is measured in the same run.
    listen 127.0.0.1:{off};
    location = /v1/predictions {{
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://live;
    }}
  }}
  server {{
    # The null candidate: a fixed answer at nginx's cost, so that a router mirroring to it
    # shows the router's own mirror work without a second model's CPU.
    listen 127.0.0.1:{null};
    location = /v1/predictions {{
      default_type application/json;
      return 200 '{{"predictions": [180000.0], "model_version": "null"}}';
    }}
  }}
}}
"""


# A server that proxies to live and mirrors every request to ``mirror_to``: nginx-100
# (the v2 candidate) and nginx-null (the null candidate, no second model's CPU).
NGINX_MIRROR_SERVER = """
  server {{
    listen 127.0.0.1:{port};
    location = /nginx-ready {{ return 200; }}
    location = /v1/predictions {{
      mirror /mirror;
      mirror_request_body on;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://live;
    }}
    location = /mirror {{
      internal;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass {mirror_to};
    }}
  }}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)  # readiness polling interval
    raise SystemExit(f"{url} not ready after {timeout}s")


@contextmanager
def process(
    args: list[str],
    *,
    env: dict[str, str],
    ready: str,
    log: Path,
    cpus: set[int] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A background process logging to ``log`` (not to a pipe we would have to drain),
    on ``cpus`` when given (else on the CPUs this script runs on)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=REPO
        )
    if cpus is not None:
        os.sched_setaffinity(proc.pid, cpus)
    try:
        wait_ready(ready, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def model_api(artifact: Path, tmp: Path, name: str, cpus: set[int] | None = None) -> Any:
    port = free_port()
    env = {
        "UNDERSTUDY_MODEL_API_ARTIFACT_DIR": str(artifact),
        "UNDERSTUDY_MODEL_API_HOST": "127.0.0.1",
        "UNDERSTUDY_MODEL_API_PORT": str(port),
        "UNDERSTUDY_MODEL_API_LOG_INPUTS": "false",
    }
    return port, process(
        [sys.executable, "-m", "understudy_model_api"],
        env=env,
        ready=f"http://127.0.0.1:{port}/readyz",
        log=tmp / f"{name}.log",
        cpus=cpus,
    )


def router(
    config: dict[str, Any],
    tmp: Path,
    name: str,
    cpus: set[int] | None = None,
    *,
    mirror_process: bool = True,
) -> Any:
    port = free_port()
    env = {
        "UNDERSTUDY_ROUTER_HOST": "127.0.0.1",
        "UNDERSTUDY_ROUTER_PORT": str(port),
        "UNDERSTUDY_ROUTER_CONFIG_JSON": json.dumps(config),
        # The mirror work in a child process (as shipped; it inherits the router's CPUs
        # when pinned) or on the router's event loop.
        "UNDERSTUDY_ROUTER_MIRROR_PROCESS": "true" if mirror_process else "false",
    }
    if "UNDERSTUDY_ROUTER_FEEDBACK_STORE" not in os.environ:  # bench/feedback.py sets its own
        # Each router its own, new ground-truth store: by default they would all write one
        # SQLite file in the temp dir, kept across runs (lock waits between the routers, and
        # a store grown by every earlier run).
        env["UNDERSTUDY_ROUTER_FEEDBACK_STORE"] = f"sqlite:///{tmp / f'feedback-{name}.sqlite3'}"
    return port, process(
        [sys.executable, "-m", "understudy_router"],
        env=env,
        ready=f"http://127.0.0.1:{port}/readyz",
        log=tmp / f"{name}.log",
        cpus=cpus,
    )


def nginx(live: int, candidate: int, null: int, tmp: Path) -> Any:
    """nginx's ports: mirroring 100% to ``candidate``, not mirroring, mirroring 100% to
    the null candidate; and the process's context manager."""
    port, off, nullmirror = free_port(), free_port(), free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            tmp=tmp,
            live=live,
            candidate=candidate,
            null=null,
            off=off,
            mirror_servers=NGINX_MIRROR_SERVER.format(
                port=port, mirror_to="http://candidate/v1/predictions"
            )
            + NGINX_MIRROR_SERVER.format(
                port=nullmirror, mirror_to=f"http://127.0.0.1:{null}/v1/predictions"
            ),
        )
    )
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return (port, off, nullmirror), process(
        [binary, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "nginx-error.log")],
        env={},
        ready=f"http://127.0.0.1:{port}/nginx-ready",
        log=tmp / "nginx.log",
    )


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of processes so far (/proc/<pid>/stat, Linux)."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def router_pids(port: int, pid: int) -> list[int]:
    """The router's pid, and its mirror process's if it has one (GET /v1/routing)."""
    child = httpx.get(f"http://127.0.0.1:{port}/v1/routing").json()["mirror"].get("process")
    return [pid] if child is None else [pid, child]


def mirror_counts(url: str | None) -> dict[str, float]:
    """The router's ``understudy_router_mirror_total`` by outcome, from its /metrics (the
    router's own count: a drop is never sent, so only the router knows of it)."""
    if url is None:
        return {}
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name == "understudy_router_mirror_total":
                outcome = sample.labels["outcome"]
                counts[outcome] = counts.get(outcome, 0.0) + sample.value
    return counts


class QueueDepth:
    """Samples a router's mirror queue depth (GET /v1/routing) every ``interval`` seconds in
    a thread, to tell a drop's cause: a queue that climbs steadily means the candidate
    serves fewer mirrors per second than the router sends; a sudden jump, a stall."""

    def __init__(self, url: str, interval: float = 0.05) -> None:
        self.samples: list[tuple[float, int]] = []
        self._url = f"{url}/v1/routing"
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> QueueDepth:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        with httpx.Client(timeout=5) as client:
            while not self._stop.wait(self._interval):
                mirror = client.get(self._url).json()["mirror"]
                self.samples.append(
                    (
                        round(time.monotonic() - started, 3),
                        mirror["queue_depth"] + mirror["inflight"],
                    )
                )


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, int]:
    return {k: int(v - before.get(k, 0.0)) for k, v in after.items() if v - before.get(k, 0.0)}


def run_wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    duration: int,
    threads: int = 1,
    metrics_url: str | None = None,
    pids: Sequence[int] = (),
) -> dict[str, Any]:
    """One measurement; with ``metrics_url`` (a router), its mirror outcomes counted over the
    warm-up and over the measured run, from its /metrics before and after each; with
    ``pids``, those processes' CPU time per request of the measured run (the mirror's share of
    the router's one core, which load on the machine does not inflate the way it does
    latency)."""
    before_warmup = mirror_counts(metrics_url)
    # Short warm-up: connection pools, caches, the first JIT-less Python paths.
    subprocess.run(
        ["wrk", "-t1", f"-c{connections}", "-d2s", "-s", str(script), url],
        capture_output=True,
        check=True,
    )
    before = mirror_counts(metrics_url)
    cpu_before = cpu_seconds(pids)
    with ExitStack() as sampling:
        depth = sampling.enter_context(QueueDepth(metrics_url)) if metrics_url else None
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    if pids:
        # Read before the pause below; the mirrors still in flight add a few more.
        result["cpu_us_per_request"] = (cpu_seconds(pids) - cpu_before) / result["requests"] * 1e6
    if metrics_url is not None:
        # Give the mirror workers a moment to finish what the run left in flight.
        time.sleep(0.5)
        after = mirror_counts(metrics_url)
        result["mirror_warmup"] = delta(before, before_warmup)
        result["mirror"] = delta(after, before)
        result["dropped"] = result["mirror"].get("dropped", 0)
        assert depth is not None
        # Mirror jobs waiting or in flight, every 50 ms: (seconds into the run, jobs).
        result["mirror_jobs"] = depth.samples
        result["mirror_jobs_max"] = max((jobs for _, jobs in depth.samples), default=0)
    return result


def median(runs: list[dict[str, Any]], field: str) -> float:
    return float(statistics.median(run[field] for run in runs))


def cpu(runs: list[dict[str, Any]]) -> str:
    return f"{median(runs, 'cpu_us_per_request'):.0f}" if "cpu_us_per_request" in runs[0] else "-"


def ratio(field: str) -> Callable[[dict[str, Any], dict[str, Any]], float]:
    return lambda a, b: float(a[field]) / float(b[field])


def paired(
    results: dict[str, list[dict[str, Any]]],
    key_a: str,
    key_b: str,
    compare: Callable[[dict[str, Any], dict[str, Any]], float],
) -> dict[str, float]:
    """``compare`` of two targets within each round: median, lowest and highest."""
    values = [compare(a, b) for a, b in zip(results[key_a], results[key_b], strict=True)]
    return {
        "median": float(statistics.median(values)),
        "min": min(values),
        "max": max(values),
    }


def artifacts_root() -> Path:
    root = Path(os.environ.get("UNDERSTUDY_ARTIFACTS", REPO / "artifacts"))
    if not (root / "v1" / "model.json").exists() or not (root / "v2" / "model.json").exists():
        raise SystemExit(f"no trained artifacts in {root}: run `make models` first")
    return root


def body() -> str:
    from understudy_model.data import holdout_records, load_ames, split_holdout

    return json.dumps({"records": holdout_records(split_holdout(load_ames()), limit=1)})


def weight_decision_ns(calls: int = 200_000) -> float:
    """Per-call time of the router's canary decision (understudy_router.canary) on request
    ids of the router's shape, best of 5 (the least disturbed by other load)."""
    import timeit

    from understudy_router.canary import answered_by_candidate

    keys = [f"{i:032x}" for i in range(1000)]

    def run() -> None:
        for key in keys:
            answered_by_candidate(key, 10.0)

    best = min(timeit.repeat(run, number=calls // len(keys), repeat=5))
    return best / calls * 1e9


TARGETS = (
    "direct",
    "router-off",
    "router-100-loop",
    "nginx-100",
    "nginx-off",
    "nginx-null",
    "router-w",
    "router-null-loop",
    "router-100",
    "router-null",
)
# Targets that are a router (their CPU time is measured, the mirror process's included),
# and those that mirror (their mirror outcomes are counted from /metrics).
ROUTERS = (
    "router-off",
    "router-100-loop",
    "router-w",
    "router-null-loop",
    "router-100",
    "router-null",
)
MIRRORING = ("router-100-loop", "router-null-loop", "router-100", "router-null")


def paired_or_none(
    results: dict[str, list[dict[str, Any]]],
    key_a: str,
    key_b: str,
    compare: Callable[[dict[str, Any], dict[str, Any]], float],
) -> dict[str, float] | None:
    if key_a not in results or key_b not in results:
        return None
    return paired(results, key_a, key_b, compare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (load)")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each target")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the candidate alone on the last CPU, everything else on the others",
    )
    parser.add_argument(
        "--pin-router",
        action="store_true",
        help="every router alone on the last CPU, everything else on the others",
    )
    parser.add_argument(
        "--keep-cpus-awake",
        action="store_true",
        help="a SCHED_IDLE spinner on every CPU, so no vCPU halts between requests (awake.py)",
    )
    parser.add_argument(
        "--targets",
        nargs="+",
        choices=TARGETS,
        default=list(TARGETS),
        help="measure only these (quick checks; router-off and router-100 give the goal ratios)",
    )
    args = parser.parse_args()
    if args.pin and args.pin_router:
        raise SystemExit("--pin and --pin-router are exclusive")
    # Before any pinning: every CPU of the machine is kept awake, not only this process's.
    with cpus_kept_awake(args.keep_cpus_awake) as kept_awake:
        _measure(args, kept_awake)


def _measure(args: argparse.Namespace, kept_awake: list[int]) -> None:
    candidate_cpus: set[int] | None = None
    router_cpus: set[int] | None = None
    if args.pin or args.pin_router:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--pin and --pin-router need at least 2 CPUs")
        if args.pin:
            candidate_cpus = {cpus[-1]}
        else:
            router_cpus = {cpus[-1]}
        # Children not placed themselves (wrk, model-apis, routers, nginx) inherit these.
        os.sched_setaffinity(0, set(cpus[:-1]))
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} not found: apt-get install -y wrk nginx")
    root = artifacts_root()
    load_before = os.getloadavg()
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-router-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        script = tmp / "post.lua"
        script.write_text(LUA % body())
        live_port, live_cm = model_api(root / "v1", tmp, "live")
        cand_port, cand_cm = model_api(root / "v2", tmp, "candidate", candidate_cpus)
        stack.enter_context(live_cm)
        stack.enter_context(cand_cm)
        live = {"url": f"http://127.0.0.1:{live_port}", "version": "1.0.0"}
        candidate = {"url": f"http://127.0.0.1:{cand_port}", "version": "2.0.0"}
        off_port, off_cm = router({"live": live, "candidate": None}, tmp, "router-off", router_cpus)
        on_port, on_cm = router(
            {"live": live, "candidate": candidate, "mirror_percent": 100},
            tmp,
            "router-100-loop",
            router_cpus,
            mirror_process=False,
        )
        w_port, w_cm = router(
            {"live": live, "candidate": candidate, "mirror_percent": 0, "weight": 0.01},
            tmp,
            "router-w",
            router_cpus,
        )
        null_port = free_port()
        null = {"url": f"http://127.0.0.1:{null_port}", "version": "null"}
        n_port, n_cm = router(
            {"live": live, "candidate": null, "mirror_percent": 100},
            tmp,
            "router-null-loop",
            router_cpus,
            mirror_process=False,
        )
        # The same two as shipped: the mirror work in the router's mirror process.
        on_p_port, on_p_cm = router(
            {"live": live, "candidate": candidate, "mirror_percent": 100},
            tmp,
            "router-100",
            router_cpus,
        )
        n_p_port, n_p_cm = router(
            {"live": live, "candidate": null, "mirror_percent": 100},
            tmp,
            "router-null",
            router_cpus,
        )
        (nginx_port, nginx_off_port, nginx_null_port), nginx_cm = nginx(
            live_port, cand_port, null_port, tmp
        )
        targets = {
            "direct": live_port,
            "router-off": off_port,
            "router-100-loop": on_port,
            "nginx-100": nginx_port,
            "nginx-off": nginx_off_port,
            "nginx-null": nginx_null_port,
            "router-w": w_port,
            "router-null-loop": n_port,
            "router-100": on_p_port,
            "router-null": n_p_port,
        }
        stack.enter_context(nginx_cm)
        pids = {
            name: router_pids(targets[name], stack.enter_context(cm).pid)
            for name, cm in (
                ("router-off", off_cm),
                ("router-100-loop", on_cm),
                ("router-w", w_cm),
                ("router-null-loop", n_cm),
                ("router-100", on_p_cm),
                ("router-null", n_p_cm),
            )
        }
        names = [name for name in targets if name in args.targets]
        for connections in (1, args.connections):
            for round_ in range(args.rounds):
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    key = f"{name}@c{connections}"
                    print(f"round {round_ + 1}: {key} ...", file=sys.stderr, flush=True)
                    results.setdefault(key, []).append(
                        run_wrk(
                            f"http://127.0.0.1:{targets[name]}/v1/predictions",
                            script,
                            connections=connections,
                            duration=args.duration,
                            metrics_url=f"http://127.0.0.1:{targets[name]}"
                            if name in MIRRORING
                            else None,
                            pids=pids.get(name, ()),
                        )
                    )
        mirrored = httpx.get(f"http://127.0.0.1:{on_p_port}/metrics").text
        mirror_lines = [
            line
            for line in mirrored.splitlines()
            if line.startswith("understudy_router_mirror_total")
        ]
    load_after = os.getloadavg()

    c = args.connections
    candidates = {
        "router_overhead_p50_ms@c1": (
            "router-off@c1",
            "direct@c1",
            lambda a, b: (a["p50_us"] - b["p50_us"]) / 1000,
        ),
        "weight_decision_p50_ms@c1": (
            "router-w@c1",
            "router-off@c1",
            lambda a, b: (a["p50_us"] - b["p50_us"]) / 1000,
        ),
        f"router_throughput_ratio@c{c}": (f"router-off@c{c}", f"direct@c{c}", ratio("rps")),
        f"router100_throughput_ratio@c{c}": (f"router-100@c{c}", f"direct@c{c}", ratio("rps")),
        f"nginx100_throughput_ratio@c{c}": (f"nginx-100@c{c}", f"direct@c{c}", ratio("rps")),
    }
    # Per mirroring target against mirroring off: the p99 ratio at both loads (the goal
    # ratios for router-100, as shipped), and for router-100 and its in-loop twin the c=1
    # p50 ratio and the router's CPU per mirror (its mirror process's included).
    mirroring = {
        "": "router-100",
        "null_": "router-null",  # the router's own mirror work alone: no second model
        "loop_": "router-100-loop",  # the mirror work on the router's event loop
        "loop_null_": "router-null-loop",
    }
    for prefix, target in mirroring.items():
        for conn in (1, c):
            candidates[f"{prefix}mirror_p99_ratio@c{conn}"] = (
                f"{target}@c{conn}",
                f"router-off@c{conn}",
                ratio("p99_us"),
            )
        if "null" not in prefix:
            candidates[f"{prefix}mirror_p50_ratio@c1"] = (
                f"{target}@c1",
                "router-off@c1",
                ratio("p50_us"),
            )
    # The peer's own mirroring cost, the same way: nginx-100 (and nginx-null, no second
    # model) against nginx-off. Where nginx, which does no work per mirror beyond the
    # copy, misses x1.10 too, the rest is the candidate's CPU on this machine.
    for prefix, target in (("nginx_", "nginx-100"), ("nginx_null_", "nginx-null")):
        for conn in (1, c):
            candidates[f"{prefix}mirror_p99_ratio@c{conn}"] = (
                f"{target}@c{conn}",
                f"nginx-off@c{conn}",
                ratio("p99_us"),
            )
        candidates[f"{prefix}mirror_p50_ratio@c1"] = (
            f"{target}@c1",
            "nginx-off@c1",
            ratio("p50_us"),
        )
    for prefix in ("", "loop_"):
        candidates[f"{prefix}mirror_cpu_us_per_request@c1"] = (
            f"{mirroring[prefix]}@c1",
            "router-off@c1",
            lambda a, b: a["cpu_us_per_request"] - b["cpu_us_per_request"],
        )
    summary = {
        key: value
        for key, (a, b, compare) in candidates.items()
        if (value := paired_or_none(results, a, b, compare)) is not None
    }
    # The goal "no mirror dropped at c=1": the router's own counter, per measured run.
    dropped_keys = {"mirror_dropped": "router-100", "loop_mirror_dropped": "router-100-loop"}
    drops = {
        f"{key}@c{conn}": sum(run["dropped"] for run in results[f"{name}@c{conn}"])
        for key, name in dropped_keys.items()
        for conn in (1, c)
        if f"{name}@c{conn}" in results
    }
    print(f"\nload average before {load_before}, after {load_after}; {os.cpu_count()} CPUs")
    print(
        f"CPUs kept awake by SCHED_IDLE spinners: {kept_awake}"
        if kept_awake
        else "CPUs not kept awake (idle vCPUs halt: c=1 latencies include their wake-ups)"
    )
    if candidate_cpus:
        print(f"pinned: candidate on CPU {sorted(candidate_cpus)}, the rest on the others")
    if router_cpus:
        print(f"pinned: the routers on CPU {sorted(router_cpus)}, the rest on the others")
    print(f"medians of {args.rounds} rounds; p99 range = lowest-highest round")
    print(
        "dropped: mirrors the router refused (its own counter, summed over rounds); jobs max:"
        " most mirror jobs waiting or in flight (sampled every 50 ms); cpu us/req: the"
        " router's CPU time per request"
    )
    print(
        f"{'target':<18}{'p50 ms':>9}{'p99 ms':>9}{'p99 range':>16}{'req/s':>9}"
        f"{'errors':>8}{'non2xx':>8}{'dropped':>9}{'jobs max':>9}{'cpu us/req':>12}"
    )
    for key, runs in results.items():
        p99s = [run["p99_us"] / 1000 for run in runs]
        print(
            f"{key:<18}{median(runs, 'p50_us') / 1000:>9.2f}{median(runs, 'p99_us') / 1000:>9.2f}"
            f"{f'{min(p99s):.2f}-{max(p99s):.2f}':>16}{median(runs, 'rps'):>9.0f}"
            f"{sum(run['errors'] for run in runs):>8}{sum(run['non2xx'] for run in runs):>8}"
            f"{sum(run['dropped'] for run in runs) if 'dropped' in runs[0] else '-':>9}"
            f"{max(run['mirror_jobs_max'] for run in runs) if 'dropped' in runs[0] else '-':>9}"
            f"{cpu(runs):>12}"
        )
    print(f"\n{'ratio (within a round)':<34}{'median':>10}  range")
    for key, value in summary.items():
        spread = f"{value['min']:.3f}-{value['max']:.3f}"
        print(f"{key:<34}{value['median']:>10.3f}  {spread}")
    for key, count in drops.items():
        warmup = sum(
            run["mirror_warmup"].get("dropped", 0)
            for run in results[
                key.replace(key.partition("@")[0], dropped_keys[key.partition("@")[0]])
            ]
        )
        print(f"{key:<34}{count:>10}  (measured runs; {warmup} in their warm-ups)")
    decision_ns = weight_decision_ns()
    if "router_overhead_p50_ms@c1" in summary:
        overhead_ns = summary["router_overhead_p50_ms@c1"]["median"] * 1e6
        print(
            f"\ncanary weight decision in process: {decision_ns:.0f} ns per request "
            f"({decision_ns / overhead_ns:.2%} of the router's p50 overhead)"
        )
    print("\n".join(mirror_lines))
    write_run(
        "shadow_router",
        {
            "duration_s": args.duration,
            "connections": [1, c],
            "candidate_cpus": sorted(candidate_cpus) if candidate_cpus else None,
            "router_cpus": sorted(router_cpus) if router_cpus else None,
            "cpus_kept_awake": kept_awake,
            "rounds": args.rounds,
            "results": results,
            "summary": summary,
            "mirror_dropped": drops,
            "router_mirror_counts": mirror_lines,
            "weight_decision_ns": decision_ns,
        },
        load_before=load_before,
        load_after=load_after,
    )


if __name__ == "__main__":
    main()
