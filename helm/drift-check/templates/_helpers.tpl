{{/*
Chart name, truncated to the 63 characters a label value may have.
*/}}
{{- define "drift-check.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name: "<release>-<chart>", or the release name when it already contains the
chart name. Truncated to 63 characters (DNS label).
*/}}
{{- define "drift-check.fullname" -}}
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
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "drift-check.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "drift-check.labels" -}}
helm.sh/chart: {{ include "drift-check.chart" . }}
{{ include "drift-check.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: schema-drift-check
{{- end }}

{{/*
Labels that identify the objects of one release.
*/}}
{{- define "drift-check.selectorLabels" -}}
app.kubernetes.io/name: {{ include "drift-check.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
ServiceAccount the pods run as.
*/}}
{{- define "drift-check.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "drift-check.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository[:tag][@digest]; the tag defaults to the appVersion.
*/}}
{{- define "drift-check.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
Name of the check Job. As a hook it keeps one name (before-hook-creation replaces it). As a
normal release resource its name ends in a hash of the values and the appVersion: a Job's pod
template is immutable, so a changed configuration must become a new Job, which also makes
`helm upgrade` run a new check. The password is left out of the hash so the name reveals
nothing about it.
*/}}
{{- define "drift-check.jobName" -}}
{{- $fullname := include "drift-check.fullname" . }}
{{- if .Values.gate.enabled }}
{{- $fullname }}
{{- else }}
{{- $input := dict "values" (omit .Values "postgres") "postgres" (omit .Values.postgres "password") "appVersion" .Chart.AppVersion }}
{{- $hash := $input | toJson | sha256sum | trunc 8 }}
{{- printf "%s-%s" ($fullname | trunc 54 | trimSuffix "-") $hash }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the password ("" when there is none).
*/}}
{{- define "drift-check.passwordSecretName" -}}
{{- if not .Values.envFile.enabled }}
{{- if .Values.postgres.existingSecret }}
{{- .Values.postgres.existingSecret }}
{{- else if .Values.postgres.password }}
{{- include "drift-check.fullname" . }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the Secret the user name is read from ("" when postgres.user is used).
*/}}
{{- define "drift-check.userSecretName" -}}
{{- if and (not .Values.envFile.enabled) .Values.postgres.secretKeys.userKey }}
{{- include "drift-check.passwordSecretName" . }}
{{- end }}
{{- end }}

{{/*
DRIFT_PROJECT_DIR: drift.projectDir, else the workspace when it is enabled, else unset.
*/}}
{{- define "drift-check.projectDir" -}}
{{- if .Values.drift.projectDir }}
{{- .Values.drift.projectDir }}
{{- else if .Values.workspace.enabled }}
{{- .Values.workspace.mountPath }}
{{- end }}
{{- end }}

{{/*
Hook annotations for objects of the pre-deploy gate. Call with
(dict "root" $ "weight" N "job" true|false). Renders nothing unless gate.enabled.
*/}}
{{- define "drift-check.hookAnnotations" -}}
{{- $gate := .root.Values.gate }}
{{- if $gate.enabled }}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation
{{- if .job }}
helm.sh/hook-output-log-policy: hook-failed
{{- end }}
{{- if $gate.argocd }}
argocd.argoproj.io/hook: PreSync
argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
argocd.argoproj.io/sync-wave: {{ .weight | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
hook-weight of the objects the Job needs (ConfigMap, Secret, ServiceAccount).
*/}}
{{- define "drift-check.configHookWeight" -}}
{{- sub (int .Values.gate.hookWeight) 5 }}
{{- end }}

{{/*
Checks across values that the JSON schema cannot express clearly. Renders nothing.
*/}}
{{- define "drift-check.validate" -}}
{{- $v := .Values }}
{{- if $v.envFile.enabled }}
{{- if and $v.envFile.existingSecret $v.envFile.existingConfigMap }}
{{- fail "envFile: set only one of envFile.existingSecret and envFile.existingConfigMap" }}
{{- end }}
{{- if not (or $v.envFile.existingSecret $v.envFile.existingConfigMap) }}
{{- fail "envFile.enabled needs envFile.existingSecret or envFile.existingConfigMap (the Secret/ConfigMap holding the env file)" }}
{{- end }}
{{- if or $v.postgres.password $v.postgres.existingSecret }}
{{- fail "envFile.enabled: the env file provides the connection; leave postgres.password and postgres.existingSecret empty" }}
{{- end }}
{{- else }}
{{- if not $v.postgres.host }}
{{- fail "postgres.host is required, e.g. --set postgres.host=postgres.db.svc.cluster.local (or use envFile.enabled with an existing env file)" }}
{{- end }}
{{- if and $v.postgres.password $v.postgres.existingSecret }}
{{- fail "postgres: set only one of postgres.password (chart-created Secret) and postgres.existingSecret" }}
{{- end }}
{{- if and $v.postgres.secretKeys.userKey (not $v.postgres.existingSecret) (not $v.postgres.password) }}
{{- fail "postgres.secretKeys.userKey needs a Secret: set postgres.existingSecret (or postgres.password)" }}
{{- end }}
{{- end }}
{{- if and $v.job.activeDeadlineSeconds (ge (int $v.drift.timeout) (int $v.job.activeDeadlineSeconds)) }}
{{- fail (printf "drift.timeout (%d) must be lower than job.activeDeadlineSeconds (%d), so the tool can drop its temporary database before the Job is killed" (int $v.drift.timeout) (int $v.job.activeDeadlineSeconds)) }}
{{- end }}
{{- if and $v.gate.argocd (not $v.gate.enabled) }}
{{- fail "gate.argocd adds Argo CD hook annotations to the gate: set gate.enabled=true as well" }}
{{- end }}
{{- end }}

