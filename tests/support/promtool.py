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


def promtool_check_with_rules(config_text: str, files: dict[str, str], tmp_path: Path) -> str:
    """Full `promtool check config` (rule files read and checked too): the config's
    ``rule_files`` must name keys of ``files`` (a ConfigMap's data, mounted beside it), which
    are written to ``tmp_path`` and pointed at. Returns promtool's output."""
    config = yaml.safe_load(prometheus_config_for_promtool(config_text))
    rule_files = []
    for path in config.get("rule_files", []):
        name = Path(path).name
        assert name in files, f"rule file {path} is not in the ConfigMap"
        (tmp_path / name).write_text(files[name])
        rule_files.append(str(tmp_path / name))
    config["rule_files"] = rule_files
    target = tmp_path / "prometheus-with-rules.yml"
    target.write_text(yaml.safe_dump(config))
    r = promtool("check", "config", str(target))
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout
