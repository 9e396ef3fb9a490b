#!/usr/bin/env bash
# Provide pinned kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd,
# kwok, kwokctl and helm binaries in a cache folder outside git:
#
#   ${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}/k8s-tools/<k8s-version>/bin
#
# Versions are pinned in scripts/k8s-versions.env (the only place to change them).
# Prints the bin directory on stdout (the only stdout line); progress goes to stderr.
#
# Where each tool comes from, first match wins:
#   1. the cache (a binary plus a stamp file recording the pinned version it was made for);
#   2. a pre-supplied binary of the right version in $UNDERSTUDY_K8S_BIN, $KUBEBUILDER_ASSETS
#      or on $PATH (symlinked into the cache);
#   3. built from source through the Go module proxy (needs Go >= 1.26: $GO, else one on the
#      machine, else the pinned toolchain `system-deps.sh --go` fetches; nothing else is
#      downloaded). k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces the
#      k8s.io staging modules with ./staging paths), nor can etcd's server module, so a
#      throwaway wrapper module is generated under the cache that requires the release and
#      replaces every staging module with its published v0.Y.Z version.
#
# With everything cached this exits in well under a second.
# usage: k8s-tools.sh [--no-base] [node] [skaffold] [prometheus]
#   node        also kubelet and kube-proxy (same wrapper module as kube-apiserver) and
#               CoreDNS: what the real node (scripts/realnode.sh) runs
#   skaffold    also skaffold (scripts/skaffold-podman.sh)
#   prometheus  also Prometheus at the chart's version (the real node's Prometheus image)
#   --no-base   without the control-plane tools (scripts/images.sh needs only Prometheus)
# Env: UNDERSTUDY_CACHE, UNDERSTUDY_K8S_BIN, KUBEBUILDER_ASSETS, GO (go binary),
#      UNDERSTUDY_GO_BUILD_P (go build -p, default 2), UNDERSTUDY_K8S_TOOLS_NO_BUILD=1
#      (fail instead of building).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/k8s-versions.env"

CACHE=${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}
TOOLS_DIR=$CACHE/k8s-tools/$K8S_VERSION
BIN=$TOOLS_DIR/bin
TOOLS=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl helm)

log() { printf '[k8s-tools] %s\n' "$*" >&2; }
for group in "$@"; do
  case $group in
    --no-base) TOOLS=() ;;
    node) TOOLS+=(kubelet kube-proxy coredns) ;;
    skaffold) TOOLS+=(skaffold) ;;
    prometheus) TOOLS+=(prometheus) ;;
    *) log "unknown tool group: $group"; exit 2 ;;
  esac
done

pinned_version() {
  case $1 in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl | kubelet | kube-proxy)
      echo "$K8S_VERSION" ;;
    coredns) echo "$COREDNS_VERSION" ;;
    skaffold) echo "$SKAFFOLD_VERSION" ;;
    prometheus) echo "$PROMETHEUS_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kwok | kwokctl) echo "$KWOK_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
  esac
}

cached_ok() { # tool -> is the cached binary there and made for the pinned version?
  local stamp=$BIN/.stamp-$1
  [[ -x $BIN/$1 && -f $stamp && "$(<"$stamp")" == "$(pinned_version "$1")" ]]
}

# ---- fast path: everything cached ----------------------------------------------------
missing=()
for t in "${TOOLS[@]}"; do cached_ok "$t" || missing+=("$t"); done
if ((${#missing[@]} == 0)); then
  echo "$BIN"
  exit 0
fi

mkdir -p "$BIN"
# One builder at a time (pytest and make may race); re-check after taking the lock.
exec 9>"$TOOLS_DIR/.lock"
flock 9
missing=()
for t in "${TOOLS[@]}"; do cached_ok "$t" || missing+=("$t"); done

# ---- pre-supplied binaries -----------------------------------------------------------
version_matches() { # tool path
  local tool=$1 path=$2 want out
  want=$(pinned_version "$tool")
  case $tool in
    kubectl) out=$(timeout 20 "$path" version --client 2>/dev/null) || return 1 ;;
    helm) out=$(timeout 20 "$path" version --template '{{.Version}}' 2>/dev/null) || return 1 ;;
    kwok | kwokctl) out=$(timeout 20 "$path" --version 2>/dev/null) || return 1 ;;
    coredns) out=$(timeout 20 "$path" -version 2>/dev/null) || return 1 ;;
    skaffold) out=$(timeout 20 "$path" version 2>/dev/null) || return 1 ;;
    prometheus) out=$(timeout 20 "$path" --version 2>/dev/null) || return 1 ;;
    *) out=$(timeout 20 "$path" --version 2>/dev/null) || return 1 ;;
  esac
  want=${want#v}
  # exact version (with or without a leading v) as a whole word
  grep -Eq "(^|[^0-9A-Za-z.])v?${want//./\\.}([^0-9A-Za-z.+-]|$)" <<<"$out"
}

adopt() { # tool path
  ln -sfn "$2" "$BIN/$1"
  pinned_version "$1" >"$BIN/.stamp-$1"
  log "using pre-supplied $1 ($2)"
}

