"""Realized error from one scrape of the router's ground-truth metrics (the numbers the
demo shows and reports); the real router's counters are tests/cli/test_labels.py."""

from __future__ import annotations

import math

import pytest

from understudy_cli.demo.realized import describe, dollars, realized_from, summary
from understudy_cli.demo.scrape import Snapshot

M = 'model="house-prices"'
P = f'{M},live_version="1.0.0",candidate_version="2.0.0"'
H = "understudy_router_realized_abs_error_dollars"
SCRAPE = f"""\
# TYPE understudy_router_realized_abs_error_dollars histogram
{H}_bucket{{{M},role="candidate",version="2.0.0",le="+Inf"}} 3
{H}_sum{{{M},role="candidate",version="2.0.0"}} 45000
{H}_count{{{M},role="candidate",version="2.0.0"}} 3
{H}_bucket{{{M},role="live",version="1.0.0",le="+Inf"}} 4
{H}_sum{{{M},role="live",version="1.0.0"}} 80000
{H}_count{{{M},role="live",version="1.0.0"}} 4
# TYPE understudy_router_realized_squared_error_total counter
understudy_router_realized_squared_error_total{{{M},role="live",version="1.0.0"}} 4e10
understudy_router_realized_squared_error_total{{{M},role="candidate",version="2.0.0"}} 7.5e8
# TYPE understudy_router_paired_loss_records_total counter
understudy_router_paired_loss_records_total{{{P}}} 3
# TYPE understudy_router_paired_abs_error_total counter
understudy_router_paired_abs_error_total{{{P},role="live"}} 60000
understudy_router_paired_abs_error_total{{{P},role="candidate"}} 45000
# TYPE understudy_router_feedback_labels_total counter
understudy_router_feedback_labels_total{{{M},outcome="applied"}} 4
understudy_router_feedback_labels_total{{{M},outcome="conflict"}} 1
understudy_router_feedback_labels_total{{{M},outcome="duplicate"}} 0
"""


def test_mae_and_rmse_per_model_and_the_paired_ratio():
    realized = realized_from(Snapshot.parse(SCRAPE, taken_at=0))
    live, candidate = realized.by_role  # live first
    assert (live.role, live.version, live.records, live.mae) == ("live", "1.0.0", 4, 20_000)
    assert live.rmse == pytest.approx(math.sqrt(1e10))
    assert (candidate.version, candidate.records, candidate.mae) == ("2.0.0", 3, 15_000)
    (paired,) = realized.paired
    assert (paired.live_mae, paired.candidate_mae, paired.ratio) == (20_000, 15_000, 0.75)
    assert realized.label_outcomes == (("applied", 4), ("conflict", 1))
    assert describe(realized) == (
        "realized MAE: live 1.0.0 $20.0k (n=4), candidate 2.0.0 $15.0k (n=3); "
        "on the same 3 records 1.0.0 $20.0k vs 2.0.0 $15.0k, ratio 0.750"
    )
    assert summary(realized)["paired"][0]["ratio"] == 0.75


def test_no_labels_yet_is_said_so():
    realized = realized_from(Snapshot.parse("", taken_at=0))
    assert realized.empty and summary(realized) == {
        "by_role": [],
        "paired": [],
        "label_outcomes": {},
    }
    assert describe(realized) == "realized MAE: no labelled records yet"


@pytest.mark.parametrize(
    ("value", "text"), [(980.4, "$980"), (19_553.4, "$19.6k"), (2_429_245, "$2.43M")]
)
def test_dollars_are_short(value, text):
    assert dollars(value) == text
