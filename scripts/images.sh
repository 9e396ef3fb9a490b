#!/usr/bin/env bash
# Builds Understudy's images from the repository's own Dockerfiles with podman, offline.
#
# usage: scripts/images.sh [build|bases|list|save FILE|prune]
#   build      the stand-in bases (if missing), then every Understudy image (default),
#              then `prune`
#   prune      remove every other docker.io/understudy/* image (earlier builds, skaffold's
#              per-build tags) and the layers only they used: the store stays one build's size
#   bases      only the stand-in base and third-party images
#   list       the image references the real node needs, one a line
#   save FILE  every image of `list` into one docker-archive (for `ctr images import`)
#   skaffold DOCKERFILE [NAME=VALUE...]
#              skaffold's custom builder (profile "realnode" of skaffold.yaml): build $IMAGE
#              from DOCKERFILE with those build arguments, then import it into the running
#              real node (scripts/realnode.sh import) under the names the pods will use
#
# Nothing can be pulled on these machines, so the images the Dockerfiles and the chart name
# are made here under those exact names (stand-ins; the README says so):
#   python:3.11-slim-bookworm    mmdebstrap --variant=minbase bookworm + Debian's python3
#                                (3.11), /usr/local/bin/python{,3} -> /usr/bin/python3; the
#                                Dockerfiles pin it by digest (scripts/base-images.env), which
#                                no stand-in can have: the builds here name it by tag
#                                (--build-arg PYTHON_IMAGE=...)
#   curlimages/curl              minbase + Debian's curl (the chart's `helm test` pod)
#   quay.io/prometheus/prometheus Prometheus at that version built from the Go module proxy
#                                (scripts/k8s-tools.sh) on that curl stand-in
#   registry.k8s.io/pause        scripts/node/pause.go, static (the pod sandbox)
# so the Dockerfiles stay exactly what a user builds with Docker.
# Storage lives in ${UNDERSTUDY_CACHE:-~/.cache/understudy}/containers (scripts/podman-env.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/podman-env.sh"
CACHE=$UNDERSTUDY_CACHE
WORK=$CACHE/images
mkdir -p "$WORK"

# The names the Dockerfiles and the chart use (tests/install checks they still do).
# shellcheck source-path=SCRIPTDIR
source "$HERE/base-images.env"
PYTHON_REF=docker.io/library/${PYTHON_IMAGE%@*}
# The Dockerfiles' bases are pinned by digest; here the stand-in is given by its name.
BASE_ARGS=(--build-arg "PYTHON_IMAGE=$PYTHON_REF")
CURL_REF=docker.io/curlimages/curl:8.12.1
PROMETHEUS_REF=quay.io/prometheus/prometheus:v3.2.1
PAUSE_REF=registry.k8s.io/pause:3.10
APP_VERSION=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$ROOT/helm/understudy/Chart.yaml")
MODEL_API=docker.io/understudy/model-api
ROUTER_REF=docker.io/understudy/shadow-router:$APP_VERSION
OPERATOR_REF=docker.io/understudy/operator:$APP_VERSION
MODEL_TAGS=(1.0.0 2.0.0 2.0.0-bad bare)
DEBIAN_SOURCES=(
  "deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main"
)

log() { printf '[images] %s\n' "$*" >&2; }
exists() { podman image exists "$1"; }
timed() { # label cmd...
  local start=$SECONDS
  "${@:2}"
  log "$1: $((SECONDS - start)) s"
}

rootfs() { # out.tar package,... : a minimal Debian bookworm root filesystem
  mmdebstrap --quiet --variant=minbase --include="$2" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='mkdir -p "$1/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
    --customize-hook='ln -sf /usr/bin/python3 "$1/usr/local/bin/python3" 2>/dev/null; ln -sf /usr/bin/python3 "$1/usr/local/bin/python" 2>/dev/null; true' \
    bookworm "$1" "${DEBIAN_SOURCES[@]}"
}

# The machine's CA bundle is copied in and named by SSL_CERT_FILE so that uv inside a build
# reaches the package index through whatever the machine trusts.
BASE_ENV=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change 'ENV LANG=C.UTF-8' --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt')

make_python() {
  rootfs "$WORK/python.tar" python3,ca-certificates
  podman import --quiet "${BASE_ENV[@]}" --change 'CMD ["python3"]' "$WORK/python.tar" "$PYTHON_REF" >/dev/null
  rm -f "$WORK/python.tar"
}

make_curl() {
  rootfs "$WORK/curl.tar" curl,ca-certificates
  podman import --quiet "${BASE_ENV[@]}" --change 'USER 100' --change 'ENTRYPOINT ["curl"]' \
    "$WORK/curl.tar" "$CURL_REF" >/dev/null
  rm -f "$WORK/curl.tar"
}

