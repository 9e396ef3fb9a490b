"""The operator's per-rollout series: a phase state set, each check's verdict and value."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from understudy_operator.core import Phase
from understudy_operator.core.checks import CheckResult, Verdict
from understudy_operator.metrics import OperatorMetrics


def series(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for metric in registry.collect()
        for s in metric.samples
        if s.name == name
    }


def check(name: str, verdict: Verdict, value: float | None) -> CheckResult:
    return CheckResult(name=name, value=value, threshold="", verdict=verdict, message="")


def labels(**kw: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"rollout_namespace": "ns", "rollout": "r", **kw}.items()))


def test_the_phase_in_force_is_1_and_every_other_phase_0() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    metrics.set_rollout(namespace="ns", name="r", model="m", phase=Phase.SHADOWING, checks=())
    phases = series(registry, "understudy_operator_rollout_phase")
    assert len(phases) == len(Phase)
    assert {k: v for k, v in phases.items() if v == 1} == {
        labels(model="m", phase="Shadowing"): 1.0
    }


def test_checks_publish_their_verdict_and_value_and_gone_ones_are_removed() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    metrics.set_rollout(
        namespace="ns",
        name="r",
        model="m",
        phase=Phase.SHADOWING,
        checks=[
            check("agreement-rate", Verdict.PASS, 0.9),
            check("slice-bias", Verdict.NOT_YET, None),
        ],
    )
    verdicts = series(registry, "understudy_operator_check_verdict")
    assert len(verdicts) == 2 * len(Verdict)
    assert verdicts[labels(check="agreement-rate", verdict="Pass")] == 1
    assert verdicts[labels(check="agreement-rate", verdict="Fail")] == 0
    assert verdicts[labels(check="slice-bias", verdict="NotYet")] == 1
    assert series(registry, "understudy_operator_check_value") == {
        labels(check="agreement-rate"): 0.9
    }

    # the next run: slice-bias gone, agreement failing; the model renamed
    metrics.set_rollout(
        namespace="ns",
        name="r",
        model="m2",
        phase=Phase.ROLLED_BACK,
        checks=[check("agreement-rate", Verdict.FAIL, 0.5)],
    )
    verdicts = series(registry, "understudy_operator_check_verdict")
    assert {k: v for k, v in verdicts.items() if v == 1} == {
        labels(check="agreement-rate", verdict="Fail"): 1.0
    }
    assert len(verdicts) == len(Verdict)
    assert series(registry, "understudy_operator_check_value") == {
        labels(check="agreement-rate"): 0.5
    }
    phases = series(registry, "understudy_operator_rollout_phase")
    assert {dict(k)["model"] for k in phases} == {"m2"}


def test_a_forgotten_rollout_leaves_no_series_and_others_stay() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    for name in ("r", "other"):
        metrics.set_rollout(
            namespace="ns",
            name=name,
            model="m",
            phase=Phase.SHADOWING,
            checks=[check("agreement-rate", Verdict.PASS, 0.9)],
        )
    metrics.forget_rollout("ns", "r")
    for name in (
        "understudy_operator_rollout_phase",
        "understudy_operator_check_verdict",
        "understudy_operator_check_value",
    ):
        assert series(registry, name), name
        assert {dict(k)["rollout"] for k in series(registry, name)} == {"other"}, name


def test_counters_are_per_rollout_and_go_with_a_forgotten_rollout() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    for name in ("r", "other"):  # two rollouts of one model: counted apart
        metrics.count_run(namespace="ns", name=name, model="m", verdict=Verdict.PASS)
        metrics.count_promotion(namespace="ns", name=name, model="m")
        metrics.count_rollback(namespace="ns", name=name, model="m", reason="Aborted")
    metrics.count_run(namespace="ns", name="r", model="m", verdict=Verdict.PASS)
    runs = series(registry, "understudy_operator_analysis_runs_total")
    assert runs[labels(model="m", verdict="Pass")] == 2
    assert (
        runs[
            (("model", "m"), ("rollout", "other"), ("rollout_namespace", "ns"), ("verdict", "Pass"))
        ]
        == 1
    )

    metrics.forget_rollout("ns", "r")
    for name in (
        "understudy_operator_analysis_runs_total",
        "understudy_operator_promotions_total",
        "understudy_operator_rollbacks_total",
    ):
        assert {dict(k)["rollout"] for k in series(registry, name)} == {"other"}, name
