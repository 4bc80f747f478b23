{{- define "wattsched.name" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "wattsched.labels" -}}
app.kubernetes.io/name: wattsched
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "agent") */}}
{{- define "wattsched.selector" -}}
app.kubernetes.io/name: wattsched
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "wattsched.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The non-root, read-only, no-capability securityContext of the extender and the model server. */}}
{{- define "wattsched.restrictedContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "wattsched.port" -}}
{{- $cfg := index .root.Values .component "config" -}}
{{- if hasKey $cfg "port" }}{{ $cfg.port }}{{ else }}{{ .default }}{{ end -}}
{{- end -}}

{{- define "wattsched.extenderPort" -}}{{ include "wattsched.port" (dict "root" . "component" "extender" "default" 8888) }}{{- end -}}
{{- define "wattsched.agentPort" -}}{{ include "wattsched.port" (dict "root" . "component" "agent" "default" 9102) }}{{- end -}}
{{- define "wattsched.modelServerPort" -}}{{ include "wattsched.port" (dict "root" . "component" "modelServer" "default" 8100) }}{{- end -}}

{{- define "wattsched.tlsSecret" -}}
{{- .Values.tls.secretName | default (printf "%s-extender-tls" (include "wattsched.name" .)) -}}
{{- end -}}

{{- define "wattsched.extenderURL" -}}
{{- if .Values.scheduler.extenderURL -}}
{{ .Values.scheduler.extenderURL }}
{{- else -}}
{{ ternary "https" "http" .Values.tls.enabled }}://{{ include "wattsched.name" . }}-extender.{{ .Release.Namespace }}.svc:{{ include "wattsched.extenderPort" . }}{{ .Values.extender.config.urlPrefix | default "" }}
{{- end -}}
{{- end -}}

{{/*
The KubeSchedulerConfiguration, rendered from files/kube-scheduler-config.yaml (the file test/kube-scheduler decodes
and runs). Substituted: the extender's urlPrefix and verbs (from extender.config), HTTPS and its CA, and per way:
(dict "root" $ "schedulerName" NAME "lease" NAME "leaseNamespace" NS "caFile" PATH "kubeconfig" PATH-or-empty).
*/}}
{{- define "wattsched.schedulerConfig" -}}
{{- $root := .root -}}
{{- $cfg := $root.Files.Get "files/kube-scheduler-config.yaml" | fromYaml -}}
{{- if hasKey $cfg "Error" }}{{ fail (printf "files/kube-scheduler-config.yaml: %s" $cfg.Error) }}{{ end -}}
{{- if ne (len $cfg.extenders) 1 }}{{ fail "files/kube-scheduler-config.yaml must configure exactly one extender" }}{{ end -}}
{{- if ne (len $cfg.profiles) 1 }}{{ fail "files/kube-scheduler-config.yaml must configure exactly one profile" }}{{ end -}}
{{- $ext := index $cfg.extenders 0 -}}
{{- $ec := $root.Values.extender.config -}}
{{- $_ := set $ext "urlPrefix" (include "wattsched.extenderURL" $root) -}}
{{- $_ := set $ext "filterVerb" ($ec.filterVerb | default $ext.filterVerb) -}}
{{- $_ := set $ext "prioritizeVerb" ($ec.prioritizeVerb | default $ext.prioritizeVerb) -}}
{{- $_ := set $ext "preemptVerb" ($ec.preemptVerb | default $ext.preemptVerb) -}}
{{- if $root.Values.tls.enabled -}}
{{- $_ := set $ext "enableHTTPS" true -}}
{{- $_ := set $ext "tlsConfig" (dict "caFile" .caFile) -}}
{{- end -}}
{{- $_ := set (index $cfg.profiles 0) "schedulerName" .schedulerName -}}
{{- $_ := set $cfg.leaderElection "resourceName" .lease -}}
{{- $_ := set $cfg.leaderElection "resourceNamespace" .leaseNamespace -}}
{{- if .kubeconfig -}}
{{- $cc := $cfg.clientConnection | default dict -}}
{{- $_ := set $cc "kubeconfig" .kubeconfig -}}
{{- $_ := set $cfg "clientConnection" $cc -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* Prometheus peers allowed to scrape a component's port in its NetworkPolicy. */}}
{{- define "wattsched.metricsFrom" -}}
{{- range .Values.networkPolicy.metricsFrom }}
- {{ toYaml . | nindent 2 | trim }}
{{- end }}
{{- end -}}

{{/* The Secret holding the model server's bearer token (key `token`): yours, or the one the chart generates. */}}
{{- define "wattsched.modelServerTokenSecret" -}}
{{- .Values.modelServer.auth.existingSecret | default (printf "%s-model-server-token" (include "wattsched.name" .)) -}}
{{- end -}}

{{- define "wattsched.modelServerURL" -}}
http://{{ include "wattsched.name" . }}-model-server.{{ .Release.Namespace }}.svc:{{ include "wattsched.modelServerPort" . }}
{{- end -}}
