"""``python -m understudy_operator.uninstall``: the chart's pre-delete hook.

``helm uninstall`` removes the operator together with everything else, but every
ModelRollout carries kopf's finalizer, which only the running operator removes: without
this step the rollouts (and so their namespace) would never go away. The hook runs while
the operator still runs: it deletes the ModelRollouts of the namespaces it is given, then
waits until the operator has let each one go (owner references take their Deployments,
Services and router ConfigMap with them).

Exit status: 0 when every rollout is gone, 1 when some are still there at the deadline
(helm then reports the hook as failed and names the Job; nothing is forced).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from understudy_common.logging import configure_logging
from understudy_operator.kube import GROUP, PLURAL, VERSION

log = logging.getLogger("understudy_operator.uninstall")
POLL_S = 1.0


def _names(api: client.CustomObjectsApi, namespace: str | None) -> list[tuple[str, str]]:
    found: Any
    if namespace is None:
        found = api.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    else:
        found = api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    return [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in found["items"]]


def remove_rollouts(
    api: client.CustomObjectsApi, *, namespaces: Sequence[str | None], timeout_s: float
) -> list[tuple[str, str]]:
    """Delete every ModelRollout in ``namespaces`` (None: all) and wait until they are gone.

    Returns the rollouts still present at the deadline (empty on success)."""
    for namespace in namespaces:
        for ns, name in _names(api, namespace):
            log.info("deleting ModelRollout %s/%s", ns, name)
            try:
                api.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
            except ApiException as exc:
                if exc.status != 404:
                    raise
    deadline = time.monotonic() + timeout_s
    while True:
        left = [item for namespace in namespaces for item in _names(api, namespace)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL_S)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m understudy_operator.uninstall")
    parser.add_argument(
        "--namespaces",
        default="",
        help='JSON list of namespaces (the operator\'s UNDERSTUDY_OPERATOR_NAMESPACES); "" = all',
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait")
    args = parser.parse_args(argv)
    configure_logging(service="understudy-operator-uninstall")
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    namespaces: list[str | None] = list(json.loads(args.namespaces)) if args.namespaces else [None]
    left = remove_rollouts(client.CustomObjectsApi(), namespaces=namespaces, timeout_s=args.timeout)
    if left:
        log.error("ModelRollouts still present after %ss: %s", args.timeout, left)
        return 1
    log.info("every ModelRollout is gone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
