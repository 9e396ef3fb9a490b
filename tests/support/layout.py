"""Where the install's files live, and small readers shared by the install tests."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "understudy"
CHART_CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
OPERATOR_CRD = REPO / "k8s" / "crd" / "modelrollouts.yaml"
CHART_CRD = CHART / "crds" / "modelrollouts.yaml"
K8S = REPO / "k8s"
K8S_BASE = K8S / "base"
SKAFFOLD = REPO / "skaffold.yaml"
KIBANA_OBJECTS = K8S_BASE / "kibana" / "saved-objects.ndjson"
CHART_KIBANA_OBJECTS = CHART / "files" / "kibana-saved-objects.ndjson"
# The one source of the alert rules (PrometheusRule and the bundled Prometheus alike).
ALERT_RULES = CHART / "files" / "alert-rules.yaml"
# The Grafana dashboard, written by `make dashboard` (tools/dashboard).
DASHBOARD = CHART / "files" / "grafana-dashboard.json"
# The three images: workspace package → Dockerfile (build context: the repository root).
IMAGES = {
    "understudy-model-api": REPO / "services" / "model-api" / "Dockerfile",
    "understudy-shadow-router": REPO / "services" / "shadow-router" / "Dockerfile",
    "understudy-operator": REPO / "operator" / "Dockerfile",
}


def load_yaml_documents(path: Path) -> list[Any]:
    """Every non-empty YAML document of a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def chart_values() -> dict[str, Any]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert isinstance(values, dict)
    return values


def chart_schema() -> dict[str, Any]:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert isinstance(schema, dict)
    return schema


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of a values file over the chart's values (maps merge, the rest replaces;
    null deletes a key)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_values(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def dockerfile_stages(text: str) -> list[list[str]]:
    """A Dockerfile's instructions (continuation lines joined, comments dropped), per stage."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    stages: list[list[str]] = []
    for instruction in logical:
        if re.match(r"(?i)^FROM\s", instruction):
            stages.append([instruction])
        elif stages:
            stages[-1].append(instruction)
    return stages


def out_of_sync(script: str) -> str:
    """Run `scripts/<script> --check` (a generator that keeps a file in sync with its source):
    its complaint, or "" when the file is current."""
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / script), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if result.returncode == 0 else result.stderr or f"exit {result.returncode}"


def load_script(script: str) -> ModuleType:
    """A module of scripts/ (not a package), imported from its file."""
    spec = importlib.util.spec_from_file_location(Path(script).stem, REPO / "scripts" / script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
