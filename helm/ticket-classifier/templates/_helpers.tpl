{{/*
Chart name, truncated to the 63 characters of a DNS label.
*/}}
{{- define "ticket-classifier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release + chart, unless the release name already contains the chart name.
*/}}
{{- define "ticket-classifier.fullname" -}}
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
Name of one component's resources: <fullname>-<component>.
Usage: include "ticket-classifier.componentName" (dict "ctx" $ "component" "worker")
*/}}
{{- define "ticket-classifier.componentName" -}}
{{- printf "%s-%s" (include "ticket-classifier.fullname" .ctx | trunc 50 | trimSuffix "-") .component }}
{{- end }}

{{- define "ticket-classifier.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "ticket-classifier.labels" -}}
helm.sh/chart: {{ include "ticket-classifier.chart" . }}
{{ include "ticket-classifier.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "ticket-classifier.name" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "ticket-classifier.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ticket-classifier.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels and selector labels of one component.
Usage: include "ticket-classifier.componentLabels" (dict "ctx" $ "component" "worker")
*/}}
{{- define "ticket-classifier.componentLabels" -}}
{{ include "ticket-classifier.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "ticket-classifier.componentSelectorLabels" -}}
{{ include "ticket-classifier.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "ticket-classifier.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ticket-classifier.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The serving image: repository:tag (+ the GPU suffix), or repository@digest.
*/}}
{{- define "ticket-classifier.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "ticket-classifier.imageTag" .) }}
{{- end }}
{{- end }}

{{- define "ticket-classifier.imageTag" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.gpu.enabled }}{{ $tag = printf "%s%s" $tag .Values.gpu.imageTagSuffix }}{{ end }}
{{- $tag }}
{{- end }}

{{/*
The trainer image (the Dockerfile's `trainer` target): training needs torch and friends.
*/}}
{{- define "ticket-classifier.trainerImage" -}}
{{- $repository := default .Values.image.repository .Values.retrain.image.repository }}
{{- $tag := default (printf "%s-train" (default .Chart.AppVersion .Values.image.tag)) .Values.retrain.image.tag }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}

{{/*
True when the cluster serves the Prometheus operator's API, or when forced.
Usage: include "ticket-classifier.operatorFeature" (dict "ctx" $ "enabled" .Values.serviceMonitor.enabled "kind" "ServiceMonitor")
*/}}
{{- define "ticket-classifier.operatorFeature" -}}
{{- if eq (toString .enabled) "auto" }}
{{- $apis := .ctx.Capabilities.APIVersions }}
{{- if or ($apis.Has (printf "monitoring.coreos.com/v1/%s" .kind)) ($apis.Has "monitoring.coreos.com/v1") }}true{{ end }}
{{- else if .enabled }}true{{ end }}
{{- end }}

{{/*
Name of the model registry claim.
*/}}
{{- define "ticket-classifier.registryClaim" -}}
{{- if .Values.modelRegistry.persistence.existingClaim }}
{{- .Values.modelRegistry.persistence.existingClaim }}
{{- else if .Values.modelRegistry.persistence.enabled }}
{{- include "ticket-classifier.componentName" (dict "ctx" . "component" "registry") }}
{{- end }}
{{- end }}

{{/*
Volumes shared by the pods: /tmp, the model registry and the embedder.
*/}}
{{- define "ticket-classifier.commonVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
- name: registry
  {{- with include "ticket-classifier.registryClaim" . }}
  persistentVolumeClaim:
    claimName: {{ . }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- with .Values.embedder.existingClaim }}
- name: embedder
  persistentVolumeClaim:
    claimName: {{ . }}
    readOnly: true
{{- end }}
{{- end }}

{{/*
Mounts of the common volumes. Usage: include "ticket-classifier.commonVolumeMounts" (dict "ctx" $ "registryReadOnly" true)
*/}}
{{- define "ticket-classifier.commonVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: registry
  mountPath: {{ .ctx.Values.modelRegistry.mountPath }}
  readOnly: {{ .registryReadOnly }}
{{- if .ctx.Values.embedder.existingClaim }}
- name: embedder
  mountPath: {{ .ctx.Values.embedder.dir }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
Environment every container gets: settings from the ConfigMap, secrets by reference.
*/}}
{{- define "ticket-classifier.envFrom" -}}
- configMapRef:
    name: {{ include "ticket-classifier.fullname" . }}
{{- end }}

{{- define "ticket-classifier.commonEnv" -}}
# The root filesystem is read-only: libraries that cache under $HOME use /tmp.
- name: HOME
  value: /tmp
{{- end }}

{{- define "ticket-classifier.kafkaSecretEnv" -}}
{{- with .Values.kafka.existingSecret }}
- name: TICKETS_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.kafka.saslPasswordKey }}
{{- end }}
{{- end }}

{{/*
Pod annotations that roll the pods when the settings change.
*/}}
{{- define "ticket-classifier.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end }}

{{/*
The label the ServiceMonitor selects Services by (every Service that serves /metrics).
*/}}
{{- define "ticket-classifier.metricsLabel" -}}
ticket-classifier.io/metrics: "true"
{{- end }}

{{/*
NetworkPolicy rules: egress every component needs (DNS and the Kafka brokers),
HTTPS egress (Slack, Snowflake) and metrics ingress.
*/}}
{{- define "ticket-classifier.baseEgress" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
- {{- with .Values.networkPolicy.kafkaTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    {{- range .Values.networkPolicy.kafkaPorts }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- define "ticket-classifier.httpsEgress" -}}
{{- if .Values.networkPolicy.allowHttpsEgress }}
- ports:
    - port: 443
      protocol: TCP
{{- end }}
{{- end }}
{{- define "ticket-classifier.metricsIngress" -}}
- {{- with .ctx.Values.networkPolicy.metricsFrom }}
  from:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    - port: {{ .port }}
      protocol: TCP
{{- end }}

{{/*
The claim holding the notifier's dedupe store: the existing one, or the one the chart creates.
*/}}
{{- define "ticket-classifier.notifierStateClaim" -}}
{{- .Values.notifier.persistence.existingClaim | default (printf "%s-notifier-state" (include "ticket-classifier.fullname" .)) -}}
{{- end }}

{{/*
Snowflake credentials by reference (the sink, and the retraining job that reads the sink's tables).
*/}}
{{- define "ticket-classifier.snowflakeSecretEnv" -}}
{{- $sf := .Values.snowflake }}
{{- if $sf.passwordKey }}
- name: TICKETS_SNOWFLAKE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $sf.existingSecret }}
      key: {{ $sf.passwordKey }}
{{- end }}
{{- if $sf.privateKeyPasswordKey }}
- name: TICKETS_SNOWFLAKE_PRIVATE_KEY_FILE_PWD
  valueFrom:
    secretKeyRef:
      name: {{ $sf.existingSecret }}
      key: {{ $sf.privateKeyPasswordKey }}
{{- end }}
{{- end }}
{{- define "ticket-classifier.snowflakeKeyMount" -}}
{{- if .Values.snowflake.privateKeyKey }}
- name: snowflake-key
  mountPath: /var/run/secrets/snowflake
  readOnly: true
{{- end }}
{{- end }}
{{- define "ticket-classifier.snowflakeKeyVolume" -}}
{{- if .Values.snowflake.privateKeyKey }}
- name: snowflake-key
  secret:
    secretName: {{ .Values.snowflake.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.snowflake.privateKeyKey }}
        path: private-key.pem
{{- end }}
{{- end }}

{{/*
The container of a retraining run (the CronJob's and the approval Job's). Usage:
include "ticket-classifier.retrainContainer" (dict "ctx" $ "args" (list "retrain" ...))
(HISTORY names retrain runs "retrain")
*/}}
{{- define "ticket-classifier.retrainContainer" -}}
{{- $r := .ctx.Values.retrain }}
- name: retrain
  image: {{ include "ticket-classifier.trainerImage" .ctx | quote }}
  imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
  args:
    - python
    - -m
    - training
    {{- range .args }}
    - {{ . | quote }}
    {{- end }}
  envFrom:
    {{- include "ticket-classifier.envFrom" .ctx | nindent 4 }}
  env:
    {{- include "ticket-classifier.commonEnv" .ctx | nindent 4 }}
    {{- with include "ticket-classifier.kafkaSecretEnv" .ctx }}{{ . | nindent 4 }}{{ end }}
    {{- if .ctx.Values.sink.enabled }}
    {{- with include "ticket-classifier.snowflakeSecretEnv" .ctx }}{{ . | nindent 4 }}{{ end }}
    {{- end }}
    - name: MPLCONFIGDIR
      value: /tmp/matplotlib
    {{- with $r.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  resources:
    {{- toYaml $r.resources | nindent 4 }}
  securityContext:
    {{- toYaml .ctx.Values.containerSecurityContext | nindent 4 }}
  volumeMounts:
    {{- include "ticket-classifier.commonVolumeMounts" (dict "ctx" .ctx "registryReadOnly" false) | nindent 4 }}
    {{- if $r.data.existingClaim }}
    - name: data
      mountPath: {{ $r.data.mountPath }}
      readOnly: true
    {{- end }}
    - name: retrain-config
      mountPath: /etc/ticket-classifier/retrain
      readOnly: true
    {{- if .ctx.Values.sink.enabled }}
    {{- with include "ticket-classifier.snowflakeKeyMount" .ctx }}{{ . | nindent 4 }}{{ end }}
    {{- end }}
{{- end }}
{{- define "ticket-classifier.retrainVolumes" -}}
{{- include "ticket-classifier.commonVolumes" . }}
{{- with .Values.retrain.data.existingClaim }}
- name: data
  persistentVolumeClaim:
    claimName: {{ . }}
    readOnly: true
{{- end }}
- name: retrain-config
  configMap:
    name: {{ include "ticket-classifier.componentName" (dict "ctx" . "component" "retrain") }}
{{- if .Values.sink.enabled }}
{{- include "ticket-classifier.snowflakeKeyVolume" . | nindent 0 }}
{{- end }}
{{- end }}
