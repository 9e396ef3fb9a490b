#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted code runs later (in hooks, in the chroot)
# Proof that the README's two commands set a fresh Debian machine up by themselves.
#
#   scripts/fresh-debian-check.sh [--full] [--keep] [--suite bookworm]
#
# Makes a fresh Debian root filesystem with mmdebstrap (minbase: nothing but what a minimal
# system has, plus python3, python3-venv and make), copies a clean `git archive` of HEAD
# into it, and runs there, as root, each in a private mount and PID namespace (chroot):
#   1. make demo                     (the first command on a bare machine: uv, .venv, models)
#      and, as a user, make uv + make system-deps (which must say what to apt-get install)
#   2. make system-deps              (make test's system set-up: Debian packages, Go toolchain)
#   3. make es-tools                 (the Elasticsearch jars through Maven)
#   4. with --full: make k8s-tools   (builds the Kubernetes tools with the fetched Go; ~10-20
#      min on 2 shared cores); without it, the fetched Go compiles and runs a program, and
#      scripts/k8s-tools.sh is shown to pick that Go.
# and reports per step: time, the Debian packages it added, and what landed in the cache.
# It uses this machine's apt sources and apt settings (so the same mirrors), its CA bundle
# (/etc/ssl/certs/ca-certificates.crt and /usr/local/share/ca-certificates) and the
# proxy, CA and Go/pip index variables of its environment. Nothing of the host is changed:
# the mounts exist only in the namespace (and go with it), processes left behind die with
# the PID namespace, and a trap removes the work folder (--keep leaves it).
# Not part of `make test`: it downloads and installs everything from scratch (several
# minutes, ~2 GB of disk; --full much longer). Needs root, unshare and mmdebstrap.
set -euo pipefail
shopt -s extglob

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SUITE=bookworm
FULL=0
KEEP=0
while (($#)); do
  case $1 in
    --full) FULL=1 ;;
    --keep) KEEP=1 ;;
    --suite) SUITE=$2; shift ;;
    -h | --help) sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '[fresh-debian] %s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "needs root (mmdebstrap, chroot, mounts)"; exit 1; }
if ! command -v mmdebstrap >/dev/null; then
  log "installing mmdebstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

WORK=$(mktemp -d /var/tmp/understudy-fresh.XXXXXX)
ROOTFS=$WORK/rootfs
REPORT=$WORK/report.txt
child=

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then
    kill "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  if [[ -f $REPORT ]]; then
    log "report ($REPORT):"
    cat "$REPORT" >&2
  fi
  # The mounts live in the namespace only; never remove a tree that still has one.
  if findmnt -rn -o TARGET | grep -F "$WORK" >/dev/null; then  # not -q: see cluster.sh exists()
    log "mounts under $WORK are still there: not removing it"
  elif ((KEEP)); then
    log "kept $WORK"
  else
    rm -rf --one-file-system "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

report() { printf '%s\n' "$*" >>"$REPORT"; }

# ---- the root filesystem ----------------------------------------------------------------
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [[ -f $f ]] && grep -qvE '^[[:space:]]*(#|$)' "$f" && sources+=("$f")
done
aptopts=()
for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
  # network settings only (proxies, validity checks), not the host image's own tweaks
  [[ -f $f ]] && grep -qE '^[[:space:]]*Acquire' "$f" && aptopts+=(--aptopt="$f")
done
log "mmdebstrap $SUITE (minbase + python3 python3-venv make) from ${sources[*]}"
start=$SECONDS
mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,make \
  "${aptopts[@]}" \
  --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates" "$1/etc/ssl/certs" "$1/src"' \
  --customize-hook='cp -a /usr/local/share/ca-certificates/. "$1/usr/local/share/ca-certificates/"' \
  --customize-hook='if [ -x "$1/usr/sbin/update-ca-certificates" ]; then chroot "$1" update-ca-certificates >/dev/null; else cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/"; fi' \
  --customize-hook='printf "#!/bin/sh\nexit 101\n" >"$1/usr/sbin/policy-rc.d"; chmod 755 "$1/usr/sbin/policy-rc.d"' \
  "$SUITE" "$ROOTFS" "${sources[@]}"
