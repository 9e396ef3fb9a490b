{{/*
The operator's permissions: exactly the rules of k8s/operator/rbac.yaml (tests/install
compares them), bound with a Role per watched namespace, or a ClusterRole when clusterWide.
*/}}
{{- define "understudy.operator.rules" -}}
# kopf watches ModelRollouts; the operator reads each fresh, removes consumed
# approve/abort/resume annotations and kopf keeps its bookkeeping in annotations (patch).
- apiGroups: [rollouts.understudy.dev]
  resources: [modelrollouts]
  verbs: [get, list, watch, patch]
# The status (phase, analysis, message) is written through the status subresource.
- apiGroups: [rollouts.understudy.dev]
  resources: [modelrollouts/status]
  verbs: [patch]
# model-api Deployments <name>-live / <name>-candidate: server-side apply (create or patch),
# get to observe the rollout, delete to remove the candidate.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, create, patch, delete]
# Their Services: applied and deleted, never read.
- apiGroups: [""]
  resources: [services]
  verbs: [create, patch, delete]
# The router's ConfigMap (router.json): applied (created or updated) only.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, patch]
# A PodDisruptionBudget per model Deployment, and its HPA under spec.autoscaling:
# applied and deleted with it, never read.
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [create, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [create, patch, delete]
# An Event on the ModelRollout for every phase change and failed run.
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}
