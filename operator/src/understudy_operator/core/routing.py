"""The router's config document (router.json, docs/contracts.md) for a shadow spec.

One builder for both drivers of the core: the operator writes it into the router's
ConfigMap with Service URLs, the local demo into a file with 127.0.0.1 URLs.
"""

from __future__ import annotations

from typing import Any

from understudy_operator.core.spec import RolloutSpec


def router_document(
    spec: RolloutSpec,
    *,
    live: tuple[str, str] | None,
    candidate: tuple[str, str] | None,
    weight: float = 0.0,
) -> dict[str, Any]:
    """``live`` and ``candidate`` are ``(url, version)``; no candidate: no mirroring.
    The shadow settings come from ``spec.shadow``; ``slice_field`` from
    ``spec.analysis.slices.field``, the input field the router slices its paired evidence
    by (the key is written only when set, so documents without it stay as they were).
    ``weight``: the percentage of requests the candidate answers (a canary step; with a
    candidate only), sticky per ``spec.canary.stickyHeader``; written only when above 0.
    With ``shadow.enabled: false`` nothing is mirrored."""
    shadow = spec.shadow
    slice_field = spec.analysis.slices.field

    def upstream(pair: tuple[str, str] | None) -> dict[str, str] | None:
        return {"url": pair[0], "version": pair[1]} if pair else None

    document: dict[str, Any] = {
        "live": upstream(live),
        "candidate": upstream(candidate),
        "mirror_percent": shadow.mirror_percent if shadow.enabled else 0.0,
        "tolerance": {"relative": shadow.tolerance.relative, "absolute": shadow.tolerance.absolute},
        "timeouts": {
            "live_seconds": shadow.live_timeout_seconds,
            "candidate_seconds": shadow.candidate_timeout_seconds,
        },
    }
    if slice_field is not None:
        document["slice_field"] = slice_field
    if candidate is not None and weight > 0:
        document["weight"] = weight
        document["sticky_header"] = spec.canary.sticky_header
    return document
