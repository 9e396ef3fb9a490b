"""A Ctrl-C of a local run is never lost (cli/src/understudy_cli/interrupt.py)."""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
from typing import Any

import pytest

from understudy_cli.interrupt import interruptible, raise_if_requested


class _SigintInFinalizer:
    """A finalizer during which SIGINT arrives: its KeyboardInterrupt is raised inside
    ``__del__``, where Python reports it as unraisable and drops it."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:  # bytecodes: the handler runs in here
            pass


def test_a_ctrl_c_lost_in_a_finalizer_still_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    dropped: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)
    with interruptible():
        obj = _SigintInFinalizer()
        del obj
        gc.collect()
        # The KeyboardInterrupt itself was lost...
        assert [type(d.exc_value) for d in dropped] == [KeyboardInterrupt]
        # ...but the run's next tick stops it.
        with pytest.raises(KeyboardInterrupt):
            raise_if_requested()


def test_a_ctrl_c_raises_at_once_and_the_handler_is_put_back() -> None:
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), interruptible():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # interrupted long before
    assert signal.getsignal(signal.SIGINT) is before
    with interruptible():
        raise_if_requested()  # a new run starts without the old Ctrl-C
