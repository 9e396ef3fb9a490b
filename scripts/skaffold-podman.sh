#!/usr/bin/env bash
# skaffold against the local real node, without Docker: podman's Docker-compatible API
# (`podman system service`) builds the images, the "realnode" profile imports each into the
# node's containerd and deploys the chart.
#
# usage: scripts/skaffold-podman.sh run|dev|delete [skaffold args...]
# env:   KUBECONFIG (default: the real node's, ${UNDERSTUDY_CACHE}/kubeconfig-realnode)
#
# podman 4.3 serves the Docker API only for the legacy builder (DOCKER_BUILDKIT=0; the
# profile sets useBuildkit: false), and builds through that API leave buildah working
# containers with their overlay mounts behind: `buildah rm --all` on the way out.
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

podman system service --time=0 "unix://$SOCK" >"$CACHE/podman-service.log" 2>&1 &
service=$!
cleanup() {
  kill "$service" 2>/dev/null || true
  wait "$service" 2>/dev/null || true
  rm -f "$SOCK"
  buildah rm --all >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do [[ -S $SOCK ]] && break; sleep 0.1; done
[[ -S $SOCK ]] || { echo "podman system service did not start" >&2; exit 1; }

export DOCKER_HOST=unix://$SOCK DOCKER_BUILDKIT=0 SKAFFOLD_UPDATE_CHECK=false
cd "$ROOT"
common=(--profile realnode --kubeconfig "$KUBECONFIG" --interactive=false)

build_and_import() { # artifacts-file: skaffold build, then every built image into the node
  # (skaffold skips its build - and the after-build hook - for images it finds already
  # built, so the import cannot rely on the hook alone)
  skaffold build "${common[@]}" --file-output "$1"
  python3 -c 'import json,sys; [print(b["tag"].split("@")[0]) for b in json.load(open(sys.argv[1]))["builds"]]' "$1" |
    while read -r tag; do SKAFFOLD_IMAGE=$tag bash "$HERE/node/load-image.sh"; done
}

artifacts=$(mktemp --suffix=.json)
trap 'cleanup; rm -f "$artifacts"' EXIT
case $1 in
  run)
    build_and_import "$artifacts"
    skaffold deploy "${common[@]}" --build-artifacts "$artifacts" "${@:2}"
    ;;
  dev)
    build_and_import "$artifacts" # the first deploy of dev finds its images on the node
    skaffold dev "${common[@]}" "${@:2}"
    ;;
  *) skaffold "$1" "${common[@]}" "${@:2}" ;;
esac
