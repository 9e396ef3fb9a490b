"""The canary split: which requests the candidate answers instead of live.

A routing config with ``weight`` w > 0 (0-100, docs/contracts.md) sends w% of client
requests to the candidate *as their answer*. The choice is sticky: a request's key is the
value of the config's ``sticky_header`` when the client sends it, else its request id
(``X-Request-ID``, the understudy_common.request_id rule), and the key alone decides — so
one client's retries, and every request of a client that sends the header, land on the
same model for as long as the weight stays. Raising the weight only adds keys (a key on
the candidate at 10% stays there at 50%), as in Argo Rollouts' and Flagger's steps.

Cost on the live path: one 8-byte BLAKE2b of the key and a modulo (bench/shadow_router.py
measures it), and only when a weight is set.
"""

from __future__ import annotations

from hashlib import blake2b

# Keys fall into this many buckets; a weight selects the first weight * BUCKETS / 100.
# 10,000 buckets: weights are honoured to 0.01%.
BUCKETS = 10_000


def bucket_of(key: str) -> int:
    """The key's bucket, the same on every router replica and restart (no salted hash())."""
    digest = blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def answered_by_candidate(key: str, weight: float) -> bool:
    """Whether the candidate answers the request with this key at ``weight`` percent."""
    if weight <= 0:
        return False
    if weight >= 100:
        return True
    return bucket_of(key) < weight * (BUCKETS // 100)
