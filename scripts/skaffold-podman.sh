#!/usr/bin/env bash
# skaffold against the local real node, without Docker: the "realnode" profile of
# skaffold.yaml, whose custom builder (scripts/images.sh skaffold) builds each image with
# podman and imports it into the node's containerd; the chart is deployed with helm.
#
# usage: scripts/skaffold-podman.sh run|dev|build|delete [skaffold args...]
# env:   KUBECONFIG (default: the real node's, ${UNDERSTUDY_CACHE}/kubeconfig-realnode)
#
# skaffold still asks a Docker API for each built image's id and tags NAME:<id> with it
# (what it deploys): podman's Docker-compatible API (`podman system service`) answers,
# on a socket of this run only. Builds do not go through that API.
# Flags it adds:
#   --cache-artifacts=false  skaffold's cache would skip the builder, and with it the import
#                            into the node; the builder has its own cache (the inputDigest
#                            tag in podman's storage), so an unchanged image costs seconds
#   --no-prune=true          with its cache off skaffold would prune every image named like
#                            an artifact, scripts/images.sh's among them
#   --no-prune-children=true (run|dev) `skaffold dev` still removes the image a rebuild
#                            replaces; without this also its parent layers, podman's build
#                            cache: the next `run` of those sources took 140 s, not 93
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/podman-env.sh"
CACHE=$UNDERSTUDY_CACHE
BIN=$("$HERE/k8s-tools.sh" node skaffold)
export PATH=$BIN:$PATH
export KUBECONFIG=${KUBECONFIG:-$CACHE/kubeconfig-realnode}
SOCK=/run/understudy/podman-$$.sock
mkdir -p /run/understudy

podman system service --time=0 "unix://$SOCK" >"$CACHE/podman-service.log" 2>&1 &
service=$!
cleanup() {
  kill "$service" 2>/dev/null || true
  wait "$service" 2>/dev/null || true
  rm -f "$SOCK"
}
trap cleanup EXIT
for _ in $(seq 1 100); do [[ -S $SOCK ]] && break; sleep 0.1; done
[[ -S $SOCK ]] || { echo "podman system service did not start" >&2; exit 1; }

export DOCKER_HOST=unix://$SOCK SKAFFOLD_UPDATE_CHECK=false
cd "$ROOT"
common=(--profile realnode --kubeconfig "$KUBECONFIG" --interactive=false)
case ${1:-} in
  run | dev) skaffold "$1" "${common[@]}" --cache-artifacts=false --no-prune=true --no-prune-children=true "${@:2}" ;;
  build) skaffold build "${common[@]}" --cache-artifacts=false --no-prune=true "${@:2}" ;;
  "") sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  *) skaffold "$1" "${common[@]}" "${@:2}" ;;
esac
