{{/* Chart name, overridable. */}}
{{- define "modelgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart>, or the release name alone when it already contains the chart name.
Truncated to 63 characters (DNS label); suffixed names below stay within 63 by truncating first.
*/}}
{{- define "modelgate.fullname" -}}
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

{{/* <fullname>-<suffix>, within 63 characters. Call with (list $ "suffix"). */}}
{{- define "modelgate.suffixed" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "modelgate.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{- define "modelgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "modelgate.labels" -}}
helm.sh/chart: {{ include "modelgate.chart" . }}
{{ include "modelgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: modelgate
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of the app pods (never change them: Deployment selectors are immutable). */}}
{{- define "modelgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels with a component. Call with (list $ "component"). */}}
{{- define "modelgate.componentLabels" -}}
{{ include "modelgate.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "modelgate.appSelectorLabels" -}}
{{ include "modelgate.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{/* The unprivileged ServiceAccount: no RBAC rights, no token. */}}
{{- define "modelgate.unprivilegedServiceAccountName" -}}
{{- default (include "modelgate.fullname" .) .Values.serviceAccount.unprivileged.name }}
{{- end }}

{{/* The init ServiceAccount: get/update/patch of the models ConfigMap only. */}}
{{- define "modelgate.initServiceAccountName" -}}
{{- default (include "modelgate.suffixed" (list . "init")) .Values.serviceAccount.init.name }}
{{- end }}

{{- define "modelgate.modelsConfigMapName" -}}
{{- default (include "modelgate.suffixed" (list . "models")) .Values.artifact.configMap.name }}
{{- end }}

{{- define "modelgate.secretName" -}}
{{- default (include "modelgate.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* repository@digest when a digest is given, else repository:tag (tag defaults to appVersion). */}}
{{- define "modelgate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "modelgate.jobMode" -}}
{{- if eq .Values.init.mode "job" }}true{{ end }}
{{- end }}

{{/*
A projected ServiceAccount token is bound to the pod's ServiceAccount, so every pod with a modelgate-init container
(all, wait and refresh all talk to the ConfigMap) runs as the init ServiceAccount, with automounting off and the
token projected into the modelgate-init container alone: the app container never holds a credential. The
unprivileged ServiceAccount (no rights, no token) runs the pods that have no modelgate-init container (the `helm test`
pod).
*/}}
{{- define "modelgate.podServiceAccountName" -}}
{{- include "modelgate.initServiceAccountName" . }}
{{- end }}

{{/*
Annotations of an object that modelgate-init needs. Job mode: it becomes a hook of its own, ordered before the hook
Job (hooks run before the release's ordinary objects exist). initContainer mode: an Argo CD sync-wave before the
workloads. Call with (list $ weight hookEvents).
*/}}
{{- define "modelgate.hookAnnotations" -}}
{{- $root := index . 0 }}
{{- $weight := index . 1 }}
{{- $events := index . 2 }}
{{- if include "modelgate.jobMode" $root }}
helm.sh/hook: {{ $events }}
helm.sh/hook-weight: {{ $weight | quote }}
{{- if contains "pre-upgrade" $events }}
helm.sh/hook-delete-policy: before-hook-creation
{{- end }}
{{- /*
On a switch from initContainer mode these objects leave the release manifest and helm would delete them after
re-creating them as hooks; keep makes it leave them to the pods. Hooks are never deleted by uninstall anyway. The
ownership annotations let a later switch back to initContainer mode adopt them into the release.
*/}}
helm.sh/resource-policy: keep
meta.helm.sh/release-name: {{ $root.Release.Name }}
meta.helm.sh/release-namespace: {{ $root.Release.Namespace }}
{{- if $root.Values.argocd.enabled }}
argocd.argoproj.io/hook: PreSync
argocd.argoproj.io/sync-wave: {{ $weight | quote }}
{{- if contains "pre-upgrade" $events }}
argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
{{- end }}
{{- end }}
{{- else if $root.Values.argocd.enabled }}
{{- /* initContainer mode: Argo CD applies what the pods' init container needs one wave before the workloads. */}}
argocd.argoproj.io/sync-wave: "-1"
{{- end }}
{{- end }}

{{/* Projected ServiceAccount token, mounted only into the container that runs modelgate-init against the API. */}}
{{- define "modelgate.apiTokenVolume" -}}
- name: kube-api-access
  projected:
    defaultMode: 0444
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3607
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                apiVersion: v1
                fieldPath: metadata.namespace
{{- end }}

{{- define "modelgate.apiTokenMount" -}}
- name: kube-api-access
  mountPath: /var/run/secrets/kubernetes.io/serviceaccount
  readOnly: true
{{- end }}

{{/* Environment shared by the init and app containers. */}}
{{- define "modelgate.commonEnv" -}}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "modelgate.secretName" . }}
      key: {{ .Values.secrets.keys.databaseUrl }}
- name: MODELS_FILE
  value: {{ printf "%s/models.json" .Values.artifact.emptyDir.path | quote }}
- name: MODELS_MAX_AGE
  value: {{ .Values.config.models.maxAge | quote }}
- name: MODELS_MAX_STALE
  value: {{ .Values.config.models.maxStale | quote }}
- name: LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
{{- end }}

{{/* Environment of modelgate-init (all, refresh, wait). */}}
{{- define "modelgate.initEnv" -}}
{{ include "modelgate.commonEnv" . }}
- name: MIGRATION_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "modelgate.secretName" . }}
      key: {{ .Values.secrets.keys.migrationDatabaseUrl }}
      optional: true
{{- if and .Values.config.modelSource.url .Values.secrets.modelSourceUrl }}
{{- fail "set config.modelSource.url or secrets.modelSourceUrl, not both" }}
{{- end }}
- name: MODEL_SOURCE_URL
{{- if .Values.config.modelSource.url }}
  value: {{ .Values.config.modelSource.url | quote }}
{{- else if or .Values.secrets.modelSourceUrl .Values.secrets.existingSecret }}
  {{- /* A URL carrying a password or token: from the Secret, so it never sits in a pod spec. */}}
  valueFrom:
    secretKeyRef:
      name: {{ include "modelgate.secretName" . }}
      key: {{ .Values.secrets.keys.modelSourceUrl }}
{{- else }}
  {{- fail "config.modelSource.url is required: the URL of the model list (https://, http:// or file://); when it carries a password or token, set secrets.modelSourceUrl (or the key secrets.keys.modelSourceUrl of secrets.existingSecret) instead" }}
{{- end }}
- name: MODEL_SOURCE_FORMAT
  value: {{ .Values.config.modelSource.format | quote }}
- name: MODEL_SOURCE_TIMEOUT
  value: {{ .Values.config.modelSource.timeout | quote }}
- name: MODEL_SOURCE_RETRIES
  value: {{ .Values.config.modelSource.retries | quote }}
- name: MODEL_SOURCE_MAX_BYTES
  value: {{ .Values.config.modelSource.maxBytes | quote }}
- name: MODELS_CONFIGMAP
  value: {{ printf "$(POD_NAMESPACE)/%s" (include "modelgate.modelsConfigMapName" .) | quote }}
- name: DB_WAIT_TIMEOUT
  value: {{ .Values.config.database.connectRetryTimeout | quote }}
- name: MIGRATION_LOCK_TIMEOUT
  value: {{ .Values.config.database.migrationLockTimeout | quote }}
- name: MODELS_LOCK_TIMEOUT
  value: {{ .Values.config.models.lockTimeout | quote }}
- name: MODELS_FALLBACK_AFTER
  value: {{ .Values.config.models.fallbackAfter | quote }}
- name: WAIT_TIMEOUT
  value: {{ .Values.init.job.podWaitTimeout | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Environment of modelgate-app. */}}
{{- define "modelgate.appEnv" -}}
{{ include "modelgate.commonEnv" . }}
- name: MODELS_CONFIGMAP_DIR
  value: {{ .Values.artifact.configMap.mountPath | quote }}
- name: PORT
  value: {{ .Values.containerPort | quote }}
- name: DB_POOL_MIN
  value: {{ .Values.config.database.poolMin | quote }}
- name: DB_POOL_MAX
  value: {{ .Values.config.database.poolMax | quote }}
- name: DB_CONNECT_TIMEOUT
  value: {{ .Values.config.database.connectTimeout | quote }}
- name: DB_QUERY_TIMEOUT
  value: {{ .Values.config.database.queryTimeout | quote }}
- name: KEY_CACHE_OUTAGE_TTL
  value: {{ .Values.config.keyCacheOutageTtl | quote }}
{{- if .Values.routing.file }}
{{- if .Values.config.upstream.url }}
{{- fail "routing.file and config.upstream.url are both set; config.upstream.url is the one-upstream shorthand for a routing file: set one of them" }}
{{- end }}
- name: ROUTING_FILE
  value: {{ printf "%s/routing.yaml" (trimSuffix "/" .Values.routing.mountPath) | quote }}
{{- include "modelgate.upstreamKeyEnv" . }}
{{- end }}
{{- with .Values.config.upstream.url }}
- name: UPSTREAM_URL
  value: {{ . | quote }}
{{- end }}
- name: UPSTREAM_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "modelgate.secretName" . }}
      key: {{ .Values.secrets.keys.upstreamApiKey }}
      optional: true
- name: UPSTREAM_TIMEOUT
  value: {{ .Values.config.upstream.timeout | quote }}
- name: UPSTREAM_MODEL_FIELD
  value: {{ .Values.config.upstream.modelField | quote }}
{{- with .Values.config.defaultModel }}
- name: DEFAULT_MODEL
  value: {{ . | quote }}
{{- end }}
- name: ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "modelgate.secretName" . }}
      key: {{ .Values.secrets.keys.adminToken }}
      optional: true
- name: BODY_LIMIT
  value: {{ .Values.config.bodyLimit | quote }}
- name: LIMITS_ON_STORE_ERROR
  value: {{ .Values.config.limits.onStoreError | quote }}
- name: LIMITS_POLICY_CACHE_TTL
  value: {{ .Values.config.limits.policyCacheTtl | quote }}
- name: LIMITS_DEFAULT_COMPLETION_TOKENS
  value: {{ .Values.config.limits.defaultCompletionTokens | quote }}
- name: SHUTDOWN_DELAY
  value: {{ .Values.config.shutdownDelay | quote }}
- name: SHUTDOWN_TIMEOUT
  value: {{ .Values.config.shutdownTimeout | quote }}
- name: USAGE_LEDGER
  value: {{ .Values.config.usage.ledger | quote }}
- name: USAGE_FLUSH_INTERVAL
  value: {{ .Values.config.usage.flushInterval | quote }}
- name: USAGE_BATCH_SIZE
  value: {{ .Values.config.usage.batchSize | quote }}
- name: USAGE_BUFFER_MAX
  value: {{ .Values.config.usage.bufferMax | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The Secret holding the routing file's upstream keys. */}}
{{- define "modelgate.upstreamKeysSecretName" -}}
{{- .Values.routing.apiKeysSecret | default (include "modelgate.secretName" .) }}
{{- end }}

{{/*
One variable per distinct apiKeyEnv of the routing file, from the key of that name. Optional: a missing key leaves
the variable unset, and modelgate-app says so by name (exit 2, or a refused reload) instead of the pod waiting in
CreateContainerConfigError.
*/}}
{{- define "modelgate.upstreamKeyEnv" -}}
{{- $names := dict }}
{{- range $name, $upstream := .Values.routing.file.upstreams }}
{{- with $upstream.apiKeyEnv }}{{ $_ := set $names . true }}{{ end }}
{{- end }}
{{- range $env, $_ := $names }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "modelgate.upstreamKeysSecretName" $ }}
      key: {{ $env }}
      optional: true
{{- end }}
{{- end }}

{{- define "modelgate.routingConfigMapName" -}}
{{- include "modelgate.suffixed" (list . "routing") }}
{{- end }}

{{/* The routing ConfigMap as a volume of the app container; no subPath, so the kubelet's updates reach it. */}}
{{- define "modelgate.routingVolume" -}}
{{- if .Values.routing.file }}
- name: routing
  configMap:
    name: {{ include "modelgate.routingConfigMapName" . }}
{{- end }}
{{- end }}

{{- define "modelgate.routingMount" -}}
{{- if .Values.routing.file }}
- name: routing
  mountPath: {{ .Values.routing.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{/* Volumes every modelgate-init pod needs besides the token: the artifact emptyDir and /tmp. */}}
{{- define "modelgate.scratchVolumes" -}}
- name: artifact
  emptyDir:
    sizeLimit: {{ .Values.artifact.emptyDir.sizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{- define "modelgate.scratchMounts" -}}
- name: artifact
  mountPath: {{ .Values.artifact.emptyDir.path }}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* The models ConfigMap as a volume: optional, so pods start before init has ever filled it. */}}
{{- define "modelgate.modelsVolume" -}}
- name: models-configmap
  configMap:
    name: {{ include "modelgate.modelsConfigMapName" . }}
    optional: true
{{- end }}

{{- define "modelgate.modelsMount" -}}
- name: models-configmap
  mountPath: {{ .Values.artifact.configMap.mountPath }}
  readOnly: true
{{- end }}

{{- define "modelgate.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "modelgate.securityContext" -}}
{{ toYaml .Values.securityContext }}
{{- end }}

{{/* The init container / Job container running modelgate-init <command>. Call with (list $ "command" apiAccess). */}}
{{- define "modelgate.initContainer" -}}
{{- $root := index . 0 }}
{{- $command := index . 1 }}
{{- $api := index . 2 }}
- name: {{ printf "init-%s" $command }}
  image: {{ include "modelgate.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  command: ["modelgate-init"]
  args: [{{ $command | quote }}]
  env:
    {{- include "modelgate.initEnv" $root | nindent 4 }}
  securityContext:
    {{- include "modelgate.securityContext" $root | nindent 4 }}
  resources:
    {{- toYaml $root.Values.init.resources | nindent 4 }}
  volumeMounts:
    {{- include "modelgate.scratchMounts" $root | nindent 4 }}
    {{- if $api }}
    {{- include "modelgate.apiTokenMount" $root | nindent 4 }}
    {{- end }}
{{- end }}

{{/*
Values renamed after chart 0.1.0 (CHANGELOG.md). values.schema.json still accepts the old keys so that this can name the new
one: a value set under an old name would otherwise be dropped without a word.
*/}}
{{- define "modelgate.renamedValues" -}}
{{- $renamed := list }}
{{- if hasKey .Values.config "waitTimeout" }}
{{- $renamed = append $renamed "config.waitTimeout -> init.job.podWaitTimeout" }}
{{- end }}
{{- if hasKey .Values.config.database "waitTimeout" }}
{{- $renamed = append $renamed "config.database.waitTimeout -> config.database.connectRetryTimeout" }}
{{- end }}
{{- with .Values.models }}
{{- $moves := dict "configMap" "artifact.configMap" "mountPath" "artifact.configMap.mountPath" "artifactDir" "artifact.emptyDir.path" "artifactSizeLimit" "artifact.emptyDir.sizeLimit" }}
{{- range $key, $_ := . }}
{{- $renamed = append $renamed (printf "models.%s -> %s" $key (get $moves $key | default "artifact.*")) }}
{{- end }}
{{- end }}
{{- if hasKey .Values.serviceAccount "app" }}
{{- $renamed = append $renamed "serviceAccount.app -> serviceAccount.unprivileged" }}
{{- end }}
{{- if $renamed }}
{{- fail (printf "these values were renamed; move them to their new names (see CHANGELOG.md): %s" (join "; " $renamed)) }}
{{- end }}
{{- end }}
