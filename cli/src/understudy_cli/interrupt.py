"""Ctrl-C for the local runs (``understudy demo`` / ``shadow``) that is never lost.

Python turns SIGINT into a KeyboardInterrupt in the main thread at the next bytecode it
runs. When that bytecode belongs to a finalizer (``__del__``, a weakref callback: the
garbage collector runs them wherever it happens to be), the KeyboardInterrupt is printed
as "Exception ignored in ..." and dropped — the run goes on until its ``--max-seconds``.
A CI run of the Ctrl-C test lost one that way. So the handler also sets a flag, and the
local controller's timer (demo/controller.py) checks it at every tick: a Ctrl-C stops the
run at once, or at the latest one tick later.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_requested = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _requested.set()
    raise KeyboardInterrupt


@contextmanager
def interruptible() -> Iterator[None]:
    """Within it, Ctrl-C raises KeyboardInterrupt and is remembered (see the module)."""
    _requested.clear()
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may install signal handlers
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def raise_if_requested() -> None:
    """KeyboardInterrupt if a Ctrl-C arrived (whether or not its own raise got through)."""
    if _requested.is_set():
        raise KeyboardInterrupt
