#!/usr/bin/env bash
# The Prometheus Operator's published CRDs for ServiceMonitor, PodMonitor and
# PrometheusRule, at PROMETHEUS_OPERATOR_VERSION (scripts/k8s-versions.env), in a cache
# folder outside git:
#
#   ${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}/prometheus-operator-crds/<version>/
#
# They come from the Go module github.com/prometheus-operator/prometheus-operator, whose
# example/prometheus-operator-crd/ holds the same YAML as the project's release bundle,
# fetched with `go mod download` through the Go module proxy (any Go will do: nothing is
# built). Prints the folder on stdout (the only stdout line); progress goes to stderr.
# With the files cached this exits at once.
# Env: UNDERSTUDY_CACHE, GO (go binary).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/k8s-versions.env"

CACHE=${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}
OUT=$CACHE/prometheus-operator-crds/$PROMETHEUS_OPERATOR_VERSION
KINDS=(servicemonitors podmonitors prometheusrules)
MODULE=github.com/prometheus-operator/prometheus-operator

log() { printf '[prometheus-operator-crds] %s\n' "$*" >&2; }

have_all() {
  local k
  for k in "${KINDS[@]}"; do [[ -s $OUT/monitoring.coreos.com_$k.yaml ]] || return 1; done
}

if ! have_all; then
  GO=${GO:-$(command -v go || true)}
  [[ -n $GO && -x $GO ]] || GO=$("$HERE/system-deps.sh" --go) ||
    { log "no Go toolchain (set GO=/path/to/go)"; exit 1; }
  log "fetching $MODULE@$PROMETHEUS_OPERATOR_VERSION through the Go module proxy"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  dir=$(cd "$work" && GOFLAGS=-mod=mod "$GO" mod download -json "$MODULE@$PROMETHEUS_OPERATOR_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [[ -n $dir && -d $dir/example/prometheus-operator-crd ]] ||
    { log "the module has no example/prometheus-operator-crd/"; exit 1; }
  mkdir -p "$work/out"
  for k in "${KINDS[@]}"; do
    cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_$k.yaml" "$work/out/"
  done
  chmod u+w "$work/out"/*
  mkdir -p "$(dirname "$OUT")"
  rm -rf "$OUT"
  mv "$work/out" "$OUT"
fi
echo "$OUT"
