{{- define "kserve-reclaimer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kserve-reclaimer.fullname" -}}
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

{{- define "kserve-reclaimer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kserve-reclaimer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "kserve-reclaimer.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kserve-reclaimer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kserve-reclaimer
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "kserve-reclaimer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kserve-reclaimer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kserve-reclaimer.leaseName" -}}
{{- default (include "kserve-reclaimer.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "kserve-reclaimer.metricsServiceName" -}}
{{- printf "%s-metrics" (include "kserve-reclaimer.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kserve-reclaimer.webhookServiceName" -}}
{{- printf "%s-webhook" (include "kserve-reclaimer.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- /* The Secret of the webhook's certificate: the daemon's own (self-managed) or cert-manager's. */}}
{{- define "kserve-reclaimer.webhookSecretName" -}}
{{- printf "%s-webhook-%s" (include "kserve-reclaimer.fullname" .) (ternary "cert" "tls" .Values.webhook.certManager.enabled) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The rules of the daemon's RBAC, one copy for the ClusterRole and each namespaced Role. */}}
{{- define "kserve-reclaimer.rules" -}}
# InferenceServices and LLMInferenceServices: list+watch (informer), get (re-read before a patch), patch (merge patch of
# metadata.annotations only). Never update (could rewrite the spec), create or delete.
- apiGroups: ["serving.kserve.io"]
  resources: ["inferenceservices", "llminferenceservices"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["reclaimer.dev"]
  resources: ["servingschedules"]
  verbs: ["get", "list", "watch"]
# status only, never the spec
- apiGroups: ["reclaimer.dev"]
  resources: ["servingschedules/status"]
  verbs: ["patch"]
# Events: create, and patch to aggregate repeats
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
# Predictor pods (labelled serving.kserve.io/inferenceservice; the selector is the daemon's): get,
# list, watch, for when a stopped service's GPUs are free, and the scheduler's message on a late start
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
{{- end }}

{{/* Rules only the ClusterRole has: a namespaced install (a Role per namespace) ignores ClusterServingSchedules. */}}
{{- define "kserve-reclaimer.clusterRules" -}}
# ClusterServingSchedules, as ServingSchedules; Namespaces for the labels namespaceSelector matches
- apiGroups: ["reclaimer.dev"]
  resources: ["clusterservingschedules"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["reclaimer.dev"]
  resources: ["clusterservingschedules/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch"]
{{- end }}

{{- define "kserve-reclaimer.wakerName" -}}
{{- printf "%s-waker" (include "kserve-reclaimer.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- /* The waker's pods: the daemon's name and instance, another component. */}}
{{- define "kserve-reclaimer.wakerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "kserve-reclaimer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: waker
{{- end }}

{{- define "kserve-reclaimer.wakerLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kserve-reclaimer.wakerSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kserve-reclaimer
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