packages() { chroot "$ROOTFS" dpkg-query -W -f '${Package}\n' | sort; }
report "fresh Debian check of $(git -C "$REPO" rev-parse --short HEAD) on $(date -u '+%F %H:%M') UTC"
report "rootfs: mmdebstrap $SUITE minbase+python3,python3-venv,make: $((SECONDS - start)) s," \
  "$(packages | wc -l) packages, $(du -sh --one-file-system "$ROOTFS" | cut -f1)," \
  "python $(chroot "$ROOTFS" python3 -c 'import sys; print(sys.version.split()[0])')"
# policy-rc.d: no package may start a service here (as in Debian's container images): the
# chroot shares this machine's network, and e.g. prometheus would take :9090.

cp /etc/resolv.conf /etc/hosts "$ROOTFS/etc/" # the same name servers
git -C "$REPO" archive --format=tar HEAD | tar -x -C "$ROOTFS/src"

# ---- running a step inside -----------------------------------------------------------------
ENV=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
  SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE PIP_CERT \
  GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GOINSECURE UV_INDEX_URL PIP_INDEX_URL; do
  [[ -n ${!v:-} ]] && ENV+=("$v=${!v}")
done

in_chroot() { # command line, run by bash in /src
  unshare --mount --pid --fork --kill-child --propagation private \
    bash -c 'set -e
      R=$1; shift
      mount -t proc proc "$R/proc"
      mount --rbind /dev "$R/dev"
      mount -t sysfs sysfs "$R/sys"
      exec chroot "$R" /usr/bin/env -i "$@"' \
    _ "$ROOTFS" "${ENV[@]}" nice -n 19 /bin/bash -c "cd /src && $1" &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=
  return "$rc"
}

cache_size() { # the caches outside the work tree (~/.cache/understudy/*, ~/.cache/*, ~/.m2, ~/go)
  local r=$ROOTFS/root
  (cd "$r" && du -sh --one-file-system -- .cache/understudy/* .cache/!(understudy) .m2 go 2>/dev/null |
    awk '{printf "%s %s, ", $2, $1}' | sed 's/, $//')
}

step() { # label command-line
  local label=$1 before after added s rc=0
  before=$(packages)
  log "step: $label"
  s=$SECONDS
  in_chroot "$2" > >(tee -a "$WORK/$label.log" | sed "s/^/  [$label] /" >&2) 2>&1 || rc=$?
  after=$(packages)
  added=$(comm -13 <(echo "$before") <(echo "$after"))
  report "$label: $((SECONDS - s)) s, exit $rc; $(grep -c . <<<"$added") Debian packages added${added:+ (}$(tr '\n' ' ' <<<"$added" | sed 's/ $//')${added:+)}; cache: $(cache_size)"
  return "$rc"
}

step "make-demo" "make demo"
report "  uv: $(chroot "$ROOTFS" sh -c '/root/.cache/understudy/uv/*/uv --version'); .venv $(du -sh "$ROOTFS/src/.venv" | cut -f1); $(grep -m1 '^decision:' "$WORK/make-demo.log" | cut -c1-60)"
# As a user (before root installs anything): uv installs into the user's cache; the
# Debian packages cannot, and system-deps must say what to run instead of failing obscurely.
step "as-user" 'useradd -m dev && mkdir ~dev/src &&
  tar -C /src --exclude=./.venv --exclude=./artifacts --exclude=./reports -c . | tar -C ~dev/src -x &&
  chown -R dev: ~dev/src && cd ~dev/src &&
  setpriv --reuid=dev --regid=dev --init-groups env HOME=/home/dev bash -c "make uv &&
    if make system-deps >/tmp/as-user.out 2>&1; then echo system-deps passed as a user; exit 1; fi
    cat /tmp/as-user.out; grep -q \"sudo apt-get install\" /tmp/as-user.out"'
step "make-system-deps" "make system-deps"
report "  explicitly: $(in_chroot 'bash scripts/system-deps.sh --list test' | tr '\n' ' ')"
report "  go for k8s-tools.sh: $(in_chroot 'g=$(bash scripts/system-deps.sh --go) && echo "$g: $($g version)"' 2>&1)"
step "make-es-tools" "make es-tools"
if ((FULL)); then
  step "make-k8s-tools" "make k8s-tools"
else
  step "go-build" 'go=$(bash scripts/system-deps.sh --go) && d=$(mktemp -d) && cd "$d" &&
    printf "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"hello from\", \"go\") }\n" >main.go &&
    $go mod init example.invalid/hello >/dev/null 2>&1 && $go build -o hello . && ./hello'
fi
step "system-deps-again" "time make system-deps es-tools"
log "all steps passed"
