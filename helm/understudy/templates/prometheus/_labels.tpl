{{/*
Target labels every pod scrape job adds. Kept few and low-cardinality; they never
clash with the series' own labels (model, version, role, ...).
*/}}
{{- define "understudy.prometheus.podLabels" -}}
- source_labels: [__meta_kubernetes_namespace]
  target_label: namespace
- source_labels: [__meta_kubernetes_pod_name]
  target_label: pod
- source_labels: [__meta_kubernetes_pod_container_name]
  target_label: container
- source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
  target_label: component
{{- end }}
