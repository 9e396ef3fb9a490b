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


class TaskRecorder(Recorder):
    """A Recorder that also notes which task each call ran in."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(fail)
        self.tasks: list[str] = []

    def __call__(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        try:
            task = asyncio.current_task()
        except RuntimeError:  # the executor's thread: no event loop there
            task = None
        self.tasks.append(task.get_name() if task is not None else "")
        return super().__call__(rows)


def _alone(batcher: MicroBatcher, jobs: list[tuple[list[dict[str, Any]], bool]]) -> list[Any]:
    """Each (rows, alone) predicted concurrently, in the caller's task named "request-i"."""

    async def run() -> list[Any]:
        await batcher.start()
        try:
            tasks = [
                asyncio.create_task(batcher.predict(rows, alone=alone), name=f"request-{i}")
                for i, (rows, alone) in enumerate(jobs)
            ]
            return list(await asyncio.gather(*tasks, return_exceptions=True))
        finally:
            await batcher.stop()

    return asyncio.run(run())


def test_a_lone_request_is_predicted_in_its_own_task_without_the_queue() -> None:
    predict = TaskRecorder()
    sizes: list[int] = []
    batcher = MicroBatcher(predict, max_batch_records=8, max_wait_s=0.0, on_batch=sizes.append)
    (result,) = _alone(batcher, [(_rows(3, 2), True)])
    assert result.tolist() == [6.0, 8.0]
    assert predict.tasks == ["request-0"]  # not the worker's
    assert sizes == [2]  # the batch-size metric still sees it


def test_a_lone_request_joins_the_requests_that_start_in_its_turn() -> None:
    # Under load: the first request started alone, the next one (ready, not started when the
    # first asked) starts while it waits its turn and queues; both are batched.
    predict = TaskRecorder()
    batcher = MicroBatcher(predict, max_batch_records=8, max_wait_s=0.0)
    results = _alone(batcher, [(_rows(0, 1), True), (_rows(1, 1), False), (_rows(2, 2), False)])
    assert [r.tolist() for r in results] == [[0.0], [2.0], [4.0, 6.0]]
    assert predict.tasks == ["micro-batcher"]
    assert predict.calls == [4]


def test_queued_jobs_keep_their_turn_before_a_lone_request() -> None:
    # A caller that says it is alone while jobs are queued (it cannot be, in the service)
    # joins the queue rather than overtake them.
    predict = TaskRecorder()
    batcher = MicroBatcher(predict, max_batch_records=8, max_wait_s=0.0)
    results = _alone(batcher, [(_rows(0, 1), False), (_rows(1, 1), True)])
    assert [r.tolist() for r in results] == [[0.0], [2.0]]
    assert predict.tasks == ["micro-batcher"]
    assert predict.calls == [2]


@pytest.mark.parametrize(("max_wait_s", "executor"), [(0.002, "inline"), (0.0, "thread")])
def test_no_shortcut_with_a_wait_or_a_thread(max_wait_s: float, executor: Executor) -> None:
    predict = TaskRecorder()
    batcher = MicroBatcher(predict, max_batch_records=8, max_wait_s=max_wait_s, executor=executor)
    (result,) = _alone(batcher, [(_rows(5, 1), True)])
    assert result.tolist() == [10.0]
    assert predict.tasks == ["micro-batcher" if executor == "inline" else ""]


def test_a_lone_request_gets_the_predictors_error() -> None:
    predict = Recorder(fail=True)
    batcher = MicroBatcher(predict, max_batch_records=8, max_wait_s=0.0)
    (failed,) = _alone(batcher, [(_rows(0, 1), True)])
    assert isinstance(failed, RuntimeError)


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


class GateRunner:
    """Wraps a runner: notes each call's ``alone`` and holds the first call until released."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.alone: list[bool] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def start(self) -> None:
        await self.inner.start()

    async def stop(self) -> None:
        await self.inner.stop()

    async def predict(self, rows: Sequence[dict[str, Any]], *, alone: bool = False) -> np.ndarray:
        self.alone.append(alone)
        if len(self.alone) == 1:
            self.entered.set()
            await self.release.wait()
        return await self.inner.predict(rows, alone=alone)


def test_the_handler_calls_a_request_alone_only_when_no_other_is_in_flight(
    artifacts: Any, records: list[dict[str, Any]]
) -> None:
    import json

    from understudy_common.metrics import new_registry
    from understudy_model_api.drift import DriftMetrics
    from understudy_model_api.metrics import ApiMetrics
    from understudy_model_api.predictions import PredictionHandler
    from understudy_model_api.runtime import load_runtime
    from understudy_model_api.settings import Settings

    settings = Settings(artifact_dir=artifacts.v1)
    metrics = ApiMetrics(new_registry())
    drift = DriftMetrics(metrics.registry, features=settings.drift_features)
    runtime = load_runtime(settings, metrics)
    drift.bind(runtime.model)
    gate = GateRunner(runtime.runner)
    runtime.runner = gate
    handler = PredictionHandler(
        settings=settings, metrics=metrics, drift=drift, runtime=lambda: runtime
    )
    body = json.dumps({"records": records[:1]}).encode()
    headers = [(b"content-type", b"application/json")]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def run() -> list[tuple[int, bytes, Any]]:
        await gate.start()
        try:
            first = asyncio.create_task(handler(request_id="a", headers=headers, receive=receive))
            await gate.entered.wait()  # the first request is held inside its prediction
            second = await handler(request_id="b", headers=headers, receive=receive)
            gate.release.set()
            answers = [await first, second]
            answers.append(await handler(request_id="c", headers=headers, receive=receive))
            return answers
        finally:
            await gate.stop()

    answers = asyncio.run(run())
    assert [status for status, _, _ in answers] == [200, 200, 200]
    predictions = [json.loads(answer)["predictions"] for _, answer, _ in answers]
    assert predictions[0] == predictions[1] == predictions[2]
    assert gate.alone == [True, False, True]
