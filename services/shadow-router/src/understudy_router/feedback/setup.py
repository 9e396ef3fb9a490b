"""Building the feedback feature from the router's settings (None when it is off)."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry

from ..settings import RouterSettings
from .metrics import FeedbackMetrics
from .service import Feedback
from .store import open_store, redact

logger = logging.getLogger("understudy_router.feedback")


def feedback_from_settings(
    settings: RouterSettings, *, registry: CollectorRegistry
) -> Feedback | None:
    """The feedback feature as configured. SQLite opens its file here (a bad path fails
    start-up); PostgreSQL connects on first use, so the router starts while it is down."""
    url = settings.feedback_store_url
    if url is None:
        logger.info("feedback store: none (POST /v1/feedback is off)")
        return None
    store = open_store(url)
    logger.info("feedback store: %s", redact(url))
    return Feedback(
        store=store,
        metrics=FeedbackMetrics(registry=registry, model=settings.model_name),
        queue_size=settings.feedback_queue_size,
        batch_size=settings.feedback_batch_size,
        batch_interval=settings.feedback_batch_interval_seconds,
        retention_seconds=settings.feedback_retention_seconds,
        retention_rows=settings.feedback_retention_rows,
        retention_interval=settings.feedback_retention_interval_seconds,
    )
