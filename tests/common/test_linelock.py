"""Two processes writing JSON lines to one pipe, as the shadow-router and its mirror process
share a container's stdout: with the LineLock every line arrives whole, even lines far
longer than PIPE_BUF written while the pipe is full (a slow reader). Without it the same
run broke lines in 3 of 3 runs (the other process's line inside a long one; measured by
hand with ``line_lock`` left out of WRITER): the lock is what keeps them whole."""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import time

import pytest

import understudy_common.logging
from understudy_common.linelock import LineLock
from understudy_common.logging import JsonLinesHandler, configure_logging, share_lines

LINES = 12
# Longer than the pipe's whole buffer (64 KiB): every line is written in several parts.
PAYLOAD = 100_000

WRITER = """
import logging, sys
from understudy_common.linelock import LineLock
from understudy_common.logging import configure_logging, log_event
configure_logging(service="writer", line_lock=LineLock(int(sys.argv[1])))
name, size, lines = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
log = logging.getLogger(name)
for i in range(lines):
    if i % 2:  # both ways a line is written: a LogRecord, and log_event's
        log.info("line %d", i, extra={"writer": name, "i": i, "payload": name * size})
    else:
        log_event(log, logging.INFO, {"writer": name, "i": i, "payload": name * size}, "line")
    # and short lines between (atomic by themselves, but not inside another's long one)
    log.info("short %d", i, extra={"writer": name, "i": -1})
"""


def _read_slowly(fd: int, writers: list[subprocess.Popen[bytes]]) -> bytes:
    """Everything written to the pipe, read 4 KiB at a time with pauses, so the pipe is
    full most of the time and the writers' long lines go in parts."""
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        assert ready, "the writers went silent"
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
        time.sleep(0.0005)
    for writer in writers:
        assert writer.wait(timeout=60) == 0
    return b"".join(chunks)


def test_two_processes_lines_arrive_whole_under_the_lock() -> None:
    lock = LineLock.create()
    assert lock is not None, "Linux has memfd_create"
    read_end, write_end = os.pipe()
    try:
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(lock.fd), name, str(PAYLOAD), str(LINES)],
                stdout=write_end,
                pass_fds=(lock.fd,),
            )
            for name in ("a", "b")
        ]
        os.close(write_end)
        output = _read_slowly(read_end, writers)
    finally:
        os.close(read_end)
        os.close(lock.fd)
    lines = output.decode().splitlines()
    events = [json.loads(line) for line in lines]  # a broken line fails here
    for name in ("a", "b"):
        long = [e for e in events if e["writer"] == name and e["i"] >= 0]
        assert [e["i"] for e in long] == list(range(LINES))
        assert all(e["payload"] == name * PAYLOAD for e in long)
        assert sum(1 for e in events if e["writer"] == name and e["i"] == -1) == LINES


def test_share_lines_guards_this_process_handlers_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # as in a process that has not shared its lines yet (an in-process router may have)
    monkeypatch.setattr(understudy_common.logging, "_shared_lock", None)
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        handler = configure_logging(service="t", stream=open(os.devnull, "w"))  # noqa: SIM115
        assert isinstance(handler, JsonLinesHandler) and handler.line_lock is None
        lock = share_lines()
        assert lock is not None and handler.line_lock is lock
        assert share_lines() is lock  # a replaced child gets the same lock, not a new one
        # a handler configured later (a test capturing output) keeps writing under it
        again = configure_logging(service="t", stream=handler.stream)
        assert again.line_lock is lock
        handler.stream.close()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
