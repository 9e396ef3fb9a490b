"""``python -m understudy_model_api`` / ``understudy-model-api``: run the service under uvicorn.

Settings come from ``UNDERSTUDY_MODEL_API_*`` environment variables (settings.py).
On SIGTERM uvicorn stops accepting connections, lets in-flight requests finish
(up to ``graceful_shutdown_seconds``), then runs the lifespan shutdown.
"""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from understudy_common.logging import configure_logging, uvicorn_log_config
from understudy_model_api.app import create_app
from understudy_model_api.settings import Settings


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"model-api: invalid settings (UNDERSTUDY_MODEL_API_*):\n{exc}", file=sys.stderr)
        return 2
    configure_logging(service="model-api", level=settings.log_level)
    uvicorn.run(
        create_app(settings, freeze_gc=True),  # a server process: see app.py
        host=settings.host,
        port=settings.port,
        log_config=uvicorn_log_config(),
        access_log=settings.access_log,
        timeout_graceful_shutdown=int(settings.graceful_shutdown_seconds),
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
