"""The service as a real uvicorn process on 127.0.0.1 (``python -m understudy_model_api``)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest

from tests.support.processes import ServiceProcess, start_service
from understudy_model.artifact import load_artifact
from understudy_model.validation import validate_records

pytestmark = pytest.mark.integration

MODULE = "understudy_model_api"


def _env(artifact_dir: Any, **extra: str) -> dict[str, str]:
    return {"UNDERSTUDY_MODEL_API_ARTIFACT_DIR": str(artifact_dir), **extra}


@pytest.fixture(scope="module")
def v1_service(artifacts: Any) -> Iterator[ServiceProcess]:
    with start_service(MODULE, env=_env(artifacts.v1)) as service:
        yield service


def test_serves_and_logs_json_with_the_request_id(
    v1_service: ServiceProcess, records: list[dict[str, Any]]
) -> None:
    response = httpx.post(
        f"{v1_service.url}/v1/predictions",
        json={"records": records[:2]},
        headers={"x-request-id": "proc-1"},
    )
    assert response.status_code == 200
    assert response.headers["x-model-version"] == "1.0.0"
    assert httpx.get(f"{v1_service.url}/v1/model").json()["version"] == "1.0.0"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the log line is written after the response
        events = [e for e in v1_service.json_logs() if e.get("http.request.id") == "proc-1"]
        if events:
            break
        time.sleep(0.02)
    [event] = events
    assert event["event.dataset"] == "model-api.request"
    assert event["predictions"] == response.json()["predictions"]
    # uvicorn's own lines come out as JSON too
    assert any(e.get("log.logger", "").startswith("uvicorn") for e in v1_service.json_logs())


def test_32_concurrent_clients_all_get_their_own_correct_answers(
    v1_service: ServiceProcess, records: list[dict[str, Any]], artifacts: Any
) -> None:
    model = load_artifact(artifacts.v1)
    expected = model.predict_rows(validate_records(records, model.schema).rows)
    jobs = [(i, records[i % 20 : i % 20 + 1 + i % 3]) for i in range(32)]

    def call(job: tuple[int, list[dict[str, Any]]]) -> tuple[int, httpx.Response]:
        i, body = job
        with httpx.Client(timeout=30) as client:
            return i, client.post(
                f"{v1_service.url}/v1/predictions",
                json={"records": body},
                headers={"x-request-id": f"c-{i}"},
            )

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(call, jobs))
    for i, response in results:
        assert response.status_code == 200
        assert response.headers["x-request-id"] == f"c-{i}"
        start = i % 20
        want = expected[start : start + len(jobs[i][1])]
        np.testing.assert_allclose(response.json()["predictions"], want, rtol=1e-9, atol=0)


def _slow_request(port: int, body: bytes, split_at: int) -> socket.socket:
    """Open a connection and send the headers and only part of the body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        "POST /v1/predictions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body[:split_at])
    return sock


def _finish(sock: socket.socket, rest: bytes) -> tuple[int, dict[str, Any]]:
    sock.sendall(rest)
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    head, payload = data.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(payload)


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def _in_flight(service: ServiceProcess) -> float:
    text = httpx.get(f"{service.url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("understudy_model_api_requests_in_flight{")
    )


def _wait_in_flight(service: ServiceProcess, *, at_least: int) -> None:
    # The scrape counts itself, hence the + 1.
    deadline = time.monotonic() + 10
    while (seen := _in_flight(service)) < at_least + 1:
        assert time.monotonic() < deadline, f"only {seen - 1:.0f} requests in flight"
        time.sleep(0.02)


def test_requests_in_flight_are_counted_and_released(
    v1_service: ServiceProcess, records: list[dict[str, Any]]
) -> None:
    body = json.dumps({"records": records[:1]}).encode()
    assert _in_flight(v1_service) == 1  # only the scrape itself
    held = [_slow_request(v1_service.port, body, split_at=len(body) // 2) for _ in range(3)]
    _wait_in_flight(v1_service, at_least=3)
    answers = [_finish(sock, body[len(body) // 2 :]) for sock in held]
    assert [status for status, _ in answers] == [200] * 3
    assert _in_flight(v1_service) == 1


def test_sigterm_lets_in_flight_requests_finish(
    artifacts: Any, records: list[dict[str, Any]]
) -> None:
    service = start_service(MODULE, env=_env(artifacts.v2))
    try:
        body = json.dumps({"records": records[:5]}).encode()
        in_flight = [_slow_request(service.port, body, split_at=len(body) // 2) for _ in range(4)]
        _wait_in_flight(service, at_least=4)  # the app is reading their bodies
        service.terminate()
        deadline = time.monotonic() + 10
        while not _refuses_connections(service.port):  # SIGTERM has been acted on
            assert time.monotonic() < deadline, "the service kept accepting connections"
            time.sleep(0.02)
        assert service.returncode is None  # still finishing the in-flight requests
        answers = [_finish(sock, body[len(body) // 2 :]) for sock in in_flight]
        assert [status for status, _ in answers] == [200] * 4
        assert all(len(answer["predictions"]) == 5 for _, answer in answers)
        # uvicorn re-raises the captured SIGTERM after its clean shutdown
        assert service.wait(timeout=15) in (0, -signal.SIGTERM)
    finally:
        service.stop()
    assert "stopped serving house-prices 2.0.0" in service.logs()


def test_invalid_settings_exit_with_a_message(artifacts: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", MODULE],
        env={**_env(artifacts.v1), "UNDERSTUDY_MODEL_API_MAX_RECORDS": "zero", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "MAX_RECORDS" in result.stderr.upper() and "max_records" in result.stderr


def test_a_missing_artifact_stops_start_up(tmp_path: Any) -> None:
    from tests.support.processes import ServiceStartError

    with pytest.raises(ServiceStartError, match="not a model artifact directory"):
        start_service(MODULE, env=_env(tmp_path / "nothing"), timeout=30)
