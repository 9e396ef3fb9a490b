"""``--keep-cpus-awake``: one spinning process per CPU at the lowest scheduling class, so no
CPU of this VM ever goes idle during a measurement.

Why: on these VMs an idle vCPU halts, and waking it for the next request costs far more
than the request. At one connection nearly every step of a request (wrk -> router ->
model-api -> back) wakes a halted CPU, so the c=1 latencies measure the hypervisor more
than the code: direct model-api p50 1.99 ms and the router's 4.49 ms, against 0.72 and
1.37 ms with the CPUs kept awake, in two back-to-back runs (bench/README.md, 2026-12-02).
It also made mirroring look *faster* than no mirroring at c=1 (p50 ×0.69): the mirror
work kept the second CPU awake for the live path. Bare-metal latency benchmarks switch
deep idle states off (``cpupower idle-set -D 0``, ``idle=poll``) for the same reason; a
guest cannot, so it keeps its CPUs busy with work that yields to everything.

The spinners run under ``SCHED_IDLE``: the kernel runs them only when nothing else wants
that CPU (weight 3 against 1,024 for a normal process), so they take no measurable CPU
from the measured processes. They do take all idle CPU, so a benchmark's own CPU-time
columns stay right (they read the measured processes' times), but the machine's idle share
means nothing while they run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_SPIN = (
    "import os, sys\n"
    "os.sched_setaffinity(0, {int(sys.argv[1])})\n"
    "os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
    "while True:\n"
    "    pass\n"
)


@contextmanager
def cpus_kept_awake(enabled: bool = True) -> Iterator[list[int]]:
    """While inside: a SCHED_IDLE spinner on each CPU this process may use (the CPUs it
    keeps awake; none if not ``enabled``)."""
    if not enabled:
        yield []
        return
    cpus = sorted(os.sched_getaffinity(0))
    spinners = [
        subprocess.Popen([sys.executable, "-c", _SPIN, str(cpu)], stdin=subprocess.DEVNULL)
        for cpu in cpus
    ]
    try:
        yield cpus
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()
