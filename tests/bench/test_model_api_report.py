"""bench/model_api_report.py: the ratios, scaling, goals and table of bench/model_api.py."""

from __future__ import annotations

import pytest

from bench.model_api_report import (
    Result,
    add_ratios,
    enough_requests,
    goals,
    merge_wrk,
    scaling,
    table,
)


def row(
    target: str,
    rps: float,
    *,
    records: int = 1,
    concurrency: int = 1,
    processes: int = 1,
    wrk_processes: int = 1,
    p50_ms: float = 1.0,
) -> Result:
    return Result(
        target=target,
        records=records,
        concurrency=concurrency,
        processes=processes,
        wrk_processes=wrk_processes,
        p50_ms=p50_ms,
        p99_ms=2 * p50_ms,
        requests_per_s=rps,
        records_per_s=rps * records,
        requests=int(rps),
        errors=0,
        load_before=1.0,
        load_after=1.5,
    )


def test_ratios_are_taken_against_the_peer_at_the_same_load_only() -> None:
    rows = [
        row("ceiling", 10_000),
        row("default", 2_500),
        row("mlserver", 50),
        row("bare", 5_000),
        row("ceiling", 20_000, concurrency=64),
        row("default", 2_000, concurrency=64),
        row("mlserver-batch", 400, concurrency=64),
        row("default", 1_000, concurrency=64, processes=2, wrk_processes=2),
    ]
    add_ratios(rows)
    c1, c64, two = rows[1], rows[5], rows[7]
    assert c1.ratios == {"ceiling": 0.25, "bare": 0.5, "mlserver": 50.0, "mlserver-batch": None}
    assert c64.ratios == {"ceiling": 0.1, "bare": None, "mlserver": None, "mlserver-batch": 5.0}
    # No ceiling with two processes and two wrk in this run: no ratio, not the c=64 one.
    assert two.ratios == dict.fromkeys(("ceiling", "bare", "mlserver", "mlserver-batch"))
    assert rows[0].ratios is not None and rows[0].ratios["ceiling"] is None  # not itself


def test_a_peer_that_answered_nothing_gives_no_ratio() -> None:
    rows = [row("mlserver", 0.0), row("default", 100)]
    add_ratios(rows)
    assert rows[1].ratios is not None and rows[1].ratios["mlserver"] is None


def test_merge_wrk_adds_throughput_and_keeps_the_worst_p99() -> None:
    a = {"requests": 300, "duration_us": 3e6, "p50_us": 100, "p99_us": 900}
    b = {"requests": 100, "duration_us": 2e6, "p50_us": 500, "p99_us": 400}
    for stats, errors in ((a, (1, 0)), (b, (0, 2))):
        stats["errors_status"], stats["errors_socket"] = errors
    merged = merge_wrk([a, b])
    assert merged["requests"] == 400
    assert merged["requests_per_s"] == pytest.approx(100 + 50)
    assert merged["p50_us"] == pytest.approx((100 * 300 + 500 * 100) / 400)
    assert merged["p99_us"] == 900
    assert merged["errors"] == 3
    with pytest.raises(ValueError):
        merge_wrk([])


def test_scaling_compares_two_processes_with_one_under_the_same_split_load() -> None:
    rows = [
        row("default", 3_000, concurrency=64),  # one wrk: not the scaling baseline
        row("default", 1_000, concurrency=64, wrk_processes=2),
        row("default", 1_800, concurrency=64, processes=2, wrk_processes=2),
        row("ceiling", 9_000, concurrency=64, processes=2, wrk_processes=2),  # no baseline
    ]
    assert scaling(rows) == {
        "default records=1 c=64": {
            "one_process_rps": 1_000,
            "two_processes_rps": 1_800,
            "speedup": 1.8,
        }
    }


def test_goals_divide_model_api_by_the_ceiling_and_the_best_mlserver() -> None:
    rows = [
        row("ceiling", 10_000),
        row("default", 6_000, p50_ms=0.15),
        row("mlserver", 50),
        row("mlserver-batch", 60),
        row("ceiling", 20_000, concurrency=64),
        row("default", 8_000, concurrency=64),
        row("bare", 10_000, concurrency=64),
        row("naive", 40),
    ]
    got = goals(rows)
    assert got["bare_vs_ceiling_c64"] == pytest.approx(0.5)
    assert got["model_api_vs_bare_c64"] == pytest.approx(0.8)
    assert got["bare_vs_ceiling_c1"] is None and got["model_api_vs_bare_c1"] is None
    assert got["model_api_vs_ceiling_c1"] == pytest.approx(0.6)
    assert got["model_api_vs_ceiling_c64"] == pytest.approx(0.4)
    assert got["model_api_vs_mlserver_best_c1"] == pytest.approx(100.0)
    assert got["model_api_vs_mlserver_best_c64"] is None  # no MLServer at c=64
    assert got["p50_c1_ms"] == 0.15
    assert got["speedup_c64_vs_naive_c1"] == pytest.approx(200.0)


def test_a_slow_run_is_not_enough_until_each_connection_was_answered_twice() -> None:
    assert not enough_requests(0, 64)
    assert not enough_requests(127, 64)
    assert enough_requests(128, 64)


def test_the_table_has_one_line_per_row_and_a_dash_for_missing_ratios() -> None:
    rows = [row("ceiling", 10_000), row("default", 2_500)]
    add_ratios(rows)
    lines = table(rows).splitlines()
    assert len(lines) == 2 + len(rows)
    assert lines[0].count("|") == lines[1].count("|") == lines[2].count("|")
    assert "| default | 1 | 1 | 1 | 1 | 1.00 | 2.00 | 2,500 | 2,500 | 0.25 | - | - |" in lines[3]


def test_a_row_that_answered_nothing_says_so_instead_of_zero() -> None:
    slow = row("mlserver", 0.0, concurrency=64)
    slow.requests, slow.duration_s = 0, 8
    assert "| none answered in 8 s |" in table([slow])
