"""The shared backend: PostgreSQL, for several router replicas (psycopg 3, LGPL, a dependency).

One connection per router, used by one thread at a time (a lock); a broken connection is
dropped and the next call connects again, so a restarted server is picked up by itself.
Replicas may store a candidate's prediction and apply its record's label at the same
moment; a transaction-scoped advisory lock per request id orders the two, so the late join
of the candidate is counted exactly once (never twice, never lost).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg

from .store import (
    APPLIED,
    CANDIDATE,
    RECORD_OUT_OF_RANGE,
    UNKNOWN_REQUEST,
    Joined,
    Label,
    LabelResult,
    Prediction,
    RetentionResult,
    StoreError,
    StoreUnavailable,
    joined,
    label_outcome,
    redact,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS understudy_predictions (
    id BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL,
    record INTEGER NOT NULL,
    role TEXT NOT NULL,
    version TEXT NOT NULL,
    model TEXT NOT NULL,
    prediction DOUBLE PRECISION NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (request_id, record, role)
);
CREATE INDEX IF NOT EXISTS understudy_predictions_created_at
    ON understudy_predictions (created_at);
CREATE TABLE IF NOT EXISTS understudy_labels (
    request_id TEXT NOT NULL,
    record INTEGER NOT NULL,
    actual DOUBLE PRECISION NOT NULL,
    labelled_at DOUBLE PRECISION NOT NULL,
    candidate_joined BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (request_id, record)
);
"""

T = TypeVar("T")

_COLUMNS = "request_id, record, role, version, model, prediction, created_at"
# Replicas starting together would race on CREATE TABLE IF NOT EXISTS; one lock id orders them.
_SCHEMA_LOCK = 0x756E6473  # "unds"


