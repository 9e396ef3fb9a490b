{{/*
Credentials of an external Elasticsearch, as env entries (none for the bundled one).
*/}}
{{- define "understudy.fluentBit.esAuthEnv" -}}
{{- with .Values.logging.elasticsearch.external.existingSecret }}
env:
  - name: ES_USERNAME
    valueFrom:
      secretKeyRef:
        name: {{ . }}
        key: username
  - name: ES_PASSWORD
    valueFrom:
      secretKeyRef:
        name: {{ . }}
        key: password
{{- end }}
{{- end }}

{{/*
The namespace of Fluent Bit's DaemonSet, ConfigMap and ServiceAccount: its own when
logging.fluentBit.namespace is set (host paths need a privileged namespace), else the
release namespace.
*/}}
{{- define "understudy.fluentBit.namespace" -}}
{{- .Values.logging.fluentBit.namespace | default (include "understudy.namespace" .) }}
{{- end }}

{{/*
The Secret volume with the CA of a secured Elasticsearch (logging.elasticsearch.external.caSecret),
always mounted as the file ca.crt; nothing when no CA is given.
*/}}
{{- define "understudy.elasticsearch.caVolume" -}}
{{- with .Values.logging.elasticsearch.external.caSecret }}
{{- if .name }}
- name: es-ca
  secret:
    secretName: {{ .name }}
    items:
      - key: {{ .key }}
        path: ca.crt
{{- end }}
{{- end }}
{{- end }}

{{/*
Kibana's user for Elasticsearch (logging.kibana.elasticsearchSecret), or for Kibana's API
in the import Job (logging.kibana.savedObjects.existingSecret), as env entries.
  include "understudy.basicAuthEnv" (dict "secret" $name "prefix" "ELASTICSEARCH_")
*/}}
{{- define "understudy.basicAuthEnv" -}}
{{- with .secret }}
- name: {{ $.prefix }}USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: username
- name: {{ $.prefix }}PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: password
{{- end }}
{{- end }}