make_prometheus() {
  # Debian's Prometheus is built without Kubernetes service discovery, which the chart's
  # scrape config uses: the chart's own version is built from the Go module proxy instead.
  local bin c
  bin=$("$HERE/k8s-tools.sh" --no-base prometheus)/prometheus
  c=$(buildah from --pull=never "$CURL_REF")
  buildah copy --quiet --chmod 755 "$c" "$bin" /bin/prometheus >/dev/null
  buildah run --network none --user 0:0 "$c" -- \
    sh -c "mkdir -p /prometheus /etc/prometheus && chown 65534:65534 /prometheus"
  buildah config --label dev.understudy.stand-in=go-module \
    --user 65534 --workingdir /prometheus --entrypoint '["/bin/prometheus"]' \
    --cmd '--config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus' "$c"
  buildah commit --quiet --rm "$c" "$PROMETHEUS_REF" >/dev/null
}

make_pause() {
  local c out=$WORK/pause
  CGO_ENABLED=0 ${GO:-go} build -trimpath -ldflags "-s -w" -o "$out" "$HERE/node/pause.go"
  c=$(buildah from scratch)
  buildah copy --quiet --chmod 755 "$c" "$out" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' "$c"
  buildah commit --quiet --rm "$c" "$PAUSE_REF" >/dev/null
}

bases() {
  exists "$PYTHON_REF" || timed "stand-in $PYTHON_REF" make_python
  exists "$CURL_REF" || timed "stand-in $CURL_REF" make_curl
  [[ $(podman image inspect --format '{{index .Labels "dev.understudy.stand-in"}}' "$PROMETHEUS_REF" 2>/dev/null) == go-module ]] ||
    timed "stand-in $PROMETHEUS_REF" make_prometheus
  exists "$PAUSE_REF" || timed "stand-in $PAUSE_REF" make_pause
}

inputs_digest() { # dockerfile [args...]: the build's inputs, "" when unknown (no git)
  # The context as git sees it (tracked + untracked, not git-ignored) minus what
  # .dockerignore leaves out, plus the Dockerfile and the build arguments. Approximate in the
  # safe direction: an extra file only costs a (cached) rebuild.
  local files
  files=$(cd "$ROOT" && git ls-files -co --exclude-standard 2>/dev/null) || { echo ""; return; }
  {
    grep -vE '^(tests|docs|bench|reports|helm|k8s|mk|scripts|seed|\.ci|artifacts)/|\.md$|(^|/)Dockerfile$|^(skaffold\.yaml|Makefile|\.dockerignore|\.gitignore)$' <<<"$files" |
      (cd "$ROOT" && xargs -d '\n' sha256sum 2>/dev/null)
    sha256sum "$ROOT/$1" "$ROOT/scripts/install_uv.py"
    echo "${@:2}"
  } | sha256sum | cut -c1-32
}

build_one() { # ref dockerfile [podman build args...]
  local ref=$1 dockerfile=$2 digest
  shift 2
  digest=$(inputs_digest "$dockerfile" "$@")
  if [[ -n $digest && $(podman image inspect --format '{{index .Labels "dev.understudy.inputs"}}' "$ref" 2>/dev/null) == "$digest" ]]; then
    return 0 # same inputs as the image there
  fi
  # --network=host: the RUN steps reach the package index as this machine does (no
  # bridge, no iptables changes for a build).
  podman build --quiet --pull=never --network=host --layers --label "dev.understudy.inputs=$digest" \
    -f "$ROOT/$dockerfile" -t "$ref" "${BASE_ARGS[@]}" "$@" "$ROOT" >/dev/null
}

build() {
  bases
  local tag args
  for tag in "${MODEL_TAGS[@]}"; do
    case $tag in
      1.0.0) args=(--build-arg MODEL_VERSION=1.0.0 --build-arg MODEL_ALGORITHM=linear) ;;
      2.0.0) args=(--build-arg MODEL_VERSION=2.0.0 --build-arg MODEL_ALGORITHM=gbr) ;;
      2.0.0-bad) args=(--build-arg MODEL_VERSION=2.0.0-bad --build-arg MODEL_ALGORITHM=gbr
        --build-arg MODEL_TRAIN_ARGS=--shuffle-target) ;;
      bare) args=(--build-arg MODEL_VERSION=) ;;
    esac
    timed "$MODEL_API:$tag" build_one "$MODEL_API:$tag" services/model-api/Dockerfile "${args[@]}"
  done
  timed "$ROUTER_REF" build_one "$ROUTER_REF" services/shadow-router/Dockerfile
  timed "$OPERATOR_REF" build_one "$OPERATOR_REF" operator/Dockerfile
  prune
  podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep understudy >&2
}

