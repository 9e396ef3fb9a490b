"""Prediction traffic from inside the cluster: a client pod for the real-node tests and
`make k8s-demo`. Standard library only (it runs on the model-api image's Python, mounted
from a ConfigMap with the records it sends).

    python traffic.py --url http://understudy-router.ns.svc --records records.json \
        --requests 2000 --max-seconds 300 --workers 4

Sends POST {url}/v1/predictions with one record each, round-robin over the records, until
`--requests` were sent or `--max-seconds` passed (both bound the run), then prints one JSON
line: {"sent": n, "status": {"200": n, ...}, "errors": {"URLError": n}, "versions": {...}}
(versions: the router's x-model-version header, i.e. which live model answered).
Progress goes to stderr every 5 s. Exit status 0 if at least one answer was 200.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--records", required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    with open(args.records) as f:
        records = json.load(f)
    url = args.url.rstrip("/") + "/v1/predictions"
    lock = threading.Lock()
    counter = itertools.count()
    status: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    deadline = time.monotonic() + args.max_seconds

    def worker() -> None:
        while time.monotonic() < deadline:
            i = next(counter)
            if i >= args.requests:
                return
            body = json.dumps({"records": [records[i % len(records)]]}).encode()
            request = urllib.request.Request(
                url, data=body, headers={"content-type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
                    code = str(response.status)
                    # the router names the live version that answered
                    version = response.headers.get("x-model-version") or ""
            except urllib.error.HTTPError as exc:
                code, version = str(exc.code), ""
            except (urllib.error.URLError, OSError) as exc:
                with lock:
                    errors[type(exc).__name__] += 1
                continue
            with lock:
                status[code] += 1
                if version:
                    versions[version] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.workers)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=5)
        with lock:
            print(json.dumps({"progress": dict(status), "errors": dict(errors)}), file=sys.stderr)
    summary = {
        "sent": sum(status.values()) + sum(errors.values()),
        "status": dict(status),
        "errors": dict(errors),
        "versions": dict(versions),
    }
    print(json.dumps(summary), flush=True)
    return 0 if status.get("200") else 1


if __name__ == "__main__":
    sys.exit(main())