class PostgresStore:
    """:class:`~understudy_router.feedback.store.PredictionStore` on PostgreSQL."""

    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        self._url = url
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        # Connected on first use, so a router starts (and answers from live) while its
        # database is down; every (re)connection makes sure the tables exist.
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=max(1, round(self._connect_timeout))
            )
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    conn.execute(SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            except psycopg.OperationalError as exc:
                self._drop()
                raise StoreUnavailable(f"PostgreSQL {redact(self._url)}: {exc}") from exc
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL {redact(self._url)}: {exc}") from exc

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _store(self, predictions: Sequence[Prediction]) -> list[Joined]:
        joins: list[Joined] = []
        candidates = [p for p in predictions if p.role == CANDIDATE]
        with self._tx() as cur:
            _lock_requests(cur, (p.request_id for p in candidates))
            # One statement for the batch (arrays, unnested by the server): executemany ran
            # one INSERT per row, and on a shared machine the server's work for a 400-row
            # batch showed in the router's live tail (bench/README.md, the feedback writer).
            cur.execute(
                f"INSERT INTO understudy_predictions ({_COLUMNS}) "
                "SELECT * FROM unnest(%s::text[], %s::int[], %s::text[], %s::text[], "
                "%s::text[], %s::float8[], %s::float8[]) ON CONFLICT DO NOTHING",
                (
                    [p.request_id for p in predictions],
                    [p.record for p in predictions],
                    [p.role for p in predictions],
                    [p.version for p in predictions],
                    [p.model for p in predictions],
                    [p.prediction for p in predictions],
                    [p.created_at for p in predictions],
                ),
            )
            if not candidates:
                return joins
            # One query finds the labels waiting for these candidates (usually none).
            cur.execute(
                "UPDATE understudy_labels l SET candidate_joined = TRUE "
                "FROM unnest(%s::text[], %s::int[]) AS c(request_id, record) "
                "WHERE l.request_id = c.request_id AND l.record = c.record "
                "AND NOT l.candidate_joined RETURNING l.request_id, l.record, l.actual",
                ([p.request_id for p in candidates], [p.record for p in candidates]),
            )
            for request_id, record, actual in cur.fetchall():
                joins.append(joined(request_id, record, actual, _select(cur, request_id, record)))
        return joins

    def _lookup(self, request_id: str, record: int) -> list[Prediction]:
        with self._tx() as cur:
            return _select(cur, request_id, record)

    def _apply_labels(self, labels: Sequence[Label], *, now: float) -> list[LabelResult]:
        # Set-based: three queries per batch, whatever its size. The advisory locks keep
        # every other writer of these requests' labels out until the commit, so what is read
        # here is still true when the new labels are inserted.
        request_ids = sorted({label.request_id for label in labels})
        with self._tx() as cur:
            _lock_requests(cur, iter(request_ids))
            cur.execute(
                f"SELECT {_COLUMNS} FROM understudy_predictions WHERE request_id = ANY(%s)",
                (request_ids,),
            )
            stored: dict[tuple[str, int], list[Prediction]] = {}
            for row in cur.fetchall():
                p = Prediction(*row)
                stored.setdefault((p.request_id, p.record), []).append(p)
            known = {request_id for request_id, _ in stored}
            cur.execute(
                "SELECT request_id, record, actual FROM understudy_labels "
                "WHERE request_id = ANY(%s)",
                (request_ids,),
            )
            existing = {(r, n): actual for r, n, actual in cur.fetchall()}
            results: list[LabelResult] = []
            new: list[Joined] = []
            for label in labels:
                key = (label.request_id, label.record)
                if key not in stored:
                    outcome = RECORD_OUT_OF_RANGE if label.request_id in known else UNKNOWN_REQUEST
                    results.append(LabelResult(label=label, outcome=outcome))
                elif key in existing:
                    results.append(
                        LabelResult(
                            label=label,
                            outcome=label_outcome(existing=existing[key], actual=label.actual),
                            existing=existing[key],
                        )
                    )
                else:
                    join = joined(label.request_id, label.record, label.actual, stored[key])
                    existing[key] = label.actual
                    new.append(join)
                    results.append(LabelResult(label=label, outcome=APPLIED, joined=join))
            if new:
                cur.execute(
                    "INSERT INTO understudy_labels (request_id, record, actual, labelled_at, "
                    "candidate_joined) SELECT r, n, a, %s, c FROM "
                    "unnest(%s::text[], %s::int[], %s::float8[], %s::bool[]) AS t(r, n, a, c)",
                    (
                        now,
                        [j.request_id for j in new],
                        [j.record for j in new],
                        [j.actual for j in new],
                        [j.candidate is not None for j in new],
                    ),
                )
        return results

    def _enforce_retention(
        self, *, max_age_seconds: float, max_rows: int, now: float
    ) -> RetentionResult:
        with self._tx() as cur:
            cur.execute(
                "DELETE FROM understudy_predictions WHERE created_at < %s",
                (now - max_age_seconds,),
            )
            deleted = cur.rowcount
            cur.execute("SELECT count(*) FROM understudy_predictions")
            rows = _scalar(cur)
            if rows > max_rows:
                cur.execute(
                    "DELETE FROM understudy_predictions WHERE id IN "
                    "(SELECT id FROM understudy_predictions ORDER BY id LIMIT %s)",
                    (rows - max_rows,),
                )
                deleted += cur.rowcount
                rows -= cur.rowcount
            cur.execute(
                "DELETE FROM understudy_labels l WHERE NOT EXISTS (SELECT 1 FROM "
                "understudy_predictions p WHERE p.request_id = l.request_id "
                "AND p.record = l.record)"
            )
            return RetentionResult(
                predictions_deleted=deleted, labels_deleted=cur.rowcount, predictions_left=rows
            )

    def _count(self) -> int:
        with self._tx() as cur:
            cur.execute("SELECT count(*) FROM understudy_predictions")
            return _scalar(cur)

    def _health(self) -> None:
        with self._tx() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        with self._lock:
            self._drop()

    # The port's methods: each is one transaction, tried again once on a fresh connection
    # when a connection that had worked before fails (the server restarted meanwhile).
    # A transaction either committed or did not, so trying again applies nothing twice.

    def store(self, predictions: Sequence[Prediction]) -> list[Joined]:
        return self._once_more(self._store, predictions)

    def lookup(self, request_id: str, record: int) -> list[Prediction]:
        return self._once_more(self._lookup, request_id, record)

    def apply_labels(self, labels: Sequence[Label], *, now: float) -> list[LabelResult]:
        return self._once_more(self._apply_labels, labels, now=now)

    def enforce_retention(
        self, *, max_age_seconds: float, max_rows: int, now: float
    ) -> RetentionResult:
        return self._once_more(
            self._enforce_retention, max_age_seconds=max_age_seconds, max_rows=max_rows, now=now
        )

    def count(self) -> int:
        return self._once_more(self._count)

    def health(self) -> None:
        self._once_more(self._health)

    def _once_more(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        had_connection = self._conn is not None
        try:
            return work(*args, **kwargs)
        except StoreUnavailable:
            if not had_connection:
                raise
            return work(*args, **kwargs)


def _lock_requests(cur: psycopg.Cursor[Any], request_ids: Iterator[str] | Any) -> None:
    """Transaction-scoped advisory locks on these request ids, in one order (no deadlock)."""
    ids = sorted(set(request_ids))
    if ids:
        cur.execute(
            # unnest keeps the array's (sorted) order
            "SELECT pg_advisory_xact_lock(hashtext(id)) FROM unnest(%s::text[]) AS id",
            (ids,),
        )


def _scalar(cur: psycopg.Cursor[Any]) -> int:
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def _select(cur: psycopg.Cursor[Any], request_id: str, record: int) -> list[Prediction]:
    cur.execute(
        f"SELECT {_COLUMNS} FROM understudy_predictions WHERE request_id = %s AND record = %s "
        "ORDER BY role DESC",  # 'live' before 'candidate'
        (request_id, record),
    )
    return [Prediction(*row) for row in cur.fetchall()]