list() {
  local tag
  for tag in "${MODEL_TAGS[@]}"; do echo "$MODEL_API:$tag"; done
  printf '%s\n' "$ROUTER_REF" "$OPERATOR_REF" "$CURL_REF" "$PROMETHEUS_REF" "$PAUSE_REF"
}

save() { # file
  local refs
  mapfile -t refs < <(list)
  rm -f "$1"
  podman save --quiet --multi-image-archive --format docker-archive -o "$1" "${refs[@]}"
}

prune() {
  # Without this the store grows by about 2 GB for each changed tree (skaffold tags every
  # build by its id and inputs; each model variant leaves a 1.2 GB training stage), and a
  # warm machine's disk fills: CI once failed writing a layer with "no space left on device".
  # The cost: the next skaffold build of a changed tree starts from the cached base layers.
  local keep ref stale=()
  # Build containers an interrupted build left (each holds its layers). Callers hold the
  # store's lock exclusively (with_store_lock), so no build is using one now.
  buildah rm --all >/dev/null 2>&1 || true
  keep=$(list)
  while read -r ref; do
    grep -qxF "$ref" <<<"$keep" || stale+=("$ref")
  done < <(podman images --format '{{.Repository}}:{{.Tag}}' | grep -E '^(docker\.io|localhost)/understudy/')
  # by name: an image that also carries a kept tag only loses the stale one
  if ((${#stale[@]})); then podman rmi --force "${stale[@]}" >/dev/null; fi
  # One prune removes the untagged images nothing builds on; their parents (--layers'
  # intermediate images) become such images only then: repeat until none is left.
  local before after
  after=$(podman images -aq | wc -l)
  while true; do
    before=$after
    podman image prune --force >/dev/null
    after=$(podman images -aq | wc -l)
    ((after < before)) || break
  done
  log "pruned ${#stale[@]} stale tags; store: $(du -sh "$CACHE/containers" 2>/dev/null | cut -f1)"
}

with_store_lock() { # shared|exclusive cmd...: builds share the store, prune has it alone
  local mode=$1
  shift
  exec 8>"$CACHE/images.lock"
  if [[ $mode == exclusive ]]; then flock -x 8; else flock -s 8; fi
  "$@"
}

qualified() { # ref: as the kubelet normalises it (docker.io/[library/] for short names)
  local first=${1%%/*}
  if [[ $1 != */* ]]; then
    echo "docker.io/library/$1"
  elif [[ $first == *.* || $first == *:* || $first == localhost ]]; then
    echo "$1"
  else
    echo "docker.io/$1"
  fi
}

skaffold_build() { # dockerfile [NAME=VALUE...]; env from skaffold: IMAGE, PUSH_IMAGE, BUILD_CONTEXT
  local dockerfile=${1:?usage: images.sh skaffold DOCKERFILE [NAME=VALUE...]} ref id kv args=()
  shift
  [[ -n ${IMAGE:-} ]] || { log "IMAGE is not set: skaffold's custom builder sets it"; exit 2; }
  [[ ${PUSH_IMAGE:-false} == false ]] || { log "cannot push $IMAGE: there is no registry here (local.push: false)"; exit 1; }
  # The pods reference $IMAGE as skaffold names it; podman would store a short name as
  # localhost/NAME, so the build is tagged with the name the kubelet looks for instead.
  ref=$(qualified "$IMAGE")
  for kv in "$@"; do args+=(--build-arg "$kv"); done
  # skaffold's inputDigest tag names the inputs: if podman has it, those inputs are built.
  if ! exists "$ref"; then
    exists "$PYTHON_REF" || bases
    # The label keeps these images' ids apart from `build`'s: skaffold dev removes the image
    # it replaces by id (with every tag on it).
    podman build --pull=never --network=host --layers --force-rm --label dev.understudy.built-by=skaffold \
      -f "${BUILD_CONTEXT:-$ROOT}/$dockerfile" -t "$ref" "${BASE_ARGS[@]}" "${args[@]}" "${BUILD_CONTEXT:-$ROOT}"
  fi
  # skaffold deploys NAME:<image id> (a tag it then makes through the Docker API, which the
  # node never sees): the node gets the image under that name.
  id=$(podman image inspect --format '{{.Id}}' "$ref")
  podman tag "$ref" "${ref%:*}:$id"
  bash "$HERE/realnode.sh" import "${ref%:*}:$id"
}

case ${1:-build} in
  build) with_store_lock exclusive build ;;
  skaffold) with_store_lock shared skaffold_build "${@:2}" ;;
  bases) bases ;;
  list) list ;;
  save) save "${2:?usage: images.sh save FILE}" ;;
  prune) with_store_lock exclusive prune ;;
  *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
