#!/usr/bin/env bash
# A local Kubernetes control plane for tests: a kwokctl "binary runtime" cluster, i.e. real
# etcd + kube-apiserver + kube-controller-manager + kube-scheduler processes on 127.0.0.1 and
# a kwok controller that fakes the nodes and the pods running on them (pods become Ready, so
# Deployments become Available). No container runtime, no images, no downloads: the binaries
# come from scripts/k8s-tools.sh (pinned in scripts/k8s-versions.env).
#
# usage: scripts/cluster.sh up|down|kubeconfig|status [NAME]
#   up          create the cluster (if absent), add fake nodes, wait until it is usable,
#               print the kubeconfig path on stdout
#   down        delete the cluster (processes, data, its kubeconfig file)
#   kubeconfig  print the kubeconfig path
#   status      exit 0 if the cluster answers
#
# env:
#   UNDERSTUDY_CACHE          cache root (default ~/.cache/understudy)
#   UNDERSTUDY_CLUSTER_NAME   cluster name when NAME is not given (default "understudy")
#   UNDERSTUDY_CLUSTER_NODES  number of fake nodes (default 2)
#   UNDERSTUDY_KWOKCTL_ARGS  extra `kwokctl create cluster` arguments (scripts/realnode.sh
#               passes a --config with the API server flags a real node needs)
#   UNDERSTUDY_KWOK_DOWNLOAD=1  on a machine with internet: skip scripts/k8s-tools.sh for the
#               control-plane binaries and let kwokctl download the pinned release binaries
#               itself (kwokctl must then be on PATH, e.g.
#               `go install sigs.k8s.io/kwok/cmd/kwokctl@<KWOK_VERSION>`).
# The kubeconfig is "$UNDERSTUDY_CACHE/kubeconfig" for the default name and
# "$UNDERSTUDY_CACHE/kubeconfig-NAME" otherwise. kwokctl's own state lives in
# "$UNDERSTUDY_CACHE/kwok" (KWOK_WORKDIR), never in ~/.kwok or ~/.kube/config.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/k8s-versions.env"

CACHE=${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}
cmd=${1:-}
NAME=${2:-${UNDERSTUDY_CLUSTER_NAME:-understudy}}
NODES=${UNDERSTUDY_CLUSTER_NODES:-2}
if [[ $NAME == understudy ]]; then KUBECONFIG_OUT=$CACHE/kubeconfig; else KUBECONFIG_OUT=$CACHE/kubeconfig-$NAME; fi

log() { printf '[cluster] %s\n' "$*" >&2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

export KWOK_WORKDIR=$CACHE/kwok
export KWOK_RUNTIME=binary
export KWOK_KUBE_VERSION=$K8S_VERSION
export KWOK_ETCD_VERSION=${ETCD_VERSION#v}
export KWOK_VERSION
mkdir -p "$CACHE"

setup_bins() {
  if [[ ${UNDERSTUDY_KWOK_DOWNLOAD:-0} == 1 ]]; then
    KWOKCTL=$(command -v kwokctl) || { log "UNDERSTUDY_KWOK_DOWNLOAD=1 needs kwokctl on PATH"; exit 1; }
    KUBECTL= # kwokctl's own (downloaded) kubectl of the pinned version, see k()
  else
    BIN=$("$HERE/k8s-tools.sh")
    KWOKCTL=$BIN/kwokctl
    KUBECTL=$BIN/kubectl
    # Point kwokctl at local binaries so it never downloads anything.
    export KWOK_KUBE_APISERVER_BINARY=$BIN/kube-apiserver
    export KWOK_KUBE_CONTROLLER_MANAGER_BINARY=$BIN/kube-controller-manager
    export KWOK_KUBE_SCHEDULER_BINARY=$BIN/kube-scheduler
    export KWOK_KUBECTL_BINARY=$BIN/kubectl
    export KWOK_ETCD_BINARY=$BIN/etcd
    export KWOK_CONTROLLER_BINARY=$BIN/kwok
    export PATH=$BIN:$PATH
  fi
}

k() {
  if [[ -n $KUBECTL ]]; then
    "$KUBECTL" --kubeconfig "$KUBECONFIG_OUT" "$@"
  else
    "$KWOKCTL" --name "$NAME" kubectl "$@"
  fi
}

nodes_ready() { [[ $(k get nodes --no-headers 2>/dev/null | grep -cw Ready) -ge $NODES ]]; }

# grep -q would stop reading at the match: kwokctl, still writing, dies of SIGPIPE and
# pipefail makes that "no such cluster" (seen with several clusters listed).
exists() { "$KWOKCTL" get clusters 2>/dev/null | grep -x "$NAME" >/dev/null; }

wait_for() { # description timeout-seconds cmd...
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then log "timed out waiting for $what"; return 1; fi
    sleep 0.5
  done
}

up() {
  local start=$SECONDS
  if exists && [[ -s $KUBECONFIG_OUT ]]; then
    log "cluster $NAME exists; starting it if stopped"
    "$KWOKCTL" start cluster --name "$NAME" >&2 || true
  else
    if exists; then "$KWOKCTL" delete cluster --name "$NAME" --kubeconfig "$KUBECONFIG_OUT" >&2 || true; fi
    rm -f "$KUBECONFIG_OUT"
    log "creating cluster $NAME (kube $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
    # kwokctl picks each component's port by probing downwards from 32767 for one that is
    # free now, and binds it only when the component starts: two clusters created at once
    # (parallel test workers: the kwok cluster and the real node's) got the same ports and
    # one never became ready. One creation at a time, until its ports are bound (--wait);
    # -o: the components kwokctl leaves running must not inherit (and hold) the lock.
    mkdir -p "$CACHE/kwok"
    # Only the core components (etcd, apiserver, controller-manager, scheduler, kwok
    # controller): dashboard, metrics-server, prometheus and jaeger are off by default.
    flock -o "$CACHE/kwok/create.lock" "$KWOKCTL" create cluster --name "$NAME" --runtime binary \
      --kubeconfig "$KUBECONFIG_OUT" \
      --disable-qps-limits \
      ${UNDERSTUDY_KWOKCTL_ARGS:-} \
      --wait 3m \
      --quiet-pull >&2
  fi
  "$KWOKCTL" scale node --name "$NAME" --replicas "$NODES" >&2
  wait_for "apiserver /readyz" 120 k get --raw /readyz
  wait_for "$NODES Ready nodes" 120 nodes_ready
  wait_for "default service account" 120 k get serviceaccount default -n default
  log "cluster $NAME ready in $((SECONDS - start)) s; kubeconfig: $KUBECONFIG_OUT"
  echo "$KUBECONFIG_OUT"
}

down() {
  local start=$SECONDS
  if exists; then
    "$KWOKCTL" delete cluster --name "$NAME" --kubeconfig "$KUBECONFIG_OUT" >&2
  else
    log "no cluster named $NAME"
  fi
  rm -f "$KUBECONFIG_OUT"
  log "cluster $NAME down in $((SECONDS - start)) s"
}

case $cmd in
  up) setup_bins && up ;;
  down) setup_bins && down ;;
  kubeconfig) echo "$KUBECONFIG_OUT" ;;
  status) setup_bins && exists && k get --raw /readyz >/dev/null ;;
  *) usage ;;
esac
