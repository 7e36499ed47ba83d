{{- define "outbox-relay-demo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 30 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every object: short enough that "<fullname>-subscriber-NN" stays a valid SUBSCRIBER_ID and pod name. */}}
{{- define "outbox-relay-demo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 30 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 30 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 30 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels of one component: include with (list $ "orders"). */}}
{{- define "outbox-relay-demo.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "outbox-relay-demo.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "outbox-relay-demo.labels" -}}
{{- $root := index . 0 -}}
{{ include "outbox-relay-demo.selectorLabels" . }}
app.kubernetes.io/part-of: outbox-relay
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "outbox-relay-demo.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Pod-level hardening shared by every component: the image's numeric user, no privilege, default seccomp. */}}
{{- define "outbox-relay-demo.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "outbox-relay-demo.containerSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
{{- end -}}

{{/* With a read-only root file system, /tmp must be a volume; the NATS credentials and TLS files are Secrets. */}}
{{- define "outbox-relay-demo.volumes" -}}
{{- $n := .Values.nats -}}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
{{- if $n.credentials.secretName }}
  - name: nats-credentials
    secret:
      secretName: {{ $n.credentials.secretName }}
      items:
        - key: {{ $n.credentials.key }}
          path: {{ $n.credentials.key }}
      # 0440 (octal): JSON and YAML 1.2 readers take a leading zero as decimal.
      defaultMode: 288
{{- end }}
{{- if $n.tls.secretName }}
  - name: nats-tls
    secret:
      secretName: {{ $n.tls.secretName }}
      items:
        {{- range $key := list $n.tls.caKey $n.tls.certKey $n.tls.keyKey }}
        {{- if $key }}
        - key: {{ $key }}
          path: {{ $key }}
        {{- end }}
        {{- end }}
      # 0440 (octal): JSON and YAML 1.2 readers take a leading zero as decimal.
      defaultMode: 288
{{- end }}
{{- end -}}

{{- define "outbox-relay-demo.volumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- if .Values.nats.credentials.secretName }}
  - name: nats-credentials
    mountPath: /var/run/secrets/nats
    readOnly: true
{{- end }}
{{- if .Values.nats.tls.secretName }}
  - name: nats-tls
    mountPath: /var/run/secrets/nats-tls
    readOnly: true
{{- end }}
{{- end -}}

{{- define "outbox-relay-demo.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.secret.name }}
      key: {{ .Values.database.secret.key }}
- name: OUTBOX_SCHEMA
  value: {{ .Values.outbox.schema | quote }}
- name: OUTBOX_CONFIRMING_STANDBYS
  value: {{ .Values.database.confirmingStandbys | int | quote }}
{{- end -}}

{{/* The stream settings every component agrees on, and the relay timings of any embedded relay. */}}
{{- define "outbox-relay-demo.natsEnv" -}}
- name: NATS_URL
  value: {{ .Values.nats.url | quote }}
- name: OUTBOX_STREAM
  value: {{ .Values.nats.stream | quote }}
- name: OUTBOX_SUBJECT_PREFIX
  value: {{ .Values.nats.subjectPrefix | quote }}
- name: OUTBOX_DUPLICATE_WINDOW_MS
  value: {{ mul (int .Values.nats.duplicateWindowSeconds) 1000 | quote }}
{{- $n := .Values.nats }}
- name: OUTBOX_STREAM_MANAGEMENT
  value: {{ $n.streamManagement | quote }}
{{- $l := $n.streamLimits }}
{{- if not (kindIs "invalid" $l.replicas) }}
- name: OUTBOX_STREAM_REPLICAS
  value: {{ $l.replicas | int | quote }}
{{- end }}
{{- with $l.storage }}
- name: OUTBOX_STREAM_STORAGE
  value: {{ . | quote }}
{{- end }}
{{- if not (kindIs "invalid" $l.maxAgeSeconds) }}
- name: OUTBOX_STREAM_MAX_AGE_MS
  value: {{ mul (int64 $l.maxAgeSeconds) 1000 | quote }}
{{- end }}
{{- if not (kindIs "invalid" $l.maxBytes) }}
- name: OUTBOX_STREAM_MAX_BYTES
  value: {{ $l.maxBytes | int64 | quote }}
{{- end }}
{{- if not (kindIs "invalid" $l.maxMessages) }}
- name: OUTBOX_STREAM_MAX_MSGS
  value: {{ $l.maxMessages | int64 | quote }}
{{- end }}
{{- with $l.discard }}
- name: OUTBOX_STREAM_DISCARD
  value: {{ . | quote }}
{{- end }}
{{- if $n.credentials.secretName }}
- name: NATS_CREDS_FILE
  value: {{ printf "/var/run/secrets/nats/%s" $n.credentials.key | quote }}
{{- end }}
{{- if $n.tls.secretName }}
{{- with $n.tls.caKey }}
- name: NATS_TLS_CA_FILE
  value: {{ printf "/var/run/secrets/nats-tls/%s" . | quote }}
{{- end }}
{{- with $n.tls.certKey }}
- name: NATS_TLS_CERT_FILE
  value: {{ printf "/var/run/secrets/nats-tls/%s" . | quote }}
{{- end }}
{{- with $n.tls.keyKey }}
- name: NATS_TLS_KEY_FILE
  value: {{ printf "/var/run/secrets/nats-tls/%s" . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* What every relay of the outbox must agree on besides the stream: the headers its messages get. */}}
{{- define "outbox-relay-demo.relayHeaderEnv" -}}
- name: OUTBOX_MESSAGE_HEADERS
  value: {{ .Values.nats.messageHeaders | quote }}
{{- with .Values.nats.cloudEventsSource }}
- name: OUTBOX_CLOUDEVENTS_SOURCE
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "outbox-relay-demo.relayTimingEnv" -}}
- name: OUTBOX_LEASE_MS
  value: {{ .Values.outboxRelay.leaseDurationMs | int | quote }}
- name: OUTBOX_RENEW_MS
  value: {{ .Values.outboxRelay.renewIntervalMs | int | quote }}
{{- end -}}

{{/*
Rules that compare values (values.schema.json cannot): the CRD's own CEL rules, and the services' start-up checks
(each service's src/config.ts), refused here at install rather than in crash-looping pods.
*/}}
{{- define "outbox-relay-demo.validate" -}}
{{- $r := .Values.outboxRelay -}}
{{- if gt (mul (int $r.renewIntervalMs) 2) (int $r.leaseDurationMs) -}}
{{- fail (printf "outboxRelay.renewIntervalMs (%d) must be at most half of outboxRelay.leaseDurationMs (%d), so a lease survives one missed renewal" (int $r.renewIntervalMs) (int $r.leaseDurationMs)) -}}
{{- end -}}
{{- if lt (mul (int .Values.nats.duplicateWindowSeconds) 1000) (mul (int $r.leaseDurationMs) 10) -}}
{{- fail (printf "nats.duplicateWindowSeconds (%d) must be at least 10 x outboxRelay.leaseDurationMs (%d ms), so a successor's re-publishes are deduplicated" (int .Values.nats.duplicateWindowSeconds) (int $r.leaseDurationMs)) -}}
{{- end -}}
{{- $l := .Values.nats.streamLimits -}}
{{- if and (not (kindIs "invalid" $l.maxAgeSeconds)) (gt (int64 $l.maxAgeSeconds) 0) (lt (int64 $l.maxAgeSeconds) (int64 .Values.nats.duplicateWindowSeconds)) -}}
{{- fail (printf "nats.streamLimits.maxAgeSeconds (%d) must be 0 (no limit) or at least nats.duplicateWindowSeconds (%d): NATS refuses a duplicate window longer than max age" (int64 $l.maxAgeSeconds) (int .Values.nats.duplicateWindowSeconds)) -}}
{{- end -}}
{{- $t := .Values.nats.tls -}}
{{- if and $t.secretName (ne (empty $t.certKey) (empty $t.keyKey)) -}}
{{- fail "nats.tls.certKey and nats.tls.keyKey go together: a client certificate needs its key" -}}
{{- end -}}
{{- if and $t.secretName (empty $t.caKey) (empty $t.certKey) -}}
{{- fail "nats.tls.secretName is set but names no key: set nats.tls.caKey, or nats.tls.certKey and nats.tls.keyKey" -}}
{{- end -}}
{{- if and .Values.payments.enabled (gt (mul (int .Values.nats.duplicateWindowSeconds) 10) 604800) -}}
{{- fail (printf "nats.duplicateWindowSeconds (%d) must be at most 60480 with the payment worker enabled: its inbox keeps rows 7 days, at least 10 x the duplicate window" (int .Values.nats.duplicateWindowSeconds)) -}}
{{- end -}}
{{- end -}}
