"""The request-id rule, shared by every service that reads ``X-Request-ID``.

The router passes the id it settled on to the live and the candidate model-api, and each
process logs it as ``http.request.id``; Kibana joins a request's three log streams on it.
That join holds only if every process accepts exactly the same ids, so the rule lives here
and nowhere else: 1 to 128 visible ASCII characters (``!`` to ``~``: header-safe, no
spaces or control characters, so ``req/42`` and base64 ``a+b=`` pass unchanged). Anything
else is replaced by a fresh id and the replacement is logged with the reason, never the
rejected value itself (it may be megabytes long or carry control characters).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable

REQUEST_ID_HEADER = b"x-request-id"
MAX_REQUEST_ID_LENGTH = 128
_VALID = re.compile(rb"[\x21-\x7e]{1,%d}" % MAX_REQUEST_ID_LENGTH)

logger = logging.getLogger("understudy_common.request_id")


def new_request_id() -> str:
    return uuid.uuid4().hex


def why_invalid(value: bytes) -> str | None:
    """Why ``value`` cannot be a request id, or None when it can."""
    if _VALID.fullmatch(value):
        return None
    if not value:
        return "empty"
    if len(value) > MAX_REQUEST_ID_LENGTH:
        return f"longer than {MAX_REQUEST_ID_LENGTH} characters ({len(value)})"
    return "characters outside visible ASCII (! to ~)"


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request's id: the client's ``X-Request-ID`` when it is valid, else a new one.

    ``headers`` are ASGI header pairs (lower-case names). A client id that breaks the rule
    is replaced, and the replacement is logged once under the new id.
    """
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            if _VALID.fullmatch(value):
                return value.decode("ascii")
            replacement = new_request_id()
            logger.warning(
                "X-Request-ID replaced by %s: %s",
                replacement,
                why_invalid(value),
                extra={"http.request.id": replacement, "understudy.request_id.replaced": True},
            )
            return replacement
    return new_request_id()
