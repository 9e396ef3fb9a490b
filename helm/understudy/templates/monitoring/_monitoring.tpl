{{/*
What the ServiceMonitors and PodMonitors scrape, as a list of dicts: the router, the
operator and the model pods the operator creates (labels and ports of
operator/src/understudy_operator/kube/resources.py). Each: name, selector (matchLabels),
port (the Service's or container's port name), namespaceSelector.
*/}}
{{- define "understudy.monitoring.targets" -}}
{{- $ns := include "understudy.namespace" . -}}
{{- $targets := list -}}
{{- if .Values.router.enabled -}}
{{- $targets = append $targets (dict "name" "router" "port" "http" "selector" (include "understudy.component.selectorLabels" (dict "root" . "component" "router") | fromYaml) "namespaceSelector" (dict "matchNames" (list $ns))) -}}
{{- end -}}
{{- if .Values.operator.enabled -}}
{{- $targets = append $targets (dict "name" "operator" "port" "metrics" "selector" (include "understudy.component.selectorLabels" (dict "root" . "component" "operator") | fromYaml) "namespaceSelector" (dict "matchNames" (list $ns))) -}}
{{- $models := dict "matchNames" (include "understudy.operator.namespaces" . | splitList ",") -}}
{{- if .Values.operator.clusterWide }}{{ $models = dict "any" true }}{{ end -}}
{{- $targets = append $targets (dict "name" "models" "port" "http" "selector" (dict "app.kubernetes.io/name" "model-api" "app.kubernetes.io/managed-by" "understudy-operator") "namespaceSelector" $models) -}}
{{- end -}}
{{- toYaml (dict "targets" $targets) -}}
{{- end }}

{{/*
Relabelling shared by every monitor endpoint: the `component` target label the bundled
Prometheus' pod jobs add too (operator, router, live, candidate), which the alert rules
(files/alert-rules.yaml) use.
*/}}
{{- define "understudy.monitoring.relabelings" -}}
- sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
  targetLabel: component
{{- end }}

{{- define "understudy.monitoring.checkOne" -}}
{{- if and .Values.metrics.serviceMonitor.enabled .Values.metrics.podMonitor.enabled -}}
{{- fail "enable one of metrics.serviceMonitor and metrics.podMonitor: with both, every target is scraped twice" -}}
{{- end -}}
{{- end }}
