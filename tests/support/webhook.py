"""A real HTTP webhook receiver on 127.0.0.1 (http.server in a thread) for notification
tests: it records every POST body and answers as told — 200, a given number of 503s
before 200 (fails, then recovers), or never (hangs until stopped)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, *, fail_first: int = 0, hang: bool = False) -> None:
        self.fail_first = fail_first
        self.hang = hang
        self.attempts: list[dict[str, Any]] = []  # every POST body, answered or not
        self.delivered: list[dict[str, Any]] = []  # bodies answered 200
        self._lock = threading.Lock()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                payload = json.loads(self.rfile.read(length) or b"null")
                with receiver._lock:
                    receiver.attempts.append(payload)
                    failing = len(receiver.attempts) <= receiver.fail_first
                if receiver.hang:
                    receiver._release.wait()
                    return
                self.send_response(503 if failing else 200)
                self.end_headers()
                if not failing:
                    with receiver._lock:
                        receiver.delivered.append(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, what: str, predicate: Any, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = predicate(self)
            if found:
                return found
            time.sleep(0.1)  # polling interval
        raise AssertionError(f"timed out waiting for {what}; attempts: {self.attempts}")
