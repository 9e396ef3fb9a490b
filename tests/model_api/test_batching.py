"""Micro-batching: concurrent requests share one predict call and get exactly their answers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from understudy_model.artifact import load_artifact
from understudy_model.data import Split, holdout_records
from understudy_model.fast import compile_fast_predictor
from understudy_model.validation import validate_records
from understudy_model_api.batching import DirectRunner, Executor, MicroBatcher


class Recorder:
    """A predict function that records the size of every call (value = 2 x id)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail

    def __call__(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        self.calls.append(len(rows))
        if self.fail:
            raise RuntimeError("predictor broke")
        return np.array([2.0 * row["id"] for row in rows])


def _rows(start: int, count: int) -> list[dict[str, Any]]:
    return [{"id": i} for i in range(start, start + count)]


async def _gather(runner: Any, jobs: list[list[dict[str, Any]]]) -> list[np.ndarray]:
    await runner.start()
    try:
        return list(await asyncio.gather(*(runner.predict(rows) for rows in jobs)))
    finally:
        await runner.stop()


@pytest.mark.parametrize("executor", ["inline", "thread"])
@pytest.mark.parametrize("max_wait_s", [0.0, 0.002])
def test_concurrent_requests_share_calls_and_get_their_own_slices(
    executor: Executor, max_wait_s: float
) -> None:
    predict = Recorder()
    batcher = MicroBatcher(predict, max_batch_records=64, max_wait_s=max_wait_s, executor=executor)
    jobs = [_rows(10 * i, 1 + i % 3) for i in range(40)]
    results = asyncio.run(_gather(batcher, jobs))
    for rows, result in zip(jobs, results, strict=True):
        assert result.tolist() == [2.0 * r["id"] for r in rows]
    assert sum(predict.calls) == sum(len(j) for j in jobs)
    assert len(predict.calls) < len(jobs)  # they were batched
    assert max(predict.calls) <= 64


def test_batches_never_exceed_the_limit_but_a_big_request_goes_alone() -> None:
    predict = Recorder()
    batcher = MicroBatcher(predict, max_batch_records=5, max_wait_s=0.0)
    jobs = [_rows(0, 3), _rows(3, 3), _rows(6, 9), _rows(15, 1)]
    results = asyncio.run(_gather(batcher, jobs))
    assert [len(r) for r in results] == [3, 3, 9, 1]
    assert predict.calls == [3, 3, 9, 1]


def test_max_wait_lets_a_batch_gather() -> None:
    predict = Recorder()
    batcher = MicroBatcher(predict, max_batch_records=100, max_wait_s=0.05)

    async def staggered() -> list[np.ndarray]:
        await batcher.start()
        try:
            first = asyncio.ensure_future(batcher.predict(_rows(0, 1)))
            await asyncio.sleep(0.005)  # arrives while the first one waits for company
            second = asyncio.ensure_future(batcher.predict(_rows(1, 1)))
            return [await first, await second]
        finally:
            await batcher.stop()

    results = asyncio.run(staggered())
    assert [r.tolist() for r in results] == [[0.0], [2.0]]
    assert predict.calls == [2]


def test_a_failing_predict_fails_every_request_of_the_batch_and_the_worker_lives_on() -> None:
    predict = Recorder(fail=True)
    batcher = MicroBatcher(predict, max_batch_records=10, max_wait_s=0.0)

    async def run() -> list[Any]:
        await batcher.start()
        try:
            failed = await asyncio.gather(
                *(batcher.predict(_rows(i, 1)) for i in range(3)), return_exceptions=True
            )
            predict.fail = False
            return [*failed, await batcher.predict(_rows(7, 1))]
        finally:
            await batcher.stop()

    *failed, ok = asyncio.run(run())
    assert all(isinstance(f, RuntimeError) for f in failed)
    assert ok.tolist() == [14.0]


def test_stop_finishes_queued_work_and_refuses_new_work() -> None:
    predict = Recorder()
    batcher = MicroBatcher(predict, max_batch_records=2, max_wait_s=0.0, executor="thread")

    async def run() -> tuple[list[np.ndarray], bool]:
        await batcher.start()
        pending = [asyncio.ensure_future(batcher.predict(_rows(i, 1))) for i in range(5)]
        await asyncio.sleep(0)
        await batcher.stop()
        results = [await p for p in pending]
        try:
            await batcher.predict(_rows(9, 1))
        except RuntimeError:
            return results, True
        return results, False

    results, refused = asyncio.run(run())
    assert [r.tolist() for r in results] == [[2.0 * i] for i in range(5)]
    assert refused


def test_direct_runner_calls_once_per_request() -> None:
    predict = Recorder()
    results = asyncio.run(_gather(DirectRunner(predict), [_rows(0, 2), _rows(2, 1)]))
    assert [r.tolist() for r in results] == [[0.0, 2.0], [4.0]]
    assert predict.calls == [2, 1]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_batched_predictions_are_identical_to_unbatched(
    artifacts: Any, ames_split: Split, version: str
) -> None:
    model = load_artifact(getattr(artifacts, version))
    rows = validate_records(holdout_records(ames_split, limit=120), model.schema).rows
    fast = compile_fast_predictor(model)
    jobs = [rows[i : i + 1 + i % 4] for i in range(0, len(rows), 4)]
    batcher = MicroBatcher(fast.predict_rows, max_batch_records=50, max_wait_s=0.001)
    batched = asyncio.run(_gather(batcher, jobs))
    for job, result in zip(jobs, batched, strict=True):
        assert np.array_equal(result, fast.predict_rows(job))  # exactly, not approximately