still=()
for t in "${missing[@]}"; do
  found=
  for d in ${UNDERSTUDY_K8S_BIN:-} ${KUBEBUILDER_ASSETS:-}; do
    if [[ -x $d/$t ]] && version_matches "$t" "$d/$t"; then found=$d/$t && break; fi
  done
  if [[ -z $found ]]; then
    # every executable of that name on PATH, skipping our own cache
    while IFS= read -r p; do
      [[ $p == "$BIN/$t" ]] && continue
      if version_matches "$t" "$p"; then found=$p && break; fi
    done < <(type -aP "$t" 2>/dev/null || true)
  fi
  if [[ -n $found ]]; then adopt "$t" "$(readlink -f "$found")"; else still+=("$t"); fi
done
missing=("${still[@]+"${still[@]}"}")

if ((${#missing[@]} == 0)); then
  echo "$BIN"
  exit 0
fi

# ---- build from the Go module proxy --------------------------------------------------
if [[ ${UNDERSTUDY_K8S_TOOLS_NO_BUILD:-0} == 1 ]]; then
  log "missing: ${missing[*]} and UNDERSTUDY_K8S_TOOLS_NO_BUILD=1"
  exit 1
fi
# $GO if set, else a go >= 1.26 on the machine, else the pinned toolchain system-deps fetches
GO=${GO:-$("$HERE/system-deps.sh" --go)} || { log "no Go >= 1.26 (set GO=/path/to/go)"; exit 1; }
[[ -x $GO ]] || { log "no Go toolchain at $GO (set GO=/path/to/go)"; exit 1; }
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false -modcacherw"
# The build's own module and build caches (about 6 + 8 GB for Kubernetes), removed once every
# tool is built: the binaries are what is kept, and a version change rebuilds most anyway.
# (-modcacherw: the module cache's files stay removable.)
GO_WORK=$TOOLS_DIR/go-work
export GOMODCACHE=$GO_WORK/mod GOCACHE=$GO_WORK/build
P=${UNDERSTUDY_GO_BUILD_P:-2}
log "building ${missing[*]} with $("$GO" version) (-p $P); the first build takes a while"

needs() { local t; for t in "$@"; do [[ " ${missing[*]} " == *" $t "* ]] && return 0; done; return 1; }

gomod_of() { # module@version -> path of its go.mod in the module cache
  (cd "$TOOLS_DIR" && "$GO" mod download -json "$1") |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p'
}

install_built() { # staging-dir tool... : move freshly built binaries into the cache
  local dir=$1 t
  shift
  for t in "$@"; do
    [[ -x $dir/$t ]] || { log "build produced no $t"; exit 1; }
    rm -f "$BIN/$t"
    mv "$dir/$t" "$BIN/$t"
    pinned_version "$t" >"$BIN/.stamp-$t"
  done
}

use_new_gomod() { # wrapper-dir: take go.mod.new; a changed go.mod invalidates go.sum
  if ! cmp -s "$1/go.mod.new" "$1/go.mod"; then
    mv "$1/go.mod.new" "$1/go.mod"
    rm -f "$1/go.sum"
  else
    rm -f "$1/go.mod.new"
  fi
}

timed() { # label cmd...
  local start=$SECONDS
  "${@:2}"
  log "$1 done in $((SECONDS - start)) s"
}

build_kubernetes() { # cmd... (tools of k8s.io/kubernetes/cmd/)
  local src=$TOOLS_DIR/src/kubernetes out=$TOOLS_DIR/src/out-kubernetes gomod minor staging m c
  local cmds=("$@")
  mkdir -p "$src" "$out"
  gomod=$(gomod_of "k8s.io/kubernetes@$K8S_VERSION")
  [[ -f $gomod ]] || { log "cannot fetch k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
  minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  staging=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$gomod")
  {
    echo "// Generated by scripts/k8s-tools.sh: builds k8s.io/kubernetes $K8S_VERSION commands."
    echo "module understudy.invalid/k8s-tools"
    echo
    grep -E '^(go|godebug) ' "$gomod"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m v0.${K8S_VERSION#v1.}"; done
    echo ")"
  } >"$src/go.mod.new"
  use_new_gomod "$src"
  local v=$K8S_VERSION ldflags
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$src" && "$GO" build -p "$P" -pgo=off -trimpath -ldflags "$ldflags" -o "$out/" \
    "${cmds[@]/#/k8s.io/kubernetes/cmd/}")
  install_built "$out" "${cmds[@]}"
}

build_coredns() {
  local out=$TOOLS_DIR/src/out-coredns
  mkdir -p "$out"
  (cd "$TOOLS_DIR" && GOBIN=$out "$GO" install -p "$P" -pgo=off -trimpath -ldflags "-s -w" \
    "github.com/coredns/coredns@$COREDNS_VERSION")
  install_built "$out" coredns
}

build_wrapped() { # tool module version package ldflags
  # A main package whose go.mod has replace directives cannot be `go install`ed at a
  # version: a wrapper module requires it and repeats its replaces that point at modules.
  local tool=$1 mod=$2 version=$3 pkg=$4 ldflags=$5
  local src=$TOOLS_DIR/src/$tool out=$TOOLS_DIR/src/out-$tool gomod
  mkdir -p "$src" "$out"
  gomod=$(gomod_of "$mod@$version")
  [[ -f $gomod ]] || { log "cannot fetch $mod@$version"; exit 1; }
  {
    echo "// Generated by scripts/k8s-tools.sh: builds $tool $version."
    echo "module understudy.invalid/$tool-tools"
    echo
    grep -E '^go ' "$gomod"
    echo
    echo "require $mod $version"
    echo
    # single-line replaces and replace blocks, minus local-path ones
    awk '/^replace \(/{b=1;next} b&&/^\)/{b=0;next} b{print "replace " $0;next} /^replace /{print}' "$gomod" |
      grep -vE '=>[[:space:]]*\.{1,2}/' || true
  } >"$src/go.mod.new"
  use_new_gomod "$src"
  (cd "$src" && "$GO" build -p "$P" -pgo=off -trimpath -ldflags "-s -w $ldflags" -o "$out/$tool" "$pkg")
  install_built "$out" "$tool"
}

build_skaffold() {
  local mod=github.com/GoogleContainerTools/skaffold/v2
  build_wrapped skaffold "$mod" "$SKAFFOLD_VERSION" "$mod/cmd/skaffold" \
    "-X $mod/pkg/skaffold/version.version=$SKAFFOLD_VERSION"
}

build_prometheus() {
  # Prometheus 3.x is published as module versions v0.3XY.Z (v3.2.1 -> v0.302.1). Without
  # the builtinassets tag the web UI is left out; the HTTP API is all the chart uses.
  local v=${PROMETHEUS_VERSION#v} major minor patch
  IFS=. read -r major minor patch <<<"$v"
  build_wrapped prometheus github.com/prometheus/prometheus "v0.$((major * 100 + minor)).$patch" \
    github.com/prometheus/prometheus/cmd/prometheus \
    "-X github.com/prometheus/common/version.Version=$v -X github.com/prometheus/common/version.Branch=HEAD"
}

build_etcd() {
  # go.etcd.io/etcd/server/v3 is etcd's main package, but its go.mod has replace
  # directives (../api, ...) so `go install ...@version` refuses it: wrap it too.
  local src=$TOOLS_DIR/src/etcd out=$TOOLS_DIR/src/out-etcd gomod
  mkdir -p "$src" "$out"
  gomod=$(gomod_of "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  {
    echo "// Generated by scripts/k8s-tools.sh: builds etcd $ETCD_VERSION."
    echo "module understudy.invalid/etcd-tools"
    echo
    grep -E '^go ' "$gomod"
    echo
    echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
  } >"$src/go.mod.new"
  use_new_gomod "$src"
  (cd "$src" && "$GO" build -p "$P" -pgo=off -trimpath -ldflags "-s -w" -o "$out/etcd" \
    go.etcd.io/etcd/server/v3)
  install_built "$out" etcd
}

build_kwok() {
  local out=$TOOLS_DIR/src/out-kwok
  mkdir -p "$out"
  local ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  ldflags+=" -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$K8S_VERSION"
  ldflags+=" -X sigs.k8s.io/kwok/pkg/consts.PreRelease=GA"
  (cd "$TOOLS_DIR" && GOBIN=$out "$GO" install -p "$P" -pgo=off -trimpath -ldflags "$ldflags" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION")
  install_built "$out" kwok kwokctl
}

build_helm() {
  local out=$TOOLS_DIR/src/out-helm gomod cg
  mkdir -p "$out"
  # helm's Makefile derives the default Capabilities.KubeVersion from its client-go version
  gomod=$(gomod_of "helm.sh/helm/v3@$HELM_VERSION")
  cg=$(sed -n 's#^[[:space:]]*k8s\.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$gomod" | head -1)
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  if [[ -n $cg ]]; then
    for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
      ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$cg"
    done
  fi
  (cd "$TOOLS_DIR" && GOBIN=$out "$GO" install -p "$P" -pgo=off -trimpath -ldflags "$ldflags" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
  install_built "$out" helm
}

total_start=$SECONDS
k8s_cmds=()
for t in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
  needs "$t" && k8s_cmds+=("$t")
done
if ((${#k8s_cmds[@]})); then timed "kubernetes $K8S_VERSION (${k8s_cmds[*]})" build_kubernetes "${k8s_cmds[@]}"; fi
needs etcd && timed "etcd $ETCD_VERSION" build_etcd
needs kwok kwokctl && timed "kwok $KWOK_VERSION" build_kwok
needs helm && timed "helm $HELM_VERSION" build_helm
needs coredns && timed "coredns $COREDNS_VERSION" build_coredns
needs skaffold && timed "skaffold $SKAFFOLD_VERSION" build_skaffold
needs prometheus && timed "prometheus $PROMETHEUS_VERSION" build_prometheus
log "all built in $((SECONDS - total_start)) s -> $BIN"

for t in "${TOOLS[@]}"; do cached_ok "$t" || { log "still missing $t"; exit 1; }; done
rm -rf "$GO_WORK" "$TOOLS_DIR/src"/out-*
echo "$BIN"
