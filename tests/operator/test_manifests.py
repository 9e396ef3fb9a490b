"""The CRD file, the chart's copy, the examples and the manifests the operator builds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from understudy_operator.core import parse_spec
from understudy_operator.core.checks import BUILTIN_CHECKS
from understudy_operator.core.status import Phase
from understudy_operator.kube import resources
from understudy_operator.kube.resources import RolloutRef
from understudy_operator.settings import OperatorSettings

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "k8s" / "crd" / "modelrollouts.yaml"
CHART_CRD = REPO / "helm" / "understudy" / "crds" / "modelrollouts.yaml"
EXAMPLES = sorted((REPO / "k8s" / "examples").glob("*.yaml"))


def crd_version() -> dict:
    return yaml.safe_load(CRD.read_text())["spec"]["versions"][0]


def test_the_chart_ships_the_same_crd_bytes() -> None:
    if not CHART_CRD.exists():
        pytest.skip("helm/understudy/crds/modelrollouts.yaml not copied into the chart yet")
    assert CHART_CRD.read_bytes() == CRD.read_bytes()


def test_crd_has_status_subresource_printer_columns_and_short_name() -> None:
    doc = yaml.safe_load(CRD.read_text())
    assert doc["spec"]["names"]["shortNames"] == ["mr"]
    version = crd_version()
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["Phase", "Stable", "Candidate", "Weight", "Samples", "Age"]


def test_crd_enums_match_the_core() -> None:
    status = crd_version()["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert status["phase"]["enum"] == [str(p) for p in Phase]
    rule = crd_version()["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "analysis"
    ]["properties"]["checks"]["items"]["x-kubernetes-validations"][2]["rule"]
    assert all(f"'{name}'" in rule for name in BUILTIN_CHECKS - {"sample-count"})
    assert "'sample-count'" not in rule  # the minSamples gate, not a check to configure


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_parse_with_the_core(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    spec = parse_spec(doc["spec"])
    assert spec.model.name == "house-prices"


def test_example_set_covers_automatic_manual_and_custom() -> None:
    docs = [yaml.safe_load(p.read_text()) for p in EXAMPLES]
    specs = [parse_spec(d["spec"]) for d in docs]
    assert {s.promotion.value for s in specs} == {"automatic", "manual"}
    assert any(c.query for s in specs for c in s.analysis.checks)


REF = RolloutRef(namespace="ml", name="house-prices", uid="u-1")
SPEC = parse_spec({"model": {"name": "house-prices", "version": "2.0.0"}, "replicas": 3})


def test_model_deployment_rolls_without_unavailable_replicas_and_is_owned() -> None:
    dep = resources.deployment(
        ref=REF, role="live", spec=SPEC, version="2.0.0", image="m:2", settings=OperatorSettings()
    )
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert dep["spec"]["replicas"] == 3
    assert dep["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert resources.deployment_version(dep) == "2.0.0"
    # the selector must not contain the version: promotion changes it in place
    assert "rollouts.understudy.dev/version" not in dep["spec"]["selector"]["matchLabels"]


def test_router_config_follows_the_contract() -> None:
    config = resources.router_config(
        ref=REF,
        spec=SPEC,
        settings=OperatorSettings(),
        live_version="1.0.0",
        candidate_version="2.0.0",
    )
    assert config == {
        "live": {"url": "http://house-prices-live.ml.svc:8000", "version": "1.0.0"},
        "candidate": {"url": "http://house-prices-candidate.ml.svc:8000", "version": "2.0.0"},
        "mirror_percent": 100.0,
        "tolerance": {"relative": 0.10, "absolute": 10_000.0},
        "timeouts": {"live_seconds": 2.0, "candidate_seconds": 2.0},
    }


def test_router_config_is_accepted_by_the_router() -> None:
    from understudy_router.config import config_from_dict

    config = resources.router_config(
        ref=REF,
        spec=SPEC,
        settings=OperatorSettings(),
        live_version="1.0.0",
        candidate_version=None,
    )
    parsed = config_from_dict(config)
    assert parsed.candidate is None
    assert parsed.live is not None and parsed.live.version == "1.0.0"


@pytest.mark.parametrize(
    ("status", "done"),
    [
        (
            {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 3, "observedGeneration": 2},
            True,
        ),
        (
            {"replicas": 4, "updatedReplicas": 3, "availableReplicas": 3, "observedGeneration": 2},
            False,
        ),
        (
            {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 2, "observedGeneration": 2},
            False,
        ),
        (
            {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 3, "observedGeneration": 1},
            False,
        ),
    ],
)
def test_rolled_out_means_every_replica_updated_and_available(status: dict, done: bool) -> None:
    dep = {"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": status}
    assert resources.rolled_out(dep) is done
