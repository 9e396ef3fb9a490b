"""The operator's probe endpoints on ``health_port``: ``/healthz`` (liveness) and ``/readyz``.

Readiness means "this replica does its job": the leader once kopf watches its resources, a
standby while it can read the Lease (it is ready to take over). So both replicas of the
chart's Deployment become Ready and ``helm install --wait`` / ``kubectl rollout status``
finish; which replica leads is in the body (and in ``understudy_operator_leader``), not in
readiness. Liveness: the process answers and its leader-election loop runs (a standby
whose loop died would otherwise wait forever).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from understudy_operator.kube.lease import LeaderElector


@dataclass
class Health:
    #: set by kopf once it watches the resources
    watching: threading.Event
    #: None when leader election is off (one replica)
    elector: LeaderElector | None
    #: the thread running ``elector.run``
    loop: threading.Thread | None = None

    def live(self) -> bool:
        return self.loop is None or self.loop.is_alive()

    def state(self) -> tuple[bool, dict[str, Any]]:
        """(ready, body) of /readyz."""
        watching = self.watching.is_set()
        if self.elector is None:
            return watching, {"role": "single", "watching": watching}
        if self.elector.leading.is_set():
            return watching, {"role": "leader", "watching": watching}
        contact = self.elector.last_contact
        fresh = contact is not None and time.monotonic() - contact < self.elector.timing.duration
        return fresh, {"role": "standby", "watching": False, "leaseReadable": fresh}


def serve(health: Health, *, host: str, port: int) -> ThreadingHTTPServer:
    """Start the probe server in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                if health.live():
                    self._answer(200, {"status": "ok"})
                else:
                    self._answer(503, {"status": "leader election loop stopped"})
            elif self.path == "/readyz":
                ready, body = health.state()
                self._answer(200 if ready else 503, body)
            else:
                self._answer(404, {"error": f"no route {self.path}; try /healthz or /readyz"})

        def _answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
