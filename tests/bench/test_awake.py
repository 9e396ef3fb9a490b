"""bench/awake.py: while its context is open, one SCHED_IDLE spinner runs on each CPU this
process may use; when it closes, they are gone. (Its effect on latency is a benchmark
result, bench/README.md, not a test.)"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture
def awake(bench_script: Callable[[str], ModuleType]) -> ModuleType:
    return bench_script("awake")


def _children() -> list[int]:
    me = os.getpid()
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z":
            out.append(int(pid))
    return out


def _settled(pid: int) -> bool:
    return os.sched_getscheduler(pid) == os.SCHED_IDLE and len(os.sched_getaffinity(pid)) == 1


def test_one_idle_class_spinner_per_cpu_while_open_and_none_after(awake: ModuleType) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    before = set(_children())
    with awake.cpus_kept_awake() as kept:
        assert kept == cpus
        spinners = set(_children()) - before
        assert len(spinners) == len(cpus)
        # Each spinner places and demotes itself once started: poll until it has.
        deadline = time.monotonic() + 10
        while not all(_settled(pid) for pid in spinners) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(os.sched_getscheduler(pid) == os.SCHED_IDLE for pid in spinners)
        assert sorted(min(os.sched_getaffinity(pid)) for pid in spinners) == cpus
        assert all(len(os.sched_getaffinity(pid)) == 1 for pid in spinners)
    assert not set(_children()) & spinners


def test_disabled_starts_nothing(awake: ModuleType) -> None:
    before = set(_children())
    with awake.cpus_kept_awake(False) as kept:
        assert kept == []
        assert set(_children()) == before
