import time

import pytest
from prometheus_client import Counter
from prometheus_client.parser import text_string_to_metric_families

from understudy_common.metrics import metric_name, new_registry, process_registry, render, set_info


def test_metric_names_follow_the_convention():
    assert metric_name("router", "requests", "total") == "understudy_router_requests_total"
    with pytest.raises(ValueError):
        metric_name("Router", "requests")


def test_registries_are_independent():
    first, second = new_registry(), new_registry()
    Counter("understudy_test_things_total", "things", registry=first).inc()
    # The same name on another registry does not clash (it would on the global one).
    Counter("understudy_test_things_total", "things", registry=second)
    assert b"understudy_test_things_total 1.0" in render(first)
    assert b"understudy_test_things_total 0.0" in render(second)


def test_info_metric():
    registry = new_registry()
    set_info(
        registry=registry, subsystem="model", name="build", doc="model", labels={"version": "1.0.0"}
    )
    assert b'understudy_model_build_info{version="1.0.0"} 1.0' in render(registry)


def test_render_joins_another_registrys_families_by_name() -> None:
    """Two processes' registries (the router's and its mirror process's) share family
    names: render() joins their samples under one HELP/TYPE, keeps the first registry's
    sample where both have one, and appends families only the other has."""
    from prometheus_client import Gauge
    from prometheus_client.parser import text_string_to_metric_families

    ours, theirs = new_registry(), new_registry()
    mine = Counter("shared_total", "a family both have", ["role"], registry=ours)
    other = Counter("shared_total", "a family both have", ["role"], registry=theirs)
    mine.labels("live").inc(3)
    other.labels("candidate").inc(5)
    other.labels("live").inc(100)  # the same series: ours wins
    Gauge("only_theirs", "a family one has", registry=theirs).set(7)

    text = render(ours, list(theirs.collect())).decode()
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(types) == len(set(types))
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert values[("shared_total", (("role", "live"),))] == 3
    assert values[("shared_total", (("role", "candidate"),))] == 5
    assert values[("only_theirs", ())] == 7
    # Nothing extra: the same text as before.
    assert render(ours, []) == render(ours)


def test_a_process_registry_reports_this_process_under_its_namespace() -> None:
    plain = render(process_registry()).decode()
    named = render(process_registry(namespace="understudy_router_mirror")).decode()
    assert "\nprocess_cpu_seconds_total " in plain
    assert "\nprocess_" not in named  # a second process's families never clash
    values = {
        s.name: s.value for family in text_string_to_metric_families(named) for s in family.samples
    }
    # This process's own numbers (read from /proc), not zeros.
    assert values["understudy_router_mirror_process_cpu_seconds_total"] > 0
    assert values["understudy_router_mirror_process_open_fds"] > 0
    started = values["understudy_router_mirror_process_start_time_seconds"]
    assert time.time() - 86_400 < started <= time.time()
    assert "# TYPE process_" not in render(new_registry()).decode()  # only where asked for
