"""The model-api pod template: defaults that meet the restricted Pod Security Standard, and
the one rule by which ``spec.template`` merges over them (pure, no API calls).

The rule (docs/operator.md, "Model pods"):

* ``labels``, ``annotations``, ``securityContext`` (pod) and ``containerSecurityContext``
  merge key by key: a key the user gives wins, the other defaults stay. A nested object
  (``capabilities``, ``seccompProfile``) is one key: given, it replaces the default whole.
* ``env`` is appended to the operator's own variables.
* Every other field (``resources``, ``imagePullSecrets``, ``nodeSelector``, ``tolerations``,
  ``affinity``, ``topologySpreadConstraints``, ``serviceAccountName``,
  ``priorityClassName``) replaces the default when given.
* The operator's labels, scrape annotations and env, the container's name, image, ports and
  probes cannot be overridden: the CRD has no field for the latter, and core/spec.py (and
  the CRD's CEL rules) reject the former with a message naming the key.
"""

from __future__ import annotations

import copy
from typing import Any

from understudy_operator.core.workload import POD_FIELDS, PodTemplate

# The model-api image's numeric user (services/model-api/Dockerfile); a number, so the
# kubelet can check runAsNonRoot without reading /etc/passwd in the image.
MODEL_API_UID = 10001

# Restricted Pod Security Standard (v1.36): non-root, a RuntimeDefault seccomp profile, no
# privilege escalation, every capability dropped. The read-only root is beyond it: model-api
# writes nothing.
DEFAULT_POD_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": MODEL_API_UID,
    "runAsGroup": MODEL_API_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
DEFAULT_CONTAINER_SECURITY: dict[str, Any] = {
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}
# One model-api process: ~250 MB resident with the v2 artifact loaded; the CPU request lets
# a node pack several, the limit keeps a runaway pod from starving its neighbours.
DEFAULT_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}

# spec.template names that are container fields, and their name in the container.
_CONTAINER_KEYS = {"containerSecurityContext": "securityContext", "resources": "resources"}


def apply_template(pod: dict[str, Any], template: PodTemplate) -> dict[str, Any]:
    """``pod`` (a PodTemplateSpec whose first container is model-api) with ``template``
    merged over it by the rule above; ``pod`` itself is left as it was."""
    out = copy.deepcopy(pod)
    meta, spec = out["metadata"], out["spec"]
    container = spec["containers"][0]
    meta["labels"] = {**meta.get("labels", {}), **template.labels}
    meta["annotations"] = {**meta.get("annotations", {}), **template.annotations}
    given = copy.deepcopy(dict(template.fields))
    spec["securityContext"] = {
        **spec.get("securityContext", {}),
        **given.pop("securityContext", {}),
    }
    container["securityContext"] = {
        **container.get("securityContext", {}),
        **given.pop("containerSecurityContext", {}),
    }
    container["env"] = [*container.get("env", []), *given.pop("env", [])]
    for key, value in given.items():
        if key in _CONTAINER_KEYS:
            container[_CONTAINER_KEYS[key]] = value
        else:
            assert key in POD_FIELDS, key
            spec[key] = value
    return out
