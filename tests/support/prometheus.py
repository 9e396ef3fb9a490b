"""A real Prometheus (the Debian package's binary) on 127.0.0.1 for tests.

Targets come from a file_sd file that tests rewrite at will (``set_targets``); Prometheus
picks the change up through inotify, so a test can point it at processes started later.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import LoggedServer, free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


class PrometheusServer(LoggedServer):
    name = "prometheus"

    def __init__(
        self, workdir: Path, *, scrape_interval: str = "500ms", rule_files: Iterable[Path] = ()
    ) -> None:
        super().__init__(workdir)
        self.scrape_interval = scrape_interval
        # Rule files loaded at start, evaluated every scrape interval.
        self.rule_files = [str(p) for p in rule_files]
        self.port = 0
        self.url = ""
        self._targets = workdir / "targets.json"

    def start(self) -> PrometheusServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self._targets.exists():
            self._targets.write_text("[]")
        config = self.workdir / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {self.scrape_interval}\n"
            f"  evaluation_interval: {self.scrape_interval}\n"
            f"rule_files: {json.dumps(self.rule_files)}\n"
            "scrape_configs:\n"
            "  - job_name: understudy\n"
            "    file_sd_configs:\n"
            f"      - files: ['{self._targets}']\n"
            "        refresh_interval: 1s\n"
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.launch(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ]
        )
        self.wait_until(lambda: self._get("/-/ready") == 200, "ready", timeout=30)
        return self

    def _get(self, path: str) -> int | None:
        try:
            return httpx.get(self.url + path, timeout=1).status_code
        except httpx.TransportError:
            return None

    def set_targets(self, targets: Iterable[str]) -> None:
        """Scrape exactly these host:port targets (written atomically for inotify)."""
        self.set_target_groups([(sorted(targets), {})])

    def set_target_groups(self, groups: Iterable[tuple[Iterable[str], dict[str, str]]]) -> None:
        """Scrape these host:port targets, each group with its target labels (e.g. the
        ``component`` label the chart's scrape jobs add)."""
        tmp = self._targets.with_suffix(".tmp")
        tmp.write_text(
            json.dumps([{"targets": sorted(t), "labels": labels} for t, labels in groups])
        )
        tmp.replace(self._targets)

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """GET /api/v1/<path>; the answer's JSON (status "success" asserted)."""
        r = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body: dict[str, Any] = r.json()
        assert body.get("status") == "success", f"{path} {params}: {body}"
        return body

    def wait_until_scraped(self, targets: Iterable[str], timeout: float = 30) -> None:
        """Wait until every target has been scraped successfully at least once.

        A series query alone is not enough: two targets can both carry a matching series,
        and each target's first scrape lands at its own offset in the interval.
        """
        for target in targets:
            self.wait_for_series(f'up{{job="understudy",instance="{target}"}} == 1', timeout)

    def wait_for_series(self, promql: str, timeout: float = 30) -> None:
        """Wait until ``promql`` returns at least one series."""

        def has_series() -> bool:
            try:
                r = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=2)
            except httpx.TransportError:
                return False
            return bool(r.json().get("data", {}).get("result"))

        self.wait_until(has_series, f"showing {promql}", timeout)
