"""Freeze what a server process holds once it has started, out of the collector's reach.

A service loads its model, scikit-learn, numpy, pydantic and its own tables at start-up and
keeps them for its whole life (~171,600 tracked objects in model-api with the v2 model,
~73,000 in the router). CPython's full collection walks every tracked object, so each one
cost ~104 ms in model-api and ~41 ms in the router — stalls a request waits through — yet
could free none of them. ``gc.freeze()`` moves them to a permanent generation; garbage made
by requests is still collected. Collect first, so start-up's own garbage is not kept
(the pattern in the ``gc.freeze`` documentation). Measured: bench/README.md (issue 16).

Only a server's entry point should call this (``create_app(..., freeze_gc=True)`` from
``__main__``): in a test's process it would pin the test's objects too.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect, then freeze everything alive; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
