#!/usr/bin/env bash
# What the tests need from the system, in one place. Installs what is missing and skips
# what the machine already has in an adequate version:
#
#   scripts/system-deps.sh [GROUP...]        install the groups' needs (default: test)
#   scripts/system-deps.sh --check [GROUP...] say what is missing (exit 1 if anything), install nothing
#   scripts/system-deps.sh --list [GROUP...]  the Debian packages of the groups, one a line
#   scripts/system-deps.sh --go              path of a Go >= GO_MIN on stdout (the only stdout
#                                            line), fetching the pinned toolchain if there is none
#                                            (and, as root, golang-go to fetch it with)
#
# Groups (the table REQUIREMENTS below):
#   test       Prometheus + promtool (started by the operator tests), PostgreSQL (the router's
#              shared feedback store, tests/support/postgres.py), Java >= 11 and Maven
#              (the Elasticsearch node, scripts/elasticsearch.sh), Go >= GO_MIN (builds the
#              Kubernetes tools, scripts/k8s-tools.sh)
#   real-node  podman, buildah, containerd, runc, skopeo, mmdebstrap, umoci, the CNI plugins,
#              iptables, conntrack and uidmap: images and a real kubelet node (REAL-NODE.md)
#
# Debian packages come from apt-get (as root; as a user this prints the command to run and
# fails). Go is not taken from Debian (bookworm ships 1.19): Debian's `go` (golang-go) only
# bootstraps, fetching the pinned toolchain as the module golang.org/toolchain from the Go
# module proxy ($GOPROXY, checked against $GOSUMDB like any module) into
#   ${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}/go/go$GO_VERSION   (outside git).
# A go >= GO_MIN that is already there ($GO, on PATH, /usr/local/go) is used instead.
# GO_VERSION is pinned in scripts/k8s-versions.env. With everything present this takes
# well under a second and prints nothing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/k8s-versions.env"
GO_MIN=${GO_VERSION%.*} # 1.26.8 -> 1.26
CACHE=${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}
GO_DIR=$CACHE/go/go$GO_VERSION

# group      Debian package               present when (any of: cmd:NAME file:PATH java:MIN go:boot)
REQUIREMENTS='
test        prometheus                    cmd:prometheus file:/usr/bin/prometheus
test        default-jre-headless          java:11
test        maven                         cmd:mvn
test        golang-go                     go:boot
test        postgresql                    file:/usr/lib/postgresql
real-node   podman                        cmd:podman
real-node   buildah                       cmd:buildah
real-node   containerd                    cmd:containerd
real-node   runc                          cmd:runc file:/usr/sbin/runc
real-node   skopeo                        cmd:skopeo
real-node   mmdebstrap                    cmd:mmdebstrap
real-node   umoci                         cmd:umoci
real-node   containernetworking-plugins   file:/usr/lib/cni/bridge
real-node   iptables                      cmd:iptables file:/usr/sbin/iptables
real-node   conntrack                     cmd:conntrack file:/usr/sbin/conntrack
real-node   uidmap                        file:/usr/bin/newuidmap
'

log() { printf 'system-deps: %s\n' "$*" >&2; }

apt_install() { # Debian packages: as root with apt-get, as a user say what to run
  if [[ $(id -u) -ne 0 ]]; then
    log "please install: $*"
    log "  sudo apt-get install --no-install-recommends $*"
    return 1
  fi
  log "installing Debian packages: $*"
  local start=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  log "installed in $((SECONDS - start)) s"
  # These packages start a system service (prometheus on :9090, the host's containerd, a
  # PostgreSQL cluster on :5432); the tests start their own.
  local svc
  for svc in prometheus containerd postgresql; do
    [[ " $* " == *" $svc "* ]] || continue
    systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
  done
}

version_ge() { # a b: is dotted version a >= b?
  [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1) == "$2" ]]
}

go_version_of() { # go binary -> 1.26.8 (empty if it does not run)
  local out
  out=$(GOTOOLCHAIN=local GOFLAGS='' timeout 20 "$1" version 2>/dev/null) || return 0
  sed -n 's/^go version go\([0-9][0-9.]*\).*/\1/p' <<<"$out"
}

adequate_go() { # path of a go >= GO_MIN, or nothing
  local g v
  for g in ${GO:-} $(type -aP go 2>/dev/null) /usr/local/go/bin/go "$GO_DIR/bin/go"; do
    [[ -x $g ]] || continue
    v=$(go_version_of "$g")
    if [[ -n $v ]] && version_ge "$v" "$GO_MIN"; then
      echo "$g"
      return 0
    fi
  done
  return 1
}

any_go() { # any go that runs (Debian's 1.19 is enough to fetch the toolchain module)
  local g
  for g in $(type -aP go 2>/dev/null) /usr/lib/go/bin/go /usr/lib/go-*/bin/go; do
    [[ -x $g && -n $(go_version_of "$g") ]] && { echo "$g"; return 0; }
  done
  return 1
}

