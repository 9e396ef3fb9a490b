"""Where predictions wait for their labels: the storage port and its plain types.

The router writes every live (and compared candidate) prediction here, off the request
path, and joins each label that ``POST /v1/feedback`` brings to them. Two backends implement
:class:`PredictionStore` (SQLite embedded, PostgreSQL shared by replicas) and pass the same
contract tests (tests/shadow_router/feedback/test_store_contract.py).

Every method is synchronous and may block on I/O: the router calls them in a worker thread
(``asyncio.to_thread``), never on the event loop. A backend serialises its own connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

LIVE = "live"
CANDIDATE = "candidate"
ROLES = (LIVE, CANDIDATE)

# Per-label outcomes of apply_labels (label values of understudy_router_feedback_labels_total).
APPLIED = "applied"  # first label for this record: joined, counted
DUPLICATE = "duplicate"  # the same value again: idempotent, counted once
CONFLICT = "conflict"  # a different value for an already labelled record: refused (409)
UNKNOWN_REQUEST = "unknown_request"  # no stored prediction of this request id (never, or expired)
RECORD_OUT_OF_RANGE = "record_out_of_range"  # the request is known, this record index is not
LABEL_OUTCOMES = (APPLIED, DUPLICATE, CONFLICT, UNKNOWN_REQUEST, RECORD_OUT_OF_RANGE)


class StoreError(Exception):
    """The store could not do what was asked (any backend failure)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached now (connection refused, server restarting); retry later."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """One record's prediction by one role, as stored."""

    request_id: str
    record: int
    role: str  # "live" or "candidate"
    version: str
    model: str
    prediction: float
    created_at: float  # Unix seconds when the router saw the answer


@dataclass(frozen=True, slots=True)
class Label:
    """A true value for one record of one earlier request."""

    request_id: str
    record: int
    actual: float


@dataclass(frozen=True, slots=True)
class Joined:
    """A label joined to the predictions stored for its record (live and/or candidate)."""

    request_id: str
    record: int
    actual: float
    live: Prediction | None
    candidate: Prediction | None


@dataclass(frozen=True, slots=True)
class LabelResult:
    """What became of one label."""

    label: Label
    outcome: str  # one of LABEL_OUTCOMES
    # APPLIED: the predictions it joined (the candidate may join later, see store()).
    joined: Joined | None = None
    # DUPLICATE and CONFLICT: the value that was already stored.
    existing: float | None = None


@dataclass(frozen=True, slots=True)
class RetentionResult:
    """One retention pass: rows removed and rows left."""

    predictions_deleted: int
    labels_deleted: int
    predictions_left: int


class PredictionStore(Protocol):
    """The storage port of the feedback feature (one backend per router process)."""

    def store(self, predictions: Sequence[Prediction]) -> list[Joined]:
        """Store a batch; a row whose (request_id, record, role) exists is kept as it was.
        Returns the candidate rows that joined a label stored before them (late joins),
        each exactly once across every router sharing the store."""
        ...

    def lookup(self, request_id: str, record: int) -> list[Prediction]:
        """The stored predictions of one record (live first), [] when there are none."""
        ...

    def apply_labels(self, labels: Sequence[Label], *, now: float) -> list[LabelResult]:
        """Join each label to its record's predictions, in order, idempotently: an APPLIED
        result is returned once per record, whichever replica or call brings the label."""
        ...

    def enforce_retention(
        self, *, max_age_seconds: float, max_rows: int, now: float
    ) -> RetentionResult:
        """Delete predictions older than ``max_age_seconds`` and the oldest beyond
        ``max_rows``, then the labels of records that have no prediction left."""
        ...

    def count(self) -> int:
        """Stored prediction rows."""
        ...

    def health(self) -> None:
        """Return when the store answers a trivial query; raise StoreUnavailable if not."""
        ...

    def close(self) -> None:
        """Release the connection (the store may not be used afterwards)."""
        ...


def label_outcome(*, existing: float, actual: float) -> str:
    """An already labelled record: the same value is a duplicate, another is a conflict."""
    return DUPLICATE if existing == actual else CONFLICT


def joined(request_id: str, record: int, actual: float, stored: Sequence[Prediction]) -> Joined:
    """A label's value with the stored predictions of its record, by role."""
    by_role = {p.role: p for p in stored}
    return Joined(
        request_id=request_id,
        record=record,
        actual=actual,
        live=by_role.get(LIVE),
        candidate=by_role.get(CANDIDATE),
    )


def open_store(url: str, *, connect_timeout: float = 5.0) -> PredictionStore:
    """A store from its URL: ``sqlite:///path`` or ``postgresql://...``."""
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteStore

        # SQLAlchemy's convention: sqlite:///relative.db, sqlite:////absolute/path.db
        return SQLiteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(url, connect_timeout=connect_timeout)
    raise ValueError(f"unknown store URL {redact(url)!r}: expected sqlite:///path or postgresql://")


def redact(url: str) -> str:
    """The URL without a password (for logs and errors)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    userinfo, _, host = rest.rpartition("@")
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{host}" if ":" in userinfo else url
