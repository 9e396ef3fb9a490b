"""The embedded backend: one SQLite file in WAL mode (the local demo, a single router).

One connection, used by one thread at a time (a lock), in autocommit mode with explicit
``BEGIN IMMEDIATE`` transactions: writers queue on SQLite's own lock (busy timeout), so
two local routers may share a file. ``synchronous=NORMAL`` in WAL mode survives a killed
process (what the restart tests do); only a power cut may lose the last commits.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

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
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    record INTEGER NOT NULL,
    role TEXT NOT NULL,
    version TEXT NOT NULL,
    model TEXT NOT NULL,
    prediction REAL NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (request_id, record, role)
);
CREATE INDEX IF NOT EXISTS predictions_created_at ON predictions (created_at);
CREATE TABLE IF NOT EXISTS labels (
    request_id TEXT NOT NULL,
    record INTEGER NOT NULL,
    actual REAL NOT NULL,
    labelled_at REAL NOT NULL,
    -- 1 once the candidate's prediction has been joined (and counted) for this label
    candidate_joined INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (request_id, record)
);
"""

_COLUMNS = "request_id, record, role, version, model, prediction, created_at"
# Candidates looked up in one statement: two bound values each, well under SQLite's limit of
# 32,766 variables (the default since 3.32).
_JOIN_CHUNK = 5_000


class SQLiteStore:
    """:class:`~understudy_router.feedback.store.PredictionStore` on a SQLite file."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store {self.path}: {exc}") from exc
            finally:
                cur.close()

    def store(self, predictions: Sequence[Prediction]) -> list[Joined]:
        joins: list[Joined] = []
        with self._tx() as cur:
            cur.executemany(
                f"INSERT INTO predictions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [
                    (
                        p.request_id,
                        p.record,
                        p.role,
                        p.version,
                        p.model,
                        p.prediction,
                        p.created_at,
                    )
                    for p in predictions
                ],
            )
            # One statement per chunk finds the labels waiting for these candidates (usually
            # none): one per candidate cost 0.5-1 ms of the writer's CPU per 200 requests.
            keys = [(p.request_id, p.record) for p in predictions if p.role == CANDIDATE]
            for start in range(0, len(keys), _JOIN_CHUNK):
                chunk = keys[start : start + _JOIN_CHUNK]
                rows = cur.execute(
                    # UPDATE ... FROM: SQLite searches the labels' primary key for each pair
                    # (with `(request_id, record) IN (VALUES ...)` it scans every label)
                    "UPDATE labels SET candidate_joined = 1 FROM (VALUES "
                    + ", ".join(["(?, ?)"] * len(chunk))
                    + ") AS c WHERE labels.request_id = c.column1 AND labels.record = c.column2 "
                    "AND labels.candidate_joined = 0 "
                    "RETURNING labels.request_id, labels.record, labels.actual",
                    [value for key in chunk for value in key],
                ).fetchall()
                for request_id, record, actual in rows:
                    stored = _select(cur, request_id, record)
                    joins.append(joined(request_id, record, float(actual), stored))
        return joins

    def lookup(self, request_id: str, record: int) -> list[Prediction]:
        with self._tx() as cur:
            return _select(cur, request_id, record)

    def apply_labels(self, labels: Sequence[Label], *, now: float) -> list[LabelResult]:
        results: list[LabelResult] = []
        with self._tx() as cur:
            for label in labels:
                stored = _select(cur, label.request_id, label.record)
                if not stored:
                    known = cur.execute(
                        "SELECT 1 FROM predictions WHERE request_id = ? LIMIT 1",
                        (label.request_id,),
                    ).fetchone()
                    outcome = RECORD_OUT_OF_RANGE if known else UNKNOWN_REQUEST
                    results.append(LabelResult(label=label, outcome=outcome))
                    continue
                join = joined(label.request_id, label.record, label.actual, stored)
                cur.execute(
                    "INSERT INTO labels (request_id, record, actual, labelled_at, "
                    "candidate_joined) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        label.request_id,
                        label.record,
                        label.actual,
                        now,
                        int(join.candidate is not None),
                    ),
                )
                if cur.rowcount == 1:
                    results.append(LabelResult(label=label, outcome=APPLIED, joined=join))
                    continue
                (existing,) = cur.execute(
                    "SELECT actual FROM labels WHERE request_id = ? AND record = ?",
                    (label.request_id, label.record),
                ).fetchone()
                results.append(
                    LabelResult(
                        label=label,
                        outcome=label_outcome(existing=existing, actual=label.actual),
                        existing=existing,
                    )
                )
        return results

    def enforce_retention(
        self, *, max_age_seconds: float, max_rows: int, now: float
    ) -> RetentionResult:
        with self._tx() as cur:
            cur.execute("DELETE FROM predictions WHERE created_at < ?", (now - max_age_seconds,))
            deleted = cur.rowcount
            (rows,) = cur.execute("SELECT count(*) FROM predictions").fetchone()
            if rows > max_rows:
                cur.execute(
                    "DELETE FROM predictions WHERE id IN "
                    "(SELECT id FROM predictions ORDER BY id LIMIT ?)",
                    (rows - max_rows,),
                )
                deleted += cur.rowcount
                rows -= cur.rowcount
            cur.execute(
                "DELETE FROM labels WHERE NOT EXISTS (SELECT 1 FROM predictions p "
                "WHERE p.request_id = labels.request_id AND p.record = labels.record)"
            )
            return RetentionResult(
                predictions_deleted=deleted, labels_deleted=cur.rowcount, predictions_left=rows
            )

    def count(self) -> int:
        with self._tx() as cur:
            (rows,) = cur.execute("SELECT count(*) FROM predictions").fetchone()
            return int(rows)

    def health(self) -> None:
        with self._tx() as cur:
            cur.execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _select(cur: sqlite3.Cursor, request_id: str, record: int) -> list[Prediction]:
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM predictions WHERE request_id = ? AND record = ? "
        "ORDER BY role DESC",  # 'live' before 'candidate'
        (request_id, record),
    ).fetchall()
    return [Prediction(*row) for row in rows]
