import pytest
from prometheus_client import Counter

from understudy_common.metrics import metric_name, new_registry, render, set_info


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
