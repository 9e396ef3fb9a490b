"""The mirror process's wire format: frames survive any split of the byte stream, and a
job goes over as its fields (the candidate client as its URL) and comes back whole."""

from __future__ import annotations

import random

from understudy_common.compare import Tolerance
from understudy_router.mirror_process import (
    DONE,
    URL,
    FrameReader,
    frame,
    job_from_message,
    job_message,
)
from understudy_router.recording import MirrorJob
from understudy_router.upstreams import UpstreamClient


def test_frames_come_out_whole_and_in_order_however_the_stream_is_cut() -> None:
    messages = [(DONE, [("r", "1", "2", (float(i),), None)] * (i % 5)) for i in range(200)]
    stream = b"".join(frame(m) for m in messages)
    rng = random.Random(7)
    for _ in range(20):
        reader, out, at = FrameReader(), [], 0
        while at < len(stream):
            step = rng.choice((1, 3, 17, 4096, len(stream)))
            out += reader.feed(stream[at : at + step])
            at += step
        assert out == messages
    assert FrameReader().feed(stream[:3]) == []  # not even a length yet


def test_a_job_crosses_as_its_fields() -> None:
    client = UpstreamClient("http://127.0.0.1:9/", max_connections=1)
    job = MirrorJob(
        request_id="r-1",
        body=b'{"records": [{}]}',
        content_type="application/json",
        live_version="1.0.0",
        live_predictions=(1.5, 2.5),
        candidate=client,
        candidate_version="2.0.0",
        timeout=1.5,
        tolerance=Tolerance(relative=0.2, absolute=5.0),
        slice_field="Neighborhood",
        live_labels=("a", "b"),
    )
    [message] = FrameReader().feed(frame(job_message(job)))
    assert message[URL] == "http://127.0.0.1:9/"
    theirs = UpstreamClient(message[URL], max_connections=1)
    assert job_from_message(message, theirs) == MirrorJob(
        **{**{f: getattr(job, f) for f in MirrorJob.__slots__}, "candidate": theirs}
    )
