"""Checking a Prometheus configuration and alert rules with Debian's promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml


def prometheus_config_for_promtool(text: str) -> str:
    """The config with kubernetes_sd_configs swapped for static_configs.

    Debian's Prometheus is built without Kubernetes service discovery, so its promtool
    rejects kubernetes_sd_configs; everything else (relabelling, intervals) it still
    checks. The discovery blocks themselves are checked by the caller.
    """
    config = yaml.safe_load(text)
    for job in config["scrape_configs"]:
        discovery = job.pop("kubernetes_sd_configs", None)
        if discovery is not None:
            for sd in discovery:
                assert sd["role"] == "pod", job["job_name"]
                names = sd["namespaces"]["names"]
                assert names and all(isinstance(n, str) and n for n in names), job["job_name"]
            job["static_configs"] = [{"targets": ["pod.invalid:8080"]}]
    return yaml.safe_dump(config)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool (skip the test when it is not installed); never raises on failure."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool not installed (Debian package prometheus: make system-deps)")
    return subprocess.run([binary, *args], capture_output=True, text=True, check=False)


def promtool_check(config_text: str, tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config_for_promtool(config_text))
    r = promtool("check", "config", "--syntax-only", str(config))
    assert r.returncode == 0, r.stdout + r.stderr
