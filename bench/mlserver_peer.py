"""The peer of bench/model_api.py: MLServer + mlserver-sklearn serving the same pipeline.

MLServer is a benchmark-only tool, never a project dependency: ``ensure_env`` makes its
own virtual environment under ~/.cache/understudy/bench/ with uv and installs the pinned
versions there (with this project's scikit-learn, numpy and pandas, so the artifact's
pickle loads as it does in model-api). The artifact's ``model.joblib`` already is what
mlserver-sklearn loads (a joblib-pickled scikit-learn ``Pipeline``), so it is copied
unchanged into an MLServer model repository.

Requests use the V2 inference protocol with the pandas codec (``content_type: pd``): one
input per column, so the pipeline gets a DataFrame with the columns model-api's reference
path builds (``v2_request``). This module imports nothing from the rest of bench/ (its
pure parts are unit-tested through ``bench.mlserver_peer``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

MLSERVER_VERSION = "1.7.1"
ENV_DIR = Path.home() / ".cache" / "understudy" / "bench" / f"mlserver-{MLSERVER_VERSION}"
MODEL_NAME = "house-prices"
# MLServer's adaptive batching for the `mlserver-batch` target: up to 64 requests (the
# highest concurrency measured) joined when they arrive within 2 ms of the first.
BATCH_SETTINGS = {"max_batch_size": 64, "max_batch_time": 0.002}


def ensure_env(uv: str = "uv") -> Path:
    """MLServer's own environment (created once, reused); returns its ``mlserver`` binary.

    Pins mlserver and mlserver-sklearn, and this environment's scikit-learn, numpy and
    pandas: a pickled pipeline is only safe to load with the scikit-learn it was made by
    (understudy_model.artifact checks the same)."""
    binary = ENV_DIR / "bin" / "mlserver"
    marker = ENV_DIR / "installed.json"
    wanted = {
        "mlserver": MLSERVER_VERSION,
        "mlserver-sklearn": MLSERVER_VERSION,
        # uvloop 0.22+ raises in asyncio.get_event_loop() without a running loop, which
        # MLServer 1.7.1's inference-pool workers call: they die at start (measured here).
        "uvloop": "0.21.0",
        **{name: version(name) for name in ("scikit-learn", "numpy", "pandas")},
    }
    if binary.is_file() and marker.is_file() and json.loads(marker.read_text()) == wanted:
        return binary
    print(f"installing MLServer {MLSERVER_VERSION} into {ENV_DIR} (benchmark only)", flush=True)
    if not (ENV_DIR / "bin" / "python").is_file():
        python = f"{sys.version_info[0]}.{sys.version_info[1]}"
        subprocess.run([uv, "venv", "--quiet", "--python", python, str(ENV_DIR)], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(ENV_DIR / "bin" / "python")]
        + [f"{name}=={v}" for name, v in wanted.items()],
        check=True,
    )
    marker.write_text(json.dumps(wanted) + "\n")
    return binary


def v2_datatype(dtype: str) -> str:
    """A pandas column dtype -> the V2 datatype MLServer decodes back to that dtype."""
    if dtype.startswith("int"):
        return "INT64"
    if dtype.startswith("float"):
        return "FP64"
    if dtype in ("object", "str", "string"):
        return "BYTES"
    raise ValueError(f"no V2 datatype for the pandas dtype {dtype!r}")


def v2_request(columns: list[tuple[str, str, list[Any]]]) -> dict[str, Any]:
    """A V2 inference request for the pandas codec: ``columns`` are (name, pandas dtype,
    values), one input per column. Strings are BYTES with ``content_type: str`` so
    MLServer decodes them to ``str`` (not ``bytes``), as the pipeline was trained on."""
    if not columns:
        raise ValueError("a request needs at least one column")
    rows = {len(values) for _, _, values in columns}
    if len(rows) != 1:
        raise ValueError(f"columns of different lengths: {sorted(rows)}")
    inputs = []
    for name, dtype, values in columns:
        datatype = v2_datatype(dtype)
        item: dict[str, Any] = {
            "name": name,
            "shape": [len(values), 1],
            "datatype": datatype,
            "data": values,
        }
        if datatype == "BYTES":
            if not all(isinstance(v, str) for v in values):
                raise ValueError(f"column {name!r} is BYTES but holds a non-string value")
            item["parameters"] = {"content_type": "str"}
        inputs.append(item)
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


def v2_predictions(answer: dict[str, Any]) -> list[float]:
    """The ``predict`` output of a V2 inference response."""
    for output in answer.get("outputs", []):
        if output.get("name") == "predict":
            return [float(v) for v in output["data"]]
    raise ValueError(f"no 'predict' output in the V2 response: {json.dumps(answer)[:300]}")


@dataclass(frozen=True)
class Ports:
    http: int
    grpc: int
    metrics: int


def write_repository(
    root: Path,
    *,
    model_file: Path,
    model_version: str,
    ports: Ports,
    batching: bool,
) -> Path:
    """An MLServer folder: server ``settings.json`` and one model with its settings."""
    root.mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": ports.http,
        "grpc_port": ports.grpc,
        "metrics_port": ports.metrics,
        # MLServer's default is debug mode (more logging per request); a server under
        # load runs without it. parallel_workers stays at MLServer's default (1): 0 (in
        # the server process) was no faster at c=1 in a short trial here (16 vs 24 req/s,
        # load average 6, noisy).
        "debug": False,
        # Its Prometheus multiprocess folder, else ./.metrics in the working directory,
        # shared by (and wiped by) every MLServer started there.
        "metrics_dir": str(root / "metrics"),
    }
    (root / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    model_dir = root / MODEL_NAME
    model_dir.mkdir(exist_ok=True)
    shutil.copyfile(model_file, model_dir / "model.joblib")
    model_settings: dict[str, Any] = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": model_version},
        **(BATCH_SETTINGS if batching else {}),
    }
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2) + "\n")
    return root


def infer_path() -> str:
    return f"/v2/models/{MODEL_NAME}/infer"


@contextmanager
def mlserver(binary: Path, root: Path, *, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``mlserver start root``, stopped (its whole process group) on exit. Not yet ready:
    ``wait_ready`` (two servers start side by side, ~30 s each on a busy machine)."""
    with log_path.open("w") as log:
        # Its own process group: MLServer's inference pool is a child process of its own.
        proc = subprocess.Popen(
            [str(binary), "start", str(root)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=root,  # it writes .envs/ and the like where it runs
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()


def wait_ready(
    proc: subprocess.Popen[bytes], url: str, *, log_path: Path, timeout_s: float = 180
) -> None:
    """Until MLServer says the model is ready; raises if it exits or takes too long."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"mlserver exited; see {log_path}")
        try:
            if httpx.get(f"{url}/v2/models/{MODEL_NAME}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"mlserver not ready in {timeout_s:.0f}s; see {log_path}")
        time.sleep(0.1)


def relative_mismatch(got: list[float], want: list[float]) -> float:
    """The largest ``|got - want| / |want|`` over the records; infinity when the lengths
    differ or a value is not finite (never an equality by accident)."""
    if len(got) != len(want) or not want:
        return math.inf
    worst = 0.0
    for g, w in zip(got, want, strict=True):
        if not (math.isfinite(g) and math.isfinite(w)):
            return math.inf
        if w == 0:
            worst = max(worst, 0.0 if g == 0 else math.inf)
        else:
            worst = max(worst, abs(g - w) / abs(w))
    return worst


def frame_bodies(artifact: Path, records: list[dict[str, Any]], out_dir: Path) -> dict[int, Path]:
    """The V2 bodies of 1 and 100 records: the frame model-api's reference path builds
    from the same records (validated, missing categories filled), one input per column."""
    from understudy_model.artifact import load_artifact
    from understudy_model.pipeline import to_frame
    from understudy_model.validation import validate_records

    model = load_artifact(artifact)
    bodies = {}
    for n in (1, 100):
        frame = to_frame(validate_records(records[:n], model.schema).rows, model.schema)
        columns = [(str(c), str(frame[c].dtype), frame[c].tolist()) for c in frame.columns]
        bodies[n] = out_dir / f"model_api-body-{n}-v2.json"
        bodies[n].write_text(json.dumps(v2_request(columns)))
    return bodies


def reference_predictions(artifact: Path, records: list[dict[str, Any]]) -> dict[int, list[float]]:
    """What model-api serves for 1 and 100 records: the artifact's pipeline on the
    validated records (the fast path equals it within its bound)."""
    from understudy_model.artifact import load_artifact
    from understudy_model.validation import validate_records

    model = load_artifact(artifact)
    return {
        n: [float(p) for p in model.predict_rows(validate_records(records[:n], model.schema).rows)]
        for n in (1, 100)
    }


def check_predictions(url: str, bodies: dict[int, Path], expected: dict[int, list[float]]) -> None:
    """MLServer must predict what model-api predicts for the same records, to the fast
    path's own bound against the pipeline: anything else is not the same work. Exits
    loudly otherwise."""
    from understudy_model.fast import REL_TOLERANCE

    for n, want in expected.items():
        answer = httpx.post(
            url + infer_path(),
            content=bodies[n].read_bytes(),
            headers={"content-type": "application/json"},
            timeout=30,
        )
        if answer.status_code != 200:
            raise SystemExit(f"MLServer answered {answer.status_code}: {answer.text[:500]}")
        got = v2_predictions(answer.json())
        worst = relative_mismatch(got, want)
        if not worst <= REL_TOLERANCE:
            raise SystemExit(
                f"MLServer predicts differently from model-api for {n} record(s): relative "
                f"difference {worst:.3g} > {REL_TOLERANCE:g}; first {got[:3]} vs {want[:3]}"
            )
    print(f"mlserver: predictions equal model-api's (relative <= {REL_TOLERANCE:g})", flush=True)
