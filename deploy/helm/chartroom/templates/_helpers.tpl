{{/*
Chart name, truncated to the 63 characters a DNS label allows.
*/}}
{{- define "chartroom.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name, with the chart name
appended unless the release name already contains it.
*/}}
{{- define "chartroom.fullname" -}}
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

{{- define "chartroom.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "chartroom.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chartroom.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "chartroom.labels" -}}
helm.sh/chart: {{ include "chartroom.chart" . }}
{{ include "chartroom.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "chartroom.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "chartroom.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "chartroom.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Checks on values that would otherwise only fail when the pod starts.
*/}}
{{- define "chartroom.validate" -}}
{{- if and .Values.admin.jwtSecretKey .Values.admin.jwksKey }}
{{- fail "admin: set jwtSecretKey or jwksKey, not both (ADMIN_JWT_SECRET and ADMIN_JWKS_FILE exclude each other)" }}
{{- end }}
{{- if not (or .Values.admin.jwtSecretKey .Values.admin.jwksKey) }}
{{- fail "admin: set jwtSecretKey or jwksKey; without admin keys Chartroom would generate development keys" }}
{{- end }}
{{- if not (or .Values.license.jwksKey .Values.license.signingKeyKey) }}
{{- fail "license: set jwksKey and/or signingKeyKey; without license keys Chartroom cannot verify licenses" }}
{{- end }}
{{- if eq (lower (toString .Values.trustProxy)) "true" }}
{{- fail "trustProxy: true (trust every hop) lets any client pick its address with X-Forwarded-For; set the number of proxies in front (\"1\") or their CIDRs" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (lt (int .Values.replicaCount) 2) }}
{{- fail "podDisruptionBudget: needs replicaCount >= 2 (with one replica, minAvailable 1 blocks every node drain); disable it or add replicas" }}
{{- end }}
{{- end }}
