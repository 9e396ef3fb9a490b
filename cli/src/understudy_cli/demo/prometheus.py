"""A local Prometheus for the demo (the Debian package's binary, started by hand
on 127.0.0.1 with its own config and data folder in the run folder)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import yaml

from understudy_cli.demo.supervisor import Child, Supervisor, free_port


def find_prometheus() -> str | None:
    return shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )


def model_api_targets(supervisor: Supervisor) -> Path:
    """The file_sd file listing the model-api processes (``write_targets``)."""
    return supervisor.run_dir / "prometheus" / "model-api-targets.json"


def write_targets(path: Path, urls: Sequence[str]) -> None:
    """Point the model-api job at ``urls`` (atomic replace: Prometheus watches the file)."""
    body = json.dumps([{"targets": [u.removeprefix("http://") for u in urls], "labels": {}}])
    if path.exists() and path.read_text() == body:
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(body)
    tmp.replace(path)


def start_prometheus(
    *, supervisor: Supervisor, binary: str, router_url: str, scrape_seconds: float
) -> Child:
    """Scrape the router, and the model-api processes of ``model_api_targets`` (their
    input-drift series), every ``scrape_seconds``; return once Prometheus is ready."""
    folder = supervisor.run_dir / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    targets = model_api_targets(supervisor)
    if not targets.exists():
        write_targets(targets, [])
    interval = f"{max(int(scrape_seconds * 1000), 200)}ms"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {
                "job_name": "shadow-router",
                "static_configs": [{"targets": [router_url.removeprefix("http://")]}],
            },
            {
                "job_name": "model-api",
                "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "1s"}],
            },
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    return supervisor.start(
        "prometheus",
        [
            binary,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=2h",
        ],
        url=f"http://127.0.0.1:{port}",
        ready_path="/-/ready",
        timeout=60,
    )