{{/*
Pod spec shared by the check Job and the `helm test` pod. Call with
(dict "root" $ "containerName" NAME "args" LIST "resources" MAP).
*/}}
{{- define "drift-check.podSpec" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $passwordSecret := include "drift-check.passwordSecretName" $root }}
{{- $userSecret := include "drift-check.userSecretName" $root }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
serviceAccountName: {{ include "drift-check.serviceAccountName" $root }}
automountServiceAccountToken: {{ $v.serviceAccount.automount }}
restartPolicy: Never
terminationGracePeriodSeconds: {{ $v.job.terminationGracePeriodSeconds }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $v.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.initContainers }}
initContainers:
  {{- tpl (toYaml .) $root | nindent 2 }}
{{- end }}
containers:
  - name: {{ .containerName }}
    image: {{ include "drift-check.image" $root | quote }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    args:
      {{- toYaml .args | nindent 6 }}
    envFrom:
      - configMapRef:
          name: {{ include "drift-check.fullname" $root }}
      {{- with $v.extraEnvFrom }}
      {{- tpl (toYaml .) $root | nindent 6 }}
      {{- end }}
    {{- $secretsAsEnv := and $passwordSecret (not $v.postgres.usePasswordFile) }}
    {{- if or (and $userSecret $secretsAsEnv) $secretsAsEnv $v.extraEnv }}
    env:
      {{- if and $userSecret $secretsAsEnv }}
      - name: POSTGRES_USER
        valueFrom:
          secretKeyRef:
            name: {{ $userSecret }}
            key: {{ $v.postgres.secretKeys.userKey }}
      {{- end }}
      {{- if and $passwordSecret (not $v.postgres.usePasswordFile) }}
      - name: POSTGRES_PASSWORD
        valueFrom:
          secretKeyRef:
            name: {{ $passwordSecret }}
            key: {{ $v.postgres.secretKeys.passwordKey }}
      {{- end }}
      {{- with $v.extraEnv }}
      {{- tpl (toYaml .) $root | nindent 6 }}
      {{- end }}
    {{- end }}
    {{- with $v.securityContext }}
    securityContext:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .resources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: FallbackToLogsOnError
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- if and $passwordSecret $v.postgres.usePasswordFile }}
      - name: postgres-password
        mountPath: {{ $v.postgres.passwordMountPath }}
        readOnly: true
      {{- end }}
      {{- if $v.envFile.enabled }}
      - name: env-file
        mountPath: {{ $v.envFile.mountPath }}
        readOnly: true
      {{- end }}
      {{- if $v.workspace.enabled }}
      - name: workspace
        mountPath: {{ $v.workspace.mountPath }}
      {{- end }}
      {{- with $v.extraVolumeMounts }}
      {{- tpl (toYaml .) $root | nindent 6 }}
      {{- end }}
volumes:
  - name: tmp
    emptyDir: {{ if $v.tmpSizeLimit }}{sizeLimit: {{ $v.tmpSizeLimit }}}{{ else }}{}{{ end }}
  {{- if and $passwordSecret $v.postgres.usePasswordFile }}
  - name: postgres-password
    secret:
      secretName: {{ $passwordSecret }}
      defaultMode: 0444
      items:
        - key: {{ $v.postgres.secretKeys.passwordKey }}
          path: {{ $v.postgres.secretKeys.passwordKey }}
        {{- if $userSecret }}
        - key: {{ $v.postgres.secretKeys.userKey }}
          path: {{ $v.postgres.secretKeys.userKey }}
        {{- end }}
  {{- end }}
  {{- if $v.envFile.enabled }}
  - name: env-file
    {{- if $v.envFile.existingSecret }}
    secret:
      secretName: {{ $v.envFile.existingSecret }}
      defaultMode: 0444
    {{- else }}
    configMap:
      name: {{ $v.envFile.existingConfigMap }}
      defaultMode: 0444
    {{- end }}
      items:
        - key: {{ $v.envFile.key }}
          path: {{ $v.envFile.key }}
  {{- end }}
  {{- if $v.workspace.enabled }}
  - name: workspace
    emptyDir: {{ if $v.workspace.sizeLimit }}{sizeLimit: {{ $v.workspace.sizeLimit }}}{{ else }}{}{{ end }}
  {{- end }}
  {{- with $v.extraVolumes }}
  {{- tpl (toYaml .) $root | nindent 2 }}
  {{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
