"""``python -m understudy_router``: the shadow router under uvicorn."""

from __future__ import annotations

import uvicorn

from understudy_common.logging import configure_logging, uvicorn_log_config

from .app import create_app
from .settings import RouterSettings


def main() -> None:
    settings = RouterSettings()
    configure_logging(service="shadow-router", level=settings.log_level.upper())
    uvicorn.run(
        create_app(settings, freeze_gc=True),  # a server process: understudy_common.gcfreeze
        host=settings.host,
        port=settings.port,
        log_config=uvicorn_log_config(),
        # One request event per prediction is logged by the app (shadow-router.request).
        access_log=False,
        # Keep-alive longer than typical client/load-balancer idle timeouts.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=max(1, round(settings.graceful_shutdown_seconds)),
    )


if __name__ == "__main__":
    main()
