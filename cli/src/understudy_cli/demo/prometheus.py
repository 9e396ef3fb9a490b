"""A local Prometheus for the demo (the Debian package's binary, started by hand
on 127.0.0.1 with its own config and data folder in the run folder)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from understudy_cli.demo.supervisor import Child, Supervisor, free_port


def find_prometheus() -> str | None:
    return shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )


def start_prometheus(
    *, supervisor: Supervisor, binary: str, router_url: str, scrape_seconds: float
) -> Child:
    """Scrape the router every ``scrape_seconds``; return once Prometheus is ready."""
    folder = supervisor.run_dir / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    interval = f"{max(int(scrape_seconds * 1000), 200)}ms"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {
                "job_name": "shadow-router",
                "static_configs": [{"targets": [router_url.removeprefix("http://")]}],
            }
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
