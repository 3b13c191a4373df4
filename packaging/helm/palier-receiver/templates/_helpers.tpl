{{- define "palier-receiver.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "palier-receiver.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "palier-receiver.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "palier-receiver.secretName" -}}
{{- default (include "palier-receiver.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- /*
The report job's pods: labels of their own, so that neither the
Deployment nor the Service selects them.
*/ -}}
{{- define "palier-receiver.reportSelectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}-report
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
