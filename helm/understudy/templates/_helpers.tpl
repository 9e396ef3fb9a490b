{{/* vim: set filetype=mustache: */}}
{{/*
Expand the name of the chart.
*/}}
{{- define "understudy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "understudy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "understudy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The namespace everything is installed into.
*/}}
{{- define "understudy.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "understudy.labels" -}}
helm.sh/chart: {{ include "understudy.chart" . }}
{{ include "understudy.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: understudy
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "understudy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "understudy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Per-component names and labels. Called with a dict:
  include "understudy.component.fullname" (dict "root" $ "component" "router")
*/}}
{{- define "understudy.component.fullname" -}}
{{- printf "%s-%s" (include "understudy.fullname" .root | trunc (int (sub 62 (len .component)))) .component | trimSuffix "-" }}
{{- end }}

{{- define "understudy.component.labels" -}}
{{ include "understudy.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "understudy.component.selectorLabels" -}}
{{ include "understudy.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
The name of the operator's service account (the chart's main workload).
*/}}
{{- define "understudy.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "understudy.component.fullname" (dict "root" . "component" "operator")) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The service account of any other component. Called with a dict:
  include "understudy.component.serviceAccountName" (dict "root" $ "component" "router" "serviceAccount" .Values.router.serviceAccount)
*/}}
{{- define "understudy.component.serviceAccountName" -}}
{{- if .serviceAccount.create }}
{{- default (include "understudy.component.fullname" .) .serviceAccount.name }}
{{- else }}
{{- default "default" .serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
An image reference: registry/repository:tag@digest. The tag defaults to the chart's
appVersion when "useAppVersion" is true (the Understudy images), and a digest, when
given, pins the image whatever the tag says.
  include "understudy.image" (dict "root" $ "image" .Values.router.image "useAppVersion" true)
*/}}
{{- define "understudy.image" -}}
{{- $registry := .image.registry | default .root.Values.global.imageRegistry -}}
{{- $repository := .image.repository -}}
{{- if $registry }}{{ $repository = printf "%s/%s" $registry $repository }}{{ end -}}
{{- $tag := .image.tag | default (ternary .root.Chart.AppVersion "" (default false .useAppVersion)) | toString -}}
{{- if .image.digest -}}
{{- if $tag }}{{ printf "%s:%s@%s" $repository $tag .image.digest }}{{ else }}{{ printf "%s@%s" $repository .image.digest }}{{ end -}}
{{- else if $tag -}}
{{- printf "%s:%s" $repository $tag -}}
{{- else -}}
{{- $repository -}}
{{- end -}}
{{- end }}

{{/*
imagePullSecrets shared by every pod.
*/}}
{{- define "understudy.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
Where a pod may run: the component's nodeSelector/tolerations/affinity, falling back to
the global ones when the component sets none.
  include "understudy.scheduling" (dict "root" $ "values" .Values.router)
*/}}
{{- define "understudy.scheduling" -}}
{{- with (.values.nodeSelector | default .root.Values.global.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.values.tolerations | default .root.Values.global.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.values.affinity | default .root.Values.global.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
The router's ConfigMap (router.json): written by the operator, read by the router. The
operator's default name for a ModelRollout <name> is <name>-router.
*/}}
{{- define "understudy.router.configMapName" -}}
{{- default (printf "%s-router" .Values.rollout.name) .Values.router.configMapName }}
{{- end }}

{{/*
The Prometheus HTTP API the operator queries: the bundled Prometheus unless an
external URL is given.
*/}}
{{- define "understudy.prometheus.url" -}}
{{- if .Values.operator.prometheusUrl }}
{{- .Values.operator.prometheusUrl }}
{{- else if .Values.prometheus.enabled }}
{{- printf "http://%s.%s.svc:%d" (include "understudy.component.fullname" (dict "root" . "component" "prometheus")) (include "understudy.namespace" .) (int .Values.prometheus.service.port) }}
{{- end }}
{{- end }}

{{/*
Elasticsearch: the bundled single node unless an external host is given.
*/}}
{{- define "understudy.elasticsearch.host" -}}
{{- if .Values.logging.elasticsearch.external.host }}
{{- .Values.logging.elasticsearch.external.host }}
{{- else }}
{{- printf "%s.%s.svc" (include "understudy.component.fullname" (dict "root" . "component" "elasticsearch")) (include "understudy.namespace" .) }}
{{- end }}
{{- end }}

{{- define "understudy.elasticsearch.port" -}}
{{- if .Values.logging.elasticsearch.external.host }}
{{- .Values.logging.elasticsearch.external.port }}
{{- else }}
{{- .Values.logging.elasticsearch.service.port }}
{{- end }}
{{- end }}

{{/*
The namespaces the operator watches ("" = the release namespace only).
*/}}
{{- define "understudy.operator.namespaces" -}}
{{- if .Values.operator.watchNamespaces }}
{{- join "," .Values.operator.watchNamespaces }}
{{- else }}
{{- include "understudy.namespace" . }}
{{- end }}
{{- end }}