java_major() {
  local out
  out=$(java -version 2>&1) || return 0
  sed -n 's/.*version "\(1\.\)\{0,1\}\([0-9]*\).*/\2/p' <<<"$out" | head -1
}

present() { # check... : is any of the checks satisfied?
  local c v
  for c in "$@"; do
    case $c in
      cmd:*) command -v "${c#cmd:}" >/dev/null 2>&1 && return 0 ;;
      file:*) [[ -e ${c#file:} ]] && return 0 ;;
      java:*) v=$(java_major) && [[ -n $v ]] && ((v >= ${c#java:})) && return 0 ;;
      go:boot) { adequate_go || any_go; } >/dev/null && return 0 ;;
    esac
  done
  return 1
}

rows() { # groups... -> "package checks..." rows
  local group pkg checks g
  while read -r group pkg checks; do
    [[ -z $group ]] && continue
    for g in "$@"; do [[ $g == "$group" ]] && echo "$pkg $checks"; done
  done <<<"$REQUIREMENTS"
}

install_go_toolchain() { # fetch golang.org/toolchain@v0.0.1-go$GO_VERSION.<os>-<arch> into GO_DIR
  local boot arch module tmp dir start=$SECONDS
  case $(uname -m) in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) log "no Go toolchain rule for $(uname -m): set GO=/path/to/go (>= $GO_MIN)"; return 1 ;;
  esac
  if ! boot=$(any_go); then
    # Debian's go only bootstraps; as root install it, as a user say so
    apt_install golang-go >&2 || return 1
    boot=$(any_go) || { log "golang-go installed but no go runs"; return 1; }
  fi
  module=golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-$arch
  mkdir -p "$CACHE/go"
  exec 8>"$CACHE/go/.lock"
  flock 8
  [[ -x $GO_DIR/bin/go ]] && return 0
  log "fetching Go $GO_VERSION ($module) with $("$boot" version)"
  tmp=$(mktemp -d "$CACHE/go/.fetch.XXXXXX")
  # A throwaway module cache (writable, so it can be removed); the toolchain is moved out.
  dir=$(cd "$tmp" && env -u GOROOT GOPATH="$tmp/gopath" GOFLAGS=-modcacherw GO111MODULE=on \
    GOTOOLCHAIN=local "$boot" mod download -json "$module" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || true
  if [[ -z $dir || ! -f $dir/bin/go ]]; then
    rm -rf "$tmp"
    log "could not fetch $module"
    return 1
  fi
  mv "$dir" "$tmp/go"
  # Module zips carry no execute bits; set them as the go command does when it switches.
  chmod -R u+w "$tmp/go"
  chmod +x "$tmp/go"/bin/* "$tmp/go"/pkg/tool/*/*
  find "$tmp/go/lib" "$tmp/go/misc" -name 'go_*_*_exec' -exec chmod +x {} + 2>/dev/null || true
  rm -rf "$GO_DIR"
  mv "$tmp/go" "$GO_DIR"
  rm -rf "$tmp"
  log "Go $(go_version_of "$GO_DIR/bin/go") in $GO_DIR ($((SECONDS - start)) s)"
}

ensure_go() { # print an adequate go, fetching the toolchain when there is none
  local g
  if g=$(adequate_go); then echo "$g"; return 0; fi
  install_go_toolchain
  adequate_go || { log "Go $GO_VERSION was fetched but does not run"; return 1; }
}

# ---- command line ----------------------------------------------------------------------
mode=install
case ${1:-} in
  --go) ensure_go; exit ;;
  --check) mode=check; shift ;;
  --list) mode=list; shift ;;
  -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  -*) log "unknown option $1 (see --help)"; exit 2 ;;
esac
groups=("$@")
((${#groups[@]})) || groups=(test)
for g in "${groups[@]}"; do
  grep -qE "^${g}[[:space:]]" <<<"$REQUIREMENTS" || { log "unknown group $g (test, real-node)"; exit 2; }
done

if [[ $mode == list ]]; then
  rows "${groups[@]}" | cut -d' ' -f1
  exit 0
fi

need=()
while read -r pkg checks; do
  # shellcheck disable=SC2086 # checks are words
  present $checks || need+=("$pkg")
done < <(rows "${groups[@]}")
wants_go=0
[[ " ${groups[*]} " == *" test "* ]] && wants_go=1

if [[ $mode == check ]]; then
  missing=("${need[@]+"${need[@]}"}")
  ((wants_go)) && ! adequate_go >/dev/null && missing+=("go>=$GO_MIN (golang.org/toolchain go$GO_VERSION)")
  ((${#missing[@]} == 0)) && exit 0
  log "missing: ${missing[*]}"
  exit 1
fi

if ((${#need[@]})); then
  apt_install "${need[@]}" || exit 1
fi
if ((wants_go)); then
  ensure_go >/dev/null
fi
exit 0
