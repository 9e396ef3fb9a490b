"""The bounded mirror queue: fixed workers, bounded waiting, refusals instead of growth."""

from __future__ import annotations

import asyncio

import pytest

from understudy_router.mirror import MirrorQueue


async def _settle() -> None:
    # Let the workers pick up what was offered (a few loop iterations, no timing).
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.parametrize(("workers", "queue_size"), [(1, 0), (2, 3), (4, 16), (8, 0)])
def test_accepts_workers_plus_queue_then_refuses(workers: int, queue_size: int) -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        handled: list[int] = []

        async def handle(job: int) -> None:
            await gate.wait()
            handled.append(job)

        queue: MirrorQueue[int] = MirrorQueue(workers=workers, queue_size=queue_size, handle=handle)
        queue.start()
        await _settle()
        accepted = [job for job in range(100) if queue.offer(job)]
        await _settle()
        assert len(accepted) == workers + queue_size
        assert queue.inflight == workers
        assert queue.depth == queue_size
        # Still refusing while the candidate is stuck.
        assert not queue.offer(1000)
        gate.set()
        for _ in range(50):
            if len(handled) == len(accepted):
                break
            await asyncio.sleep(0)
        assert sorted(handled) == accepted
        assert queue.inflight == 0 and queue.depth == 0
        # Room again once the workers are free.
        assert queue.offer(2000)
        await queue.stop()

    asyncio.run(scenario())


def test_offer_never_blocks_and_refuses_while_all_workers_busy() -> None:
    async def scenario() -> None:
        async def never(job: int) -> None:
            await asyncio.Event().wait()

        queue: MirrorQueue[int] = MirrorQueue(workers=2, queue_size=0, handle=never)
        queue.start()
        await _settle()
        results = [queue.offer(i) for i in range(10)]
        assert results == [True, True] + [False] * 8
        await _settle()
        assert queue.inflight == 2
        await queue.stop()

    asyncio.run(scenario())


def test_a_failing_job_does_not_kill_its_worker(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> list[int]:
        done: list[int] = []

        async def handle(job: int) -> None:
            if job % 2:
                raise RuntimeError(f"job {job} broke")
            done.append(job)

        queue: MirrorQueue[int] = MirrorQueue(workers=1, queue_size=10, handle=handle)
        queue.start()
        for job in range(6):
            assert queue.offer(job)
        for _ in range(50):
            await asyncio.sleep(0)
        await queue.stop()
        return done

    assert asyncio.run(scenario()) == [0, 2, 4]
    assert "mirror job failed" in caplog.text


def test_rejects_impossible_bounds() -> None:
    async def noop(job: int) -> None:
        return None

    with pytest.raises(ValueError):
        MirrorQueue(workers=0, queue_size=1, handle=noop)
    with pytest.raises(ValueError):
        MirrorQueue(workers=1, queue_size=-1, handle=noop)
