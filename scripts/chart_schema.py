"""Write the ModelRollout parts of the chart's values.schema.json from the CRD.

`rollout.analysis` in the chart's values becomes the ModelRollout's `spec.analysis` as
written. Its schema is the CRD's own (k8s/crd/modelrollouts.yaml), translated from the
API server's OpenAPI v3 dialect to the JSON Schema draft-07 that Helm checks values with,
so a typo or a wrong type fails `helm install` with the path of the value, not later as a
rejected (or, for an unknown field, silently pruned) ModelRollout.

    python3 scripts/chart_schema.py          # rewrite helm/understudy/values.schema.json
    python3 scripts/chart_schema.py --check  # exit 1 if it is out of date (the tests run this)

`make sync-chart-files` runs the first. What the translation cannot carry: the CRD's CEL
rules (x-kubernetes-validations, e.g. "min must not be greater than max") and list-map key
uniqueness; the API server still enforces those when the chart's ModelRollout is applied.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CRD = REPO / "k8s" / "crd" / "modelrollouts.yaml"
SCHEMA = REPO / "helm" / "understudy" / "values.schema.json"
# definitions/<name> in values.schema.json ← the CRD's spec.properties.<field>
GENERATED = {"modelRolloutAnalysis": "analysis"}
NOTE = "Generated from k8s/crd/modelrollouts.yaml by scripts/chart_schema.py; do not edit."


def to_json_schema(node: Any) -> Any:
    """One OpenAPI v3 (structural CRD) schema node as JSON Schema draft-07."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key == "nullable":
            continue  # API-server-only rules; it still enforces them
        if key in ("properties", "patternProperties"):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        else:
            out[key] = to_json_schema(value)
    # OpenAPI 3.0's boolean exclusiveMinimum/-Maximum modify minimum/maximum; draft-07's
    # are the bounds themselves.
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if out.get(exclusive) is True:
            out[exclusive] = out.pop(bound)
        elif out.get(exclusive) is False:
            del out[exclusive]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    # The API server prunes fields its schema does not know without a word; in values they
    # are typos, so they fail.
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def crd_spec_properties(crd_path: Path = CRD) -> dict[str, Any]:
    crd = yaml.safe_load(crd_path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    props: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    return props


def synced(schema: dict[str, Any], crd_path: Path = CRD) -> dict[str, Any]:
    """The chart's schema with its generated definitions rewritten from the CRD."""
    spec = crd_spec_properties(crd_path)
    definitions = dict(schema.get("definitions", {}))
    for name, field in GENERATED.items():
        definitions[name] = {"$comment": NOTE, **to_json_schema(spec[field])}
    return {**schema, "definitions": definitions}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    current = SCHEMA.read_text()
    wanted = render(synced(json.loads(current)))
    if "--check" in argv:
        if current != wanted:
            print(
                f"{SCHEMA.relative_to(REPO)} is out of date with {CRD.relative_to(REPO)}: "
                "run `make sync-chart-files`",
                file=sys.stderr,
            )
            return 1
        return 0
    if current != wanted:
        SCHEMA.write_text(wanted)
        print(f"wrote {SCHEMA.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
