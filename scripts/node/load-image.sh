#!/usr/bin/env bash
# skaffold's after-build hook in the "realnode" profile: copy the image it just built
# (SKAFFOLD_IMAGE) from podman's storage into the real node's containerd, under the
# built tag and under the image id (skaffold deploys local images by either).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/../podman-env.sh"
SOCK=${UNDERSTUDY_CONTAINERD_SOCK:-/run/understudy/realnode/containerd/containerd.sock}
image=${SKAFFOLD_IMAGE:?the hook runs from skaffold}
# podman's Docker API stores short names as localhost/NAME; the kubelet looks for
# docker.io/NAME (how Kubernetes normalises a short name): tag it so.
name=${image%:*}
name=${name#localhost/}
name=docker.io/${name#docker.io/}
id=$(podman image inspect --format '{{.Id}}' "$image")
tags=("$name:${image##*:}" "$name:${id:0:12}" "$name:$id")
podman tag "$image" "${tags[@]}"
archive=$(mktemp --suffix=.tar)
trap 'rm -f "$archive"' EXIT
podman save --quiet --multi-image-archive --format docker-archive -o "$archive" "${tags[@]}"
ctr --address "$SOCK" -n k8s.io images import "$archive" >/dev/null
echo "[load-image] $image imported into the node" >&2
