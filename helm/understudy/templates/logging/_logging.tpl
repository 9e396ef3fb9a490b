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
