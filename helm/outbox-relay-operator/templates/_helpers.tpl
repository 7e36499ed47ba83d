{{/* Chart name, at most 63 characters (a DNS label). */}}
{{- define "outbox-relay-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of every object of the release: the release name, plus the chart name unless it already contains it. */}}
{{- define "outbox-relay-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "outbox-relay-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "outbox-relay-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "outbox-relay-operator.labels" -}}
{{ include "outbox-relay-operator.selectorLabels" . }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: outbox-relay
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "outbox-relay-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "outbox-relay-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "outbox-relay-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The namespace whose OutboxRelays are reconciled; empty in cluster scope (every namespace). */}}
{{- define "outbox-relay-operator.watchNamespace" -}}
{{- if eq .Values.watch.scope "namespace" -}}
{{- default .Release.Namespace .Values.watch.namespace -}}
{{- end -}}
{{- end -}}

{{- define "outbox-relay-operator.leaseName" -}}
{{- default (include "outbox-relay-operator.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/*
Rules values.schema.json cannot express (they compare two values); the operator would refuse the same at start-up
(services/operator/src/config.ts), so refuse them at install instead of in a crash-looping pod.
*/}}
{{- define "outbox-relay-operator.validate" -}}
{{- $le := .Values.leaderElection -}}
{{- if $le.enabled -}}
{{- if ge (int $le.renewDeadlineMs) (int $le.leaseDurationMs) -}}
{{- fail (printf "leaderElection.renewDeadlineMs (%d) must be below leaderElection.leaseDurationMs (%d), so a leader stops before another may start" (int $le.renewDeadlineMs) (int $le.leaseDurationMs)) -}}
{{- end -}}
{{- if ge (int $le.retryPeriodMs) (int $le.renewDeadlineMs) -}}
{{- fail (printf "leaderElection.retryPeriodMs (%d) must be below leaderElection.renewDeadlineMs (%d), so a renewal is retried before the deadline" (int $le.retryPeriodMs) (int $le.renewDeadlineMs)) -}}
{{- end -}}
{{- end -}}
{{- $pdb := .Values.podDisruptionBudget -}}
{{- if and $pdb.enabled (gt (int .Values.replicaCount) 1) (ge (int $pdb.minAvailable) (int .Values.replicaCount)) -}}
{{- fail (printf "podDisruptionBudget.minAvailable (%d) must be below replicaCount (%d), or no node could ever be drained" (int $pdb.minAvailable) (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) -}}
{{- fail "serviceAccount.name is required when serviceAccount.create is false (the ServiceAccount the operator runs as)" -}}
{{- end -}}
{{- end -}}

{{/*
What the operator does with the API, verb by verb: the same rules as deploy/rbac.yaml, which
services/operator/test/controller/rbac.test.ts checks against every request the operator makes;
test/packaging/operator-chart.test.ts checks that these are the same rules.
*/}}
{{- define "outbox-relay-operator.rules" -}}
# Informer (list, watch) and a fresh read before each reconcile (get).
- apiGroups: ["outbox-relay.dev"]
  resources: ["outboxrelays"]
  verbs: ["get", "list", "watch"]
# Status is replaced through the status subresource, with the resourceVersion it was read at as a precondition.
- apiGroups: ["outbox-relay.dev"]
  resources: ["outboxrelays/status"]
  verbs: ["update"]
# Children carry ownerReferences with blockOwnerDeletion: true, which the OwnerReferencesPermissionEnforcement
# admission plugin allows only to those who may update the owner's finalizers.
- apiGroups: ["outbox-relay.dev"]
  resources: ["outboxrelays/finalizers"]
  verbs: ["update"]
# Children: applied (patch, create), and Deployments also watched to notice rollouts.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["services", "serviceaccounts"]
  verbs: ["create", "patch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["create", "patch"]
# Relay pods: watched for readiness; annotated with their pod-deletion-cost (leaders go last); a leader that
# makes no progress is evicted (the Eviction API honours the PodDisruptionBudget; pods are never deleted outright).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch", "patch"]
- apiGroups: [""]
  resources: ["pods/eviction"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["list", "watch", "create", "patch"]
# Secrets: watched so a change of one the relays read (database URL, NATS credentials and TLS, the user's env)
# rolls their pods (a hash of the data they read goes into the pod template), read from the informer's cache;
# each relay's admin Secret (the token of POST /step-down) is created once, never updated or deleted (deleting
# it by hand is how the token is rotated).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["list", "watch", "create"]
# The optional NetworkPolicy of each relay: watched, applied, deleted when spec.networkPolicy is turned off.
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["list", "watch", "create", "patch", "delete"]
{{- end -}}

{{- define "outbox-relay-operator.leaderElectionRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update"]
{{- end -}}
