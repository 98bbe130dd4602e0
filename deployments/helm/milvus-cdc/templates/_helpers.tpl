{{/* The chart's name; also the job label of the ServiceMonitor (alerts use job="milvus-cdc"). */}}
{{- define "milvus-cdc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "milvus-cdc.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "milvus-cdc.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "milvus-cdc.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "milvus-cdc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "milvus-cdc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "milvus-cdc.labels" -}}
{{ include "milvus-cdc.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The port of config.address (host:port). */}}
{{- define "milvus-cdc.port" -}}
{{- $addr := .Values.config.address | default "0.0.0.0:8444" -}}
{{- last (splitList ":" $addr) -}}
{{- end -}}

{{- define "milvus-cdc.embedded" -}}
{{- $ms := .Values.config.metaStore | default dict -}}
{{- $etcd := $ms.etcd | default dict -}}
{{- if empty $etcd.endpoints -}}true{{- end -}}
{{- end -}}

{{- define "milvus-cdc.dataDir" -}}
{{- $ms := .Values.config.metaStore | default dict -}}
{{- $embed := $ms.embed | default dict -}}
{{- $embed.dataDir | default "/var/lib/milvus-cdc/etcd" -}}
{{- end -}}

{{- define "milvus-cdc.authSecret" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "milvus-cdc.fullname" .)) -}}
{{- end -}}

{{- define "milvus-cdc.encryptionSecret" -}}
{{- .Values.encryption.existingSecret | default (printf "%s-encryption" (include "milvus-cdc.fullname" .)) -}}
{{- end -}}

{{- define "milvus-cdc.authEnabled" -}}
{{- if or .Values.auth.existingSecret .Values.auth.tokens -}}true{{- end -}}
{{- end -}}

{{- define "milvus-cdc.encryptionEnabled" -}}
{{- if or .Values.encryption.existingSecret .Values.encryption.keyFile -}}true{{- end -}}
{{- end -}}

{{- define "milvus-cdc.scheme" -}}
{{- if .Values.tls.existingSecret -}}HTTPS{{- else -}}HTTP{{- end -}}
{{- end -}}
